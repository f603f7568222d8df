"""The reference test-server in its local form (salt://mesos/services/
test-server-local.json): deployed through marathon.deploy to the Marathon
stand-in in --real-processes mode, each instance a real process running
service-wrapper.sh and test-server.py with its configuration from the Consul
stand-in. Checked out of band: each instance's own HTTP answers."""

import pytest
import requests

from tests.fixtures.marathon import HTTP_TIMEOUT, get_app
from tests.functional import marathon_support as support
from tests.functional.marathon_support import Bound
from tests.runtime_support import FILES, host_port

module_loaders = support.module_loaders

TEMPLATE = "salt://mesos/services/test-server-local.json"
APP_ID = "/app/production/test-server-local"
GREETING = "hello from a local process: 'quoted' $(not run) `either`"


@pytest.fixture
def process_marathon(marathon_server_factory):
    return marathon_server_factory(real_processes=True)


def test_marathon_deploy_runs_four_healthy_wrapped_instances(
    module_loaders, process_marathon, consul_server
):
    requests.put(
        f"{consul_server.url}/v1/kv/app/production/test-server-local/GREETING",
        data=GREETING.encode(),
        timeout=HTTP_TIMEOUT,
    ).raise_for_status()
    marathon = Bound(module_loaders.modules.marathon, process_marathon.url)
    values = {
        "runtime_dir": str(FILES),
        "marathon": host_port(process_marathon.url),
        "consul": host_port(consul_server.url),
    }

    result = marathon.deploy(TEMPLATE, "production", 4, values=values, timeout=90)

    assert result["finished"] is True
    assert result["instances"]["healthy"] == 4
    app = get_app(process_marathon, APP_ID)
    assert app["tasksHealthy"] == 4
    for task in app["tasks"]:
        base = f"http://{task['host']}:{task['ports'][0]}"
        assert requests.get(f"{base}/healthcheck", timeout=HTTP_TIMEOUT).text == "ok\n"
        environment = requests.get(f"{base}/env", timeout=HTTP_TIMEOUT).json()
        assert environment["GREETING"] == GREETING
        assert environment["MARATHON_APP_ID"] == APP_ID
        assert environment["MESOS_TASK_ID"] == task["id"]
        assert environment["PORT0"] == str(task["ports"][0])
