"""mesos.config as users run it: ``salt-call`` over this tree (the harness's
``salt_call``, the real Saltfile in the repository root, and a real
salt-master with a minion) against the Consul stand-in. KV is checked out of
band with raw HTTP."""

import json
import os
import subprocess

import pytest
import requests

from tests.conftest import REPO_ROOT, SALT_BIN, write_pillar
from tests.fixtures.consul import read_kv_tree, token_headers

EXAMPLE_TREE = {
    "app/production/test-server/GREETING": "hello world",
    "app/production/test-server/LOG_LEVEL": "info",
    "app/staging/test-server/GREETING": "hello world",
    "app/staging/test-server/LOG_LEVEL": "debug",
    "app/staging/test-server-local/GREETING": "hello from a local process",
}


def override(url, token=None):
    consul = {"url": url, **({"token": token} if token else {})}
    return "pillar=" + json.dumps({"consul": consul})


def state_results(data):
    assert isinstance(data, dict), data
    return list(data.values())


def total_changes(data):
    return sum(len(state["changes"]) for state in state_results(data))


def test_state_apply_example_pillar_then_zero_changes(salt_call, consul_server):
    salt_call.set_pillar({}, pillar_roots={"base": [str(REPO_ROOT / "pillar")]})

    pillar = override(consul_server.url)
    predicted = salt_call.run("state.apply", "mesos.config", "test=True", pillar)
    assert predicted.returncode == 0, predicted
    assert all(state["result"] is None for state in state_results(predicted.data))
    assert read_kv_tree(consul_server.url) == {}

    first = salt_call.run("state.apply", "mesos.config", pillar)
    assert first.returncode == 0, first
    assert all(state["result"] is True for state in state_results(first.data))
    assert read_kv_tree(consul_server.url) == EXAMPLE_TREE
    staging = next(s for s in state_results(first.data) if s["name"].startswith("app/staging/"))
    assert staging["changes"]["LOG_LEVEL"] == {"old": None, "new": "debug"}

    second = salt_call.run("state.apply", "mesos.config", pillar)
    assert second.returncode == 0, second
    assert total_changes(second.data) == 0


def test_environment_config_change_and_removed_key_are_applied(salt_call, consul_server):
    apps = {
        "web": {
            "config": {"A": "shared", "B": "shared"},
            "environments": {"staging": {"config": {"B": "staging"}}, "production": None},
        }
    }
    salt_call.set_pillar({"mesos": {"apps": apps}})
    assert salt_call.run("state.apply", "mesos.config", override(consul_server.url)).returncode == 0
    assert read_kv_tree(consul_server.url) == {
        "app/production/web/A": "shared",
        "app/production/web/B": "shared",
        "app/staging/web/A": "shared",
        "app/staging/web/B": "staging",
    }
    del apps["web"]["config"]["A"]
    salt_call.set_pillar({"mesos": {"apps": apps}})
    result = salt_call.run("state.apply", "mesos.config", override(consul_server.url))
    assert result.returncode == 0, result
    assert total_changes(result.data) == 2
    assert read_kv_tree(consul_server.url) == {
        "app/production/web/B": "shared",
        "app/staging/web/B": "staging",
    }


def test_secret_keys_are_written_but_not_shown(salt_call, consul_server):
    apps = {
        "web": {
            "config": {"DB_PASSWORD": "pa55-w0rd", "GREETING": "hi"},
            "secret_keys": ["DB_PASSWORD"],
            "environments": {"staging": {}},
        }
    }
    salt_call.set_pillar({"mesos": {"apps": apps}})
    result = salt_call.run("state.apply", "mesos.config", override(consul_server.url))
    assert result.returncode == 0, result
    (state,) = state_results(result.data)
    assert state["changes"]["DB_PASSWORD"] == {"old": None, "new": "<hidden>"}
    assert "pa55-w0rd" not in json.dumps(result.data) + result.stderr
    assert read_kv_tree(consul_server.url)["app/staging/web/DB_PASSWORD"] == "pa55-w0rd"


def test_app_config_trees_shows_values_and_hides_only_secret_keys(salt_call):
    apps = {
        "web": {
            "config": {"DB_PASSWORD": "pa55-w0rd", "GREETING": "hi"},
            "secret_keys": ["DB_PASSWORD"],
            "environments": {"staging": {"config": {"LOG_LEVEL": "debug"}}},
        }
    }
    salt_call.set_pillar({"mesos": {"apps": apps, "environments": ["staging"]}})

    result = salt_call.run("consul.app_config_trees")

    assert result.returncode == 0, result
    assert result.data == [
        {
            "environment": "staging",
            "app": "web",
            "prefix": "app/staging/web/",
            "values": {"DB_PASSWORD": "<hidden>", "GREETING": "hi", "LOG_LEVEL": "debug"},
            "secret_keys": ["DB_PASSWORD"],
        }
    ]
    assert "pa55-w0rd" not in json.dumps(result.data) + result.stderr
    shown = salt_call.run("consul.app_config_trees", "show_secrets=True")
    assert shown.data[0]["values"]["DB_PASSWORD"] == "pa55-w0rd"


