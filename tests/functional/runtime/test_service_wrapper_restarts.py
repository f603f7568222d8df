"""One configuration change, one rolling restart: three instances of the
reference test-server run as real processes under the Marathon stand-in,
each through service-wrapper.sh (dash) watching the Consul stand-in. The
restarts are counted at the Marathon stand-in; what each instance runs with
is read from the instances themselves."""

import pytest
import requests

from tests.fixtures.consul import read_kv
from tests.fixtures.marathon import HTTP_TIMEOUT, get_app, poll_until
from tests.runtime_support import FAST_WRAPPER, host_port, reference_server_command, wrapper_command

APP_ID = "/app/production/wrapped"
PREFIX = APP_ID.strip("/")
CLAIM_KEY = "service-wrapper/restart" + APP_ID
RESTART = ("POST", f"/v2/apps{APP_ID}/restart")


def wrapped_test_server(marathon_url, consul_url, instances):
    return {
        "id": APP_ID,
        "args": wrapper_command(
            host_port(marathon_url),
            host_port(consul_url),
            PREFIX,
            *reference_server_command(drain_quiet=0.2, drain_timeout=3),
        ),
        "env": dict(FAST_WRAPPER),
        "instances": instances,
        "portDefinitions": [{"port": 0}],
        "healthChecks": [
            {
                "protocol": "HTTP",
                "path": "/healthcheck",
                "portIndex": 0,
                "gracePeriodSeconds": 15,
                "intervalSeconds": 1,
                "timeoutSeconds": 2,
                "maxConsecutiveFailures": 3,
            }
        ],
        "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.5},
        "taskKillGracePeriodSeconds": 5,
    }


def set_greeting(consul_url, value):
    response = requests.put(f"{consul_url}/v1/kv/{PREFIX}/GREETING", data=value, timeout=10)
    assert response.json() is True


def greetings(marathon_server):
    """{task id: GREETING the instance runs with} for every running task."""
    app = get_app(marathon_server, APP_ID)
    seen = {}
    for task in app["tasks"]:
        if task["state"] != "TASK_RUNNING":
            continue
        url = f"http://{task['host']}:{task['ports'][0]}/env"
        try:
            seen[task["id"]] = requests.get(url, timeout=HTTP_TIMEOUT).json().get("GREETING")
        except requests.RequestException:
            seen[task["id"]] = None
    return seen


def restarts(marathon_server):
    return sum(1 for request in marathon_server.requests if request == RESTART)


def settled_on(marathon_server, greeting, instances):
    """Every instance healthy, none on its way out, all running ``greeting``."""
    app = get_app(marathon_server, APP_ID)
    if app["deployments"] or app["tasksHealthy"] != instances or len(app["tasks"]) != instances:
        return None
    seen = greetings(marathon_server)
    return seen if set(seen.values()) == {greeting} and len(seen) == instances else None


@pytest.fixture
def process_marathon(marathon_server_factory):
    return marathon_server_factory(real_processes=True)


def change_and_wait(marathon_server, consul_server, greeting, instances, restarts_before):
    before = set(greetings(marathon_server))
    set_greeting(consul_server.url, greeting)
    poll_until(lambda: restarts(marathon_server) > restarts_before, timeout=30, message="a restart")
    seen = poll_until(
        lambda: settled_on(marathon_server, greeting, instances),
        timeout=90,
        interval=0.5,
        message=f"every instance on {greeting!r}",
    )
    assert not before & set(seen), "every instance was replaced"
    claim = read_kv(consul_server.url, CLAIM_KEY)["Value"].split()
    assert claim[1:2] == ["done"] and claim[2] in before
    return seen


def test_one_change_restarts_three_instances_once(process_marathon, consul_server):
    set_greeting(consul_server.url, "one")
    response = requests.put(
        f"{process_marathon.url}/v2/apps{APP_ID}",
        json=wrapped_test_server(process_marathon.url, consul_server.url, 3),
        timeout=HTTP_TIMEOUT,
    )
    assert response.status_code in (200, 201), response.text
    first = poll_until(
        lambda: settled_on(process_marathon, "one", 3), timeout=60, interval=0.5, message="one"
    )
    assert len(first) == 3
    assert restarts(process_marathon) == 0

    change_and_wait(process_marathon, consul_server, "two", 3, restarts_before=0)
    assert restarts(process_marathon) == 1

    change_and_wait(process_marathon, consul_server, "three", 3, restarts_before=1)
    assert restarts(process_marathon) == 2
