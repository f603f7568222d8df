"""Routing survives a rolling redeploy: real parts only, inside a network namespace.

Salt lays the internal load balancer down into a scratch root
(mesos.loadbalancer with mesos.haproxy and mesos.consul_template), a real
HAProxy runs from it inside a namespace the test creates, tools/bin/ctmpl
renders the candidate from the Consul stand-in, and the reload command Salt
wrote into consul-template's exec stanza (the reload script) validates,
installs and reloads it. The app's instances are small HTTP servers in the
same namespace, on loopback.

HAProxy's server-state file gives every server its saved address, port and
admin state back by *name* after a reload, so the test drains one instance,
then redeploys the way Marathon does (new instances on new ports, the old
ones deregistered one by one, then stopped) and checks that no request
failed, that the drain stayed on its instance, and that HAProxy ends up
with exactly the new instances.
"""

import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

from tests.conftest import require_binary
from tests.fixtures.consul import deregister_service, register_service
from tests.fixtures.haproxy import LoadRunner, http_get
from tests.loadbalancer_support import (
    consul_template_command,
    lay_down_templates,
    prepare_runtime_dirs,
    render,
    scratch_pillar,
)

LISTEN_PORT = 3000
BACKEND = "cluster_production:web"
TAGS = ["production", f"internal-listen-http-{LISTEN_PORT}"]
# An instance: answers every request with its own name.
INSTANCE_SCRIPT = """
import http.server, sys
class Identity(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = sys.argv[2].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Identity).serve_forever()
"""


