"""Conformance of the Marathon stand-in's /v2/apps with Marathon 1.5+:
status codes, headers, the stored shape (defaults, canonical ids, floats,
converted Docker fields) and validation errors. Raw HTTP only."""

import copy
import json

import pytest
import requests

from tests.fixtures.marathon import (
    HTTP_TIMEOUT,
    article_test_server,
    get_app,
    get_deployments,
)

APP_ID = "/app/production/test-server"


def post(server, body, **params):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return requests.post(
        f"{server.url}/v2/apps",
        data=data,
        params=params,
        headers={"Content-Type": "application/json"},
        timeout=HTTP_TIMEOUT,
    )


def put(server, app_id, body, **params):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return requests.put(
        f"{server.url}/v2/apps{app_id}",
        data=data,
        params=params,
        headers={"Content-Type": "application/json"},
        timeout=HTTP_TIMEOUT,
    )


def test_post_answers_201_with_location_and_deployment_id(marathon_server):
    marathon_server.set_task_behaviour(start_delay=30)  # keeps the deployment running
    response = post(marathon_server, article_test_server())

    assert response.status_code == 201
    assert response.headers["Location"].endswith(f"/v2/apps{APP_ID}")
    deployment_id = response.headers["Marathon-Deployment-Id"]
    app = response.json()
    assert app["id"] == APP_ID
    assert app["deployments"] == [{"id": deployment_id}]
    assert app["tasks"] == [] and app["tasksStaged"] == app["tasksRunning"] == 0
    assert [d["id"] for d in get_deployments(marathon_server)] == [deployment_id]


def test_get_returns_the_article_definition_as_marathon_stores_it(marathon_server):
    assert post(marathon_server, article_test_server()).status_code == 201
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
    response = post(marathon_server, {"id": "sleeper", "cmd": "sleep 1000", "healthChecks": [{}]})
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


def test_two_apps_get_distinct_service_ports(marathon_server):
    assert post(marathon_server, {"id": "/a", "cmd": "sleep 1"}).status_code == 201
    assert post(marathon_server, {"id": "/b", "cmd": "sleep 1"}).status_code == 201

    ports = [get_app(marathon_server, f"/{n}")["portDefinitions"][0]["port"] for n in "ab"]

    assert len(set(ports)) == 2


def test_post_of_an_existing_id_is_409(marathon_server):
    assert post(marathon_server, article_test_server()).status_code == 201

    response = post(marathon_server, article_test_server(instances=1))

    assert response.status_code == 409
    assert APP_ID in response.json()["message"]
    assert get_app(marathon_server, APP_ID)["instances"] == 4


@pytest.mark.parametrize("body", ["{", "", '{"id": "/x",}', "not json"])
def test_unparsable_json_is_400(marathon_server, body):
    response = post(marathon_server, body)

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

    response = post(marathon_server, body)

    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["message"] == message
    assert path in [detail["path"] for detail in answer["details"]]
    assert all(detail["errors"] for detail in answer["details"])
    missing = requests.get(f"{marathon_server.url}/v2/apps", timeout=HTTP_TIMEOUT).json()
    assert missing == {"apps": []}


def test_invalid_put_leaves_the_stored_version_serving(marathon_server):
    assert post(marathon_server, article_test_server()).status_code == 201
    before = get_app(marathon_server, APP_ID)

    response = put(marathon_server, APP_ID, {"instances": -3})

    assert response.status_code == 422
    after = get_app(marathon_server, APP_ID)
    assert after["version"] == before["version"] and after["instances"] == 4


def test_put_creates_with_201_then_updates_with_200(marathon_server):
    created = put(marathon_server, APP_ID, article_test_server())
    assert created.status_code == 201
    assert set(created.json()) == {"deploymentId", "version"}
    assert get_app(marathon_server, APP_ID)["version"] == created.json()["version"]
    marathon_server.wait_for_deployments(10)

    updated = put(marathon_server, APP_ID, {"env": {"GREETING": "hello"}})

    assert updated.status_code == 200
    assert set(updated.json()) == {"deploymentId", "version"}
    app = get_app(marathon_server, APP_ID)
    assert app["version"] == updated.json()["version"] != created.json()["version"]


def test_path_id_wins_over_body_id(marathon_server):
    body = {**article_test_server(), "id": "/somewhere/else"}

    assert put(marathon_server, "/app/staging/test-server", body).status_code == 201

    ids = [
        a["id"] for a in requests.get(f"{marathon_server.url}/v2/apps", timeout=10).json()["apps"]
    ]
    assert ids == ["/app/staging/test-server"]


def test_partial_update_keeps_omitted_fields(marathon_server):
    assert put(marathon_server, APP_ID, article_test_server()).status_code == 201
    marathon_server.wait_for_deployments(10)

    assert put(marathon_server, APP_ID, {"cpus": 0.5}).status_code == 200

    app = get_app(marathon_server, APP_ID)
    assert app["cpus"] == 0.5 and app["mem"] == 64.0
    assert app["env"]["SERVICE_NAME"] == "test-server"
    assert app["container"]["docker"]["image"].startswith("registry.local/test-server:")