def test_settings_resolve_as_the_readme_says(salt_call, consul_server_factory):
    """Per-call argument, then minion config, then pillar (pillar= included)."""
    in_minion_config, in_pillar, per_call = (consul_server_factory() for _ in range(3))
    apps = {"web": {"config": {"A": "1"}, "environments": {"staging": {}}}}
    salt_call.set_pillar({"mesos": {"apps": apps}}, consul={"url": in_minion_config.url})

    applied = salt_call.run("state.apply", "mesos.config", override(in_pillar.url))
    assert applied.returncode == 0, applied
    assert read_kv_tree(in_minion_config.url) == {"app/staging/web/A": "1"}
    assert read_kv_tree(in_pillar.url) == {}

    written = salt_call.run("consul.kv_set", "k", "v", f"url={per_call.url}")
    assert written.returncode == 0, written
    assert read_kv_tree(per_call.url) == {"k": "v"}
    assert "k" not in read_kv_tree(in_minion_config.url)


def test_salt_call_changes_argument_types_unless_quoted_for_yaml(salt_call, consul_server):
    salt_call.set_pillar({"consul": {"url": consul_server.url}})
    changed = salt_call.run("consul.kv_set", "app/staging/web/VERSION", "1.10")
    assert changed.returncode != 0
    assert "must be a string, got float" in json.dumps(changed.data) + changed.stderr
    quoted = salt_call.run("consul.kv_set", "app/staging/web/VERSION", '"1.10"')
    assert quoted.returncode == 0, quoted
    assert read_kv_tree(consul_server.url) == {"app/staging/web/VERSION": "1.10"}


def test_no_apps_is_a_clean_no_op(salt_call, consul_server):
    salt_call.set_pillar({"mesos": {"apps": {}}})
    result = salt_call.run("state.apply", "mesos.config", override(consul_server.url))
    assert result.returncode == 0, result
    assert total_changes(result.data) == 0


def test_salt_call_kv_set_with_url_from_pillar(salt_call, consul_server):
    salt_call.set_pillar({"consul": {"url": consul_server.url}})
    key = "app/staging/test-server/GREETING"
    result = salt_call.run("consul.kv_set", key, "hello world")
    assert result.returncode == 0, result
    assert result.data is True
    assert read_kv_tree(consul_server.url) == {key: "hello world"}
    assert salt_call.run("consul.kv_set", key, "hello world").data is False


# The bad-input table: each row a clear error, and the store exactly as seeded.

GOOD_APP = {
    "config": {"GREETING": "hi"},
    "environments": {"staging": {"config": {"LOG_LEVEL": "debug"}}, "production": {}},
}
SEED = {"app/staging/good-app/OLD": "x", "other/keep": "1", "lock": "held"}
TOKEN = "the-right-t0ken"


BIG_APP = {"config": {"BLOB": "x" * (512 * 1024 + 1)}, "environments": {"staging": {}}}


def bad_apps(**extra):
    return {"good-app": GOOD_APP, **extra}


BAD_INPUT = {
    "consul unreachable": (
        {"apps": bad_apps(), "consul": "dead"},
        ["state.apply", "mesos.config"],
        "is unreachable",
    ),
    "token in a consul:// URL": (
        {"apps": bad_apps(), "consul": "token-in-url"},
        ["state.apply", "mesos.config"],
        "Consul URL 'consul://127.0.0.1:8500?...' must look like http(s)://host[:port]",
    ),
    "wrong token": (
        {"apps": bad_apps(), "consul": "wrong-token"},
        ["state.apply", "mesos.config"],
        "403 permission denied",
    ),
    "value over 512 KiB": (
        {"apps": bad_apps(big=BIG_APP)},
        ["state.apply", "mesos.config"],
        "value of BLOB is over Consul's 512 KiB limit",
    ),
    "key with a leading slash": (
        {"apps": bad_apps()},
        ["consul.kv_set", "/app/staging/good-app/X", "v"],
        "must not begin with '/'",
    ),
    "key with ..": (
        {"apps": bad_apps()},
        ["consul.kv_set", "app/staging/../good-app/X", "v"],
        "must not contain '..'",
    ),
    "cas conflict": (
        {"apps": bad_apps()},
        ["consul.kv_set", "lock", "mine", "cas=0"],
        "CAS conflict on Consul key 'lock'",
    ),
    "non-string value": (
        {"apps": bad_apps(web={"environments": {"staging": {"config": {"PORT": 8080}}}})},
        ["state.apply", "mesos.config"],
        "value of PORT must be a string, got int",
    ),
    "non-string value on the command line": (
        {"apps": bad_apps()},
        ["consul.kv_set", "app/staging/good-app/LIMITS", '{"cpu": 2}'],
        "must be a string, got dict",
    ),
    "app with no environments": (
        {"apps": bad_apps(web={"config": {"A": "1"}})},
        ["state.apply", "mesos.config"],
        "app 'web' has no environments",
    ),
    "invalid KEY name": (
        {"apps": bad_apps(web={"config": {"LOG-LEVEL": "1"}, "environments": {"staging": {}}})},
        ["state.apply", "mesos.config"],
        "config key 'LOG-LEVEL' is not a valid environment variable name",
    ),
}


