"""Deployments of the Marathon stand-in: plans and steps, the rolling
upgrade bounded by upgradeStrategy, locking, cancel with and without
revert, restart and scaling. Observed through raw HTTP only."""

import math

import pytest
import requests

from tests.fixtures.marathon import (
    HTTP_TIMEOUT,
    article_test_server,
    get_app,
    get_deployments,
    poll_until,
)

APP_ID = "/app/production/test-server"


def put(server, body, app_id=APP_ID, **params):
    return requests.put(
        f"{server.url}/v2/apps{app_id}", json=body, params=params, timeout=HTTP_TIMEOUT
    )


def deployed(server, body, app_id=APP_ID):
    response = put(server, body, app_id)
    assert response.status_code in (200, 201), response.text
    server.wait_for_deployments(20)
    return get_app(server, app_id)


def is_healthy(task):
    results = task.get("healthCheckResults") or []
    return bool(results) and all(result["alive"] for result in results)


def live(tasks):
    return [task for task in tasks if task["state"] != "TASK_KILLING"]


def watch_rollout(server, app_id, timeout=20.0):
    """Sample the app until no deployment runs; every sample's task list."""
    samples = []

    def finished():
        samples.append(get_app(server, app_id))
        return not get_deployments(server)

    poll_until(finished, timeout=timeout, interval=0.005, message="deployment finished")
    return samples


def test_new_app_plans_start_then_scale_and_ends_with_every_task_healthy(marathon_server):
    marathon_server.set_task_behaviour(APP_ID, start_delay=0.3)
    response = put(marathon_server, article_test_server())
    [deployment] = get_deployments(marathon_server)

    assert deployment["id"] == response.json()["deploymentId"]
    assert deployment["version"] == response.json()["version"]
    assert deployment["affectedApps"] == [APP_ID]
    assert [step["actions"] for step in deployment["steps"]] == [
        [{"action": "StartApplication", "app": APP_ID}],
        [{"action": "ScaleApplication", "app": APP_ID}],
    ]
    assert deployment["totalSteps"] == 2 and deployment["currentStep"] == 2
    assert [a["action"] for a in deployment["currentActions"]] == ["ScaleApplication"]
    assert get_app(marathon_server, APP_ID)["tasksStaged"] == 4

    marathon_server.wait_for_deployments(10)
    app = get_app(marathon_server, APP_ID)
    assert (app["tasksRunning"], app["tasksHealthy"], app["tasksStaged"]) == (4, 4, 0)
    assert all(is_healthy(task) and task["state"] == "TASK_RUNNING" for task in app["tasks"])
    assert app["deployments"] == []


def test_tasks_without_health_checks_count_as_running_never_healthy(marathon_server):
    app = deployed(marathon_server, {"cmd": "sleep 1000", "instances": 3}, "/sleeper")

    assert app["tasksRunning"] == 3 and app["tasksHealthy"] == 0
    assert all("healthCheckResults" not in task for task in app["tasks"])


