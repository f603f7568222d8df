"""What the Marathon stand-in stores and rejects, as Marathon 1.5+ does:
defaults filled in, doubles as floats, the deprecated Docker fields
converted, and 400/422 answers whose details name the offending path.
Raw HTTP only."""

import json

import pytest
import requests

from tests.fixtures.marathon import (
    HTTP_TIMEOUT,
    article_test_server,
    get_app,
    post_app,
    put_app,
)

APP_ID = "/app/production/test-server"


def test_get_returns_the_article_definition_as_marathon_stores_it(marathon_server):
    assert post_app(marathon_server, article_test_server()).status_code == 201
    marathon_server.wait_for_deployments(10)

    raw = requests.get(f"{marathon_server.url}/v2/apps{APP_ID}", timeout=HTTP_TIMEOUT)
    app = raw.json()["app"]

    # Numbers Marathon keeps as doubles come back as floats.
    assert '"mem": 64.0' in raw.text and '"disk": 0.0' in raw.text
    assert app["instances"] == 4 and isinstance(app["instances"], int)
    assert app["upgradeStrategy"] == {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.5}
    # Deprecated Docker fields are converted and gone from their old place.
    docker = app["container"]["docker"]
    assert "network" not in docker and "portMappings" not in docker
    assert app["networks"] == [{"mode": "container/bridge"}]
    [mapping] = app["container"]["portMappings"]
    assert mapping["containerPort"] == 3000
    assert mapping["hostPort"] == 0 and mapping["protocol"] == "tcp"
    assert mapping["servicePort"] >= 10000
    assert docker["forcePullImage"] is True and docker["privileged"] is False
    # Defaults filled in.
    [check] = app["healthChecks"]
    assert check["timeoutSeconds"] == 20 and check["portIndex"] == 0
    assert check["gracePeriodSeconds"] == 2 and check["intervalSeconds"] == 10
    assert app["backoffSeconds"] == 1 and app["backoffFactor"] == 1.15
    assert app["maxLaunchDelaySeconds"] == 300
    assert app["killSelection"] == "YOUNGEST_FIRST"
    assert app["constraints"] == [] and app["portDefinitions"] == []
    # Server fields.
    assert app["versionInfo"]["lastConfigChangeAt"] == app["version"]
    assert app["tasksRunning"] == 4 and app["tasksHealthy"] == 4
    assert app["tasksStaged"] == 0 and app["tasksUnhealthy"] == 0
    assert len(app["tasks"]) == 4 and app["deployments"] == []
    assert "lastTaskFailure" not in app


def test_minimal_app_gets_every_default(marathon_server):
    response = post_app(
        marathon_server, {"id": "sleeper", "cmd": "sleep 1000", "healthChecks": [{}]}
    )
    assert response.status_code == 201, response.text

    app = get_app(marathon_server, "/sleeper")

    assert app["id"] == "/sleeper"
    assert (app["instances"], app["cpus"], app["mem"], app["disk"]) == (1, 1.0, 128.0, 0.0)
    assert app["upgradeStrategy"] == {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 1.0}
    assert app["networks"] == [{"mode": "host"}]
    [port] = app["portDefinitions"]
    assert port["port"] >= 10000 and port["protocol"] == "tcp"
    [check] = app["healthChecks"]
    assert check["protocol"] == "HTTP" and check["path"] == "/"
    assert (check["gracePeriodSeconds"], check["intervalSeconds"]) == (300, 60)
    assert (check["timeoutSeconds"], check["maxConsecutiveFailures"]) == (20, 3)
    assert app["env"] == {} and app["labels"] == {}
    assert app["unreachableStrategy"] == {"inactiveAfterSeconds": 300, "expungeAfterSeconds": 600}
    assert app["killSelection"] == "YOUNGEST_FIRST" and app["requirePorts"] is False


@pytest.mark.parametrize("body", ["{", "", '{"id": "/x",}', "not json"])
def test_unparsable_json_is_400(marathon_server, body):
    response = post_app(marathon_server, body)

    assert response.status_code == 400
    assert "message" in response.json()


def with_changes(**changes):
    body = article_test_server()
    for dotted, value in changes.items():
        target = body
        *parents, last = dotted.split("__")
        for part in parents:
            target = target[part]
        if value is KeyError:
            target.pop(last)
        else:
            target[last] = value
    return body


