"""Where the Marathon stand-in once answered differently from Marathon:
locked apps, the version of an unchanged PUT, and host ports taken from the
agent's ports resource. Raw HTTP only."""

import requests

from tests.fixtures.marathon import HTTP_TIMEOUT, get_app, get_deployments, poll_until, put_app

APP_ID = "/tools/sleeper"
SLEEPER = {"cmd": "sleep 600", "cpus": 0.01, "mem": 16, "instances": 1}
# Mesos' default agent resource: ports:[31000-32000].
AGENT_PORTS = range(31000, 32001)


def lock_with_running_deployment(server):
    """The app exists; a scale-up whose tasks never start keeps a deployment running."""
    assert put_app(server, APP_ID, SLEEPER).status_code == 201
    server.wait_for_deployments(10)
    server.set_task_behaviour(start_delay=600)
    locking = put_app(server, APP_ID, {"instances": 2})
    assert locking.status_code == 200
    return locking.json()["deploymentId"]


def test_delete_without_force_of_a_locked_app_is_409_naming_the_deployment(marathon_server):
    deployment_id = lock_with_running_deployment(marathon_server)

    response = requests.delete(
        f"{marathon_server.url}/v2/apps{APP_ID}", params={"force": "false"}, timeout=HTTP_TIMEOUT
    )

    assert response.status_code == 409
    assert response.json()["deployments"] == [{"id": deployment_id}]
    assert deployment_id in response.json()["message"]
    assert get_app(marathon_server, APP_ID)["instances"] == 2


def test_restart_without_force_of_a_locked_app_is_409_naming_the_deployment(marathon_server):
    deployment_id = lock_with_running_deployment(marathon_server)

    response = requests.post(f"{marathon_server.url}/v2/apps{APP_ID}/restart", timeout=HTTP_TIMEOUT)

    assert response.status_code == 409
    assert response.json()["deployments"] == [{"id": deployment_id}]
    assert [d["id"] for d in get_deployments(marathon_server)] == [deployment_id]


def test_delete_and_restart_with_force_cancel_the_running_deployment(marathon_server):
    deployment_id = lock_with_running_deployment(marathon_server)

    restart = requests.post(
        f"{marathon_server.url}/v2/apps{APP_ID}/restart",
        params={"force": "true"},
        timeout=HTTP_TIMEOUT,
    )
    assert restart.status_code == 200
    assert deployment_id not in [d["id"] for d in get_deployments(marathon_server)]
    # DELETE's force defaults to true in Marathon.
    delete = requests.delete(f"{marathon_server.url}/v2/apps{APP_ID}", timeout=HTTP_TIMEOUT)
    assert delete.status_code == 200


def test_an_unchanged_put_keeps_the_version_that_versions_lists(marathon_server):
    created = put_app(marathon_server, APP_ID, SLEEPER).json()
    marathon_server.wait_for_deployments(10)

    again = put_app(marathon_server, APP_ID, SLEEPER)

    assert again.status_code == 200
    assert again.json()["version"] == created["version"]
    versions = requests.get(
        f"{marathon_server.url}/v2/apps{APP_ID}/versions", timeout=HTTP_TIMEOUT
    ).json()["versions"]
    assert versions == [created["version"]]
    assert get_app(marathon_server, APP_ID)["version"] == created["version"]


def task_ports(server, app_id):
    return [port for task in get_app(server, app_id)["tasks"] for port in task["ports"]]


def test_host_ports_come_from_the_agents_ports_resource_and_are_reused(marathon_server):
    # 6 tasks x 100 ports, restarted twice: 1800 port assignments in a range of 1001.
    app = {**SLEEPER, "instances": 6, "portDefinitions": [{"port": 0} for _ in range(100)]}
    assert put_app(marathon_server, APP_ID, app).status_code == 201
    marathon_server.wait_for_deployments(20)
    for _ in range(2):
        restart = requests.post(f"{marathon_server.url}/v2/apps{APP_ID}/restart", timeout=5)
        assert restart.status_code == 200
        marathon_server.wait_for_deployments(30)

    ports = task_ports(marathon_server, APP_ID)
    assert len(ports) == 600
    assert len(set(ports)) == 600
    assert all(port in AGENT_PORTS for port in ports), sorted(ports)[-5:]


def test_a_task_needing_more_ports_than_the_agent_has_waits_unlaunched(marathon_server):
    app = {**SLEEPER, "portDefinitions": [{"port": 0} for _ in range(len(AGENT_PORTS) + 1)]}
    assert put_app(marathon_server, APP_ID, app).status_code == 201

    # Marathon finds no offer with enough ports: the task stays in the launch queue.
    poll_until(lambda: get_deployments(marathon_server), message="the deployment")
    assert get_app(marathon_server, APP_ID)["tasks"] == []


def test_real_processes_get_free_ports_in_the_agents_range(marathon_server_factory):
    server = marathon_server_factory(real_processes=True)
    app = {**SLEEPER, "instances": 2, "portDefinitions": [{"port": 0}, {"port": 0}]}
    assert put_app(server, APP_ID, app).status_code == 201
    server.wait_for_deployments(20)

    ports = task_ports(server, APP_ID)
    assert len(set(ports)) == 4
    assert all(port in AGENT_PORTS for port in ports), ports
