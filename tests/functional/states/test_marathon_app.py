"""marathon_app states against the Marathon stand-in, in test mode and for real.

Outcomes are checked with raw HTTP on the stand-in and its request log.
"""

import pytest

from tests.fixtures.marathon import poll_until
from tests.functional import marathon_support as support
from tests.functional.marathon_support import (
    TEST_SERVER_ID,
    Bound,
    assert_serving,
    image_of,
    raw_app,
    raw_deployments,
)

module_loaders = support.module_loaders

TEMPLATE = "salt://mesos/services/test-server.json"
WORKER_ID = "/tools/worker"
WORKER = {"cmd": "sleep 1000", "cpus": 0.1, "mem": 32, "instances": 2, "env": {"MODE": "batch"}}


@pytest.fixture
def marathon_app(module_loaders, marathon_server):
    return Bound(module_loaders.states.marathon_app, marathon_server.url)


def writes(server):
    return [(method, path) for method, path in server.requests if method != "GET"]


def test_present_from_definition_test_mode_then_apply_then_unchanged(marathon_app, marathon_server):
    predicted = marathon_app.present(WORKER_ID, definition=WORKER, test=True)
    assert predicted.result is None
    assert predicted.changes["instances"] == {"old": None, "new": 2}
    assert "would be created" in predicted.comment
    assert raw_app(marathon_server, WORKER_ID) is None
    assert writes(marathon_server) == []

    applied = marathon_app.present(WORKER_ID, definition=WORKER, timeout=20)
    assert applied.result is True, applied.comment
    assert applied.changes["cmd"] == {"old": None, "new": "sleep 1000"}
    app = raw_app(marathon_server, WORKER_ID)
    assert (app["cmd"], app["instances"], app["tasksRunning"]) == ("sleep 1000", 2, 2)

    marathon_server.clear_requests()
    again = marathon_app.present(WORKER_ID, definition=WORKER, timeout=20)
    assert again.result is True
    assert again.changes == {}
    assert "already as specified" in again.comment
    assert marathon_server.requests == [("GET", f"/v2/apps{WORKER_ID}")]


@pytest.mark.parametrize("test_mode", [True, False])
def test_article_test_server_second_apply_costs_one_get(marathon_app, marathon_server, test_mode):
    template = {"template": TEMPLATE, "environment": "production", "instances": 4, "tag": "v1"}
    first = marathon_app.present("test-server-production", timeout=20, **template)
    assert first.result is True, first.comment
    assert first.changes["container"]["new"]["docker"]["network"] == "BRIDGE"
    version = raw_app(marathon_server, TEST_SERVER_ID)["version"]

    marathon_server.clear_requests()
    second = marathon_app.present("test-server-production", timeout=20, test=test_mode, **template)
    assert second.result is True
    assert second.changes == {}
    assert marathon_server.requests == [("GET", f"/v2/apps{TEST_SERVER_ID}")]
    assert_serving(marathon_server, TEST_SERVER_ID, version, "registry.local/test-server:v1", 4)


def test_changed_fields_show_old_and_new_and_test_mode_writes_nothing(
    marathon_app, marathon_server
):
    template = {"template": TEMPLATE, "environment": "staging", "tag": "v1"}
    marathon_app.present("ts", instances=1, timeout=20, **template)
    marathon_server.clear_requests()

    predicted = marathon_app.present("ts", instances=2, test=True, **template)
    assert predicted.result is None
    assert predicted.changes == {"instances": {"old": 1, "new": 2}}
    assert writes(marathon_server) == []
    assert raw_app(marathon_server, "/app/staging/test-server")["instances"] == 1

    changed = {**template, "tag": "v2"}
    applied = marathon_app.present("ts", instances=2, timeout=20, **changed)
    assert applied.result is True, applied.comment
    assert applied.changes == {
        "container.docker.image": {
            "old": "registry.local/test-server:v1",
            "new": "registry.local/test-server:v2",
        },
        "instances": {"old": 1, "new": 2},
        "labels.version": {"old": "v1", "new": "v2"},
    }
    app = raw_app(marathon_server, "/app/staging/test-server")
    assert (image_of(app), app["tasksHealthy"]) == ("registry.local/test-server:v2", 2)


