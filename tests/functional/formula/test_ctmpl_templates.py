"""The HAProxy consul-template templates, rendered for real: Salt lays them
down (mesos.loadbalancer, external role, into a scratch root), tools/bin/ctmpl
renders them against the Consul stand-in, `haproxy -c` judges the result.
"""

import pytest
import requests

from sandbox.consul import ConsulServer
from tests.conftest import SaltCallLocal
from tests.fixtures.consul import register_service
from tests.loadbalancer_support import (
    SAMPLE_APPS,
    backend_targets,
    bound_ports,
    haproxy_check,
    lay_down_templates,
    prepare_runtime_dirs,
    render,
    scratch_pillar,
    sections,
    self_signed_certificate,
)

EXTERNAL_HTTP_PORT = 80

TWO_PORTS = ["internal-listen-http-3000", "internal-listen-http-3010"]

# name, port, tags, service id, health: the article's catalog and its traps.
MIXED_CATALOG = [
    # marathon-registrator's <name>-<port> naming: one app, two ports.
    ("test-server-3000", 31000, ["production", *TWO_PORTS], "ts3000-p1", "passing"),
    ("test-server-3000", 31001, ["production", *TWO_PORTS], "ts3000-p2", "critical"),
    ("test-server-3000", 31002, ["staging", *TWO_PORTS], "ts3000-s1", "passing"),
    ("test-server-3010", 31003, ["production", *TWO_PORTS], "ts3010-p1", "passing"),
    # Not in pillar, two ports on one name, registered "later".
    ("late-2", 32000, ["production", "internal-listen-http-3400", "internal-listen-http-3401"],
     "late-p1", "passing"),
    # TCP with leastconn.
    ("redis", 33000, ["production", "internal-listen-tcp-3500", "balance-leastconn"], "redis-p1",
     "passing"),
    # Two services on one port: both left out.
    ("dup-a", 34000, ["production", "internal-listen-http-3600"], "dup-a", "passing"),
    ("dup-b", 34001, ["production", "internal-listen-http-3600"], "dup-b", "passing"),
    # Staging port of one (1300) is the production port of the other.
    ("low", 35000, ["production", "internal-listen-http-300"], "low", "passing"),
    ("high", 35001, ["production", "internal-listen-http-1300"], "high", "passing"),
    # The external frontend already binds 80.
    ("plain-web", 36000, ["production", "internal-listen-http-80"], "plain-web", "passing"),
    # 8080 serves production; its staging port 18080 is Marathon's. A padded port.
    ("big", 37000, ["production", "internal-listen-http-8080", "internal-listen-http-0300"], "big",
     "passing"),
    # Redis and MongoDB: each listener judged on its own (127017 cannot exist).
    ("redis-cache", 37100, ["production", "internal-listen-tcp-6379"], "cache-p1", "passing"),
    ("redis-cache", 37101, ["staging", "internal-listen-tcp-6379"], "cache-s1", "passing"),
    ("mongo", 37200, ["production", "internal-listen-tcp-27017"], "mongo-p1", "passing"),
    # Pillar gives 3700 to owned (explicit list) and 3000 to test-server
    # (its service template's SERVICE_TAGS): the newcomers are left out.
    ("owned", 37300, ["production", "internal-listen-http-3700"], "owned-p1", "passing"),
    ("intruder", 37301, ["production", "internal-listen-http-3700"], "intruder-p1", "passing"),
    ("squatter", 37302, ["production", "internal-listen-http-3000"], "squatter-p1", "passing"),
    # Names and addresses the template cannot express: left out, the rest renders.
    ("api.", 37400, ["production", "internal-listen-http-3800"], "api-dot-p1", "passing"),
    ("api.v2", 37401, ["production", "internal-listen-http-3801"], "api-v2-p1", "passing"),
    ("v2", 37402, ["production", "internal-listen-http-3802"], "v2-p1", "passing"),
]  # fmt: skip

# Instances registered with an address HAProxy would refuse.
BAD_ADDRESS_INSTANCES = [("v2", 37403, "a..b", "v2-bad-address"), ("v2", 37404, "a b", "v2-space")]