def test_full_update_resets_omitted_fields_to_defaults(marathon_server):
    assert put(marathon_server, APP_ID, article_test_server()).status_code == 201
    marathon_server.wait_for_deployments(10)

    response = put(
        marathon_server, APP_ID, {"cmd": "sleep 100", "instances": 1}, partialUpdate="false"
    )

    assert response.status_code == 200
    app = get_app(marathon_server, APP_ID)
    assert app["mem"] == 128.0 and app["env"] == {} and "container" not in app
    assert app["cmd"] == "sleep 100"


def test_unchanged_put_keeps_the_version_and_still_answers_a_deployment(marathon_server):
    assert put(marathon_server, APP_ID, article_test_server()).status_code == 201
    marathon_server.wait_for_deployments(10)
    before = get_app(marathon_server, APP_ID)

    again = put(marathon_server, APP_ID, article_test_server())

    assert again.status_code == 200 and again.json()["deploymentId"]
    after = get_app(marathon_server, APP_ID)
    assert after["version"] == before["version"]
    assert after["container"]["portMappings"] == before["container"]["portMappings"]
    assert after["tasks"] == before["tasks"]
    versions = requests.get(f"{marathon_server.url}/v2/apps{APP_ID}/versions", timeout=10)
    assert versions.json()["versions"] == [before["version"]]


def test_scaling_changes_only_last_scaling_at(marathon_server):
    created = put(marathon_server, APP_ID, article_test_server()).json()
    marathon_server.wait_for_deployments(10)

    scaled = put(marathon_server, APP_ID, {"instances": 2}).json()

    app = get_app(marathon_server, APP_ID)
    assert app["version"] == scaled["version"]
    assert app["versionInfo"] == {
        "lastScalingAt": scaled["version"],
        "lastConfigChangeAt": created["version"],
    }


def test_versions_list_newest_first_and_each_version_readable(marathon_server):
    first = put(marathon_server, APP_ID, article_test_server()).json()["version"]
    second = put(marathon_server, APP_ID, {"mem": 96}, force="true").json()["version"]

    versions = requests.get(f"{marathon_server.url}/v2/apps{APP_ID}/versions", timeout=10)

    assert versions.json() == {"versions": [second, first]}
    old = requests.get(f"{marathon_server.url}/v2/apps{APP_ID}/versions/{first}", timeout=10)
    assert old.status_code == 200
    assert old.json()["mem"] == 64.0 and old.json()["version"] == first
    unknown = requests.get(
        f"{marathon_server.url}/v2/apps{APP_ID}/versions/2001-01-01T00:00:00.000Z", timeout=10
    )
    assert unknown.status_code == 404


def test_a_body_version_rolls_back_to_that_version(marathon_server):
    first = put(marathon_server, APP_ID, article_test_server()).json()["version"]
    put(marathon_server, APP_ID, {"mem": 96}, force="true")

    response = put(marathon_server, APP_ID, {"version": first}, force="true")

    assert response.status_code == 200
    app = get_app(marathon_server, APP_ID)
    assert app["mem"] == 64.0
    # A rollback is a new version with the old definition.
    assert app["version"] == response.json()["version"] != first


def test_get_output_sent_back_verbatim_is_rejected(marathon_server):
    assert put(marathon_server, APP_ID, article_test_server()).status_code == 201
    marathon_server.wait_for_deployments(10)
    app = get_app(marathon_server, APP_ID)

    response = put(marathon_server, APP_ID, app)

    assert response.status_code == 422
    assert "version" in json.dumps(response.json()["details"])


def test_rollback_to_an_unknown_version_is_404(marathon_server):
    assert put(marathon_server, APP_ID, article_test_server()).status_code == 201

    response = put(marathon_server, APP_ID, {"version": "2001-01-01T00:00:00.000Z"})

    assert response.status_code == 404


def test_delete_removes_the_app_at_once_and_its_tasks_soon(marathon_server):
    assert post(marathon_server, article_test_server()).status_code == 201
    marathon_server.wait_for_deployments(10)

    response = requests.delete(f"{marathon_server.url}/v2/apps{APP_ID}", timeout=10)

    assert response.status_code == 200
    assert set(response.json()) == {"deploymentId", "version"}
    assert requests.get(f"{marathon_server.url}/v2/apps{APP_ID}", timeout=10).status_code == 404
    marathon_server.wait_for_deployments(10)
    assert requests.get(f"{marathon_server.url}/v2/tasks", timeout=10).json() == {"tasks": []}


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("GET", ""), ("DELETE", ""), ("GET", "/versions"), ("POST", "/restart"), ("GET", "/tasks")],
)
def test_unknown_app_is_404(marathon_server, method, suffix):
    response = requests.request(method, f"{marathon_server.url}/v2/apps/nope{suffix}", timeout=10)

    assert response.status_code == 404
    assert "/nope" in response.json()["message"]