@pytest.mark.parametrize(("case", "command", "message"), BAD_INPUT.values(), ids=list(BAD_INPUT))
def test_bad_input_is_a_clear_error_and_writes_nothing(
    salt_call, consul_server_factory, case, command, message
):
    server = consul_server_factory(token=TOKEN)
    for key, value in SEED.items():
        response = requests.put(
            f"{server.url}/v1/kv/{key}", data=value, headers=token_headers(TOKEN), timeout=10
        )
        assert response.json() is True
    consul = {"url": server.url, "token": TOKEN}
    if case.get("consul") == "dead":
        dead = consul_server_factory()
        consul = {"url": dead.url, "token": TOKEN}
        dead.stop()
    elif case.get("consul") == "token-in-url":
        consul = {"url": f"consul://127.0.0.1:8500?token={TOKEN}"}
    elif case.get("consul") == "wrong-token":
        consul = {"url": server.url, "token": "a-wr0ng-t0ken"}
    salt_call.set_pillar({"consul": consul, "mesos": {"apps": case["apps"]}})

    result = salt_call.run(*command)

    output = json.dumps(result.data) + result.stderr
    assert result.returncode != 0, result
    assert message in output, output[-3000:]
    for secret in (TOKEN, "a-wr0ng-t0ken"):
        assert secret not in output
    assert read_kv_tree(server.url, token=TOKEN) == SEED


# The literal user flow and a real master + minion.


def run_in_repo_root(*args):
    """``salt-call`` exactly as the README shows it, with the real Saltfile."""
    env = {**os.environ, "PATH": f"{SALT_BIN}:{os.environ['PATH']}"}
    command = ["salt-call", "--out=json", "--log-level=quiet", *args]
    proc = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, env=env
    )
    try:
        data = json.loads(proc.stdout)["local"]
    except (ValueError, KeyError):
        data = proc.stdout
    return proc.returncode, data, proc.stderr


def test_readme_flow_from_the_repository_root(consul_server):
    code, _, stderr = run_in_repo_root("saltutil.sync_all")
    assert code == 0, stderr
    key = "app/staging/test-server/GREETING"
    code, data, stderr = run_in_repo_root(
        "consul.kv_set", key, "hello world", f"url={consul_server.url}"
    )
    assert (code, data) == (0, True), stderr
    assert read_kv_tree(consul_server.url) == {key: "hello world"}

    pillar = override(consul_server.url)
    code, data, stderr = run_in_repo_root("state.apply", "mesos.config", pillar)
    assert code == 0, (data, stderr)
    assert read_kv_tree(consul_server.url) == EXAMPLE_TREE
    code, data, stderr = run_in_repo_root("state.apply", "mesos.config", pillar)
    assert code == 0, (data, stderr)
    assert total_changes(data) == 0


def test_real_master_and_minion_apply_mesos_config(
    salt_minion, salt_master, master_pillar_dir, consul_server
):
    apps = {"test-server": GOOD_APP}
    write_pillar(master_pillar_dir, {"consul": {"url": consul_server.url}, "mesos": {"apps": apps}})
    try:
        cli = salt_minion.salt_call_cli()
        assert cli.run("saltutil.refresh_pillar", wait=True).returncode == 0
        first = cli.run("state.apply", "mesos.config")
        assert first.returncode == 0, first
        assert read_kv_tree(consul_server.url) == {
            "app/production/test-server/GREETING": "hi",
            "app/staging/test-server/GREETING": "hi",
            "app/staging/test-server/LOG_LEVEL": "debug",
        }
        second = cli.run("state.apply", "mesos.config")
        assert second.returncode == 0, second
        assert total_changes(second.data) == 0
    finally:
        write_pillar(master_pillar_dir, {})
        salt_minion.salt_call_cli().run("saltutil.refresh_pillar", wait=True)
