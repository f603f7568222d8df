"""Property: whatever the catalog holds, the rendered config is one HAProxy
accepts, every frontend has its backend, no port is bound twice, and
backends list only passing instances of their environment.

Salt lays the external role's template down once for the module; each
generated catalog goes into a fresh Consul stand-in, tools/bin/ctmpl renders
it and `haproxy -c` judges it.
"""

import re
import tempfile

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

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

# Few ports, so that generated services often claim the same one; 300/1300
# collide across environments, 80 with the external frontend, 5536+ and
# 0300 cannot be served.
POOLED_PORTS = st.sampled_from([1, 80, 300, 1300, 3000, 3001, 5535, 5536, 8080, 13000, 65535, 0])
PORTS = st.one_of(POOLED_PORTS, POOLED_PORTS, POOLED_PORTS, st.integers(1, 5535))
LISTEN_TAGS = st.builds(
    "internal-listen-{}-{}".format, st.sampled_from(["http", "tcp"]), PORTS.map(str)
)
OTHER_TAGS = st.sampled_from(
    [
        "balance-leastconn",
        "balance-roundrobin",
        "internal-listen-http-0300",
        "internal-listen-http-",
        "internal-listen-udp-3000",
        "internal-listen-http-3000-extra",
        "version-2",
    ]
)
NAMES = st.one_of(
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,14}", fullmatch=True),
    st.builds("{}-{}".format, st.sampled_from(["test-server", "svc", "a-1"]), PORTS),
    st.sampled_from(["test-server", "shop", "web-2", "0day", "a--b", "svc.v2"]),
)
INSTANCES = st.lists(
    st.tuples(
        st.sampled_from(["production", "staging"]),
        st.sampled_from(["passing", "warning", "critical"]),
        st.integers(min_value=1, max_value=65535),
        st.sampled_from(["127.0.0.1", "10.1.2.3", "::1"]),
    ),
    min_size=1,
    max_size=3,
)
CATALOGS = st.lists(
    st.tuples(
        NAMES, st.lists(st.one_of(LISTEN_TAGS, LISTEN_TAGS, OTHER_TAGS), max_size=4), INSTANCES
    ),
    max_size=8,
)


@pytest.fixture(scope="module")
def external_template(tmp_path_factory):
    base = tmp_path_factory.mktemp("lb-property")
    root = base / "root"
    self_signed_certificate(root / "etc/haproxy/certs/site.pem")
    prepare_runtime_dirs(root)
    pillar = scratch_pillar(root, role="external")
    return lay_down_templates(SaltCallLocal(base / "salt-call"), pillar, "external")


def register_catalog(consul_url, catalog):
    """Register every instance; returns {(name, environment): {passing "addr:port"}}."""
    passing = {}
    for number, (name, tags, instances) in enumerate(catalog):
        for index, (environment, status, port, address) in enumerate(instances):
            register_service(
                consul_url,
                name,
                port,
                tags=[environment, *tags],
                address=address,
                service_id=f"s{number}-{index}",
                status=status,
            )
            if status == "passing":
                passing.setdefault((name, environment), set()).add(f"{address}:{port}")
    return passing


def server_endpoints(config):
    """{(name, environment): {"addr:port" of each server line}} of service backends."""
    result = {}
    for section, lines in sections(config).items():
        match = re.match(r"backend cluster_(?:tcp_)?([a-z]+):(.+)$", section)
        if match:
            key = (match.group(2), match.group(1))
            servers = {line.split()[2] for line in lines if line.startswith("server ")}
            result.setdefault(key, set()).update(servers)
    return result


# database=None: no example database written into the checkout.
@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(catalog=CATALOGS)
def test_any_catalog_renders_a_config_haproxy_accepts(external_template, catalog):
    with ConsulServer() as consul, tempfile.TemporaryDirectory() as scratch:
        passing = register_catalog(consul.url, catalog)
        destination = f"{scratch}/haproxy.cfg"
        config = render(consul.url, external_template, destination)
        ok, output = haproxy_check(destination)

    # Shown by --hypothesis-show-statistics: how often the traps were hit.
    event(f"port clash left out: {'left out: port(s)' in config}")
    event(f"tag ignored: {'ignored:' in config}")
    event(f"catalog empty: {not catalog}")
    assert ok, f"haproxy -c refused:\n{output}\n{config}"
    defined = {name.split(" ", 1)[1] for name in sections(config) if name.startswith("backend ")}
    assert set(backend_targets(config)) <= defined
    ports = bound_ports(config)
    assert len(ports) == len(set(ports)), sorted(ports)
    for key, servers in server_endpoints(config).items():
        assert servers <= passing.get(key, set()), (key, servers)
