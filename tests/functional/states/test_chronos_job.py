"""chronos_job states against the Chronos stand-in, in test mode and for
real; outcomes are checked with raw HTTP and the stand-in's write log."""

import pytest

from tests.fixtures.chronos import raw_job, raw_jobs
from tests.functional import chronos_support
from tests.functional.marathon_support import free_dead_url

chronos_loaders = chronos_support.chronos_loaders
chronos_job = chronos_support.chronos_job

# Declared with a start in the past: Chronos never reads it back as written.
HOURLY = "R/2026-11-27T09:00:00Z/PT1H"
COUNTED = "R5/2026-11-27T12:30:00Z/PT1H"


def test_present_predicts_creates_then_reports_nothing(chronos_job, chronos_server):
    predicted = chronos_job.present("nightly", command="backup.sh", schedule=HOURLY, test=True)
    assert predicted.result is None
    assert "would be created" in predicted.comment
    assert predicted.changes["schedule"] == {"old": None, "new": HOURLY}
    assert raw_jobs(chronos_server) == {}

    created = chronos_job.present("nightly", command="backup.sh", schedule=HOURLY, mem=64)
    assert created.result is True, created.comment
    assert created.changes["command"] == {"old": None, "new": "backup.sh"}
    assert raw_job(chronos_server, "nightly")["mem"] == 64.0

    chronos_server.clear_requests()
    again = chronos_job.present("nightly", command="backup.sh", schedule=HOURLY, mem=64)
    assert (again.result, again.changes) == (True, {})
    assert chronos_server.writes == []


@pytest.mark.parametrize("test_mode", [True, False])
def test_no_change_and_no_write_after_jobs_have_run(
    chronos_job, chronos_server, chronos_clock, test_mode
):
    declared = {
        "nightly": {"command": "backup.sh", "schedule": HOURLY, "epsilon": "PT1M"},
        "counted": {"command": "count.sh", "schedule": COUNTED},
        "report": {"command": "report.sh", "parents": ["nightly", "counted"]},
    }
    for name, fields in declared.items():
        assert chronos_job.present(name, **fields).result is True
    for _half_hour in range(5):  # 12:30 .. 14:30
        chronos_clock.advance(minutes=30)
        chronos_server.run_due()
    jobs = raw_jobs(chronos_server)
    assert jobs["nightly"]["schedule"] != HOURLY
    assert jobs["counted"]["schedule"] == "R2/2026-11-27T15:30:00.000Z/PT1H"
    assert jobs["nightly"]["successCount"] == 2
    assert jobs["report"]["successCount"] == 2

    chronos_server.clear_requests()
    for name, fields in declared.items():
        result = chronos_job.present(name, test=test_mode, **fields)
        assert (result.result, result.changes) == (True, {}), result.comment
    assert chronos_server.writes == []


def test_a_changed_time_of_day_is_written(chronos_job, chronos_server, chronos_clock):
    chronos_job.present("nightly", command="backup.sh", schedule=HOURLY)
    chronos_clock.advance(hours=2)
    chronos_server.run_due()
    moved = "R/2026-11-27T09:15:00Z/PT1H"
    result = chronos_job.present("nightly", command="backup.sh", schedule=moved)
    assert result.result is True, result.comment
    assert set(result.changes) == {"schedule"}
    assert raw_job(chronos_server, "nightly")["schedule"].startswith("R/")
    assert ("POST", "/scheduler/iso8601") in chronos_server.writes


def test_invalid_schedule_fails_and_writes_nothing(chronos_job, chronos_server):
    result = chronos_job.present("nightly", command="backup.sh", schedule="R/tomorrow/P1D")
    assert result.result is False
    assert "job 'nightly': invalid schedule" in result.comment
    assert chronos_server.writes == []


def test_missing_parent_fails_and_writes_nothing(chronos_job, chronos_server):
    result = chronos_job.present("report", command="report.sh", parents=["ghost"])
    assert result.result is False
    assert "parent 'ghost' does not exist" in result.comment
    assert chronos_server.writes == []


def test_unknown_field_is_named(chronos_job, chronos_server):
    result = chronos_job.present("nightly", command="true", schedule=HOURLY, memory=64)
    assert result.result is False
    assert "unknown field(s) memory" in result.comment


def test_unreachable_chronos_fails_the_state(chronos_loaders):
    dead = free_dead_url()
    result = chronos_loaders.states.chronos_job.present(
        "nightly", command="true", schedule=HOURLY, url=dead
    )
    assert result.result is False
    assert f"Chronos at {dead} is unreachable" in result.comment


@pytest.mark.parametrize("test_mode", [True, False])
def test_absent(chronos_job, chronos_server, test_mode):
    chronos_job.present("nightly", command="true", schedule=HOURLY)
    result = chronos_job.absent("nightly", test=test_mode)
    assert result.result is (None if test_mode else True)
    assert result.changes == {"job": {"old": "nightly", "new": None}}
    assert (raw_job(chronos_server, "nightly") is None) is not test_mode
    if not test_mode:
        again = chronos_job.absent("nightly")
        assert (again.result, again.changes) == (True, {})
