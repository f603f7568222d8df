"""Unit tests for the haproxy execution module: settings and argument checks.

Behaviour against a real HAProxy is in tests/functional/modules/test_haproxy.py
and tests/integration/test_haproxy_reload_faults.py.
"""

import importlib.util
import pathlib

import pytest
import yaml
from salt.exceptions import SaltInvocationError

REPO_ROOT = pathlib.Path(__file__).resolve().parents[3]


def load_module(pillar):
    path = REPO_ROOT / "_modules" / "haproxy.py"
    spec = importlib.util.spec_from_file_location("haproxy_module_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def config_get(key, default=None):
        value = pillar
        for part in key.split(":"):
            if not isinstance(value, dict) or part not in value:
                return default
            value = value[part]
        return value

    module.__salt__ = {"config.get": config_get}
    module.__utils__ = {}
    return module


def formula_defaults():
    with open(REPO_ROOT / "salt" / "mesos" / "defaults.yaml") as stream:
        return yaml.safe_load(stream)["mesos"]["haproxy"]


def subset_of(small, large):
    return all(
        subset_of(value, large[key]) if isinstance(value, dict) else large.get(key) == value
        for key, value in small.items()
    )


def test_module_defaults_equal_the_formula_defaults():
    module = load_module({})
    assert subset_of(module.DEFAULTS, formula_defaults())


def test_settings_are_rooted_and_pillar_overrides_defaults():
    module = load_module(
        {"mesos": {"root": "/srv/scratch", "haproxy": {"reload": {"method": "syn_drop"}}}}
    )
    settings = module._settings()
    assert settings["config"] == "/srv/scratch/etc/haproxy/haproxy.cfg"
    assert settings["master_socket"] == "/srv/scratch/run/haproxy/master.sock"
    assert settings["reload"]["method"] == "syn_drop"
    assert settings["reload"]["timeout"] == 30  # untouched defaults survive the merge
    assert settings["binary"] == "/usr/sbin/haproxy"  # the binary is not laid out by us


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"method": "reboot"}, "unknown reload method"),
        ({"timeout": 0}, "timeout must be positive"),
        ({"timeout": "soon"}, "timeout must be a number"),
        ({"settle_delay": -1}, "settle_delay must be positive"),
        ({"ports": "80,http"}, "ports must be TCP port numbers"),
        ({"ports": [0]}, "between 1 and 65535"),
        ({"candidate": "/nonexistent/candidate.cfg"}, "does not exist"),
    ],
)
def test_safe_reload_refuses_bad_arguments(arguments, message):
    module = load_module({})
    with pytest.raises(SaltInvocationError, match=message):
        module.safe_reload(**arguments)


@pytest.mark.parametrize("weight", ["257", "101%", "-1", "heavy", "5 %", "1\nshutdown"])
def test_set_weight_refuses_bad_weights(weight):
    module = load_module({})
    with pytest.raises(SaltInvocationError, match="weight must be"):
        module.set_weight("app", "server1", weight)


@pytest.mark.parametrize("name", ["app server", "app\nshutdown sessions", "", "a/b"])
def test_names_that_could_inject_runtime_commands_are_refused(name):
    module = load_module({})
    with pytest.raises(SaltInvocationError, match="invalid backend name"):
        module.drain_server(name, "server1")


def test_port_lists_from_the_command_line_and_pillar():
    module = load_module({})
    assert module._port_list("443,80") == [80, 443]
    assert module._port_list([80, "80"]) == [80]
    assert module._port_list([]) is None
    assert module._port_list(None) is None