APPS = {
    **SAMPLE_APPS,
    "test-server": {
        **SAMPLE_APPS["test-server"],
        "template": "salt://mesos/services/test-server.json",
    },
    "owned": {"haproxy": {"ports": [3700]}, "environments": {"production": {}}},
}


@pytest.fixture(scope="module")
def external_template(tmp_path_factory):
    """The external role's .ctmpl, laid down once by Salt for this module."""
    base = tmp_path_factory.mktemp("lb-external")
    root = base / "root"
    self_signed_certificate(root / "etc/haproxy/certs/site.pem")
    prepare_runtime_dirs(root)
    pillar = scratch_pillar(
        root,
        role="external",
        apps=APPS,
        loadbalancer={"external": {"http_port": EXTERNAL_HTTP_PORT}},
    )
    return lay_down_templates(SaltCallLocal(base / "salt-call"), pillar, "external")


@pytest.fixture(scope="module")
def internal_template(tmp_path_factory):
    """The internal role's .ctmpl: no public frontends, so port 80 is free."""
    base = tmp_path_factory.mktemp("lb-internal")
    root = base / "root"
    prepare_runtime_dirs(root)
    pillar = scratch_pillar(root, role="internal")
    return lay_down_templates(SaltCallLocal(base / "salt-call"), pillar, "internal")


def register(consul_url, catalog):
    for name, port, tags, service_id, status in catalog:
        register_service(consul_url, name, port, tags=tags, service_id=service_id, status=status)
    for name, port, address, service_id in BAD_ADDRESS_INSTANCES:
        tags = ["production", "internal-listen-http-3802"]
        register_service(consul_url, name, port, tags=tags, address=address, service_id=service_id)


def render_and_check(consul_url, template, destination):
    text = render(consul_url, template, destination)
    ok, output = haproxy_check(destination)
    assert ok, f"haproxy -c refused the rendered config:\n{output}\n{text}"
    return text


@pytest.fixture(scope="module")
def mixed_config(external_template, tmp_path_factory):
    with ConsulServer() as consul:
        register(consul.url, MIXED_CATALOG)
        destination = tmp_path_factory.mktemp("mixed") / "haproxy.cfg"
        return render_and_check(consul.url, external_template, destination)


def servers_of(config, backend):
    return [line for line in sections(config)[f"backend {backend}"] if line.startswith("server ")]


def test_every_frontend_has_its_backend_and_no_port_is_bound_twice(mixed_config):
    defined = {
        name.split(" ", 1)[1] for name in sections(mixed_config) if name.startswith("backend ")
    }
    assert set(backend_targets(mixed_config)) <= defined
    ports = bound_ports(mixed_config)
    assert len(ports) == len(set(ports)), sorted(ports)


def test_name_port_services_claim_only_their_own_port(mixed_config):
    parts = sections(mixed_config)
    assert parts["frontend internal_http_production:test-server-3000:3000"] == [
        "bind 127.0.0.1:3000",
        "mode http",
        "option httplog",
        "default_backend cluster_production:test-server-3000",
    ]
    assert "bind 127.0.0.1:13010" in parts["frontend internal_http_staging:test-server-3010:3010"]
    assert "frontend internal_http_production:test-server-3000:3010" not in parts
    assert "frontend internal_http_production:test-server-3010:3000" not in parts


def test_a_service_not_in_pillar_gets_frontends_per_tag_and_default_checks(mixed_config):
    parts = sections(mixed_config)
    for port in (3400, 3401):
        assert f"bind 127.0.0.1:{port}" in parts[f"frontend internal_http_production:late-2:{port}"]
        assert f"bind 127.0.0.1:1{port}" in parts[f"frontend internal_http_staging:late-2:{port}"]
    backend = parts["backend cluster_production:late-2"]
    assert not any(line.startswith("option httpchk") for line in backend)
    assert servers_of(mixed_config, "cluster_production:late-2") == [
        "server late-p1_127.0.0.1:32000 127.0.0.1:32000 check inter 10s fall 3 rise 2"
    ]
    assert servers_of(mixed_config, "cluster_staging:late-2") == []