@pytest.mark.parametrize(
    ("instances", "min_health", "over", "kept_at_once"),
    [
        (4, 0.5, 0.5, 2),  # the article's strategy
        (3, 1.0, 1.0, 3),  # Marathon's default
        (2, 1.0, 0.0, 2),  # neither kill nor start allowed: one extra starts
        (4, 0.0, 0.0, 0),  # everything old goes at once
        (5, 0.6, 0.2, 3),
    ],
)
def test_rolling_upgrade_respects_the_upgrade_strategy(
    marathon_server, instances, min_health, over, kept_at_once
):
    body = article_test_server(instances=instances)
    body["upgradeStrategy"] = {"minimumHealthCapacity": min_health, "maximumOverCapacity": over}
    old = deployed(marathon_server, body)
    min_healthy = math.ceil(instances * min_health)
    max_capacity = math.floor(instances * (1 + over))
    if min_healthy == max_capacity:
        max_capacity += 1
    marathon_server.set_task_behaviour(APP_ID, start_delay=0.25)

    new_version = put(marathon_server, {"env": {"RELEASE": "2"}}).json()["version"]
    samples = watch_rollout(marathon_server, APP_ID)

    assert len(samples) >= 3, "the rollout was too fast to observe"
    first = samples[0]
    old_left = [t for t in live(first["tasks"]) if t["version"] == old["version"]]
    assert len(old_left) == kept_at_once
    for app in samples:
        # Old instances count against capacity until their kill completed.
        assert len(app["tasks"]) <= max_capacity, app["tasks"]
        tasks = live(app["tasks"])
        assert sum(1 for task in tasks if is_healthy(task)) >= min(min_healthy, kept_at_once)
    final = get_app(marathon_server, APP_ID)
    assert [task["version"] for task in final["tasks"]] == [new_version] * instances
    assert final["tasksHealthy"] == instances


def test_a_new_version_that_never_turns_healthy_keeps_min_healthy_old_ones(marathon_server):
    old = deployed(marathon_server, article_test_server())
    marathon_server.set_task_behaviour(
        healthy=lambda definition: definition["labels"]["version"] != "bad"
    )

    response = put(marathon_server, {"labels": {"version": "bad", "environment": "production"}})

    poll_until(
        lambda: (
            len(get_app(marathon_server, APP_ID)["tasks"]) == 6
            and len(live(get_app(marathon_server, APP_ID)["tasks"])) == 6
        ),
        message="old ones above minHealthy killed, new ones started",
    )
    [deployment] = get_deployments(marathon_server)
    assert deployment["id"] == response.json()["deploymentId"]
    app = get_app(marathon_server, APP_ID)
    healthy = [task for task in live(app["tasks"]) if is_healthy(task)]
    assert [task["version"] for task in healthy] == [old["version"]] * 2
    assert app["deployments"] == [{"id": deployment["id"]}]


def test_a_locked_app_answers_409_naming_the_deployment(marathon_server):
    deployed(marathon_server, article_test_server())
    marathon_server.set_task_behaviour(healthy=False)
    running = put(marathon_server, {"cpus": 0.1}).json()["deploymentId"]

    for call in (
        lambda: put(marathon_server, {"cpus": 0.2}),
        lambda: requests.post(f"{marathon_server.url}/v2/apps{APP_ID}/restart", timeout=10),
        lambda: requests.delete(
            f"{marathon_server.url}/v2/apps{APP_ID}", params={"force": "false"}, timeout=10
        ),
    ):
        response = call()
        assert response.status_code == 409
        assert "locked" in response.json()["message"]
        assert response.json()["deployments"] == [{"id": running}]
    assert get_app(marathon_server, APP_ID)["cpus"] == 0.1


def test_force_cancels_the_running_deployment_and_starts_a_new_one(marathon_server):
    deployed(marathon_server, article_test_server())
    marathon_server.set_task_behaviour(healthy=False)
    stuck = put(marathon_server, {"cpus": 0.1}).json()["deploymentId"]

    marathon_server.set_task_behaviour(healthy=True)
    forced = put(marathon_server, {"cpus": 0.2}, force="true")

    assert forced.status_code == 200
    ids = {d["id"] for d in get_deployments(marathon_server)}
    assert stuck not in ids
    marathon_server.wait_for_deployments(10)
    app = get_app(marathon_server, APP_ID)
    assert app["cpus"] == 0.2
    assert {task["version"] for task in app["tasks"]} == {forced.json()["version"]}


