"""Render and route, end to end with real parts only.

Salt lays the external load balancer's consul-template source down
(mesos.loadbalancer into a scratch root), tools/bin/ctmpl renders it against
the Consul stand-in holding real local backends (small HTTP servers that
answer with their own identity; some registered unhealthy), `haproxy -c`
accepts it, and a real HAProxy started from it routes requests on the
production and staging ports, through TCP frontends, by Host header over
HTTP and HTTPS, and to the well-known services, never to an unhealthy
instance. Then the deployed chain: the command Salt wrote into
consul-template's exec stanza installs valid renders (a service registered
later is routed) and refuses a broken one while the last good config serves;
and the same loop with ctmpl watching the catalog, as consul-template runs.
"""

import contextlib
import http.server
import shlex
import socket
import subprocess
import threading
import time
import warnings

import pytest
import requests
import urllib3

from sandbox.httpserver import StandInServer
from tests.conftest import require_binary
from tests.fixtures.consul import register_service, set_check_status
from tests.loadbalancer_support import (
    HAProxyProcess,
    consul_template_command,
    ctmpl_binary,
    free_port,
    free_production_port,
    haproxy_check,
    lay_down_templates,
    prepare_runtime_dirs,
    render,
    scratch_pillar,
    self_signed_certificate,
)

REQUESTS_PER_CHECK = 12


class IdentityHandler(http.server.BaseHTTPRequestHandler):
    """Answers every request with the identity of its server."""

    protocol_version = "HTTP/1.1"

    def handle(self):
        # HAProxy's TCP health checks connect and reset: not an error.
        with contextlib.suppress(ConnectionResetError):
            super().handle()

    def do_GET(self):
        body = self.server.identity.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def start_backend():
    """start_backend(identity) -> a started identity server on loopback."""
    servers = []

    def factory(identity):
        server = StandInServer(IdentityHandler)
        server.identity = identity
        servers.append(server.start_in_thread())
        return server

    yield factory
    for server in servers:
        server.stop()


@pytest.fixture
def haproxy_processes():
    started = []

    def factory(config_path, log_path, ready, arguments=()):
        process = HAProxyProcess(config_path, log_path, arguments)
        started.append(process)
        return process.start(ready)

    yield factory
    for process in started:
        process.stop()


def get(port, host=None, scheme="http"):
    """One request on a new connection; the body (the backend's identity)."""
    headers = {"Host": host} if host else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
        response = requests.get(
            f"{scheme}://127.0.0.1:{port}/", headers=headers, timeout=5, verify=False
        )
    return response


def identities(port, host=None, scheme="http", count=REQUESTS_PER_CHECK):
    seen = []
    for _ in range(count):
        response = get(port, host, scheme)
        assert response.status_code == 200, (port, host, response.status_code, response.text)
        seen.append(response.text)
    return set(seen)


