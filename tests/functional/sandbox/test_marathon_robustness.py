"""Whatever a client sends, the Marathon stand-in answers with one of
Marathon's documented codes and a JSON message: never a 500, never a
dropped connection, never a half-stored app."""

import json

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.marathon import HTTP_TIMEOUT, article_test_server, put_app

FIELDS = [
    "id",
    "cmd",
    "args",
    "instances",
    "cpus",
    "mem",
    "disk",
    "env",
    "labels",
    "container",
    "healthChecks",
    "upgradeStrategy",
    "unreachableStrategy",
    "portDefinitions",
    "ports",
    "networks",
    "fetch",
    "uris",
    "killSelection",
    "taskKillGracePeriodSeconds",
    "version",
    "requirePorts",
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from([*FIELDS, "docker", "mode", "port"]), children, max_size=4
        )
    ),
    max_leaves=12,
)

# Bodies near a valid definition: the article's app with random fields replaced.
near_valid_bodies = st.builds(
    lambda changes: {**article_test_server(1), **changes},
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=4),
)

ROBUST = settings(
    max_examples=100,
    database=None,  # no example database left in the checkout
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
DOCUMENTED = {200, 201, 400, 404, 409, 422}


def assert_documented_answer(response):
    assert response.status_code in DOCUMENTED, (response.status_code, response.text)
    if response.status_code >= 400:
        assert isinstance(response.json()["message"], str)


@ROBUST
@given(body=near_valid_bodies | json_values)
def test_any_post_body_gets_a_documented_answer(marathon_server, body):
    response = requests.post(
        f"{marathon_server.url}/v2/apps", data=json.dumps(body), timeout=HTTP_TIMEOUT
    )

    assert_documented_answer(response)
    if response.status_code == 422:
        assert all(detail["path"] and detail["errors"] for detail in response.json()["details"])
    if response.status_code == 201:
        app_id = response.json()["id"]
        stored = requests.get(f"{marathon_server.url}/v2/apps{app_id}", timeout=HTTP_TIMEOUT)
        assert stored.status_code == 200
        requests.delete(f"{marathon_server.url}/v2/apps{app_id}", timeout=HTTP_TIMEOUT)
        marathon_server.wait_for_deployments(10)


@ROBUST
@given(body=near_valid_bodies | json_values)
def test_any_put_body_gets_a_documented_answer_and_keeps_the_app_readable(marathon_server, body):
    before = requests.get(f"{marathon_server.url}/v2/apps/robust", timeout=HTTP_TIMEOUT)
    if before.status_code == 404:
        assert put_app(marathon_server, "/robust", article_test_server(1)).status_code == 201
        before = requests.get(f"{marathon_server.url}/v2/apps/robust", timeout=HTTP_TIMEOUT)

    response = put_app(marathon_server, "/robust", body, force="true")

    assert_documented_answer(response)
    after = requests.get(f"{marathon_server.url}/v2/apps/robust", timeout=HTTP_TIMEOUT)
    assert after.status_code == 200
    if response.status_code >= 400:
        assert after.json()["app"]["version"] == before.json()["app"]["version"]
    # Start the next example from a fresh app (a huge instance count would pile up tasks).
    requests.delete(f"{marathon_server.url}/v2/apps/robust", timeout=HTTP_TIMEOUT)
    marathon_server.wait_for_deployments(10)