def test_list_filters_and_group_listing(marathon_server):
    for app_id in ("/app/production/test-server", "/app/staging/test-server", "/tools/cron"):
        body = {**article_test_server(instances=1), "id": app_id}
        assert post(marathon_server, body).status_code == 201

    def listed(**params):
        apps = requests.get(f"{marathon_server.url}/v2/apps", params=params, timeout=10).json()
        return [app["id"] for app in apps["apps"]]

    assert listed() == sorted(listed())
    assert len(listed()) == 3
    assert listed(id="staging") == ["/app/staging/test-server"]
    assert listed(label="environment==production") == listed()
    group = requests.get(f"{marathon_server.url}/v2/apps/app/*", timeout=10).json()
    assert [app["id"] for app in group["*"]] == [
        "/app/production/test-server",
        "/app/staging/test-server",
    ]


def test_list_embeds_tasks_only_when_asked(marathon_server):
    assert post(marathon_server, article_test_server(instances=2)).status_code == 201
    marathon_server.wait_for_deployments(10)

    plain = requests.get(f"{marathon_server.url}/v2/apps", timeout=10).json()["apps"][0]
    embedded = requests.get(
        f"{marathon_server.url}/v2/apps", params={"embed": "apps.tasks"}, timeout=10
    ).json()["apps"][0]

    assert "tasks" not in plain and plain["tasksRunning"] == 2 and plain["deployments"] == []
    assert len(embedded["tasks"]) == 2


def test_ping_info_and_leader(marathon_server):
    ping = requests.get(f"{marathon_server.url}/ping", timeout=10)
    info = requests.get(f"{marathon_server.url}/v2/info", timeout=10).json()
    leader = requests.get(f"{marathon_server.url}/v2/leader", timeout=10).json()

    assert ping.status_code == 200 and ping.text == "pong"
    assert info["name"] == "marathon" and info["version"].startswith("1.")
    assert info["leader"] == leader["leader"] == f"127.0.0.1:{marathon_server.port}"
    assert info["elected"] is True


def test_unknown_route_is_404(marathon_server):
    assert requests.get(f"{marathon_server.url}/v2/nothing", timeout=10).status_code == 404


def test_basic_auth_is_demanded_when_configured(marathon_server_factory):
    server = marathon_server_factory(username="ops", password="s3cret")
    url = f"{server.url}/v2/apps"

    anonymous = requests.get(url, timeout=10)
    wrong = requests.get(url, auth=("ops", "guess"), timeout=10)
    right = requests.get(url, auth=("ops", "s3cret"), timeout=10)
    refused_post = requests.post(url, json=article_test_server(), timeout=10)

    assert anonymous.status_code == wrong.status_code == refused_post.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic ")
    assert "s3cret" not in anonymous.text
    assert right.status_code == 200 and right.json() == {"apps": []}
    # The refused POST created nothing.
    assert requests.get(url, auth=("ops", "s3cret"), timeout=10).json() == {"apps": []}


def test_requests_are_recorded_and_can_be_cleared(marathon_server):
    requests.get(f"{marathon_server.url}/v2/apps", params={"embed": "apps.tasks"}, timeout=10)
    post(marathon_server, article_test_server())

    assert marathon_server.requests == [
        ("GET", "/v2/apps?embed=apps.tasks"),
        ("POST", "/v2/apps"),
    ]
    marathon_server.clear_requests()
    get_app(marathon_server, APP_ID)
    assert marathon_server.requests == [("GET", f"/v2/apps{APP_ID}")]


def test_url_quoted_ids_address_the_same_app(marathon_server):
    assert post(marathon_server, article_test_server()).status_code == 201

    quoted = requests.get(
        f"{marathon_server.url}/v2/apps/app%2Fproduction%2Ftest-server", timeout=10
    )

    assert quoted.status_code == 200 and quoted.json()["app"]["id"] == APP_ID


def test_definition_passed_in_is_not_changed_by_partial_updates_of_others(marathon_server):
    original = article_test_server()
    sent = copy.deepcopy(original)
    assert post(marathon_server, sent).status_code == 201
    marathon_server.wait_for_deployments(10)
    assert put(marathon_server, APP_ID, {"instances": 1}).status_code == 200

    app = get_app(marathon_server, APP_ID)

    assert app["labels"] == original["labels"] and app["env"] == original["env"]
    assert app["args"] == original["args"]


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
    assert post(marathon_server, body).status_code == 201, network

    app = get_app(marathon_server, APP_ID)

    assert app["networks"] == networks
    assert "network" not in app["container"]["docker"]
    if has_host_port is None:
        assert "portMappings" not in app["container"] and len(app["portDefinitions"]) == 1
    else:
        [mapping] = app["container"]["portMappings"]
        assert ("hostPort" in mapping) is has_host_port
        assert app["portDefinitions"] == []
