"""Bad input to marathon.deploy: each case is a clear error naming its cause,
and the version that served before keeps serving (checked with raw HTTP)."""

import pytest
import requests
from salt.exceptions import CommandExecutionError, SaltInvocationError

from tests.functional import marathon_support as support
from tests.functional.marathon_support import (
    TEST_SERVER_ID,
    TEST_SERVER_TEMPLATE,
    Bound,
    free_dead_url,
    image_of,
)

module_loaders = support.module_loaders
s3_store = support.s3_store
template_http_server = support.template_http_server

TEMPLATE = "salt://mesos/services/test-server.json"
V1_IMAGE = "registry.local/test-server:v1"
CREDENTIALS = ("ops", "s3cret")


class Context:
    def __init__(self, request, server, marathon, tmp_path):
        self.request = request
        self.server = server
        self.marathon = marathon
        self.tmp_path = tmp_path

    def template_file(self, text):
        path = self.tmp_path / "service.json"
        path.write_text(text)
        return str(path)

    def fixture(self, name):
        return self.request.getfixturevalue(name)


def edited_template(old, new):
    text = TEST_SERVER_TEMPLATE.read_text()
    assert old in text
    return text.replace(old, new)


def deploy(ctx, template=TEMPLATE, instances=4, **kwargs):
    return ctx.marathon.deploy(template, "production", instances, tag="v2", **kwargs)


def missing_http(ctx):
    server = ctx.fixture("template_http_server")
    return deploy(ctx, f"{server.url}/test-server/no-such.json")


def missing_s3(ctx):
    endpoint = ctx.fixture("s3_store")
    return deploy(ctx, "s3://build-artifacts/test-server/no-such.json", s3_endpoint_url=endpoint)


def every_url_down(ctx):
    return deploy(ctx, urls=[free_dead_url(), free_dead_url()], timeout=5)


def wrong_password(ctx):
    return deploy(ctx, password="wrong", timeout=5)


def locked(ctx):
    # Another deployment holds the app (tasks take 30 s to start) for longer than we wait.
    ctx.server.set_task_behaviour(start_delay=30)
    response = requests.put(
        f"{ctx.server.url}/v2/apps{TEST_SERVER_ID}",
        json={"instances": 5},
        auth=CREDENTIALS,
        timeout=5,
    )
    assert response.status_code == 200
    return deploy(ctx, timeout=0.5)


def never_healthy(ctx):
    ctx.server.set_task_behaviour(
        healthy=lambda definition: definition["container"]["docker"]["image"] == V1_IMAGE
    )
    return deploy(ctx, timeout=1)


CASES = {
    "salt:// template missing": (
        lambda ctx: deploy(ctx, "salt://mesos/services/no-such.json"),
        SaltInvocationError,
        r"salt://mesos/services/no-such\.json not found on the Salt fileserver",
    ),
    "path template missing": (
        lambda ctx: deploy(ctx, str(ctx.tmp_path / "no-such.json")),
        SaltInvocationError,
        r"no-such\.json does not exist",
    ),
    "http template missing": (missing_http, SaltInvocationError, r"not found \(HTTP 404\)"),
    "s3 template missing": (missing_s3, SaltInvocationError, r"not found \(NoSuchKey\)"),
    "invalid JSON": (
        lambda ctx: deploy(
            ctx, ctx.template_file(edited_template('"mem": 64.0,', '"mem": 64.0,,'))
        ),
        SaltInvocationError,
        r"invalid JSON at line 12 column 15",
    ),
    "unfilled placeholder": (
        lambda ctx: deploy(
            ctx, ctx.template_file(edited_template('"cpus": 0.05', '"cpus": $cpu_share'))
        ),
        SaltInvocationError,
        r"no value for placeholder \$cpu_share \(line 11\)",
    ),
    "instances zero": (
        lambda ctx: deploy(ctx, instances=0),
        SaltInvocationError,
        r"instances must be a positive integer, not 0",
    ),
    "instances negative": (
        lambda ctx: deploy(ctx, instances=-2),
        SaltInvocationError,
        r"instances must be a positive integer, not -2",
    ),
    "instances a word": (
        lambda ctx: deploy(ctx, instances="four"),
        SaltInvocationError,
        r"instances must be a positive integer, not 'four'",
    ),
    "instances a fraction": (
        lambda ctx: deploy(ctx, instances=1.5),
        SaltInvocationError,
        r"instances must be a positive integer, not 1\.5",
    ),
    "instances a boolean": (
        lambda ctx: deploy(ctx, instances=True),
        SaltInvocationError,
        r"instances must be a positive integer, not True",
    ),
    "every Marathon URL down": (
        every_url_down,
        CommandExecutionError,
        r"no Marathon master answered GET /v2/apps/app/production/test-server",
    ),
    "401 wrong password": (wrong_password, CommandExecutionError, r"Marathon answered 401"),
    "409 locked": (
        locked,
        CommandExecutionError,
        r"locked by running deployment\(s\) .* did not finish within 0\.5s.*force=True",
    ),
    "422 invalid definition": (
        lambda ctx: deploy(ctx, ctx.template_file(edited_template('"cpus": 0.05', '"cpus": -1'))),
        CommandExecutionError,
        r"Marathon answered 422 .*/cpus",
    ),
    "never healthy": (
        never_healthy,
        CommandExecutionError,
        r"did not finish within 1s: .*healthy .*rolled back: previous version \S+ is serving",
    ),
}


@pytest.fixture
def auth_server(marathon_server_factory):
    return marathon_server_factory(username=CREDENTIALS[0], password=CREDENTIALS[1])


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_a_clear_error_and_the_previous_version_keeps_serving(
    case, request, auth_server, module_loaders, tmp_path
):
    call, exception, message = CASES[case]
    marathon = Bound(
        module_loaders.modules.marathon,
        auth_server.url,
        username=CREDENTIALS[0],
        password=CREDENTIALS[1],
    )
    before = marathon.deploy(TEMPLATE, "production", 4, tag="v1", timeout=20)

    with pytest.raises(exception, match=message) as caught:
        call(Context(request, auth_server, marathon, tmp_path))

    assert CREDENTIALS[1] not in str(caught.value)
    app = requests.get(
        f"{auth_server.url}/v2/apps{TEST_SERVER_ID}", auth=CREDENTIALS, timeout=5
    ).json()["app"]
    assert image_of(app) == V1_IMAGE
    assert app["tasksHealthy"] >= 4
    assert {task["version"] for task in app["tasks"] if task.get("healthCheckResults")} >= {
        before["version"]
    }
    if case != "409 locked":
        # Nothing of ours is left running, and the app is exactly as before.
        assert app["version"] == before["version"]
        assert raw_deployments_with_auth(auth_server) == []


def raw_deployments_with_auth(server):
    response = requests.get(f"{server.url}/v2/deployments", auth=CREDENTIALS, timeout=5)
    return response.json()