def tcp_exchange(port):
    """An HTTP request written by hand through a TCP frontend."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(b"GET / HTTP/1.0\r\nHost: tcp\r\n\r\n")
        chunks = []
        for _ in range(100):
            chunk = connection.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode().rsplit("\r\n\r\n", 1)[-1]


def wait_until(predicate, timeout=15, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException, OSError, AssertionError):
            if predicate():
                return True
        time.sleep(interval)
    return False


@pytest.fixture
def platform(salt_call, consul_server, start_backend, tmp_path):
    """Backends registered in Consul and the ports the load balancer will use."""
    require_binary("haproxy")
    ports = {
        "web": free_production_port(),
        "api_first": free_production_port(),
        "api_second": free_production_port(),
        "tcp": free_production_port(),
        "late": free_production_port(),
        "http": free_port(),
        "https": free_port(),
        "marathon": free_port(),
    }
    assert len(set(ports.values())) == len(ports), ports
    url = consul_server.url

    def backend(identity, name, tags, status="passing"):
        server = start_backend(identity)
        register_service(url, name, server.port, tags, service_id=identity, status=status)
        return server

    web_tags = [f"internal-listen-http-{ports['web']}"]
    backend("web-production-1", "web", ["production", *web_tags])
    backend("web-production-2", "web", ["production", *web_tags])
    backend("web-production-sick", "web", ["production", *web_tags], status="critical")
    backend("web-staging-1", "web", ["staging", *web_tags])
    backend("web-staging-sick", "web", ["staging", *web_tags], status="critical")
    # The article's <name>-<port> naming: one app registered once per port.
    api_tags = [f"internal-listen-http-{ports['api_first']}"]
    api_tags.append(f"internal-listen-http-{ports['api_second']}")
    backend("api-first", f"test-server-{ports['api_first']}", ["production", *api_tags])
    backend("api-second", f"test-server-{ports['api_second']}", ["production", *api_tags])
    backend("api-first-staging", f"test-server-{ports['api_first']}", ["staging", *api_tags])
    tcp_tags = ["production", "staging", f"internal-listen-tcp-{ports['tcp']}"]
    backend("tcp-1", "rawtcp", tcp_tags)
    # External only: no internal-listen tag, routed by Host header.
    backend("shop-production", "shop", ["production"])
    backend("shop-staging", "shop", ["staging"])
    marathon = start_backend("marathon-on-master-1")

    root = tmp_path / "root"
    self_signed_certificate(root / "etc/haproxy/certs/site.pem")
    prepare_runtime_dirs(root)
    pillar = scratch_pillar(
        root,
        role="external",
        loadbalancer={
            "external": {
                "bind_address": "127.0.0.1",
                "http_port": ports["http"],
                "https_port": ports["https"],
            },
            "wellknown_services": {
                "marathon": {"listen_port": ports["marathon"], "port": marathon.port},
                "chronos": None,
                "consul": None,
            },
        },
    )
    template = lay_down_templates(salt_call, pillar, "external")
    return {"ports": ports, "consul": url, "template": template, "dir": tmp_path, "root": root}


def test_rendered_config_routes_by_port_environment_and_host(platform, haproxy_processes):
    ports, directory = platform["ports"], platform["dir"]
    config = directory / "haproxy.cfg"
    render(platform["consul"], platform["template"], config)
    ok, output = haproxy_check(config)
    assert ok, output

    haproxy_processes(config, directory / "haproxy.log", ready=ports["web"])

    assert identities(ports["web"]) == {"web-production-1", "web-production-2"}
    assert identities(int(f"1{ports['web']}")) == {"web-staging-1"}
    assert identities(ports["api_first"]) == {"api-first"}
    assert identities(ports["api_second"]) == {"api-second"}
    assert identities(int(f"1{ports['api_first']}")) == {"api-first-staging"}
    assert tcp_exchange(ports["tcp"]) == "tcp-1"
    assert tcp_exchange(int(f"1{ports['tcp']}")) == "tcp-1"
    for scheme, port in (("http", ports["http"]), ("https", ports["https"])):
        assert identities(port, "shop.test", scheme) == {"shop-production"}
        assert identities(port, "staging-shop.test:443", scheme) == {"shop-staging"}
        assert get(port, "unknown.test", scheme).status_code == 503
    secure = get(ports["https"], "shop.test", "https")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert secure.headers["X-Frame-Options"] == "DENY"
    assert identities(ports["marathon"]) == {"marathon-on-master-1"}


def run_reload_command(command):
    """What consul-template does after each render: run the exec command."""
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_consul_template_command_installs_valid_renders_and_refuses_invalid_ones(
    platform, haproxy_processes, start_backend
):
    """The chain as deployed: HAProxy started like its systemd unit from the
    bootstrap config, ctmpl renders into the candidate, and the command
    Salt wrote into consul-template's exec stanza validates, installs and
    reloads. A service registered later (not in pillar) is routed after the
    next render; a broken candidate is refused and the live config serves on."""
    ports, root = platform["ports"], platform["root"]
    live = root / "etc/haproxy/haproxy.cfg"
    candidate = root / "etc/haproxy/haproxy.cfg.candidate"
    command = consul_template_command(root)
    assert command[command.index("--candidate") + 1] == str(candidate)
    master_socket = root / "run/haproxy/master.sock"
    runtime = ["-p", str(root / "run/haproxy/haproxy.pid"), "-S", f"{master_socket},mode,600"]
    haproxy_processes(
        live, platform["dir"] / "haproxy.log", ready=str(master_socket), arguments=runtime
    )

    render(platform["consul"], platform["template"], candidate)
    installed = run_reload_command(command)
    assert installed.returncode == 0, installed.stderr
    assert live.read_text() == candidate.read_text()
    assert wait_until(lambda: identities(ports["web"]) == {"web-production-1", "web-production-2"})
    with pytest.raises(requests.ConnectionError):
        get(ports["late"])

    late = start_backend("late-production-1")
    tags = ["production", f"internal-listen-http-{ports['late']}"]
    register_service(platform["consul"], "not-in-pillar-7", late.port, tags, service_id="late")
    render(platform["consul"], platform["template"], candidate)
    assert run_reload_command(command).returncode == 0
    assert wait_until(lambda: get(ports["late"]).text == "late-production-1")

    good = live.read_text()
    candidate.write_text(good + "\nfrontend broken\n    bind :notaport\n")
    refused = run_reload_command(command)
    assert refused.returncode != 0
    assert "notaport" in refused.stdout + refused.stderr
    assert live.read_text() == good
    assert identities(ports["late"]) == {"late-production-1"}
    assert identities(ports["web"]) == {"web-production-1", "web-production-2"}


@pytest.fixture
def watching_renderer():
    """watching_renderer(argv, log) -> ctmpl in watch mode, stopped (SIGTERM) at teardown."""
    processes = []

    def factory(argv, log_path):
        with open(log_path, "ab") as log:
            process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        processes.append(process)
        return process

    yield factory
    for process in processes:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def test_watching_renderer_reloads_haproxy_when_a_service_registers(
    platform, haproxy_processes, start_backend, watching_renderer
):
    """consul-template's loop with ctmpl in watch mode: each change of the
    catalog (a new service, an instance turning critical) renders the
    candidate and runs the reload command from config.hcl."""
    ports, root = platform["ports"], platform["root"]
    live = root / "etc/haproxy/haproxy.cfg"
    master_socket = root / "run/haproxy/master.sock"
    runtime = ["-p", str(root / "run/haproxy/haproxy.pid"), "-S", f"{master_socket},mode,600"]
    haproxy_processes(
        live, platform["dir"] / "haproxy.log", ready=str(master_socket), arguments=runtime
    )
    candidate = root / "etc/haproxy/haproxy.cfg.candidate"
    command = shlex.join(consul_template_command(root))
    argv = [ctmpl_binary(), "-consul-addr", platform["consul"], "-wait", "100ms:1s"]
    argv += ["-template", f"{platform['template']}:{candidate}:{command}"]
    renderer = watching_renderer(argv, platform["dir"] / "ctmpl.log")

    assert wait_until(lambda: get(ports["web"]).status_code == 200, timeout=20)
    late = start_backend("late-production-1")
    tags = ["production", f"internal-listen-http-{ports['late']}"]
    register_service(platform["consul"], "registered-later", late.port, tags, service_id="late")

    assert wait_until(lambda: get(ports["late"]).text == "late-production-1", timeout=20), (
        platform["dir"] / "ctmpl.log"
    ).read_text()
    assert "registered-later" in live.read_text()

    set_check_status(platform["consul"], "service:web-production-2", "critical")
    assert wait_until(lambda: identities(ports["web"]) == {"web-production-1"}, timeout=20)
    assert renderer.poll() is None


def test_unhealthy_instances_receive_nothing_even_under_load(platform, haproxy_processes):
    ports, directory = platform["ports"], platform["dir"]
    config = directory / "haproxy.cfg"
    render(platform["consul"], platform["template"], config)
    haproxy_processes(config, directory / "haproxy.log", ready=ports["web"])
    seen = []
    lock = threading.Lock()

    def client():
        for _ in range(25):
            text = get(ports["web"]).text
            with lock:
                seen.append(text)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(seen) == 100
    assert set(seen) == {"web-production-1", "web-production-2"}
