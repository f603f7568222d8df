"""The Marathon stand-in with real local processes: the task environment,
real HTTP health checks, SIGTERM then SIGKILL after the grace period, and
no process left behind. Processes are observed through their pid files and
their own HTTP answers, not through the stand-in."""

import json
import sys
import textwrap
import time

import pytest
import requests

from tests.fixtures.marathon import HTTP_TIMEOUT, get_app, get_deployments, poll_until

# A tiny service: answers /healthcheck (200 unless HEALTHY=no) and /env,
# writes its pid, notes a SIGTERM and exits on it unless told to ignore it.
SERVICE = textwrap.dedent(
    """
    import http.server, json, os, pathlib, signal, sys

    mode = sys.argv[1]
    state = pathlib.Path(os.environ["STATE_DIR"])
    task = os.environ["MESOS_TASK_ID"]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/env":
                status, body = 200, json.dumps(dict(os.environ)).encode()
            elif self.path == "/healthcheck":
                status, body = (500, b"sick") if os.environ.get("HEALTHY") == "no" else (200, b"ok")
            else:
                status, body = 404, b""
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    def on_sigterm(signum, frame):
        (state / (task + ".sigterm")).write_text("")
        if mode == "graceful":
            raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_sigterm)
    server = http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT0"])), Handler)
    (state / (task + ".pid")).write_text(str(os.getpid()))
    server.serve_forever()
    """
)


@pytest.fixture
def service(tmp_path):
    script = tmp_path / "service.py"
    script.write_text(SERVICE)
    return script


@pytest.fixture
def process_server(marathon_server_factory):
    return marathon_server_factory(real_processes=True)


def service_app(script, state_dir, mode="graceful", instances=1, **fields):
    return {
        "cmd": f"{sys.executable} {script} {mode}",
        "instances": instances,
        "env": {"STATE_DIR": str(state_dir)},
        **fields,
    }


def http_health_check(grace=10, max_failures=3):
    return {
        "protocol": "HTTP",
        "path": "/healthcheck",
        "portIndex": 0,
        "gracePeriodSeconds": grace,
        "intervalSeconds": 1,
        "timeoutSeconds": 2,
        "maxConsecutiveFailures": max_failures,
    }


