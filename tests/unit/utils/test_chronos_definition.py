"""What a Chronos job declaration means versus what Chronos stores."""

import pytest

from tests.unit.utils.loaded import load_util

definition = load_util("chronos_definition")

DAILY = "R/2026-11-28T03:00:00Z/P1D"


@pytest.mark.parametrize(
    ("declared", "stored"),
    [
        (DAILY, "R/2026-11-28T03:00:00.000Z/P1D"),
        (DAILY, "R/2026-12-05T03:00:00.000Z/P1D"),  # ran seven times
        ("R/2026-11-28T04:00:00+01:00/P1D", "R/2026-11-30T03:00:00.000Z/P1D"),
        ("R5/2026-11-27T12:00:00Z/PT1H", "R2/2026-11-27T15:00:00.000Z/PT1H"),
        ("R2/2026-11-27T12:00:00Z/PT1H", "R0/2026-11-27T15:00:00.000Z/PT1H"),  # used up
        ("R/2026-01-31T00:00:00Z/P1M", "R/2026-03-28T00:00:00.000Z/P1M"),  # calendar steps
        ("R/2026-11-28T03:00:00Z/P1W", "R/2026-12-12T03:00:00.000Z/P7D"),
    ],
)
def test_schedules_chronos_moved_forward_mean_the_same(declared, stored):
    assert definition.same_schedule(declared, stored)


@pytest.mark.parametrize(
    ("declared", "stored"),
    [
        (DAILY, "R/2026-11-28T04:00:00.000Z/P1D"),  # another time of day
        (DAILY, "R/2026-11-28T03:00:00.000Z/PT12H"),  # another period
        (DAILY, "R/2026-11-27T03:00:00.000Z/P1D"),  # earlier than declared
        (DAILY, "R3/2026-11-28T03:00:00.000Z/P1D"),  # finite now
        ("R5/2026-11-27T12:00:00Z/PT1H", "R3/2026-11-27T15:00:00.000Z/PT1H"),  # count off
        ("R5/2026-11-27T12:00:00Z/PT1H", "R/2026-11-27T15:00:00.000Z/PT1H"),
        (DAILY, "garbage"),
    ],
)
def test_schedules_that_mean_something_else_differ(declared, stored):
    assert not definition.same_schedule(declared, stored)


@pytest.mark.parametrize(
    "schedule",
    [
        "daily",
        "R/2026-11-28T03:00:00Z",
        "R/2026-13-28T03:00:00Z/P1D",
        "R/2026-11-28T03:00:00Z/PT",
        "R/2026-11-28T03:00:00Z/P",
        "R/2026-11-28T03:00:00Z/P0D",
        "R-1/2026-11-28T03:00:00Z/P1D",
        "R/2026-11-28T03:00:00Z/P1D\n",
        None,
        5,
    ],
)
def test_invalid_schedules_are_named(schedule):
    problems = definition.job_problems({"name": "a", "command": "true", "schedule": schedule})
    assert len(problems) == 1
    assert problems[0].startswith("job 'a': ")


STORED = {
    "name": "nightly",
    "command": "backup.sh",
    "schedule": "R/2026-12-01T03:00:00.000Z/P1D",
    "scheduleTimeZone": "",
    "epsilon": "PT60S",
    "retries": 2,
    "cpus": 0.1,
    "mem": 256.0,
    "disk": 256.0,
    "shell": True,
    "owner": "",
    "ownerName": "",
    "description": "",
    "executor": "",
    "executorFlags": "",
    "taskInfoData": "",
    "disabled": False,
    "softError": False,
    "dataProcessingJobType": False,
    "fetch": [],
    "uris": [],
    "environmentVariables": [{"name": "MODE", "value": "full"}],
    "arguments": [],
    "highPriority": False,
    "runAsUser": "root",
    "concurrent": False,
    "constraints": [],
    "async": False,
    "successCount": 4,
    "errorCount": 0,
    "lastSuccess": "2026-11-30T03:00:01.000Z",
    "lastError": "",
    "errorsSinceLastSuccess": 0,
}


