"""marathon execution module against the Marathon stand-in, through Salt's loaders.

Results are checked out of band with raw HTTP on the stand-in.
"""

import pytest
import requests
from salt.exceptions import CommandExecutionError, SaltInvocationError

from tests.functional import marathon_support as support
from tests.functional.marathon_support import (
    TEST_SERVER_ID,
    Bound,
    assert_serving,
    free_dead_url,
    image_of,
    marathon_pillar,
    raw_app,
    raw_deployments,
)

module_loaders = support.module_loaders
s3_store = support.s3_store
template_copy = support.template_copy
template_http_server = support.template_http_server

TEMPLATE = "salt://mesos/services/test-server.json"
IMAGE = "registry.local/test-server:{}"


@pytest.fixture
def marathon(module_loaders, marathon_server):
    return Bound(module_loaders.modules.marathon, marathon_server.url)


@pytest.fixture
def serving_v1(marathon, marathon_server):
    """test-server v1 deployed and healthy in production: the version that must keep serving."""
    result = marathon.deploy(TEMPLATE, "production", 4, tag="v1", timeout=20)
    assert_serving(marathon_server, TEST_SERVER_ID, result["version"], IMAGE.format("v1"), 4)
    marathon_server.clear_requests()
    return result


def only_healthy_with_image(image):
    """Task health for the stand-in: tasks of any other image never turn healthy."""
    return lambda definition: definition["container"]["docker"]["image"] == image


def test_deploy_article_test_server_waits_and_returns_its_result(marathon, marathon_server):
    result = marathon.deploy(TEMPLATE, "production", 4, tag="v1", timeout=20)
    assert result["app"] == TEST_SERVER_ID
    assert result["created"] is True
    assert result["finished"] is True
    assert result["instances"] == {
        "requested": 4,
        "running": 4,
        "healthy": 4,
        "staged": 0,
        "unhealthy": 0,
    }
    app = raw_app(marathon_server, TEST_SERVER_ID)
    assert app["version"] == result["version"]
    assert app["env"]["SERVICE_TAGS"] == "production,internal-listen-http-3000"
    assert app["labels"] == {"version": "v1", "environment": "production"}
    # One PUT, never POST-then-PUT.
    methods = [method for method, _path in marathon_server.requests]
    assert methods.count("PUT") == 1
    assert "POST" not in methods


def test_update_rolls_out_and_reports_previous_version(marathon, marathon_server, serving_v1):
    result = marathon.deploy(TEMPLATE, "production", 4, tag="v2", timeout=20)
    assert result["previousVersion"] == serving_v1["version"]
    assert result["created"] is False
    assert_serving(marathon_server, TEST_SERVER_ID, result["version"], IMAGE.format("v2"), 4)


def test_deploy_logs_progress(marathon, marathon_server, serving_v1, caplog):
    marathon_server.set_task_behaviour(start_delay=0.3)
    with caplog.at_level("INFO"):
        marathon.deploy(TEMPLATE, "production", 4, tag="v2", timeout=20)
    progress = [r.getMessage() for r in caplog.records if "healthy" in r.getMessage()]
    assert any("step 1/" in line for line in progress), progress
    assert any("healthy 4/4" in line for line in progress), progress


def test_deploy_from_local_path_http_and_s3(
    marathon, marathon_server, template_copy, template_http_server, s3_store
):
    by_path = marathon.deploy(str(template_copy), "staging", 1, tag="p", timeout=20)
    assert image_of(raw_app(marathon_server, "/app/staging/test-server")) == IMAGE.format("p")
    url = f"{template_http_server.url}/test-server/service-master.json"
    marathon.deploy(url, "staging", 2, tag="h", timeout=20)
    assert raw_app(marathon_server, "/app/staging/test-server")["instances"] == 2
    s3_url = "s3://build-artifacts/test-server/service-master.json"
    result = marathon.deploy(s3_url, "staging", 1, tag="s", timeout=20, s3_endpoint_url=s3_store)
    app = raw_app(marathon_server, "/app/staging/test-server")
    assert image_of(app) == IMAGE.format("s")
    assert result["previousVersion"] != by_path["version"]


