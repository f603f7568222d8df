"""The load balancer's pillar checks and template data (_utils/loadbalancer_config.py)."""

import copy
import re

import pytest
from salt.exceptions import SaltInvocationError

from tests.unit.utils.loaded import load_util

config = load_util("loadbalancer_config")

ENVIRONMENTS = [
    {"name": "production", "port_prefix": "", "host_prefix": ""},
    {"name": "staging", "port_prefix": "1", "host_prefix": "staging-"},
]
SERVICE_TEMPLATE = """{
  "id": "/app/$environment/cache",
  "env": {"SERVICE_TAGS": "$environment,internal-listen-tcp-6379,balance-leastconn",
          "SERVICE_NAME": "cache"},
  "instances": $instances
}"""


def lb_settings(environments=("production",), apps=None, **loadbalancer):
    """The smallest valid merged mesos settings for the load balancer."""
    settings = {
        "environments": list(environments),
        "apps": apps or {},
        "master_nodes": {},
        "consul_template": {
            "log_level": "info",
            "max_stale": "10m",
            "wait": {"min": "2s", "max": "10s"},
            "command_timeout": "60s",
            "template_dir": "/etc/consul-template/templates",
            "config_dir": "/etc/consul-template",
        },
        "haproxy": {
            "stats_socket": "/run/haproxy/admin.sock",
            "server_state_file": "/var/lib/haproxy/server-state",
            "hard_stop_after": "30s",
            "mworker_max_reloads": 50,
            "reload": {"method": "seamless"},
        },
        "loadbalancer": {
            "role": "internal",
            "maxconn": 4096,
            "log": ["/dev/log local0", "127.0.0.1:514 local1 notice"],
            "timeouts": {"connect": "5s", "client": "50s", "server": "50s"},
            "bind_addresses": ["127.0.0.1"],
            "environment_port_prefixes": {"production": "", "staging": "1"},
            "default_check": {"health_check": None, "inter": "10s", "fall": 3, "rise": 2},
            "wellknown_services": {
                "marathon": {"listen_port": 18080, "port": 8080, "health_check": "/ping"}
            },
            "external": {
                "bind_address": "",
                "http_port": 80,
                "https_port": 443,
                "https": True,
                "certificate": "/etc/haproxy/certs/site.pem",
                "tls_min_version": "TLSv1.2",
                "hsts": "max-age=31536000",
                "host_prefixes": {"production": "", "staging": "staging-"},
            },
        },
    }
    settings["loadbalancer"].update(loadbalancer)
    return settings


@pytest.mark.parametrize(
    ("port", "binds"),
    [
        (3000, {"production": 3000, "staging": 13000}),
        (6379, {"production": 6379, "staging": 16379}),
        (27017, {"production": 27017}),
        (65535, {"production": 65535}),
    ],
)
def test_each_listener_binds_in_every_environment_it_fits(port, binds):
    assert config.listener_binds(port, ENVIRONMENTS) == binds


def test_listen_ports_come_from_service_tags_of_the_template():
    assert config.listen_ports(SERVICE_TEMPLATE) == [6379]
    per_port = '"SERVICE_3000_TAGS": "internal-listen-http-3000", "SERVICE_TAGS": "x,y"'
    assert config.listen_ports(per_port) == [3000]
    assert config.listen_ports(None) == []
    assert (
        config.listen_ports('"SERVICE_TAGS": "internal-listen-http-0300,internal-listen-http-"')
        == []
    )


def test_pillar_gives_ports_to_apps_from_templates_or_explicit_lists():
    apps = {"cache": {"template": "salt://cache.json"}, "db": {"haproxy": {"ports": [27017]}}}
    data = config.template_data(
        lb_settings(["production", "staging"], apps), {"cache": SERVICE_TEMPLATE}
    )
    assert data["port_owners"] == {"6379": "cache", "16379": "cache", "27017": "db"}


@pytest.mark.parametrize(
    ("apps", "message"),
    [
        (
            {"a": {"haproxy": {"ports": [300]}}, "b": {"haproxy": {"ports": [1300]}}},
            "mesos:apps:b: port 1300 (production) is also given to app a",
        ),
        ({"a": {"haproxy": {"ports": [18080]}}}, "port 18080 (production) is taken by well-known"),
        ({"a": {"haproxy": {"ports": "3000"}}}, "mesos:apps:a:haproxy:ports must be a list"),
        ({"a": {"haproxy": {"ports": [70000]}}}, "must be a TCP port 1-65535, not 70000"),
        ({"a": "web"}, "mesos:apps:a:haproxy must be a mapping"),
        ({"a": {"haproxy": ["ports"]}}, "mesos:apps:a:haproxy must be a mapping"),
        ({"a": {"haproxy": {"check": "fast"}}}, "mesos:apps:a:haproxy:check must be a mapping"),
    ],
)
def test_port_problems_name_apps_and_ports(apps, message):
    with pytest.raises(SaltInvocationError, match=re.escape(message)):
        config.template_data(lb_settings(["production", "staging"], apps))


