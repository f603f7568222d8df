"""The chronos execution module against the Chronos stand-in; outcomes are
checked with raw HTTP and the stand-in's request log."""

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from tests.fixtures.chronos import post_scheduled, raw_job, raw_jobs
from tests.functional import chronos_support
from tests.functional.marathon_support import free_dead_url

chronos_loaders = chronos_support.chronos_loaders
chronos = chronos_support.chronos

DAILY = "R/2026-11-28T03:00:00Z/P1D"
NIGHTLY = {"name": "nightly", "command": "backup.sh", "schedule": DAILY, "mem": 256}


def test_update_job_creates_and_reads_back(chronos, chronos_server):
    stored = chronos.update_job(NIGHTLY)
    assert stored["schedule"] == "R/2026-11-28T03:00:00.000Z/P1D"
    assert raw_job(chronos_server, "nightly")["mem"] == 256.0
    assert chronos.jobs() == ["nightly"]
    assert chronos.has_job("nightly") is True
    assert chronos.has_job("other") is False
    assert chronos.job("nightly")["retries"] == 2


def test_dependent_job_goes_to_the_dependency_endpoint(chronos, chronos_server):
    chronos.update_job(NIGHTLY)
    chronos.update_job({"name": "report", "command": "report.sh", "parents": ["nightly"]})
    assert ("POST", "/scheduler/dependency") in chronos_server.requests
    assert raw_job(chronos_server, "report")["parents"] == ["nightly"]


def test_run_job_runs_it_and_its_children(chronos, chronos_server):
    chronos.update_job(NIGHTLY)
    chronos.update_job({"name": "report", "command": "report.sh", "parents": ["nightly"]})
    assert chronos.run_job("nightly") is True
    assert chronos_server.runs == [("nightly", "manual", True), ("report", "dependency", True)]


def test_rm_job_deletes_and_unknown_jobs_are_errors(chronos, chronos_server):
    chronos.update_job(NIGHTLY)
    assert chronos.rm_job("nightly") is True
    assert raw_jobs(chronos_server) == {}
    for function in (chronos.rm_job, chronos.run_job, chronos.job):
        with pytest.raises(CommandExecutionError, match="no job 'nightly'"):
            function("nightly")


def test_invalid_schedule_is_refused_before_sending(chronos, chronos_server):
    with pytest.raises(SaltInvocationError, match="job 'nightly': invalid schedule"):
        chronos.update_job({**NIGHTLY, "schedule": "R/2026-11-28T03:00:00Z/1D"})
    assert chronos_server.writes == []


def test_missing_parent_and_cycle_are_refused_before_sending(chronos, chronos_server):
    chronos.update_job(NIGHTLY)
    chronos.update_job({"name": "b", "command": "true", "parents": ["nightly"]})
    chronos_server.clear_requests()
    with pytest.raises(SaltInvocationError, match="parent 'ghost' does not exist"):
        chronos.update_job({"name": "c", "command": "true", "parents": ["ghost"]})
    with pytest.raises(SaltInvocationError, match="dependency cycle: b -> nightly -> b"):
        chronos.update_job({"name": "nightly", "command": "true", "parents": ["b"]})
    assert chronos_server.writes == []
    assert raw_job(chronos_server, "nightly")["schedule"].startswith("R/")


def test_chronos_refusal_is_a_typed_error_with_its_reason(chronos, chronos_server):
    # The stand-in refuses a name our checks cannot see coming: a 400 from Chronos.
    chronos.update_job(NIGHTLY)
    with pytest.raises(CommandExecutionError, match="400"):
        chronos.update_job({**NIGHTLY, "cpus": "lots"})


def test_check_jobs_looks_up_parents_in_chronos(chronos, chronos_server):
    post_scheduled(chronos_server, NIGHTLY)
    chronos_server.clear_requests()
    assert chronos.check_jobs([{"name": "r", "command": "true", "parents": ["nightly"]}])
    with pytest.raises(SaltInvocationError) as caught:
        chronos.check_jobs(
            [
                {"name": "r", "command": "true", "parents": ["ghost"]},
                {"name": "s", "command": "true", "schedule": "never"},
            ]
        )
    assert "schedule 'never'" in str(caught.value)
    assert chronos_server.writes == []


def test_unreachable_chronos_is_a_clear_error(chronos_loaders):
    dead = free_dead_url()
    with pytest.raises(CommandExecutionError, match=f"Chronos at {dead} is unreachable"):
        chronos_loaders.modules.chronos.jobs(url=dead)


def test_credentials_in_the_url_go_to_basic_auth_and_never_into_messages(chronos_loaders):
    dead = free_dead_url().replace("http://", "http://ops:s3cret@")
    with pytest.raises(CommandExecutionError) as caught:
        chronos_loaders.modules.chronos.jobs(url=dead)
    assert "s3cret" not in str(caught.value)
    assert "ops:" not in str(caught.value)


def test_url_comes_from_config_and_bad_arguments_are_named(make_loaders, chronos_server):
    loaders = make_loaders(pillar={"chronos": {"url": chronos_server.url}})
    post_scheduled(chronos_server, NIGHTLY)
    assert loaders.modules.chronos.jobs() == ["nightly"]
    with pytest.raises(SaltInvocationError, match="unknown argument"):
        loaders.modules.chronos.jobs(urls=chronos_server.url)
    with pytest.raises(SaltInvocationError, match="No Chronos URL"):
        make_loaders().modules.chronos.jobs()