INVALID_DEFINITIONS = {
    "id with capitals": (with_changes(id="/App/Bad_Name"), "Object is not valid", "/id"),
    "negative instances": (with_changes(instances=-1), "Object is not valid", "/instances"),
    "negative mem": (with_changes(mem=-64), "Object is not valid", "/mem"),
    "cpus not a number": (with_changes(cpus="lots"), "Invalid JSON", "/cpus"),
    "instances not an integer": (with_changes(instances=2.5), "Invalid JSON", "/instances"),
    "labels not strings": (with_changes(labels={"n": 1}), "Invalid JSON", "/labels/n"),
    "nothing to run": (
        with_changes(args=KeyError, container=KeyError),
        "Object is not valid",
        "/",
    ),
    "cmd and args": (with_changes(cmd="node server.js"), "Object is not valid", "/"),
    "capacity above 1": (
        with_changes(upgradeStrategy__minimumHealthCapacity=1.5),
        "Object is not valid",
        "/upgradeStrategy/minimumHealthCapacity",
    ),
    "health check port index out of range": (
        with_changes(healthChecks=[{"protocol": "HTTP", "portIndex": 3}]),
        "Object is not valid",
        "/healthChecks(0)",
    ),
    "docker without image": (
        with_changes(container__docker__image=""),
        "Object is not valid",
        "/container/docker/image",
    ),
    "unreachable inactive after expunge": (
        with_changes(unreachableStrategy={"inactiveAfterSeconds": 60, "expungeAfterSeconds": 30}),
        "Object is not valid",
        "/unreachableStrategy/inactiveAfterSeconds",
    ),
    "network and networks": (
        with_changes(networks=[{"mode": "host"}]),
        "Object is not valid",
        "/networks",
    ),
}


@pytest.mark.parametrize("case", list(INVALID_DEFINITIONS), ids=list(INVALID_DEFINITIONS))
def test_invalid_definitions_are_422_with_details_and_not_stored(marathon_server, case):
    body, message, path = INVALID_DEFINITIONS[case]

    response = post_app(marathon_server, body)

    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["message"] == message
    assert path in [detail["path"] for detail in answer["details"]]
    assert all(detail["errors"] for detail in answer["details"])
    missing = requests.get(f"{marathon_server.url}/v2/apps", timeout=HTTP_TIMEOUT).json()
    assert missing == {"apps": []}


def test_invalid_put_leaves_the_stored_version_serving(marathon_server):
    assert post_app(marathon_server, article_test_server()).status_code == 201
    before = get_app(marathon_server, APP_ID)

    response = put_app(marathon_server, APP_ID, {"instances": -3})

    assert response.status_code == 422
    after = get_app(marathon_server, APP_ID)
    assert after["version"] == before["version"] and after["instances"] == 4


def test_get_output_sent_back_verbatim_is_rejected(marathon_server):
    assert put_app(marathon_server, APP_ID, article_test_server()).status_code == 201
    marathon_server.wait_for_deployments(10)
    app = get_app(marathon_server, APP_ID)

    response = put_app(marathon_server, APP_ID, app)

    assert response.status_code == 422
    assert "version" in json.dumps(response.json()["details"])


@pytest.mark.parametrize(
    ("network", "networks", "has_host_port"),
    [
        ("BRIDGE", [{"mode": "container/bridge"}], True),
        ("USER", [{"mode": "container", "name": "overlay"}], False),
        ("HOST", [{"mode": "host"}], None),
    ],
)
def test_docker_network_converts_to_networks(marathon_server, network, networks, has_host_port):
    body = article_test_server()
    body["container"]["docker"]["network"] = network
    body["ipAddress"] = {"networkName": "overlay"}
    body["healthChecks"] = []
    if network == "HOST":
        del body["container"]["docker"]["portMappings"]
    assert post_app(marathon_server, body).status_code == 201, network

    app = get_app(marathon_server, APP_ID)

    assert app["networks"] == networks
    assert "network" not in app["container"]["docker"]
    if has_host_port is None:
        assert "portMappings" not in app["container"] and len(app["portDefinitions"]) == 1
    else:
        [mapping] = app["container"]["portMappings"]
        assert ("hostPort" in mapping) is has_host_port
        assert app["portDefinitions"] == []
