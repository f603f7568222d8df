"""Tags and placeholder values through real ``salt-call`` (which reads
``key=value`` arguments as YAML) and through pillar: deployed exactly as
written, or refused before any request with a message saying how to quote."""

import os
import subprocess

import pytest

from tests.conftest import REPO_ROOT, SALT_BIN
from tests.functional.marathon_support import TEST_SERVER_ID, image_of, raw_app

TEMPLATE = "salt://mesos/services/test-server.json"


def marathon_only(server):
    return {"marathon": {"urls": [server.url], "poll_interval": 0.05}}


def apps_pillar(server, app):
    return {
        **marathon_only(server),
        "mesos": {
            "deploy": {"timeout": 20},
            "apps": {"test-server": {"template": TEMPLATE, **app}},
        },
    }


@pytest.mark.parametrize(
    ("argument", "arrived"),
    [
        ("tag=1.10", "float 1.1"),
        ("tag=0755", "int 755"),
        ("tag=0x1F", "int 31"),
        ("tag=yes", "bool True"),
    ],
)
def test_salt_call_deploy_refuses_a_tag_yaml_changed(salt_call, marathon_server, argument, arrived):
    salt_call.set_pillar(marathon_only(marathon_server))
    result = salt_call.run("marathon.deploy", TEMPLATE, "production", "1", argument)
    output = str(result.data) + result.stderr
    assert result.returncode != 0, result
    assert f"tag arrived as the {arrived}" in output
    assert """tag='"1.10"'""" in output
    assert marathon_server.requests == []


def test_salt_call_deploy_with_the_quoted_tag_deploys_it_exactly(salt_call, marathon_server):
    salt_call.set_pillar(marathon_only(marathon_server))
    # A shell turns tag='"1.10"' into this argument.
    result = salt_call.run("marathon.deploy", TEMPLATE, "production", "1", 'tag="1.10"')
    assert result.returncode == 0, result
    assert image_of(raw_app(marathon_server, TEST_SERVER_ID)) == "registry.local/test-server:1.10"


@pytest.mark.parametrize(
    ("app", "key"),
    [
        ({"tag": 1.10, "environments": {"production": {}}}, "mesos:apps:test-server:tag"),
        (
            {"tag": "v1", "environments": {"production": {"tag": 755}}},
            "mesos:apps:test-server:environments:production:tag",
        ),
    ],
)
def test_mesos_apps_refuses_a_number_tag_in_pillar_naming_the_key(
    salt_call, marathon_server, app, key
):
    salt_call.set_pillar(apps_pillar(marathon_server, app))
    result = salt_call.run("state.apply", "mesos.apps")
    output = str(result.data) + result.stderr
    assert result.returncode != 0, result
    assert f"{key} is the" in output
    assert "Quote it in pillar" in output
    assert marathon_server.requests == []


def test_mesos_apps_deploys_a_quoted_pillar_tag_exactly(salt_call, marathon_server):
    app = {"tag": "1.10", "environments": {"production": {"instances": 1}}}
    salt_call.set_pillar(apps_pillar(marathon_server, app))
    result = salt_call.run("state.apply", "mesos.apps")
    assert result.returncode == 0, result
    assert image_of(raw_app(marathon_server, TEST_SERVER_ID)) == "registry.local/test-server:1.10"


def salt_call_in_repo_root(*args):
    """``salt-call`` as the README runs it: in the repository root, through the Saltfile."""
    env = {**os.environ, "PATH": f"{SALT_BIN}:{os.environ['PATH']}"}
    proc = subprocess.run(
        ["salt-call", "--out=json", "--log-level=quiet", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_repo_root_salt_call_refuses_then_deploys_the_quoted_tag(marathon_server):
    code, output = salt_call_in_repo_root("saltutil.sync_all")
    assert code == 0, output
    # url= wins over the example pillar's marathon:urls.
    where = (f"url={marathon_server.url}", "poll_interval=0.05", "timeout=20")
    code, output = salt_call_in_repo_root(
        "marathon.deploy", TEMPLATE, "staging", "1", "tag=1.10", *where
    )
    assert code != 0, output
    assert "tag arrived as the float 1.1" in output
    assert marathon_server.requests == []

    code, output = salt_call_in_repo_root(
        "marathon.deploy", TEMPLATE, "staging", "1", 'tag="1.10"', *where
    )
    assert code == 0, output
    staging = raw_app(marathon_server, "/app/staging/test-server")
    assert image_of(staging) == "registry.local/test-server:1.10"
