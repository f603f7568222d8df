"""The platform's one rule per kind of name (_utils/mesos_names.py), and that
mesos.config, mesos.apps and mesos.loadbalancer all apply it."""

import re

import pytest
from salt.exceptions import SaltInvocationError

from tests.unit.utils.loaded import load_util
from tests.unit.utils.test_loadbalancer_config import lb_settings

names = load_util("mesos_names")
consul_kv_sync = load_util("consul_kv_sync")
marathon_arguments = load_util("marathon_arguments")
loadbalancer_config = load_util("loadbalancer_config")

GOOD = ["production", "staging", "eu-west-1", "a", "x" * 63]
# prod_eu and eu.west each passed some of the three old checks and failed others.
BAD = ["prod_eu", "eu.west", "Production", "-x", "x-", "", "staging\n", "x" * 64, None, 3]


@pytest.mark.parametrize("value", GOOD)
def test_good_environment_names_pass_everywhere(value):
    assert names.is_valid("environment", value)
    assert marathon_arguments.environment(value) == value
    apps = {"web": {"environments": {value: {}}}}
    assert consul_kv_sync.app_config_trees(apps)[0]["environment"] == value
    settings = lb_settings(environments=[value], environment_port_prefixes={value: ""})
    data = loadbalancer_config.template_data(settings)
    assert [environment["name"] for environment in data["environments"]] == [value]


@pytest.mark.parametrize("value", BAD)
def test_bad_environment_names_fail_everywhere(value):
    assert not names.is_valid("environment", value)
    with pytest.raises(SaltInvocationError):
        marathon_arguments.environment(value)
    if isinstance(value, str) and value:
        with pytest.raises(SaltInvocationError, match="environment name"):
            consul_kv_sync.app_config_trees({"web": {"environments": {value: {}}}})
    with pytest.raises(SaltInvocationError, match="environment name"):
        loadbalancer_config.template_data(lb_settings(environments=["production", value]))


@pytest.mark.parametrize("value", ["web", "test-server"])
def test_app_names_pass_in_config_and_loadbalancer(value):
    assert consul_kv_sync.app_config_trees({value: {"environments": {"production": {}}}})
    loadbalancer_config.template_data(lb_settings(apps={value: {}}))


@pytest.mark.parametrize("value", ["web.v2", "Web", "web_1", "../x", "web\n"])
def test_bad_app_names_fail_in_config_and_loadbalancer(value):
    with pytest.raises(SaltInvocationError, match="app name"):
        consul_kv_sync.app_config_trees({value: {"environments": {"production": {}}}})
    with pytest.raises(SaltInvocationError, match="app name"):
        loadbalancer_config.template_data(lb_settings(apps={value: {}}))


@pytest.mark.parametrize(
    ("value", "valid"),
    [("test-server-3000", True), ("Redis_Cache", True), ("api.", False), ("api.v2", False),
     ("-api", False), ("api\n", False), ("", False)],
)  # fmt: skip
def test_service_names_are_what_consul_template_can_query(value, valid):
    assert names.is_valid("service", value) is valid
    # The Go template gets the same rule, anchored at both ends.
    go = names.go_pattern("service")
    assert go.startswith(r"\A") and go.endswith(r"\z")
    python_equivalent = go.replace(r"\A", "").replace(r"\z", "")
    assert bool(re.fullmatch(python_equivalent, value)) is valid