def test_defaults_counters_floats_and_moved_schedule_are_no_change():
    declared = {
        "name": "nightly",
        "command": "backup.sh",
        "schedule": DAILY,
        "mem": 256,
        "epsilon": "PT1M",
        "environmentVariables": {"MODE": "full"},
    }
    assert definition.differences(declared, STORED) == {}


def test_an_omitted_field_set_by_hand_goes_back_to_the_default():
    stored = {**STORED, "retries": 5}
    declared = {"name": "nightly", "command": "backup.sh", "schedule": DAILY, "mem": 256}
    declared["environmentVariables"] = [{"name": "MODE", "value": "full"}]
    assert definition.differences(declared, stored) == {"retries": {"old": 5, "new": 2}}


def test_a_new_time_of_day_and_a_switch_to_parents_are_changes():
    moved = {"name": "nightly", "command": "backup.sh", "schedule": "R/2026-11-28T04:00:00Z/P1D"}
    assert "schedule" in definition.differences(moved, STORED)
    dependent = {"name": "nightly", "command": "backup.sh", "parents": ["other"]}
    changes = definition.differences(dependent, STORED)
    assert changes["schedule"] == {"old": STORED["schedule"], "new": None}
    assert changes["parents"] == {"old": None, "new": ["other"]}


def test_a_used_up_job_disabled_by_chronos_is_no_change():
    stored = {**STORED, "schedule": "R0/2026-11-30T03:00:00.000Z/P1D", "disabled": True}
    stored["environmentVariables"] = []
    declared = {"name": "nightly", "command": "backup.sh", "mem": 256}
    assert (
        definition.differences({**declared, "schedule": "R2/2026-11-28T03:00:00Z/P1D"}, stored)
        == {}
    )
    # Disabled by hand while repeats are left: that is a change.
    stored["schedule"] = "R1/2026-11-30T03:00:00.000Z/P1D"
    changes = definition.differences(
        {**declared, "schedule": "R3/2026-11-28T03:00:00Z/P1D"}, stored
    )
    assert changes == {"disabled": {"old": True, "new": False}}


def test_check_jobs_names_every_problem_at_once():
    jobs = [
        {"name": "a", "command": "true", "schedule": "R/bad/P1D"},
        {"name": "b", "command": "true", "parents": ["a"]},
        {"name": "c/d", "command": "", "schedule": DAILY, "parents": ["a"]},
    ]
    with pytest.raises(definition.InvalidJobError) as caught:
        definition.check_jobs(jobs)
    assert len(caught.value.problems) == 4
    message = str(caught.value)
    assert "job 'a': invalid schedule" in message
    assert "job 'c/d': name" in message
    assert "job 'c/d': no command" in message
    assert "job 'c/d': needs exactly one of schedule or parents" in message


def test_check_jobs_names_missing_parents_and_cycles():
    jobs = [
        {"name": "a", "command": "true", "schedule": DAILY},
        {"name": "b", "command": "true", "parents": ["a", "d"]},
        {"name": "c", "command": "true", "parents": ["e"]},
        {"name": "e", "command": "true", "parents": ["c"]},
        {"name": "f", "command": "true", "parents": ["outside"]},
    ]
    with pytest.raises(definition.InvalidJobError) as caught:
        definition.check_jobs(jobs, existing=["outside"])
    assert caught.value.problems == [
        "job 'b': parent 'd' does not exist",
        "dependency cycle: c -> e -> c",
    ]


def test_placement_names_a_cycle_through_stored_jobs():
    stored = [
        {"name": "a", "schedule": DAILY},
        {"name": "b", "parents": ["a"]},
        {"name": "c", "parents": ["b"]},
    ]
    assert definition.placement_problems({"name": "b", "parents": ["c"]}, stored) == [
        "dependency cycle: b -> c -> b"
    ]
    assert definition.placement_problems({"name": "d", "parents": ["x"]}, stored) == [
        "job 'd': parent 'x' does not exist"
    ]
    assert definition.placement_problems({"name": "d", "parents": ["c"]}, stored) == []