def put(server, app_id, body, **params):
    response = requests.put(
        f"{server.url}/v2/apps{app_id}", json=body, params=params, timeout=HTTP_TIMEOUT
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


def pid_of(state_dir, task_id, timeout=10.0):
    pid_file = state_dir / f"{task_id}.pid"
    # The file appears before the pid is written into it: wait for the digits.
    poll_until(
        lambda: pid_file.exists() and pid_file.read_text().strip().isdigit(),
        timeout=timeout,
        message=f"{pid_file} written",
    )
    return int(pid_file.read_text())


def process_exists(pid):
    """Alive, not a zombie waiting for its parent (init reaps orphans late)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            state = stat.read().rsplit(b")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in (b"Z", b"X")


def serves(task, path="/healthcheck"):
    url = f"http://{task['host']}:{task['ports'][0]}{path}"
    return requests.get(url, timeout=HTTP_TIMEOUT)


def test_a_task_runs_with_marathons_environment_and_turns_healthy(
    process_server, service, tmp_path
):
    body = service_app(
        service,
        tmp_path,
        portDefinitions=[{"port": 0}, {"port": 0}],
        healthChecks=[http_health_check()],
    )
    put(process_server, "/proc/web", body)
    process_server.wait_for_deployments(20)

    app = get_app(process_server, "/proc/web")
    [task] = app["tasks"]
    environment = json.loads(serves(task, "/env").text)

    assert app["tasksHealthy"] == 1 and task["healthCheckResults"][0]["alive"] is True
    assert task["host"] == "127.0.0.1" and len(set(task["ports"])) == 2
    assert environment["PORT0"] == environment["PORT"] == str(task["ports"][0])
    assert environment["PORT1"] == str(task["ports"][1])
    assert environment["PORTS"] == ",".join(str(port) for port in task["ports"])
    assert environment["HOST"] == "127.0.0.1"
    assert environment["MARATHON_APP_ID"] == "/proc/web"
    assert environment["MARATHON_APP_VERSION"] == app["version"] == task["version"]
    assert environment["MESOS_TASK_ID"] == task["id"]


def test_a_killed_task_that_exits_on_sigterm_goes_at_once(process_server, service, tmp_path):
    body = service_app(service, tmp_path, "graceful", taskKillGracePeriodSeconds=5)
    put(process_server, "/proc/graceful", body)
    process_server.wait_for_deployments(20)
    [task] = get_app(process_server, "/proc/graceful")["tasks"]
    pid = pid_of(tmp_path, task["id"])

    started = time.monotonic()
    requests.delete(f"{process_server.url}/v2/apps/proc/graceful", timeout=HTTP_TIMEOUT)
    poll_until(lambda: not process_exists(pid), timeout=10, message="graceful exit")

    assert time.monotonic() - started < 3.0
    assert (tmp_path / f"{task['id']}.sigterm").exists()
    process_server.wait_for_deployments(10)


def test_a_task_ignoring_sigterm_gets_sigkill_after_the_grace_period(
    process_server, service, tmp_path
):
    body = service_app(service, tmp_path, "stubborn", taskKillGracePeriodSeconds=1)
    put(process_server, "/proc/stubborn", body)
    process_server.wait_for_deployments(20)
    [task] = get_app(process_server, "/proc/stubborn")["tasks"]
    pid = pid_of(tmp_path, task["id"])

    started = time.monotonic()
    requests.delete(f"{process_server.url}/v2/apps/proc/stubborn", timeout=HTTP_TIMEOUT)
    poll_until((tmp_path / f"{task['id']}.sigterm").exists, timeout=5, message="SIGTERM seen")
    time.sleep(0.5)  # inside the 1 s grace period the process must still live
    assert process_exists(pid), "killed before the grace period ran out"
    poll_until(lambda: not process_exists(pid), timeout=10, message="SIGKILL")

    assert 0.9 <= time.monotonic() - started < 4.0
    process_server.wait_for_deployments(10)


def test_an_unhealthy_new_version_leaves_the_old_one_serving_until_reverted(
    process_server, service, tmp_path
):
    body = service_app(
        service,
        tmp_path,
        instances=2,
        healthChecks=[http_health_check(grace=1, max_failures=0)],
        upgradeStrategy={"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.0},
    )
    old = put(process_server, "/proc/web", body)
    process_server.wait_for_deployments(20)

    update = put(process_server, "/proc/web", {"env": {**body["env"], "HEALTHY": "no"}})
    app = poll_until(
        lambda: (a := get_app(process_server, "/proc/web"))["tasksUnhealthy"] == 1 and a,
        timeout=15,
        message="the new task reported unhealthy",
    )

    [survivor] = [t for t in app["tasks"] if t["version"] == old["version"]]
    [newcomer] = [t for t in app["tasks"] if t["version"] == update["version"]]
    assert serves(survivor).status_code == 200
    assert serves(newcomer).status_code == 500
    [deployment] = get_deployments(process_server)
    assert deployment["id"] == update["deploymentId"]

    requests.delete(
        f"{process_server.url}/v2/deployments/{update['deploymentId']}", timeout=HTTP_TIMEOUT
    )
    process_server.wait_for_deployments(20)
    app = get_app(process_server, "/proc/web")
    assert app["version"] == old["version"] and app["tasksHealthy"] == 2
    assert all(serves(task).status_code == 200 for task in app["tasks"])


def test_a_process_that_exits_is_recorded_as_last_task_failure(process_server):
    put(process_server, "/proc/crash", {"cmd": "exit 3", "backoffSeconds": 5})

    failure = poll_until(
        lambda: get_app(process_server, "/proc/crash").get("lastTaskFailure"),
        message="lastTaskFailure",
    )

    assert failure["state"] == "TASK_FAILED" and "status 3" in failure["message"]
    assert failure["appId"] == "/proc/crash"


def test_stopping_the_server_stops_every_task_process(marathon_server_factory, service, tmp_path):
    server = marathon_server_factory(real_processes=True)
    put(server, "/proc/stubborn", service_app(service, tmp_path, "stubborn", instances=2))
    server.wait_for_deployments(20)
    pids = [pid_of(tmp_path, task["id"]) for task in get_app(server, "/proc/stubborn")["tasks"]]

    server.stop()

    assert not [pid for pid in pids if process_exists(pid)]


def test_a_task_failing_mesos_http_checks_is_killed_and_replaced(process_server, service, tmp_path):
    check = {**http_health_check(grace=0, max_failures=2), "protocol": "MESOS_HTTP"}
    body = service_app(service, tmp_path, healthChecks=[check])
    body["env"]["HEALTHY"] = "no"
    put(process_server, "/proc/sick", body)
    [first] = poll_until(lambda: get_app(process_server, "/proc/sick")["tasks"], message="task")
    pid = pid_of(tmp_path, first["id"])

    failure = poll_until(
        lambda: get_app(process_server, "/proc/sick").get("lastTaskFailure"),
        timeout=15,
        message="killed for failing health checks",
    )

    assert failure["taskId"] == first["id"] and failure["state"] == "TASK_KILLED"
    poll_until(lambda: not process_exists(pid), timeout=10, message="the sick process gone")
    poll_until(
        lambda: {t["id"] for t in get_app(process_server, "/proc/sick")["tasks"]} - {first["id"]},
        message="a replacement task",
    )


@pytest.mark.parametrize(("command", "healthy"), [("true", True), ("exit 1", False)])
def test_command_health_checks_run_in_the_task_environment(process_server, command, healthy):
    check = {
        "protocol": "COMMAND",
        "command": {"value": f'test -n "$MESOS_TASK_ID" && {command}'},
        "gracePeriodSeconds": 0,
        "intervalSeconds": 1,
        "maxConsecutiveFailures": 0,
    }
    put(process_server, "/proc/checked", {"cmd": "sleep 300", "healthChecks": [check]})

    app = poll_until(
        lambda: (
            (a := get_app(process_server, "/proc/checked"))["tasks"]
            and a["tasks"][0].get("healthCheckResults")
            and a
        ),
        message="a health result",
    )

    [result] = app["tasks"][0]["healthCheckResults"]
    assert result["alive"] is healthy
    assert (app["tasksHealthy"], app["tasksUnhealthy"]) == ((1, 0) if healthy else (0, 1))


def test_a_docker_app_task_knows_its_image_and_resources(process_server, service, tmp_path):
    body = service_app(
        service,
        tmp_path,
        portDefinitions=[{"port": 0}],
        container={"type": "DOCKER", "docker": {"image": "registry.local/web:v7"}},
        cpus=0.25,
        healthChecks=[http_health_check()],
    )
    put(process_server, "/proc/docker-web", body)
    process_server.wait_for_deployments(20)
    [task] = get_app(process_server, "/proc/docker-web")["tasks"]

    environment = json.loads(serves(task, "/env").text)

    assert environment["MARATHON_APP_DOCKER_IMAGE"] == "registry.local/web:v7"
    assert environment["MARATHON_APP_RESOURCE_CPUS"] == "0.25"
    assert environment["MARATHON_APP_RESOURCE_GPUS"] == "0"