def test_never_healthy_update_times_out_rolls_back_and_previous_version_serves(
    marathon, marathon_server, serving_v1
):
    marathon_server.set_task_behaviour(healthy=only_healthy_with_image(IMAGE.format("v1")))
    with pytest.raises(CommandExecutionError) as caught:
        marathon.deploy(TEMPLATE, "production", 4, tag="v2", timeout=1.5)
    message = str(caught.value)
    assert "did not finish within 1.5s" in message
    assert f"previous version {serving_v1['version']} is serving" in message
    assert_serving(marathon_server, TEST_SERVER_ID, serving_v1["version"], IMAGE.format("v1"), 4)


def test_rollback_off_leaves_the_deployment_running(marathon, marathon_server, serving_v1):
    marathon_server.set_task_behaviour(healthy=only_healthy_with_image(IMAGE.format("v1")))
    with pytest.raises(CommandExecutionError, match="not rolled back"):
        marathon.deploy(TEMPLATE, "production", 4, tag="v2", timeout=0.5, rollback=False)
    assert len(raw_deployments(marathon_server)) == 1
    assert image_of(raw_app(marathon_server, TEST_SERVER_ID)) == IMAGE.format("v2")


def test_never_healthy_new_app_is_removed(marathon, marathon_server):
    marathon_server.set_task_behaviour(healthy=False)
    with pytest.raises(CommandExecutionError, match="the app was new, so it was removed"):
        marathon.deploy(TEMPLATE, "production", 2, tag="v1", timeout=1)
    assert raw_app(marathon_server, TEST_SERVER_ID) is None
    assert raw_deployments(marathon_server) == []


def lock_with_slow_deployment(server, delay):
    """Start a deployment straight on the stand-in that holds the app for ``delay`` s."""
    server.set_task_behaviour(start_delay=delay)
    response = requests.put(
        f"{server.url}/v2/apps{TEST_SERVER_ID}", json={"instances": 5}, timeout=5
    )
    assert response.status_code == 200
    server.set_task_behaviour(start_delay=0)
    server.clear_requests()
    return response.json()["deploymentId"]


def test_locked_app_waits_for_the_running_deployment(marathon, marathon_server, serving_v1):
    blocking = lock_with_slow_deployment(marathon_server, 0.8)
    result = marathon.deploy(TEMPLATE, "production", 4, tag="v2", timeout=20)
    assert result["deploymentId"] != blocking
    assert_serving(marathon_server, TEST_SERVER_ID, result["version"], IMAGE.format("v2"), 4)
    # It waited for the running deployment before its one PUT (no 409 needed).
    calls = [f"{method} {path}" for method, path in marathon_server.requests]
    puts = [index for index, call in enumerate(calls) if call.startswith("PUT")]
    assert len(puts) == 1
    assert "GET /v2/deployments" in calls[: puts[0]]


def test_locked_app_force_overrides_only_when_asked(marathon, marathon_server, serving_v1):
    lock_with_slow_deployment(marathon_server, 30)
    result = marathon.deploy(TEMPLATE, "production", 4, tag="v2", timeout=20, force=True)
    puts = [path for method, path in marathon_server.requests if method == "PUT"]
    assert puts == ["/v2/apps/app/production/test-server?force=true"]
    assert_serving(marathon_server, TEST_SERVER_ID, result["version"], IMAGE.format("v2"), 4)


