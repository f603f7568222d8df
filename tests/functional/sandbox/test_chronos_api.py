"""The Chronos stand-in against api-notes.md, through raw HTTP (requests)."""

import requests

from tests.fixtures.chronos import (
    HTTP_TIMEOUT,
    post_dependent,
    post_scheduled,
    raw_job,
    raw_jobs,
)

DAILY_AT_THREE = "R/2026-11-28T03:00:00Z/P1D"


def scheduled(name="backup", schedule=DAILY_AT_THREE, **fields):
    return {"name": name, "command": "echo hi", "schedule": schedule, **fields}


def test_post_returns_204_and_get_fills_in_defaults(chronos_server):
    response = post_scheduled(chronos_server, scheduled())
    assert response.status_code == 204
    assert response.content == b""
    job = raw_job(chronos_server, "backup")
    assert job["schedule"] == "R/2026-11-28T03:00:00.000Z/P1D"
    assert job["epsilon"] == "PT60S"
    assert job["retries"] == 2
    assert job["cpus"] == 0.1
    assert job["mem"] == 128.0
    assert job["disk"] == 256.0
    assert job["shell"] is True
    assert job["runAsUser"] == "root"
    assert job["scheduleTimeZone"] == ""
    assert (job["successCount"], job["errorCount"]) == (0, 0)
    assert (job["lastSuccess"], job["lastError"]) == ("", "")
    assert "parents" not in job


def test_posting_an_existing_name_replaces_the_job(chronos_server):
    post_scheduled(chronos_server, scheduled(mem=512))
    post_scheduled(chronos_server, scheduled(command="echo replaced"))
    job = raw_job(chronos_server, "backup")
    assert job["command"] == "echo replaced"
    assert job["mem"] == 128.0
    assert list(raw_jobs(chronos_server)) == ["backup"]


def test_v1_prefix_of_chronos_3_works_too(chronos_server):
    response = requests.post(
        f"{chronos_server.url}/v1/scheduler/iso8601", json=scheduled(), timeout=HTTP_TIMEOUT
    )
    assert response.status_code == 204
    listing = requests.get(f"{chronos_server.url}/v1/scheduler/jobs", timeout=HTTP_TIMEOUT)
    assert [job["name"] for job in listing.json()] == ["backup"]


def test_bad_schedules_are_refused_with_400(chronos_server):
    for schedule in (
        "every day",
        "R/2026-11-28T03:00:00Z",
        "R/not-a-date/P1D",
        "R/2026-11-28T03:00:00Z/PT",
        "R/2026-11-28T03:00:00Z/P0D",
        "Rx/2026-11-28T03:00:00Z/P1D",
        "R/2026-11-28T03:00:00Z/P1D\n",
    ):
        response = post_scheduled(chronos_server, scheduled(schedule=schedule))
        assert response.status_code == 400, schedule
    assert raw_jobs(chronos_server) == {}


def test_bad_names_and_missing_command_are_refused(chronos_server):
    assert post_scheduled(chronos_server, scheduled(name="a/b")).status_code == 400
    assert post_scheduled(chronos_server, scheduled(name="")).status_code == 400
    assert (
        post_scheduled(chronos_server, {"name": "x", "schedule": DAILY_AT_THREE}).status_code == 400
    )
    assert post_scheduled(chronos_server, scheduled(retries="2")).status_code == 400
    assert raw_jobs(chronos_server) == {}


def test_delete_removes_and_unknown_job_is_400(chronos_server):
    post_scheduled(chronos_server, scheduled())
    url = f"{chronos_server.url}/scheduler/job/backup"
    assert requests.delete(url, timeout=HTTP_TIMEOUT).status_code == 204
    assert raw_jobs(chronos_server) == {}
    assert requests.delete(url, timeout=HTTP_TIMEOUT).status_code == 400


def test_dependent_jobs_have_parents_and_no_schedule(chronos_server):
    post_scheduled(chronos_server, scheduled())
    response = post_dependent(
        chronos_server, {"name": "report", "command": "echo report", "parents": ["backup"]}
    )
    assert response.status_code == 204
    job = raw_job(chronos_server, "report")
    assert job["parents"] == ["backup"]
    assert "schedule" not in job


def test_dependent_job_with_a_missing_parent_is_400(chronos_server):
    response = post_dependent(
        chronos_server, {"name": "report", "command": "true", "parents": ["nowhere"]}
    )
    assert response.status_code == 400
    assert "nowhere" in response.text
    assert raw_jobs(chronos_server) == {}


def test_dependency_cycle_is_400(chronos_server):
    post_scheduled(chronos_server, scheduled(name="a"))
    assert (
        post_dependent(
            chronos_server, {"name": "b", "command": "true", "parents": ["a"]}
        ).status_code
        == 204
    )
    assert (
        post_dependent(
            chronos_server, {"name": "c", "command": "true", "parents": ["b"]}
        ).status_code
        == 204
    )
    response = post_dependent(chronos_server, {"name": "b", "command": "true", "parents": ["c"]})
    assert response.status_code == 400
    assert raw_job(chronos_server, "b")["parents"] == ["a"]


