"""mesos.deploy_jobs and the chronos module as users run them: salt-call
over this tree against the Chronos stand-in (pillar chronos:url points at
it). Outcomes are read with raw HTTP and the stand-in's write log."""

import pytest

from tests.fixtures.chronos import raw_jobs
from tests.functional.marathon_support import free_dead_url

DAILY = "R/2026-11-27T09:00:00Z/PT1H"


def deploy_jobs_pillar(url, environments):
    return {
        "chronos": {"url": url},
        "mesos": {
            "apps": {
                "test-server": {
                    "template": "salt://mesos/services/test-server.json",
                    "environments": {"production": {"instances": 4}, "staging": {}},
                }
            },
            "deploy_jobs": {
                "owner": "ops@example.com",
                "apps": {"test-server": {"environments": environments}},
            },
        },
    }


CHAINED = {
    "staging": {"schedule": DAILY, "after": [{"name": "smoke", "command": "smoke.sh"}]},
    "production": {"before": [{"name": "backup", "command": "backup.sh"}]},
}


def state_results(result):
    return {state["__id__"]: state for state in result.data.values()}


def test_apply_creates_the_chain_then_nothing_changes_after_runs(
    salt_call, chronos_server, chronos_clock
):
    salt_call.set_pillar(deploy_jobs_pillar(chronos_server.url, CHAINED))
    predicted = salt_call.run("state.apply", "mesos.deploy_jobs", "test=True")
    assert predicted.returncode == 0, predicted
    assert {state["result"] for state in predicted.data.values()} == {None}
    assert chronos_server.writes == []

    first = salt_call.run("state.apply", "mesos.deploy_jobs")
    assert first.returncode == 0, first
    jobs = raw_jobs(chronos_server)
    assert sorted(jobs) == [
        "backup",
        "deploy-test-server-production",
        "deploy-test-server-staging",
        "smoke",
    ]
    assert jobs["deploy-test-server-production"]["parents"] == ["backup"]
    assert jobs["smoke"]["parents"] == ["deploy-test-server-staging"]
    assert jobs["deploy-test-server-staging"]["command"] == (
        "salt-call marathon.deploy salt://mesos/services/test-server.json staging 1"
    )
    assert jobs["backup"]["owner"] == "ops@example.com"

    for _hour in range(3):
        chronos_clock.advance(hours=1)
        chronos_server.run_due()
    assert raw_jobs(chronos_server)["smoke"]["successCount"] == 3
    chronos_server.clear_requests()
    for test_mode in ("test=True", "test=False"):
        again = salt_call.run("state.apply", "mesos.deploy_jobs", test_mode)
        assert again.returncode == 0, again
        assert all(state["changes"] == {} for state in again.data.values()), again
        assert {state["result"] for state in again.data.values()} == {True}
    assert chronos_server.writes == []


def test_one_click_runs_the_chain(salt_call, chronos_server):
    salt_call.set_pillar(deploy_jobs_pillar(chronos_server.url, CHAINED))
    assert salt_call.run("state.apply", "mesos.deploy_jobs").returncode == 0
    clicked = salt_call.run("chronos.run_job", "backup")
    assert clicked.returncode == 0, clicked
    assert chronos_server.runs == [
        ("backup", "manual", True),
        ("deploy-test-server-production", "dependency", True),
    ]


def test_bad_pillar_names_every_problem_and_writes_nothing(salt_call, chronos_server):
    environments = {
        "staging": {
            "schedule": "R/every-day/P1D",
            "after": [
                {"name": "smoke", "command": "smoke.sh", "parents": ["ghost"]},
                {"name": "loop-a", "command": "a.sh", "parents": ["loop-b"]},
                {"name": "loop-b", "command": "b.sh", "parents": ["loop-a"]},
            ],
        }
    }
    salt_call.set_pillar(deploy_jobs_pillar(chronos_server.url, environments))
    result = salt_call.run("state.apply", "mesos.deploy_jobs")
    assert result.returncode != 0
    text = "\n".join(result.data) if isinstance(result.data, list) else str(result.data)
    assert "job 'deploy-test-server-staging': invalid schedule" in text
    assert "job 'smoke': parent 'ghost' does not exist" in text
    assert "dependency cycle: loop-a -> loop-b -> loop-a" in text
    assert chronos_server.writes == []
    assert raw_jobs(chronos_server) == {}


def test_unreachable_chronos_fails_every_job_clearly(salt_call):
    dead = free_dead_url()
    salt_call.set_pillar(deploy_jobs_pillar(dead, {"staging": {}}))
    result = salt_call.run("state.apply", "mesos.deploy_jobs")
    assert result.returncode != 0
    (state,) = result.data.values()
    assert state["result"] is False
    assert f"Chronos at {dead} is unreachable" in state["comment"]


@pytest.mark.parametrize("loaded_by", ["module_dirs", "saltutil.sync_all"])
def test_salt_call_chronos_reaches_our_module(salt_call, chronos_server, loaded_by):
    """Salt ships a proxy-only chronos module and chronos_job state; ours win."""
    pillar = {"chronos": {"url": chronos_server.url}}
    if loaded_by == "module_dirs":
        salt_call.set_pillar(pillar)
    else:
        no_extension_dirs = {
            "module_dirs": [],
            "states_dirs": [],
            "render_dirs": [],
            "utils_dirs": [],
        }
        salt_call.set_pillar(pillar, **no_extension_dirs)
        synced = salt_call.run("saltutil.sync_all")
        assert synced.returncode == 0, synced
        assert "modules.chronos" in synced.data["modules"]
        assert "states.chronos_job" in synced.data["states"]
    job = '{"name": "nightly", "command": "true", "schedule": "' + DAILY + '"}'
    created = salt_call.run("chronos.update_job", job)
    assert created.returncode == 0, created
    listed = salt_call.run("chronos.jobs")
    assert (listed.returncode, listed.data) == (0, ["nightly"])
    unquoted = salt_call.run("chronos.update_job", job.replace('"true"', "true"))
    assert unquoted.returncode != 0
    assert "command must be a string, not bool True (quote it)" in unquoted.stderr
    doc = salt_call.run("sys.doc", "chronos.run_job")
    assert "one-click deploy" in doc.data["chronos.run_job"]
    state = salt_call.run(
        "state.single",
        "chronos_job.present",
        "name=nightly",
        'command="true"',
        f"schedule={DAILY}",
    )
    assert state.returncode == 0, state
    (outcome,) = state.data.values()
    assert (outcome["result"], outcome["changes"]) == (True, {})