def test_deleting_a_deployment_reverts_it_with_a_new_deployment(marathon_server):
    old = deployed(marathon_server, article_test_server())
    marathon_server.set_task_behaviour(healthy=False)
    stuck = put(marathon_server, {"mem": 96}).json()["deploymentId"]
    marathon_server.set_task_behaviour(healthy=True)

    response = requests.delete(f"{marathon_server.url}/v2/deployments/{stuck}", timeout=10)

    assert response.status_code == 200
    revert = response.json()
    assert set(revert) == {"deploymentId", "version"} and revert["deploymentId"] != stuck
    assert stuck not in {d["id"] for d in get_deployments(marathon_server)}
    marathon_server.wait_for_deployments(10)
    app = get_app(marathon_server, APP_ID)
    assert app["version"] == old["version"] and app["mem"] == 64.0
    assert [task["version"] for task in app["tasks"]] == [old["version"]] * 4
    assert app["tasksHealthy"] == 4


def test_deleting_the_deployment_of_a_new_app_removes_the_app(marathon_server):
    marathon_server.set_task_behaviour(healthy=False)
    stuck = put(marathon_server, article_test_server()).json()["deploymentId"]

    response = requests.delete(f"{marathon_server.url}/v2/deployments/{stuck}", timeout=10)

    assert response.status_code == 200
    assert requests.get(f"{marathon_server.url}/v2/apps{APP_ID}", timeout=10).status_code == 404
    marathon_server.wait_for_deployments(10)
    assert requests.get(f"{marathon_server.url}/v2/tasks", timeout=10).json() == {"tasks": []}


def test_force_deleting_a_deployment_is_202_without_revert(marathon_server):
    deployed(marathon_server, article_test_server())
    marathon_server.set_task_behaviour(healthy=False)
    update = put(marathon_server, {"mem": 96}).json()

    response = requests.delete(
        f"{marathon_server.url}/v2/deployments/{update['deploymentId']}",
        params={"force": "true"},
        timeout=10,
    )

    assert response.status_code == 202 and response.content == b""
    assert get_deployments(marathon_server) == []
    app = get_app(marathon_server, APP_ID)
    assert app["version"] == update["version"] and app["mem"] == 96.0
    # Old and new instances stay mixed: nothing converges them.
    assert len({task["version"] for task in app["tasks"]}) == 2


def test_deleting_an_unknown_deployment_is_404(marathon_server):
    response = requests.delete(f"{marathon_server.url}/v2/deployments/nope", timeout=10)

    assert response.status_code == 404


def test_restart_replaces_every_task_under_a_new_version(marathon_server):
    before = deployed(marathon_server, article_test_server())

    response = requests.post(f"{marathon_server.url}/v2/apps{APP_ID}/restart", timeout=10)

    assert response.status_code == 200
    [deployment] = get_deployments(marathon_server) or [None]
    if deployment is not None:
        assert deployment["steps"] == [
            {"actions": [{"action": "RestartApplication", "app": APP_ID}]}
        ]
    marathon_server.wait_for_deployments(10)
    after = get_app(marathon_server, APP_ID)
    assert after["version"] == response.json()["version"] != before["version"]
    assert after["versionInfo"]["lastConfigChangeAt"] == after["version"]
    assert not {t["id"] for t in after["tasks"]} & {t["id"] for t in before["tasks"]}


def test_scaling_down_kills_the_youngest_tasks(marathon_server):
    first = deployed(marathon_server, article_test_server(instances=2))
    marathon_server.set_task_behaviour(APP_ID, start_delay=0.2)
    response = put(marathon_server, {"instances": 3})
    [deployment] = get_deployments(marathon_server)
    assert deployment["steps"] == [{"actions": [{"action": "ScaleApplication", "app": APP_ID}]}]
    assert deployment["id"] == response.json()["deploymentId"]
    marathon_server.wait_for_deployments(10)

    deployed(marathon_server, {"instances": 2})

    remaining = get_app(marathon_server, APP_ID)["tasks"]
    assert {task["id"] for task in remaining} == {task["id"] for task in first["tasks"]}