def test_other_functions(marathon, marathon_server, serving_v1):
    assert marathon.ping() is True
    assert "version" in marathon.info()
    assert marathon.apps() == [TEST_SERVER_ID]
    assert marathon.has_app("app/production/test-server/") is True
    assert marathon.has_app("/nothing/here") is False
    assert marathon.app(TEST_SERVER_ID)["instances"] == 4
    assert marathon.deployments() == []

    scaled = marathon.update_app(TEST_SERVER_ID, {"instances": 2}, timeout=20)
    assert raw_app(marathon_server, TEST_SERVER_ID)["tasksRunning"] == 2
    assert scaled["instances"]["running"] == 2
    assert marathon.versions(TEST_SERVER_ID)[0] == scaled["version"]

    restarted = marathon.restart_app(TEST_SERVER_ID, timeout=20)
    assert raw_app(marathon_server, TEST_SERVER_ID)["version"] == restarted["version"]

    rolled = marathon.rollback(TEST_SERVER_ID, version=serving_v1["version"], timeout=20)
    assert raw_app(marathon_server, TEST_SERVER_ID)["instances"] == 4
    assert rolled["instances"]["running"] == 4

    marathon.rm_app(TEST_SERVER_ID, timeout=20)
    assert raw_app(marathon_server, TEST_SERVER_ID) is None


def test_rollback_without_version_takes_the_one_before_current(
    marathon, marathon_server, serving_v1
):
    marathon.update_app(TEST_SERVER_ID, {"instances": 1}, timeout=20)
    marathon.rollback(TEST_SERVER_ID, timeout=20)
    assert raw_app(marathon_server, TEST_SERVER_ID)["instances"] == 4


def test_basic_auth_from_pillar(make_loaders, marathon_server_factory):
    server = marathon_server_factory(username="ops", password="s3cret")
    anonymous = Bound(make_loaders().modules.marathon, server.url)
    with pytest.raises(CommandExecutionError, match="401") as caught:
        anonymous.deploy(TEMPLATE, "production", 1, tag="v1", timeout=5)
    assert raw_app_with_auth(server) is None
    # Settings from pillar, read with config.get.
    pillar = marathon_pillar(server.url, username="ops", password="s3cret")
    authorised = make_loaders(pillar=pillar).modules.marathon
    authorised.deploy(TEMPLATE, "production", 1, tag="v1", timeout=20)
    assert raw_app_with_auth(server)["instances"] == 1
    assert "s3cret" not in str(caught.value)


def raw_app_with_auth(server):
    response = requests.get(
        f"{server.url}/v2/apps{TEST_SERVER_ID}", auth=("ops", "s3cret"), timeout=5
    )
    return None if response.status_code == 404 else response.json()["app"]


def test_fails_over_to_the_live_master(module_loaders, marathon_server):
    marathon = module_loaders.modules.marathon
    marathon.deploy(
        TEMPLATE,
        "production",
        1,
        tag="v1",
        timeout=20,
        urls=[free_dead_url(), marathon_server.url],
        poll_interval=0.05,
    )
    assert raw_app(marathon_server, TEST_SERVER_ID)["instances"] == 1


def test_unknown_argument_is_refused(marathon):
    with pytest.raises(SaltInvocationError, match="instance"):
        marathon.deploy(TEMPLATE, "production", instance=4)


def test_crashing_new_version_reports_the_task_failure_and_rolls_back(
    module_loaders, marathon_server_factory
):
    # Real local processes: the new version's command exits at once.
    server = marathon_server_factory(real_processes=True)
    marathon = Bound(module_loaders.modules.marathon, server.url)
    check = {"protocol": "COMMAND", "command": {"value": "true"}, "intervalSeconds": 1}
    good = {"cmd": "sleep 600", "cpus": 0.01, "mem": 16, "instances": 1, "healthChecks": [check]}
    before = marathon.update_app("/tools/sleeper", good, timeout=20)
    with pytest.raises(CommandExecutionError) as caught:
        marathon.update_app("/tools/sleeper", {**good, "cmd": "exit 3"}, timeout=1.5)
    message = str(caught.value)
    assert "last task failure: TASK_FAILED" in message
    assert f"previous version {before['version']} is serving" in message
    app = raw_app(server, "/tools/sleeper")
    assert (app["cmd"], app["version"], app["tasksRunning"]) == ("sleep 600", before["version"], 1)
