"""The registrator against the real Marathon and Consul stand-ins: what it
registers is read back from Consul's catalog by raw HTTP and compared with
Marathon's own task list."""

import pytest
import requests

from sandbox.registrator import Registrator
from tests.fixtures.consul import register_service
from tests.fixtures.marathon import HTTP_TIMEOUT, get_app, poll_until, put_app

APP_ID = "/app/production/test-server"


def definition(instances=2, tags="production,internal-listen-http-3000", **extra):
    return {
        "id": APP_ID,
        "cmd": "sleep 1000",
        "instances": instances,
        "env": {"SERVICE_NAME": "test-server", "SERVICE_TAGS": tags},
        "portDefinitions": [{"port": 0}],
        "healthChecks": [
            {
                "protocol": "HTTP",
                "path": "/healthcheck",
                "gracePeriodSeconds": 1,
                "intervalSeconds": 1,
                "maxConsecutiveFailures": 0,
            }
        ],
        "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.5},
        **extra,
    }


def catalog(consul_server, name="test-server"):
    """{service id: (address, port, tags)} of ``name`` in Consul's catalog."""
    response = requests.get(f"{consul_server.url}/v1/catalog/service/{name}", timeout=HTTP_TIMEOUT)
    response.raise_for_status()
    return {
        entry["ServiceID"]: (entry["ServiceAddress"], entry["ServicePort"], entry["ServiceTags"])
        for entry in response.json()
    }


def healthy_tasks(marathon_server):
    """{task id: (host, port)} of the app's tasks Marathon reports healthy."""
    tasks = get_app(marathon_server, APP_ID)["tasks"]
    return {
        task["id"]: (task["host"], task["ports"][0])
        for task in tasks
        if task["state"] == "TASK_RUNNING"
        and task.get("healthCheckResults")
        and all(result["alive"] for result in task["healthCheckResults"])
    }


def in_step(marathon_server, consul_server, expected_count):
    """Consul lists exactly Marathon's healthy tasks (and there are that many)."""
    tasks = healthy_tasks(marathon_server)
    registered = {
        sid: (address, port) for sid, (address, port, _) in catalog(consul_server).items()
    }
    return len(tasks) == expected_count and registered == tasks


@pytest.fixture
def registrator_factory():
    started = []

    def factory(marathon_server, consul_server, resync_interval=3600.0):
        registrator = Registrator(
            marathon_server.url, consul_server.url, resync_interval=resync_interval
        ).start()
        started.append(registrator)
        poll_until(registrator.stream_connected.is_set, message="event stream attached")
        return registrator

    yield factory
    for registrator in started:
        registrator.stop()


@pytest.fixture
def health(marathon_server):
    """Switch the app's simulated health: health["ok"] = False."""
    state = {"ok": True}
    marathon_server.set_task_behaviour(APP_ID, healthy=lambda definition: state["ok"])
    return state


def test_healthy_tasks_are_registered_with_task_ids_name_and_tags(
    marathon_server, consul_server, registrator_factory, health
):
    # A timer that never fires: only the event stream can register them.
    registrator_factory(marathon_server, consul_server)
    assert put_app(marathon_server, APP_ID, definition()).status_code in (200, 201)
    poll_until(lambda: in_step(marathon_server, consul_server, 2), message="2 tasks registered")
    for _, _, tags in catalog(consul_server).values():
        assert tags == ["production", "internal-listen-http-3000"]


def test_tasks_leave_consul_when_health_goes_down_and_return_when_it_comes_back(
    marathon_server, consul_server, registrator_factory, health
):
    registrator_factory(marathon_server, consul_server)
    put_app(marathon_server, APP_ID, definition())
    poll_until(lambda: in_step(marathon_server, consul_server, 2), message="registered")
    health["ok"] = False
    poll_until(lambda: catalog(consul_server) == {}, message="unhealthy tasks deregistered")
    assert len(get_app(marathon_server, APP_ID)["tasks"]) == 2  # still running
    health["ok"] = True
    poll_until(lambda: in_step(marathon_server, consul_server, 2), message="registered again")


