"""Conformance of the Marathon stand-in's /v2/apps with Marathon 1.5+:
status codes, headers, create/update/scale/rollback/delete, versions,
listing, auth and the request log. Raw HTTP only."""

import copy

import pytest
import requests

from tests.fixtures.marathon import (
    article_test_server,
    get_app,
    get_deployments,
    post_app,
    put_app,
)

APP_ID = "/app/production/test-server"


def test_post_answers_201_with_location_and_deployment_id(marathon_server):
    marathon_server.set_task_behaviour(start_delay=30)  # keeps the deployment running
    response = post_app(marathon_server, article_test_server())

    assert response.status_code == 201
    assert response.headers["Location"].endswith(f"/v2/apps{APP_ID}")
    deployment_id = response.headers["Marathon-Deployment-Id"]
    app = response.json()
    assert app["id"] == APP_ID
    assert app["deployments"] == [{"id": deployment_id}]
    assert app["tasks"] == [] and app["tasksStaged"] == app["tasksRunning"] == 0
    assert [d["id"] for d in get_deployments(marathon_server)] == [deployment_id]


def test_two_apps_get_distinct_service_ports(marathon_server):
    assert post_app(marathon_server, {"id": "/a", "cmd": "sleep 1"}).status_code == 201
    assert post_app(marathon_server, {"id": "/b", "cmd": "sleep 1"}).status_code == 201

    ports = [get_app(marathon_server, f"/{n}")["portDefinitions"][0]["port"] for n in "ab"]

    assert len(set(ports)) == 2


def test_post_of_an_existing_id_is_409(marathon_server):
    assert post_app(marathon_server, article_test_server()).status_code == 201

    response = post_app(marathon_server, article_test_server(instances=1))

    assert response.status_code == 409
    assert APP_ID in response.json()["message"]
    assert get_app(marathon_server, APP_ID)["instances"] == 4


def test_put_creates_with_201_then_updates_with_200(marathon_server):
    created = put_app(marathon_server, APP_ID, article_test_server())
    assert created.status_code == 201
    assert set(created.json()) == {"deploymentId", "version"}
    assert get_app(marathon_server, APP_ID)["version"] == created.json()["version"]
    marathon_server.wait_for_deployments(10)

    updated = put_app(marathon_server, APP_ID, {"env": {"GREETING": "hello"}})

    assert updated.status_code == 200
    assert set(updated.json()) == {"deploymentId", "version"}
    app = get_app(marathon_server, APP_ID)
    assert app["version"] == updated.json()["version"] != created.json()["version"]


def test_path_id_wins_over_body_id(marathon_server):
    body = {**article_test_server(), "id": "/somewhere/else"}

    assert put_app(marathon_server, "/app/staging/test-server", body).status_code == 201

    ids = [
        a["id"] for a in requests.get(f"{marathon_server.url}/v2/apps", timeout=10).json()["apps"]
    ]
    assert ids == ["/app/staging/test-server"]


def test_partial_update_keeps_omitted_fields(marathon_server):
    assert put_app(marathon_server, APP_ID, article_test_server()).status_code == 201
    marathon_server.wait_for_deployments(10)

    assert put_app(marathon_server, APP_ID, {"cpus": 0.5}).status_code == 200

    app = get_app(marathon_server, APP_ID)
    assert app["cpus"] == 0.5 and app["mem"] == 64.0
    assert app["env"]["SERVICE_NAME"] == "test-server"
    assert app["container"]["docker"]["image"].startswith("registry.local/test-server:")


def test_full_update_resets_omitted_fields_to_defaults(marathon_server):
    assert put_app(marathon_server, APP_ID, article_test_server()).status_code == 201
    marathon_server.wait_for_deployments(10)

    response = put_app(
        marathon_server, APP_ID, {"cmd": "sleep 100", "instances": 1}, partialUpdate="false"
    )

    assert response.status_code == 200
    app = get_app(marathon_server, APP_ID)
    assert app["mem"] == 128.0 and app["env"] == {} and "container" not in app
    assert app["cmd"] == "sleep 100"


def task_id(task):
    return task["id"]


