"""Killing tasks through the Marathon stand-in: a killed task is replaced
unless the kill also scales the app down, which is a new version with its
own deployment. Raw HTTP only."""

import requests

from tests.fixtures.marathon import (
    HTTP_TIMEOUT,
    article_test_server,
    get_app,
    get_deployments,
    poll_until,
    put_app,
)

APP_ID = "/app/production/test-server"


def deployed(server, instances=3):
    assert put_app(server, APP_ID, article_test_server(instances=instances)).status_code == 201
    server.wait_for_deployments(10)
    return get_app(server, APP_ID)


def task_ids(app):
    return {task["id"] for task in app["tasks"]}


def replaced_app(server, killed_ids, instances):
    """The app once ``killed_ids`` are gone and ``instances`` healthy tasks run."""

    def settled():
        app = get_app(server, APP_ID)
        done = not task_ids(app) & killed_ids and app["tasksHealthy"] == instances
        return done and len(app["tasks"]) == instances and app

    return poll_until(settled, message="killed tasks replaced")


def test_a_killed_task_is_replaced_and_the_app_keeps_its_version(marathon_server):
    before = deployed(marathon_server)
    victim = before["tasks"][0]["id"]

    response = requests.delete(
        f"{marathon_server.url}/v2/apps{APP_ID}/tasks/{victim}", timeout=HTTP_TIMEOUT
    )

    assert response.status_code == 200
    assert response.json()["task"]["id"] == victim
    after = replaced_app(marathon_server, {victim}, 3)
    assert after["version"] == before["version"] and after["instances"] == 3
    assert len(task_ids(after) - task_ids(before)) == 1


def test_killing_with_scale_lowers_instances_in_a_new_version(marathon_server):
    before = deployed(marathon_server)
    victim = before["tasks"][0]["id"]

    response = requests.delete(
        f"{marathon_server.url}/v2/apps{APP_ID}/tasks/{victim}",
        params={"scale": "true"},
        timeout=HTTP_TIMEOUT,
    )

    assert response.status_code == 200
    result = response.json()
    assert set(result) == {"deploymentId", "version"}
    marathon_server.wait_for_deployments(10)
    after = get_app(marathon_server, APP_ID)
    assert after["instances"] == 2 and after["version"] == result["version"]
    assert after["versionInfo"]["lastConfigChangeAt"] == before["version"]
    assert task_ids(after) == task_ids(before) - {victim}


def test_killing_every_task_of_an_app(marathon_server):
    before = deployed(marathon_server)

    response = requests.delete(f"{marathon_server.url}/v2/apps{APP_ID}/tasks", timeout=10)

    assert response.status_code == 200
    assert {task["id"] for task in response.json()["tasks"]} == task_ids(before)
    replaced_app(marathon_server, task_ids(before), 3)


def test_bulk_kill_by_ids_skips_unknown_ones(marathon_server):
    before = deployed(marathon_server)
    victim = before["tasks"][1]["id"]

    response = requests.post(
        f"{marathon_server.url}/v2/tasks/delete",
        json={"ids": [victim, "nope.1"]},
        timeout=HTTP_TIMEOUT,
    )

    assert response.status_code == 200
    assert [task["id"] for task in response.json()["tasks"]] == [victim]
    replaced_app(marathon_server, {victim}, 3)


def test_bulk_kill_needs_a_list_of_ids(marathon_server):
    response = requests.post(
        f"{marathon_server.url}/v2/tasks/delete", json={"ids": "x"}, timeout=HTTP_TIMEOUT
    )

    assert response.status_code == 422


def test_unknown_task_or_app_is_404(marathon_server):
    deployed(marathon_server, instances=1)

    unknown_task = requests.delete(
        f"{marathon_server.url}/v2/apps{APP_ID}/tasks/nope.1", timeout=10
    )
    unknown_app = requests.delete(f"{marathon_server.url}/v2/apps/nope/tasks/nope.1", timeout=10)

    assert unknown_task.status_code == unknown_app.status_code == 404
    assert "nope.1" in unknown_task.json()["message"]


def test_a_scaling_kill_respects_the_deployment_lock(marathon_server):
    deployed(marathon_server)
    marathon_server.set_task_behaviour(healthy=False)
    running = put_app(marathon_server, APP_ID, {"cpus": 0.1}).json()["deploymentId"]
    tasks = get_app(marathon_server, APP_ID)["tasks"]
    victim = next(task["id"] for task in tasks if task["state"] == "TASK_RUNNING")

    response = requests.delete(
        f"{marathon_server.url}/v2/apps{APP_ID}/tasks/{victim}",
        params={"scale": "true"},
        timeout=HTTP_TIMEOUT,
    )

    assert response.status_code == 409
    assert response.json()["deployments"] == [{"id": running}]
    assert [d["id"] for d in get_deployments(marathon_server)] == [running]
    assert get_app(marathon_server, APP_ID)["instances"] == 3
