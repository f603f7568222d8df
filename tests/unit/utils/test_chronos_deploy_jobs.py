"""Planning the deploy jobs of mesos.deploy_jobs from pillar."""

import shlex

from tests.unit.utils.loaded import load_util

deploy_jobs = load_util("chronos_deploy_jobs")
definition = load_util("chronos_definition")

APPS = {
    "test-server": {
        "template": "salt://mesos/services/test-server.json",
        "environments": {"production": {"instances": 4}, "staging": {"instances": 1}},
    }
}
SETTINGS = {"salt_call": "salt-call", "schedule": "R/2100-01-01T00:00:00Z/P1D"}


def plan(environments, **settings):
    apps = {"test-server": {"environments": environments}}
    return deploy_jobs.plan(APPS, {**SETTINGS, **settings, "apps": apps})


def test_one_deploy_job_per_environment_running_salt_call():
    jobs, problems = plan({"production": {}, "staging": {"schedule": "R/2026-11-28T03:00:00Z/P1D"}})
    assert problems == []
    assert [job["name"] for job in jobs] == [
        "deploy-test-server-production",
        "deploy-test-server-staging",
    ]
    assert shlex.split(jobs[0]["command"]) == [
        "salt-call",
        "marathon.deploy",
        "salt://mesos/services/test-server.json",
        "production",
        "4",
    ]
    assert jobs[0]["schedule"] == "R/2100-01-01T00:00:00Z/P1D"
    assert jobs[1]["schedule"] == "R/2026-11-28T03:00:00Z/P1D"
    definition.check_jobs(jobs)


def test_before_and_after_jobs_are_chained_through_parents():
    before = [{"name": "backup", "command": "backup.sh"}, {"name": "migrate", "command": "m.sh"}]
    after = [
        {"name": "smoke", "command": "smoke.sh"},
        {"name": "notify", "command": "notify.sh", "parents": ["smoke", "backup"]},
    ]
    jobs, problems = plan({"production": {"before": before, "after": after}}, owner="ops@x")
    assert problems == []
    by_name = {job["name"]: job for job in jobs}
    assert by_name["backup"]["schedule"] == SETTINGS["schedule"]
    assert "parents" not in by_name["backup"]
    assert by_name["migrate"]["parents"] == ["backup"]
    assert by_name["deploy-test-server-production"]["parents"] == ["migrate"]
    assert "schedule" not in by_name["deploy-test-server-production"]
    assert by_name["smoke"]["parents"] == ["deploy-test-server-production"]
    assert by_name["notify"]["parents"] == ["smoke", "backup"]
    assert {job["owner"] for job in jobs} == {"ops@x"}
    names = [job["name"] for job in jobs]
    for job in jobs:
        for parent in job.get("parents", []):
            assert names.index(parent) < names.index(job["name"])


def test_pillar_problems_are_named():
    _jobs, problems = deploy_jobs.plan(
        APPS,
        {
            "apps": {
                "nope": {"environments": {"staging": {}}},
                "test-server": {
                    "environments": {"qa": {}, "staging": {"before": "x", "retries": 0}}
                },
            }
        },
    )
    assert problems == [
        "app 'nope' is not in mesos:apps",
        "app 'test-server' environment 'qa': not an environment of the app in mesos:apps",
        "app 'test-server' environment 'staging': unknown key(s) retries (allowed: after, "
        "before, instances, schedule, template, timeout)",
        "app 'test-server' environment 'staging': before must be a list of jobs",
    ]


def test_salt_call_setting_and_timeout_reach_the_command():
    jobs, _ = plan({"staging": {"timeout": 900}}, salt_call="/opt/salt/bin/salt-call -l info")
    assert shlex.split(jobs[0]["command"])[:3] == ["/opt/salt/bin/salt-call", "-l", "info"]
    assert shlex.split(jobs[0]["command"])[-1] == "timeout=900"