def test_failed_rollout_is_result_false_and_previous_version_serves(marathon_app, marathon_server):
    template = {"template": TEMPLATE, "environment": "production", "instances": 4}
    marathon_app.present("ts", tag="v1", timeout=20, **template)
    version = raw_app(marathon_server, TEST_SERVER_ID)["version"]
    marathon_server.set_task_behaviour(
        healthy=lambda definition: image_of(definition).endswith(":v1")
    )
    failed = marathon_app.present("ts", tag="v2", timeout=1, **template)
    assert failed.result is False
    assert "rolled back: previous version" in failed.comment
    assert failed.changes == {}
    assert_serving(marathon_server, TEST_SERVER_ID, version, "registry.local/test-server:v1", 4)


def test_config_keeps_the_old_state_name(marathon_app, marathon_server):
    result = marathon_app.config(WORKER_ID, config=WORKER, timeout=20)
    assert result.result is True, result.comment
    assert raw_app(marathon_server, WORKER_ID)["env"] == {"MODE": "batch"}
    assert marathon_app.config(WORKER_ID, config=WORKER).changes == {}


def test_running_needs_the_app_and_restarts_only_when_asked(marathon_app, marathon_server):
    missing = marathon_app.running(WORKER_ID)
    assert missing.result is False
    assert "does not exist" in missing.comment

    marathon_app.present(WORKER_ID, definition=WORKER, timeout=20)
    version = raw_app(marathon_server, WORKER_ID)["version"]
    marathon_server.clear_requests()
    assert marathon_app.running(WORKER_ID).changes == {}
    predicted = marathon_app.running(WORKER_ID, restart=True, test=True)
    assert predicted.result is None
    assert writes(marathon_server) == []

    restarted = marathon_app.running(WORKER_ID, restart=True, timeout=20)
    assert restarted.result is True, restarted.comment
    assert raw_app(marathon_server, WORKER_ID)["version"] != version
    assert writes(marathon_server) == [("POST", f"/v2/apps{WORKER_ID}/restart")]


def test_absent_in_test_mode_then_for_real(marathon_app, marathon_server):
    marathon_app.present(WORKER_ID, definition=WORKER, timeout=20)
    marathon_server.clear_requests()
    predicted = marathon_app.absent(WORKER_ID, test=True)
    assert predicted.result is None
    assert predicted.changes == {"app": {"old": WORKER_ID, "new": None}}
    assert writes(marathon_server) == []

    removed = marathon_app.absent(WORKER_ID, timeout=20)
    assert removed.result is True, removed.comment
    assert removed.changes == {"app": {"old": WORKER_ID, "new": None}}
    assert raw_app(marathon_server, WORKER_ID) is None
    assert raw_deployments(marathon_server) == []
    assert marathon_app.absent(WORKER_ID).changes == {}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"definition": WORKER, "template": TEMPLATE}, "either 'definition' or 'template'"),
        ({}, "either 'definition' or 'template'"),
        ({"template": TEMPLATE}, "needs an 'environment'"),
        ({"definition": {**WORKER, "version": "x"}}, "must not contain 'version'"),
        ({"definition": WORKER, "config": WORKER}, "not both"),
        ({"template": TEMPLATE, "environment": "production", "instances": 0}, "positive integer"),
    ],
)
def test_bad_arguments_fail_clearly_and_write_nothing(
    marathon_app, marathon_server, arguments, message
):
    result = marathon_app.present(WORKER_ID, **arguments)
    assert result.result is False
    assert message in result.comment
    assert writes(marathon_server) == []


def test_marathon_down_is_result_false(module_loaders):
    states = module_loaders.states.marathon_app
    result = states.present(WORKER_ID, definition=WORKER, urls=[support.free_dead_url()])
    assert result.result is False
    assert "no Marathon master answered" in result.comment