def test_deleting_an_app_plans_stop_application(marathon_server):
    deployed(marathon_server, article_test_server(instances=1))
    marathon_server.set_task_behaviour(kill_delay=0.5)  # keeps the kill visible

    requests.delete(f"{marathon_server.url}/v2/apps{APP_ID}", timeout=10)

    [deployment] = get_deployments(marathon_server)
    assert deployment["steps"] == [{"actions": [{"action": "StopApplication", "app": APP_ID}]}]
    [task] = requests.get(f"{marathon_server.url}/v2/tasks", timeout=10).json()["tasks"]
    assert task["state"] == "TASK_KILLING"
    marathon_server.wait_for_deployments(10)
    assert requests.get(f"{marathon_server.url}/v2/tasks", timeout=10).json() == {"tasks": []}


def test_tasks_endpoints_and_status_filter(marathon_server):
    deployed(marathon_server, article_test_server(instances=2))
    marathon_server.set_task_behaviour("/slow", start_delay=60)
    put(marathon_server, {"cmd": "sleep 1000"}, "/slow")

    everything = requests.get(f"{marathon_server.url}/v2/tasks", timeout=10).json()["tasks"]
    staging = requests.get(
        f"{marathon_server.url}/v2/tasks", params={"status": "staging"}, timeout=10
    ).json()["tasks"]
    of_app = requests.get(f"{marathon_server.url}/v2/apps{APP_ID}/tasks", timeout=10).json()

    assert len(everything) == 3
    assert [task["appId"] for task in staging] == ["/slow"]
    assert "startedAt" not in staging[0]
    assert len(of_app["tasks"]) == 2
    task = of_app["tasks"][0]
    assert task["id"].startswith("app_production_test-server.")
    assert task["host"] == "127.0.0.1" and len(task["ports"]) == 1
    assert task["servicePorts"] == [
        get_app(marathon_server, APP_ID)["container"]["portMappings"][0]["servicePort"]
    ]
    assert task["state"] == "TASK_RUNNING" and task["startedAt"] and task["stagedAt"]


def test_tasks_failing_health_checks_are_killed_and_recorded(marathon_server):
    marathon_server.set_task_behaviour(healthy=False)
    body = {
        "cmd": "sleep 1000",
        "healthChecks": [
            {"gracePeriodSeconds": 0, "intervalSeconds": 1, "maxConsecutiveFailures": 1}
        ],
    }
    put(marathon_server, body, "/flaky")

    failure = poll_until(
        lambda: get_app(marathon_server, "/flaky").get("lastTaskFailure"),
        message="lastTaskFailure",
    )

    assert failure["appId"] == "/flaky" and failure["state"] == "TASK_KILLED"
    assert failure["taskId"].startswith("flaky.")
    assert get_deployments(marathon_server), "a deployment waiting for health stays"


def test_a_deployment_to_zero_instances_finishes(marathon_server):
    deployed(marathon_server, article_test_server(instances=2))

    app = deployed(marathon_server, {"instances": 0})

    assert app["tasks"] == [] and app["instances"] == 0


def test_a_failing_healthy_callable_reads_as_unhealthy_and_the_server_goes_on(marathon_server):
    def broken(definition):
        return definition["labels"]["missing"]

    marathon_server.set_task_behaviour(APP_ID, healthy=broken)
    body = article_test_server(instances=1)
    body["healthChecks"][0]["gracePeriodSeconds"] = 0
    put(marathon_server, body)

    put(marathon_server, {"cmd": "sleep 1000"}, "/other")

    other = poll_until(
        lambda: (app := get_app(marathon_server, "/other"))["deployments"] == [] and app,
        message="/other deployed next to the stuck app",
    )
    assert other["tasksRunning"] == 1
    app = get_app(marathon_server, APP_ID)
    assert app["tasksHealthy"] == 0 and app["deployments"]
    [result] = app["tasks"][0]["healthCheckResults"]
    assert result["alive"] is False
    assert result["lastFailureCause"] == "the healthy callable raised KeyError: 'missing'"