def test_backends_list_healthy_instances_of_their_environment_with_pillar_checks(mixed_config):
    backend = sections(mixed_config)["backend cluster_production:test-server-3000"]
    assert "option httpchk GET /healthcheck" in backend
    assert servers_of(mixed_config, "cluster_production:test-server-3000") == [
        "server ts3000-p1_127.0.0.1:31000 127.0.0.1:31000 check inter 2s fall 2 rise 1"
    ]
    assert servers_of(mixed_config, "cluster_staging:test-server-3000") == [
        "server ts3000-s1_127.0.0.1:31002 127.0.0.1:31002 check inter 2s fall 2 rise 1"
    ]
    assert ":31001" not in mixed_config


def test_tcp_tags_give_tcp_frontends_and_balance_tags_choose_the_algorithm(mixed_config):
    parts = sections(mixed_config)
    frontend = parts["frontend internal_tcp_staging:redis:3500"]
    assert "mode tcp" in frontend and "bind 127.0.0.1:13500" in frontend
    assert "default_backend cluster_tcp_staging:redis" in frontend
    backend = parts["backend cluster_tcp_production:redis"]
    assert "mode tcp" in backend and "balance leastconn" in backend
    assert "balance roundrobin" in parts["backend cluster_production:late-2"]


@pytest.mark.parametrize(
    "comment",
    [
        "# service dup-a: internal-listen-http-3600 left out in production: port 3600 is also "
        "claimed by another service and no app in pillar owns it",
        "# service dup-b: internal-listen-http-3600 left out in staging: port 13600 is also",
        "# service low: internal-listen-http-300 left out in staging: port 1300 is also claimed",
        "# service high: internal-listen-http-1300 left out in production: port 1300 is also",
        "# service plain-web: internal-listen-http-80 left out in production: port 80 is bound by "
        "the external HTTP frontend",
        "# service big: internal-listen-http-8080 left out in staging: port 18080 is bound by "
        "well-known service marathon",
        '# service big: tag "internal-listen-http-0300" ignored: the port must be 1-65535',
    ],
)
def test_conflicting_or_impossible_ports_are_left_out_with_a_comment(mixed_config, comment):
    assert comment in mixed_config
    ports = bound_ports(mixed_config)
    for port in (3600, 13600, 1300):
        assert port not in ports
    assert ports.count(80) == 1  # the external HTTP frontend's
    assert ports.count(300) == 1
    # Each listener is judged on its own: the other environment still binds.
    assert {8080, 180, 11300} <= set(ports)


def test_ports_above_5535_bind_in_every_environment_that_stays_below_65536(mixed_config):
    parts = sections(mixed_config)
    assert "bind 127.0.0.1:6379" in parts["frontend internal_tcp_production:redis-cache:6379"]
    assert "bind 127.0.0.1:16379" in parts["frontend internal_tcp_staging:redis-cache:6379"]
    assert servers_of(mixed_config, "cluster_tcp_staging:redis-cache") == [
        "server cache-s1_127.0.0.1:37101 127.0.0.1:37101 check inter 10s fall 3 rise 2"
    ]
    assert "bind 127.0.0.1:27017" in parts["frontend internal_tcp_production:mongo:27017"]
    assert "frontend internal_tcp_staging:mongo:27017" not in parts
    assert (
        "# service mongo: internal-listen-tcp-27017 left out in staging: port 127017 would pass "
        "65535" in mixed_config
    )


def test_the_app_pillar_gives_a_port_keeps_it_and_the_newcomer_is_left_out(mixed_config):
    parts = sections(mixed_config)
    assert "bind 127.0.0.1:3700" in parts["frontend internal_http_production:owned:3700"]
    assert "frontend internal_http_production:intruder:3700" not in parts
    assert (
        "# service intruder: internal-listen-http-3700 left out in production: port 3700 belongs "
        "to app owned (pillar)" in mixed_config
    )
    # test-server owns 3000 and 13000 through its template's SERVICE_TAGS.
    assert "frontend internal_http_production:test-server-3000:3000" in parts
    assert "frontend internal_http_production:squatter:3000" not in parts
    assert "port 3000 belongs to app test-server (pillar)" in mixed_config