# Values HAProxy would read as a second line, or that `$` would have let through.
INJECTIONS = [
    ("log", ["/dev/log local0\n    stats socket ipv4@0.0.0.0:9995 level admin"]),
    ("chroot", "/var/lib/haproxy\n"),
    ("timeouts", {"connect": "5s\n", "client": "50s", "server": "50s"}),
    ("bind_addresses", ["127.0.0.1\n"]),
    ("maxconn", "4096\n"),
]


@pytest.mark.parametrize(("key", "value"), INJECTIONS)
def test_a_trailing_newline_or_extra_line_is_refused_naming_the_key(key, value):
    with pytest.raises(SaltInvocationError, match=f"mesos:loadbalancer:{key}"):
        config.template_data(lb_settings(**{key: value}))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("user", "haproxy\n"),
        ("group", "haproxy\n    stats socket ipv4@0.0.0.0:9995 level admin"),
        ("stats_socket", "/run/haproxy/admin.sock\n"),
        ("hard_stop_after", "30s\n"),
        ("mworker_max_reloads", "50\n"),
    ],
)
def test_haproxy_process_values_are_checked_too(key, value):
    settings = lb_settings()
    settings["haproxy"][key] = value
    with pytest.raises(SaltInvocationError, match=f"mesos:haproxy:{key}"):
        config.template_data(settings)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("max_stale", "10m\n", "mesos:consul_template:max_stale must be a duration"),
        ("log_level", "loud", "mesos:consul_template:log_level must be trace"),
        ("wait", {"min": "2s", "max": "soon"}, "mesos:consul_template:wait:max must be"),
        ("template_dir", "templates", "mesos:consul_template:template_dir must be an absolute"),
    ],
)
def test_consul_template_values_are_checked_too(key, value, message):
    settings = lb_settings()
    settings["consul_template"][key] = value
    with pytest.raises(SaltInvocationError, match=message):
        config.template_data(settings)


def test_every_problem_is_reported_at_once():
    settings = lb_settings(chroot="relative", maxconn=0)
    settings["apps"] = {"web": {"haproxy": {"health_check": "no-slash", "external_host": "a b"}}}
    with pytest.raises(SaltInvocationError) as raised:
        config.template_data(settings)
    text = str(raised.value)
    for key in (
        "mesos:loadbalancer:chroot",
        "mesos:loadbalancer:maxconn",
        "mesos:apps:web:haproxy:health_check",
        "mesos:apps:web:haproxy:external_host",
    ):
        assert key in text


def test_internal_listeners_never_bind_every_address_by_default():
    data = config.template_data(lb_settings(bind_addresses=["127.0.0.1", "172.17.0.1", "::1"]))
    assert data["bind_addresses"] == ["127.0.0.1", "172.17.0.1", "[::1]"]
    for addresses in ([], ["", "127.0.0.1"], ["0.0.0.0:80"], "127.0.0.1"):
        with pytest.raises(SaltInvocationError, match="mesos:loadbalancer:bind_addresses"):
            config.template_data(lb_settings(bind_addresses=addresses))


def test_external_frontends_bind_the_public_address():
    settings = lb_settings(role="external")
    settings["loadbalancer"]["external"]["bind_address"] = "192.0.2.10"
    data = config.template_data(settings)
    assert data["external"]["bind_address"] == "192.0.2.10"
    assert data["reserved_ports"] == {
        "18080": "well-known service marathon",
        "80": "the external HTTP frontend",
        "443": "the external HTTPS frontend",
    }
    settings["loadbalancer"]["external"]["bind_address"] = "192.0.2.10:80"
    with pytest.raises(SaltInvocationError, match="external:bind_address must be an IP"):
        config.template_data(settings)


def test_template_data_does_not_change_its_input():
    settings = lb_settings(["production", "staging"], {"web": {"haproxy": {"ports": [3000]}}})
    before = copy.deepcopy(settings)
    config.template_data(settings)
    assert settings == before