def test_put_runs_now_and_children_follow_without_moving_the_schedule(chronos_server):
    post_scheduled(chronos_server, scheduled())
    post_dependent(chronos_server, {"name": "report", "command": "true", "parents": ["backup"]})
    response = requests.put(f"{chronos_server.url}/scheduler/job/backup", timeout=HTTP_TIMEOUT)
    assert response.status_code == 204
    jobs = raw_jobs(chronos_server)
    assert jobs["backup"]["successCount"] == 1
    assert jobs["backup"]["lastSuccess"] == "2026-11-27T12:00:00.000Z"
    assert jobs["report"]["successCount"] == 1
    assert jobs["backup"]["schedule"] == "R/2026-11-28T03:00:00.000Z/P1D"
    missing = requests.put(f"{chronos_server.url}/scheduler/job/nope", timeout=HTTP_TIMEOUT)
    assert missing.status_code == 400


def test_a_child_waits_for_every_parent(chronos_server):
    post_scheduled(chronos_server, scheduled(name="a"))
    post_scheduled(chronos_server, scheduled(name="b"))
    post_dependent(chronos_server, {"name": "c", "command": "true", "parents": ["a", "b"]})
    requests.put(f"{chronos_server.url}/scheduler/job/a", timeout=HTTP_TIMEOUT)
    requests.put(f"{chronos_server.url}/scheduler/job/a", timeout=HTTP_TIMEOUT)
    assert raw_job(chronos_server, "c")["successCount"] == 0
    requests.put(f"{chronos_server.url}/scheduler/job/b", timeout=HTTP_TIMEOUT)
    assert raw_job(chronos_server, "c")["successCount"] == 1


def test_schedule_moves_forward_as_the_job_runs(chronos_server, chronos_clock):
    post_scheduled(chronos_server, scheduled(schedule="R3/2026-11-27T12:30:00+00:00/PT1H"))
    chronos_clock.advance(minutes=30)
    chronos_server.run_due()
    job = raw_job(chronos_server, "backup")
    assert job["schedule"] == "R2/2026-11-27T13:30:00.000Z/PT1H"
    assert job["successCount"] == 1
    chronos_clock.advance(hours=1)
    chronos_server.run_due()
    assert raw_job(chronos_server, "backup")["schedule"] == "R1/2026-11-27T14:30:00.000Z/PT1H"


def test_a_start_in_the_past_never_reads_back_as_written(chronos_server):
    # Missed runs (beyond epsilon) are skipped, each one using up a repeat.
    post_scheduled(chronos_server, scheduled(schedule="R10/2026-11-27T09:00:00Z/PT1H"))
    chronos_server.run_due()
    job = raw_job(chronos_server, "backup")
    assert job["schedule"] == "R6/2026-11-27T13:00:00.000Z/PT1H"
    assert job["successCount"] == 1  # 12:00 was due within epsilon
    post_scheduled(chronos_server, scheduled(schedule="R/2026-11-01T03:00:00Z/P1D"))
    chronos_server.run_due()
    assert raw_job(chronos_server, "backup")["schedule"] == "R/2026-11-28T03:00:00.000Z/P1D"


def test_time_zone_offsets_are_stored_in_utc(chronos_server):
    post_scheduled(chronos_server, scheduled(schedule="R/2026-11-28T04:00:00+01:00/P1D"))
    assert raw_job(chronos_server, "backup")["schedule"] == "R/2026-11-28T03:00:00.000Z/P1D"


def test_a_job_whose_count_reaches_zero_is_disabled_and_stops(chronos_server, chronos_clock):
    post_scheduled(chronos_server, scheduled(schedule="R1/2026-11-27T12:00:00Z/PT1H"))
    chronos_server.run_due()
    job = raw_job(chronos_server, "backup")
    assert job["schedule"] == "R0/2026-11-27T13:00:00.000Z/PT1H"
    assert job["disabled"] is True
    chronos_clock.advance(hours=5)
    chronos_server.run_due()
    requests.put(f"{chronos_server.url}/scheduler/job/backup", timeout=HTTP_TIMEOUT)
    assert raw_job(chronos_server, "backup")["successCount"] == 1


def test_foreground_command_serves(tmp_path):
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "chronos", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert "listening" in process.stdout.readline()
        url = f"http://127.0.0.1:{port}"
        assert requests.get(f"{url}/scheduler/jobs", timeout=HTTP_TIMEOUT).json() == []
        # A job due now runs on the stand-in's own clock and ticker.
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        job = {"name": "tick", "command": "true", "schedule": f"R1/{now}/PT1H"}
        assert (
            requests.post(f"{url}/scheduler/iso8601", json=job, timeout=HTTP_TIMEOUT).status_code
            == 204
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            listing = requests.get(f"{url}/scheduler/jobs", timeout=HTTP_TIMEOUT).json()
            if listing[0]["successCount"]:
                break
            time.sleep(0.1)
        assert listing[0]["schedule"].startswith("R0/")
    finally:
        process.terminate()
        process.wait(timeout=10)