def test_a_rolling_redeploy_swaps_old_tasks_for_new_ones(
    marathon_server, consul_server, registrator_factory, health
):
    registrator_factory(marathon_server, consul_server)
    put_app(marathon_server, APP_ID, definition())
    poll_until(lambda: in_step(marathon_server, consul_server, 2), message="v1 registered")
    old_ids = set(catalog(consul_server))
    put_app(marathon_server, APP_ID, definition(tags="production,internal-listen-http-3000,v2"))
    marathon_server.wait_for_deployments(timeout=20)
    poll_until(lambda: in_step(marathon_server, consul_server, 2), message="v2 registered")
    registered = catalog(consul_server)
    assert not old_ids & set(registered)
    assert all("v2" in tags for _, _, tags in registered.values())


def test_killed_and_scaled_down_tasks_and_deleted_apps_are_deregistered(
    marathon_server, consul_server, registrator_factory, health
):
    registrator_factory(marathon_server, consul_server)
    put_app(marathon_server, APP_ID, definition(instances=3))
    poll_until(lambda: in_step(marathon_server, consul_server, 3), message="3 registered")
    put_app(marathon_server, APP_ID, {"instances": 1})
    poll_until(lambda: in_step(marathon_server, consul_server, 1), message="scaled to 1")
    response = requests.delete(f"{marathon_server.url}/v2/apps{APP_ID}", timeout=HTTP_TIMEOUT)
    assert response.status_code == 200
    poll_until(lambda: catalog(consul_server) == {}, message="deleted app deregistered")


def test_several_ports_register_one_service_per_port(
    marathon_server, consul_server, registrator_factory
):
    registrator_factory(marathon_server, consul_server)
    two_ports = definition(instances=1, portDefinitions=[{"port": 0}, {"port": 0}])
    two_ports["healthChecks"] = []
    put_app(marathon_server, APP_ID, two_ports)
    marathon_server.wait_for_deployments(timeout=10)
    service_ports = get_app(marathon_server, APP_ID)["portDefinitions"]
    (task,) = get_app(marathon_server, APP_ID)["tasks"]
    for slot, host_port in zip(service_ports, task["ports"], strict=True):
        name = f"test-server-{slot['port']}"
        poll_until(lambda name=name: catalog(consul_server, name), message=f"{name} registered")
        assert catalog(consul_server, name) == {
            f"{task['id']}:{slot['port']}": (
                "127.0.0.1",
                host_port,
                ["production", "internal-listen-http-3000"],
            )
        }


def test_the_resync_removes_dangling_services_of_ours_and_keeps_foreign_ones(
    marathon_server, consul_server, registrator_factory, health
):
    put_app(marathon_server, APP_ID, definition(instances=1))
    marathon_server.wait_for_deployments(timeout=10)
    # Left by a registrator that crashed while a task it knew went away.
    dangling = {
        "ID": "app_production_test-server.gone",
        "Name": "test-server",
        "Port": 1,
        "Address": "127.0.0.1",
        "Meta": {"registered-by": "sandbox-registrator", "marathon-app": APP_ID},
    }
    requests.put(
        f"{consul_server.url}/v1/agent/service/register", json=dangling, timeout=HTTP_TIMEOUT
    ).raise_for_status()
    register_service(consul_server.url, "test-server", 2, service_id="registered-by-hand")
    registrator = registrator_factory(marathon_server, consul_server, resync_interval=0.2)
    poll_until(lambda: registrator.resyncs >= 2, message="two resyncs")
    registered = catalog(consul_server)
    assert "app_production_test-server.gone" not in registered
    assert "registered-by-hand" in registered
    (task_id,) = healthy_tasks(marathon_server)
    assert set(registered) == {task_id, "registered-by-hand"}


def test_a_registrator_started_late_registers_what_already_runs(
    marathon_server, consul_server, registrator_factory, health
):
    put_app(marathon_server, APP_ID, definition())
    marathon_server.wait_for_deployments(timeout=10)
    registrator_factory(marathon_server, consul_server)
    poll_until(lambda: in_step(marathon_server, consul_server, 2), message="registered")


def test_the_command_line_runs_in_the_foreground(marathon_server, consul_server, health):
    import subprocess
    import sys

    put_app(marathon_server, APP_ID, definition(instances=1))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "registrator",
            "--marathon",
            marathon_server.url,
            "--consul",
            consul_server.url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        poll_until(lambda: in_step(marathon_server, consul_server, 1), message="registered")
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    assert b"registered" in stderr