def test_what_the_template_cannot_express_is_left_out_and_the_rest_still_renders(mixed_config):
    parts = sections(mixed_config)
    assert '# service "api." left out' in mixed_config
    assert '# service "api.v2" left out' in mixed_config
    assert not [name for name in parts if "api." in name]
    # v2's own instance is served; api.v2's never lands in v2's backend.
    assert servers_of(mixed_config, "cluster_production:v2") == [
        "server v2-p1_127.0.0.1:37402 127.0.0.1:37402 check inter 10s fall 3 rise 2"
    ]
    assert ":37401" not in mixed_config
    assert '# instance "v2-bad-address" left out: address "a..b" is not an IP address' in (
        mixed_config
    )
    assert '# instance "v2-space" left out: address "a b"' in mixed_config


def test_external_routes_by_host_only_to_backends_that_exist(mixed_config):
    frontend = sections(mixed_config)["frontend external_https_in"]
    assert any("ssl crt" in line and "ssl-min-ver TLSv1.2" in line for line in frontend)
    assert "http-response set-header X-Frame-Options DENY" in frontend
    assert (
        "acl host_staging:test-server req.hdr(host),field(1,:) -i staging-mesos-test.domain.com"
        in frontend
    )
    # test-server registers as test-server-3000/-3010, not test-server, and
    # shop not at all: no route may name a backend that is not there.
    assert not any(line.startswith("use_backend") for line in frontend)
    assert "# shop: service shop is not in the catalog yet, no route" in mixed_config


def test_wellknown_services_list_every_master(mixed_config):
    backend = sections(mixed_config)["backend wellknown:marathon"]
    assert "option httpchk GET /ping" in backend
    assert "server master-1_127.0.0.1:8080 127.0.0.1:8080 check inter 10s fall 3 rise 2" in backend
    assert "bind 127.0.0.1:18080" in sections(mixed_config)["frontend wellknown:marathon"]


def test_empty_catalog_gives_a_valid_config(external_template, consul_server, tmp_path):
    config = render_and_check(consul_server.url, external_template, tmp_path / "haproxy.cfg")
    assert not [name for name in sections(config) if name.startswith("backend cluster_")]


def test_external_service_in_the_catalog_gets_host_routes(
    external_template, consul_server, tmp_path
):
    register_service(consul_server.url, "shop", 38000, tags=["production"], service_id="shop-p1")
    config = render_and_check(consul_server.url, external_template, tmp_path / "haproxy.cfg")
    frontend = sections(config)["frontend external_http_in"]
    assert "use_backend cluster_production:shop if host_production:shop" in frontend
    assert "use_backend cluster_staging:shop if host_staging:shop" in frontend
    assert servers_of(config, "cluster_production:shop") == [
        "server shop-p1_127.0.0.1:38000 127.0.0.1:38000 check inter 3s fall 4 rise 2"
    ]


@pytest.mark.parametrize(
    ("stored", "expected"),
    [(None, "4096"), ("20000", "20000"), ("lots", "4096"), (" 512\n", "512")],
)
def test_maxconn_comes_from_consul_with_a_default(
    external_template, consul_server, tmp_path, stored, expected
):
    if stored is not None:
        response = requests.put(
            f"{consul_server.url}/v1/kv/service/haproxy/maxconn", data=stored, timeout=5
        )
        assert response.json() is True
    config = render_and_check(consul_server.url, external_template, tmp_path / "haproxy.cfg")
    assert f"maxconn {expected}" in sections(config)["global"]


def test_internal_role_has_no_public_frontends_and_serves_port_80_internally(
    internal_template, consul_server, tmp_path
):
    register(consul_server.url, MIXED_CATALOG)
    config = render_and_check(consul_server.url, internal_template, tmp_path / "haproxy.cfg")
    parts = sections(config)
    assert not [name for name in parts if "external" in name]
    assert "ssl-default-bind-options" not in config
    assert "bind 127.0.0.1:80" in parts["frontend internal_http_production:plain-web:80"]
    assert "bind 127.0.0.1:180" in parts["frontend internal_http_staging:plain-web:80"]
    assert "# service dup-a: internal-listen-http-3600 left out in production" in config
    ports = bound_ports(config)
    assert len(ports) == len(set(ports)), sorted(ports)