class Platform:
    """The pieces of one host: scratch root, HAProxy, instances, Consul."""

    def __init__(self, namespace, consul_url, root, template):
        self.namespace = namespace
        self.consul_url = consul_url
        self.root = root
        self.template = template
        self.instances = {}
        self.haproxy = None

    def start_instance(self, service_id, port):
        process = self.namespace.popen(
            [sys.executable, "-c", INSTANCE_SCRIPT, str(port), service_id],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.instances[service_id] = process
        deadline = time.monotonic() + 10
        while http_get(self.namespace, port, timeout=2)[0] != 200:
            assert time.monotonic() < deadline, f"instance {service_id} never answered"
            time.sleep(0.05)
        register_service(self.consul_url, "web", port, tags=TAGS, service_id=service_id)

    def stop_instance(self, service_id):
        process = self.instances.pop(service_id)
        process.terminate()
        process.wait(10)

    def start_haproxy(self):
        """HAProxy as its unit starts it: master-worker, on the bootstrap config."""
        run = self.root / "run/haproxy"
        argv = ["haproxy", "-W", "-db", "-f", str(self.root / "etc/haproxy/haproxy.cfg")]
        argv += ["-p", str(run / "haproxy.pid"), "-S", f"{run / 'master.sock'},mode,600"]
        with open(self.root / "haproxy.log", "ab") as log:
            self.haproxy = self.namespace.popen(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not (run / "master.sock").exists():
            assert self.haproxy.poll() is None, (self.root / "haproxy.log").read_text()
            assert time.monotonic() < deadline, "HAProxy never opened its master socket"
            time.sleep(0.05)

    def render_and_reload(self):
        """What consul-template does on a catalog change: render, then run its command."""
        candidate = self.root / "etc/haproxy/haproxy.cfg.candidate"
        render(self.consul_url, self.template, candidate)
        reloaded = self.namespace.run(consul_template_command(self.root), timeout=120)
        assert reloaded.returncode == 0, reloaded.stdout + reloaded.stderr
        return (self.root / "etc/haproxy/haproxy.cfg").read_text()

    def stop(self):
        for service_id in list(self.instances):
            self.stop_instance(service_id)
        if self.haproxy is not None and self.haproxy.poll() is None:
            self.haproxy.terminate()
            try:
                self.haproxy.wait(15)
            except subprocess.TimeoutExpired:
                self.haproxy.kill()
                self.haproxy.wait(10)


@pytest.fixture
def platform(netns, consul_server, salt_call):
    require_binary("haproxy")
    # Short: unix socket paths under the root must stay below 108 bytes.
    root = pathlib.Path(tempfile.mkdtemp(prefix="lb-redeploy-", dir="/tmp"))
    prepare_runtime_dirs(root)
    apps = {
        "web": {
            "haproxy": {"health_check": "/", "check": {"inter": "300ms", "fall": 1, "rise": 1}},
            "environments": {"production": {"instances": 2}},
        }
    }
    pillar = scratch_pillar(
        root,
        role="internal",
        apps=apps,
        # Well-known services point at loopback ports nobody serves: DOWN, harmless.
        master_nodes={"master-1": "127.0.0.1"},
    )
    template = lay_down_templates(salt_call, pillar, "internal")
    host = Platform(netns, consul_server.url, root, template)
    yield host
    host.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def haproxy_module(make_loaders, platform):
    """The haproxy execution module pointed at the platform's sockets."""
    loaders = make_loaders(pillar={"mesos": {"root": str(platform.root)}})
    return loaders.modules.haproxy


def servers(haproxy_module):
    """{address: (server name, status)} of the app's production backend."""
    return {
        view["address"]: (view["server"], view["status"])
        for view in haproxy_module.list_servers(BACKEND)
    }


def wait_for(predicate, timeout=15):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_a_rolling_redeploy_loses_no_request_and_the_drain_stays_with_its_instance(
    platform, haproxy_module
):
    platform.start_instance("web-old-1", 31001)
    platform.start_instance("web-old-2", 31002)
    platform.start_haproxy()
    platform.render_and_reload()
    wait_for(lambda: http_get(platform.namespace, LISTEN_PORT)[0] == 200)
    old_2 = servers(haproxy_module)["127.0.0.1:31002"][0]

    with LoadRunner(platform.namespace, LISTEN_PORT) as load:
        assert load.wait_for_successes(20)
        drained = haproxy_module.drain_server(BACKEND, old_2)
        assert drained["new"]["status"] == "DRAIN"

        # Marathon starts the new instances on new ports...
        platform.start_instance("web-new-1", 31003)
        platform.start_instance("web-new-2", 31004)
        platform.render_and_reload()
        assert load.wait_for_successes(load.successes + 20)
        after_start = servers(haproxy_module)
        assert after_start["127.0.0.1:31002"][1] == "DRAIN"
        assert [address for address, (_, status) in after_start.items() if status == "DRAIN"] == [
            "127.0.0.1:31002"
        ]

        # ...then takes the old ones out one by one. Removing the first one
        # must not move the drain (or an address) onto another server.
        deregister_service(platform.consul_url, "web-old-1")
        platform.render_and_reload()
        assert load.wait_for_successes(load.successes + 20)
        after_first = servers(haproxy_module)
        assert sorted(after_first) == ["127.0.0.1:31002", "127.0.0.1:31003", "127.0.0.1:31004"]
        assert after_first["127.0.0.1:31002"] == (old_2, "DRAIN")
        assert after_first["127.0.0.1:31003"][1] != "DRAIN"
        assert after_first["127.0.0.1:31004"][1] != "DRAIN"

        deregister_service(platform.consul_url, "web-old-2")
        platform.render_and_reload()
        platform.stop_instance("web-old-1")
        platform.stop_instance("web-old-2")
        served_before = load.successes
        assert load.wait_for_successes(served_before + 40)

    assert load.failures == []
    final = servers(haproxy_module)
    assert sorted(final) == ["127.0.0.1:31003", "127.0.0.1:31004"]
    assert {status for _, status in final.values()} <= {"UP", "no check"}
    # Both new instances take traffic: neither inherited the old drain.
    seen = {http_get(platform.namespace, LISTEN_PORT)[1] for _ in range(20)}
    assert seen == {"web-new-1", "web-new-2"}
    # Each server is named after its instance and endpoint.
    assert sorted(name for name, _ in final.values()) == [
        "web-new-1_127.0.0.1:31003",
        "web-new-2_127.0.0.1:31004",
    ]
