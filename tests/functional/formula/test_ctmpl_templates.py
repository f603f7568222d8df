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
    # Ports that cannot have a staging port, and a padded one.
    ("big", 37000, ["production", "internal-listen-http-8080", "internal-listen-http-0300"], "big",
     "passing"),
]  # fmt: skip


@pytest.fixture(scope="module")
def external_template(tmp_path_factory):
    """The external role's .ctmpl, laid down once by Salt for this module."""
    base = tmp_path_factory.mktemp("lb-external")
    root = base / "root"
    self_signed_certificate(root / "etc/haproxy/certs/site.pem")
    prepare_runtime_dirs(root)
    pillar = scratch_pillar(
        root, role="external", loadbalancer={"external": {"http_port": EXTERNAL_HTTP_PORT}}
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
        "bind :3000",
        "mode http",
        "option httplog",
        "default_backend cluster_production:test-server-3000",
    ]
    assert "bind :13010" in parts["frontend internal_http_staging:test-server-3010:3010"]
    assert "frontend internal_http_production:test-server-3000:3010" not in parts
    assert "frontend internal_http_production:test-server-3010:3000" not in parts


def test_a_service_not_in_pillar_gets_frontends_per_tag_and_default_checks(mixed_config):
    parts = sections(mixed_config)
    for port in (3400, 3401):
        assert f"bind :{port}" in parts[f"frontend internal_http_production:late-2:{port}"]
        assert f"bind :1{port}" in parts[f"frontend internal_http_staging:late-2:{port}"]
    backend = parts["backend cluster_production:late-2"]
    assert not any(line.startswith("option httpchk") for line in backend)
    assert servers_of(mixed_config, "cluster_production:late-2") == [
        "server consul-sandbox-0 127.0.0.1:32000 check inter 10s fall 3 rise 2"
    ]
    assert servers_of(mixed_config, "cluster_staging:late-2") == []


def test_backends_list_healthy_instances_of_their_environment_with_pillar_checks(mixed_config):
    backend = sections(mixed_config)["backend cluster_production:test-server-3000"]
    assert "option httpchk GET /healthcheck" in backend
    assert servers_of(mixed_config, "cluster_production:test-server-3000") == [
        "server consul-sandbox-0 127.0.0.1:31000 check inter 2s fall 2 rise 1"
    ]
    assert servers_of(mixed_config, "cluster_staging:test-server-3000") == [
        "server consul-sandbox-0 127.0.0.1:31002 check inter 2s fall 2 rise 1"
    ]
    assert ":31001" not in mixed_config


def test_tcp_tags_give_tcp_frontends_and_balance_tags_choose_the_algorithm(mixed_config):
    parts = sections(mixed_config)
    frontend = parts["frontend internal_tcp_staging:redis:3500"]
    assert "mode tcp" in frontend and "bind :13500" in frontend
    assert "default_backend cluster_tcp_staging:redis" in frontend
    backend = parts["backend cluster_tcp_production:redis"]
    assert "mode tcp" in backend and "balance leastconn" in backend
    assert "balance roundrobin" in parts["backend cluster_production:late-2"]


@pytest.mark.parametrize(
    "comment",
    [
        "# service dup-a: internal-listen-http-3600 left out: port(s) 3600 13600 also claimed",
        "# service dup-b: internal-listen-http-3600 left out: port(s) 3600 13600 also claimed",
        "# service low: internal-listen-http-300 left out: port(s) 1300 also claimed",
        "# service high: internal-listen-http-1300 left out: port(s) 1300 also claimed",
        "# service plain-web: internal-listen-http-80 left out: port(s) 80 also claimed",
        '# service big: tag "internal-listen-http-8080" ignored: the port must be 1-5535',
        '# service big: tag "internal-listen-http-0300" ignored',
    ],
)
def test_conflicting_or_impossible_ports_are_left_out_with_a_comment(mixed_config, comment):
    assert comment in mixed_config
    ports = bound_ports(mixed_config)
    for port in (3600, 13600, 300, 1300, 11300, 8080):
        assert port not in ports


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
    assert "server master-1 127.0.0.1:8080 check inter 10s fall 3 rise 2" in backend
    assert "bind :18080" in sections(mixed_config)["frontend wellknown:marathon"]


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
        "server consul-sandbox-0 127.0.0.1:38000 check inter 3s fall 4 rise 2"
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
    assert "bind :80" in parts["frontend internal_http_production:plain-web:80"]
    assert "bind :180" in parts["frontend internal_http_staging:plain-web:80"]
    assert "# service dup-a: internal-listen-http-3600 left out" in config
    ports = bound_ports(config)
    assert len(ports) == len(set(ports)), sorted(ports)