def test_unchanged_put_keeps_the_version_and_still_answers_a_deployment(marathon_server):
    assert put_app(marathon_server, APP_ID, article_test_server()).status_code == 201
    marathon_server.wait_for_deployments(10)
    before = get_app(marathon_server, APP_ID)

    again = put_app(marathon_server, APP_ID, article_test_server())

    assert again.status_code == 200 and again.json()["deploymentId"]
    after = get_app(marathon_server, APP_ID)
    assert after["version"] == before["version"]
    assert after["container"]["portMappings"] == before["container"]["portMappings"]
    # Marathon lists tasks in no set order; the same tasks must still be running.
    assert sorted(after["tasks"], key=task_id) == sorted(before["tasks"], key=task_id)
    versions = requests.get(f"{marathon_server.url}/v2/apps{APP_ID}/versions", timeout=10)
    assert versions.json()["versions"] == [before["version"]]


def test_scaling_changes_only_last_scaling_at(marathon_server):
    created = put_app(marathon_server, APP_ID, article_test_server()).json()
    marathon_server.wait_for_deployments(10)

    scaled = put_app(marathon_server, APP_ID, {"instances": 2}).json()

    app = get_app(marathon_server, APP_ID)
    assert app["version"] == scaled["version"]
    assert app["versionInfo"] == {
        "lastScalingAt": scaled["version"],
        "lastConfigChangeAt": created["version"],
    }


def test_versions_list_newest_first_and_each_version_readable(marathon_server):
    first = put_app(marathon_server, APP_ID, article_test_server()).json()["version"]
    second = put_app(marathon_server, APP_ID, {"mem": 96}, force="true").json()["version"]

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
    first = put_app(marathon_server, APP_ID, article_test_server()).json()["version"]
    put_app(marathon_server, APP_ID, {"mem": 96}, force="true")

    response = put_app(marathon_server, APP_ID, {"version": first}, force="true")

    assert response.status_code == 200
    app = get_app(marathon_server, APP_ID)
    assert app["mem"] == 64.0
    # A rollback is a new version with the old definition.
    assert app["version"] == response.json()["version"] != first


def test_rollback_to_an_unknown_version_is_404(marathon_server):
    assert put_app(marathon_server, APP_ID, article_test_server()).status_code == 201

    response = put_app(marathon_server, APP_ID, {"version": "2001-01-01T00:00:00.000Z"})

    assert response.status_code == 404


def test_delete_removes_the_app_at_once_and_its_tasks_soon(marathon_server):
    assert post_app(marathon_server, article_test_server()).status_code == 201
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
        assert post_app(marathon_server, body).status_code == 201

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
    assert post_app(marathon_server, article_test_server(instances=2)).status_code == 201
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
    post_app(marathon_server, article_test_server())

    assert marathon_server.requests == [
        ("GET", "/v2/apps?embed=apps.tasks"),
        ("POST", "/v2/apps"),
    ]
    marathon_server.clear_requests()
    get_app(marathon_server, APP_ID)
    assert marathon_server.requests == [("GET", f"/v2/apps{APP_ID}")]


def test_url_quoted_ids_address_the_same_app(marathon_server):
    assert post_app(marathon_server, article_test_server()).status_code == 201

    quoted = requests.get(
        f"{marathon_server.url}/v2/apps/app%2Fproduction%2Ftest-server", timeout=10
    )

    assert quoted.status_code == 200 and quoted.json()["app"]["id"] == APP_ID


def test_definition_passed_in_is_not_changed_by_partial_updates_of_others(marathon_server):
    original = article_test_server()
    sent = copy.deepcopy(original)
    assert post_app(marathon_server, sent).status_code == 201
    marathon_server.wait_for_deployments(10)
    assert put_app(marathon_server, APP_ID, {"instances": 1}).status_code == 200

    app = get_app(marathon_server, APP_ID)

    assert app["labels"] == original["labels"] and app["env"] == original["env"]
    assert app["args"] == original["args"]


def test_make_unavailable_answers_503_for_that_many_requests(marathon_server):
    marathon_server.make_unavailable(requests=2)

    answers = [
        requests.get(f"{marathon_server.url}/v2/apps", timeout=10).status_code for _ in range(3)
    ]

    assert answers == [503, 503, 200]
    assert len(marathon_server.requests) == 3