def test_template_values_fill_other_placeholders_and_wait_false_returns_at_once(
    marathon_app, marathon_server, tmp_path
):
    template = tmp_path / "svc.json"
    template.write_text(
        '{"id": "/app/$environment/svc", "cmd": "run --region $region",\n "instances": $instances}'
    )
    marathon_server.set_task_behaviour(start_delay=30)
    result = marathon_app.present(
        "svc",
        template=str(template),
        environment="staging",
        instances=2,
        values={"region": "eu-west"},
        wait=False,
    )
    assert result.result is True, result.comment
    assert "not waiting for deployment" in result.comment
    app = raw_app(marathon_server, "/app/staging/svc")
    assert (app["cmd"], app["instances"], app["tasksRunning"]) == ("run --region eu-west", 2, 0)
    assert len(raw_deployments(marathon_server)) == 1


def test_port_zero_left_to_marathon_settles_on_the_first_apply(marathon_app, marathon_server):
    definition = {
        **WORKER,
        "instances": 1,
        "portDefinitions": [{"port": 0, "protocol": "tcp"}, {"port": 0}],
    }
    first = marathon_app.present("/tools/ports", definition=definition, timeout=20)
    assert first.result is True, first.comment
    assigned = [
        slot["port"] for slot in raw_app(marathon_server, "/tools/ports")["portDefinitions"]
    ]
    assert all(port > 0 for port in assigned)

    marathon_server.clear_requests()
    again = marathon_app.present("/tools/ports", definition=definition, timeout=20)
    assert (again.result, again.changes) == (True, {}), again.comment
    assert writes(marathon_server) == []


def test_bridge_service_and_host_port_zero_settle(marathon_app, marathon_server):
    definition = {
        **WORKER,
        "instances": 1,
        "container": {
            "type": "DOCKER",
            "docker": {"image": "registry.local/web:1", "network": "BRIDGE"},
            "portMappings": [{"containerPort": 3000, "hostPort": 0, "servicePort": 0}],
        },
    }
    first = marathon_app.present("/tools/bridge", definition=definition, timeout=20)
    assert first.result is True, first.comment
    marathon_server.clear_requests()
    again = marathon_app.present("/tools/bridge", definition=definition, timeout=20)
    assert (again.result, again.changes) == (True, {}), again.comment
    assert writes(marathon_server) == []


def test_an_app_with_a_deployment_in_progress_is_never_as_specified(
    marathon_app, marathon_server, module_loaders
):
    marathon = Bound(module_loaders.modules.marathon, marathon_server.url)
    marathon_server.set_task_behaviour(start_delay=600)
    stuck = marathon.update_app(WORKER_ID, WORKER, wait=False)

    predicted = marathon_app.present(WORKER_ID, definition=WORKER, test=True)
    assert predicted.result is None
    assert stuck["deploymentId"] in predicted.comment

    applied = marathon_app.present(WORKER_ID, definition=WORKER, timeout=0.5)
    assert applied.result is False
    assert stuck["deploymentId"] in applied.comment
    assert "already as specified" not in applied.comment


def test_an_app_with_fewer_healthy_tasks_than_declared_is_never_as_specified(
    marathon_app, marathon_server
):
    check = {"protocol": "COMMAND", "command": {"value": "true"}, "intervalSeconds": 1}
    definition = {**WORKER, "healthChecks": [check]}
    assert marathon_app.present(WORKER_ID, definition=definition, timeout=20).result is True
    marathon_server.set_task_behaviour(healthy=False)
    poll_until(
        lambda: raw_app(marathon_server, WORKER_ID)["tasksHealthy"] < 2,
        message="an unhealthy task",
    )

    applied = marathon_app.present(WORKER_ID, definition=definition, timeout=20)

    assert applied.result is False
    assert "tasks are healthy" in applied.comment


def test_a_slow_deployment_in_progress_is_waited_for_then_settled(
    marathon_app, marathon_server, module_loaders
):
    marathon = Bound(module_loaders.modules.marathon, marathon_server.url)
    # Long enough for the state to start while the deployment still runs.
    marathon_server.set_task_behaviour(start_delay=5.0)
    marathon.update_app(WORKER_ID, WORKER, wait=False)

    applied = marathon_app.present(WORKER_ID, definition=WORKER, timeout=20)

    assert applied.result is True, applied.comment
    assert "settled" in applied.comment
    assert "2/2 healthy" in applied.comment
    assert raw_deployments(marathon_server) == []
