"""Which addresses an external (edge) load balancer listens on, checked with ss.

A namespace the test creates stands for the edge host: loopback, the Docker
bridge's address (172.17.0.1) and a public address (192.0.2.10, from the
documentation range), both added to the namespace's lo (no dummy links
needed: what matters is which local address a socket binds). Salt lays the
external role down with its defaults, ctmpl renders it against a catalog
with an internal service, and a real HAProxy serves it inside the
namespace. Only the public HTTP and HTTPS frontends may listen beyond
loopback and the bridge; nothing binds every address.
"""

import pathlib
import shutil
import subprocess
import tempfile
import time

import pytest

from tests.conftest import require_binary
from tests.fixtures.consul import register_service
from tests.loadbalancer_support import (
    haproxy_check,
    lay_down_templates,
    prepare_runtime_dirs,
    render,
    scratch_pillar,
    self_signed_certificate,
)

PUBLIC_ADDRESS = "192.0.2.10"
DOCKER_BRIDGE = "172.17.0.1"


def add_address(namespace, address):
    completed = namespace.run(["ip", "addr", "add", f"{address}/32", "dev", "lo"])
    assert completed.returncode == 0, completed.stderr


def listening(namespace):
    """[(address, port)] of every listening TCP socket in the namespace."""
    completed = namespace.run(["ss", "-H", "-l", "-t", "-n"])
    assert completed.returncode == 0, completed.stderr
    sockets = []
    for line in completed.stdout.splitlines():
        local = line.split()[3]
        address, _, port = local.rpartition(":")
        sockets.append((address.strip("[]"), int(port)))
    return sockets


@pytest.fixture
def edge_root():
    root = pathlib.Path(tempfile.mkdtemp(prefix="lb-edge-", dir="/tmp"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_an_edge_host_listens_beyond_loopback_only_on_http_and_https(
    netns, consul_server, salt_call, edge_root
):
    require_binary("haproxy")
    require_binary("ss")
    add_address(netns, DOCKER_BRIDGE)
    add_address(netns, PUBLIC_ADDRESS)
    self_signed_certificate(edge_root / "etc/haproxy/certs/site.pem")
    prepare_runtime_dirs(edge_root)
    pillar = scratch_pillar(
        edge_root,
        role="external",
        loadbalancer={"external": {"bind_address": PUBLIC_ADDRESS}},
    )
    # The formula's default internal bind list, not the tests' loopback-only one.
    del pillar["mesos"]["loadbalancer"]["bind_addresses"]
    template = lay_down_templates(salt_call, pillar, "external")
    register_service(
        consul_server.url, "web", 31000, tags=["production", "internal-listen-http-3000"]
    )
    config = edge_root / "haproxy.cfg"
    render(consul_server.url, template, config)
    ok, output = haproxy_check(config)
    assert ok, output

    with open(edge_root / "haproxy.log", "ab") as log:
        haproxy = netns.popen(
            ["haproxy", "-W", "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 10
        while (PUBLIC_ADDRESS, 443) not in listening(netns):
            assert haproxy.poll() is None, (edge_root / "haproxy.log").read_text()
            assert time.monotonic() < deadline, listening(netns)
            time.sleep(0.05)
        sockets = listening(netns)
    finally:
        haproxy.terminate()
        haproxy.wait(10)

    public = sorted(port for address, port in sockets if address == PUBLIC_ADDRESS)
    assert public == [80, 443]
    beyond_host = [
        (address, port)
        for address, port in sockets
        if address not in ("127.0.0.1", DOCKER_BRIDGE, PUBLIC_ADDRESS)
    ]
    assert beyond_host == [], "listening on every address (or another one)"
    # Internal and well-known frontends: loopback and the Docker bridge only.
    for port in (3000, 13000, 18080, 14400, 18500):
        assert sorted(address for address, bound in sockets if bound == port) == [
            "127.0.0.1",
            DOCKER_BRIDGE,
        ]
