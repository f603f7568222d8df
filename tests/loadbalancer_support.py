"""Shared by the load balancer template tests and bench/bench_templates.py.

The real chain, step by step: Salt lays the consul-template sources down
(``mesos.loadbalancer`` applied into a scratch root), ``tools/bin/ctmpl``
renders them against a Consul stand-in, ``haproxy -c`` checks the result and
a real HAProxy serves it. Nothing here imports the code under test.
"""

import contextlib
import json
import pathlib
import random
import re
import socket
import subprocess
import time

from tests.certificates import self_signed_pem

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
CTMPL = REPO_ROOT / "tools" / "bin" / "ctmpl"

# Two apps in pillar: one with an HTTP health check and external host, one
# with its own check timing. Services not listed here get the defaults.
SAMPLE_APPS = {
    "test-server": {
        "haproxy": {
            "health_check": "/healthcheck",
            "check": {"inter": "2s", "fall": 2, "rise": 1},
            "external_host": "mesos-test.domain.com",
        },
        "environments": {"production": {"instances": 2}, "staging": {"instances": 1}},
    },
    "shop": {
        "haproxy": {"check": {"inter": "3s", "fall": 4, "rise": 2}, "external_host": "shop.test"},
        "environments": {"production": {"instances": 1}},
    },
}


class ChainError(AssertionError):
    """A step of the chain failed; the message carries the tool's own output."""


def scratch_pillar(root, role="internal", apps=None, loadbalancer=None, **mesos):
    """Pillar that applies the load balancer into ``root`` without packages or services."""
    # Loopback only: test hosts have no Docker bridge to bind.
    settings = {
        "role": role,
        "chroot": None,
        "bind_addresses": ["127.0.0.1"],
        **(loadbalancer or {}),
    }
    return {
        "mesos": {
            "root": str(root),
            "manage_packages": False,
            "manage_services": False,
            "master_nodes": {"master-1": "127.0.0.1"},
            "apps": SAMPLE_APPS if apps is None else apps,
            # HAProxy runs as the test's user, so no user/group switch.
            "haproxy": {"user": None, "group": None},
            "loadbalancer": settings,
            **mesos,
        },
        "consul": {"url": "http://127.0.0.1:8500"},
    }


def template_path(root, role):
    return pathlib.Path(root) / f"etc/consul-template/templates/haproxy-{role}.ctmpl"


def state_results(salt_call_result):
    """The state results of a ``salt-call --out=json state.apply``, or ChainError."""
    data = salt_call_result.data
    if not isinstance(data, dict):
        raise ChainError(f"state.apply failed: {data}\n{salt_call_result.stderr}")
    return data


def lay_down_templates(salt_call_local, pillar, role):
    """Apply mesos.loadbalancer with ``pillar``; return the .ctmpl path."""
    salt_call_local.set_pillar(pillar)
    result = salt_call_local.run("state.apply", "mesos.loadbalancer")
    failed = [
        f"{key}: {value.get('comment')}"
        for key, value in state_results(result).items()
        if value.get("result") is not True
    ]
    if result.returncode != 0 or failed:
        raise ChainError(f"mesos.loadbalancer failed: {failed or result}")
    return template_path(pillar["mesos"]["root"], role)


def consul_template_command(root):
    """The reload command Salt wrote into consul-template's exec stanza (a list)."""
    hcl = (pathlib.Path(root) / "etc/consul-template/config.hcl").read_text()
    return json.loads(re.search(r"^\s*command = (\[.*\])$", hcl, re.M).group(1))


def ctmpl_binary():
    if not CTMPL.exists():
        raise ChainError(f"{CTMPL} is missing: run `make tools`")
    return str(CTMPL)


def render(consul_url, source, destination, timeout=60):
    """``ctmpl -once``: render ``source`` into ``destination``; return the text."""
    argv = [ctmpl_binary(), "-consul-addr", consul_url, "-template", f"{source}:{destination}"]
    completed = subprocess.run(
        [*argv, "-once"], capture_output=True, text=True, timeout=timeout, check=False
    )
    if completed.returncode != 0:
        raise ChainError(f"ctmpl failed ({completed.returncode}): {completed.stderr}")
    return pathlib.Path(destination).read_text()


def haproxy_check(config_path, timeout=60):
    """``haproxy -c``: (ok, HAProxy's output)."""
    completed = subprocess.run(
        ["haproxy", "-c", "-f", str(config_path)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return completed.returncode == 0, completed.stdout + completed.stderr


def sections(config_text):
    """{"frontend name": [lines...], ...} of a rendered HAProxy config."""
    result = {}
    current = None
    for line in config_text.splitlines():
        header = re.match(r"^(global|defaults|frontend|backend|listen)\b\s*(\S*)", line)
        if header:
            current = f"{header.group(1)} {header.group(2)}".strip()
            result[current] = []
        elif current and line.strip() and not line.lstrip().startswith("#"):
            result[current].append(line.strip())
    return result


def bound_ports(config_text):
    """Every port a ``bind`` line listens on, in order (duplicates kept)."""
    return [int(port) for port in re.findall(r"^\s*bind \S*:(\d+)", config_text, re.M)]


def backend_targets(config_text):
    """Backend names that frontends route to (default_backend / use_backend)."""
    return re.findall(r"^\s*(?:default_backend|use_backend) (\S+)", config_text, re.M)


def port_is_free(port, host="127.0.0.1"):
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def free_production_port(low=1024, high=5535, attempts=500):
    """A port p <= 5535 where p and 1p (its staging port) are both free."""
    generator = random.Random()
    for _ in range(attempts):
        port = generator.randint(low, high)
        if port_is_free(port) and port_is_free(int(f"1{port}")):
            return port
    raise ChainError(f"no free production/staging port pair in {low}-{high}")


def self_signed_certificate(path):
    """A PEM with a self-signed certificate and its key, for the HTTPS frontend."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    certificate_pem, key_pem = self_signed_pem(common_name="mesos-test.domain.com")
    path.write_bytes(certificate_pem + key_pem)
    return path


def prepare_runtime_dirs(root):
    """Directories the rendered global section points into (sockets, state file)."""
    for directory in ("run/haproxy", "var/lib/haproxy"):
        (pathlib.Path(root) / directory).mkdir(parents=True, exist_ok=True)


def is_ready(ready):
    if isinstance(ready, int):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", ready), 0.5):
            return True
        return False
    return pathlib.Path(ready).exists()


class HAProxyProcess:
    """A real HAProxy (master-worker, foreground) serving one config file."""

    def __init__(self, config_path, log_path, extra_arguments=()):
        self.config_path = pathlib.Path(config_path)
        self.log_path = pathlib.Path(log_path)
        self.extra_arguments = list(extra_arguments)
        self.process = None

    def start(self, ready, timeout=10):
        """Start; ``ready`` is a port that must accept or a path that must exist."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                ["haproxy", "-W", "-db", "-f", str(self.config_path), *self.extra_arguments],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ChainError(f"haproxy exited: {self.log_path.read_text()}")
            if is_ready(ready):
                return self
            time.sleep(0.02)
        raise ChainError(f"haproxy not ready ({ready}) after {timeout}s")

    def stop(self, timeout=10):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)
