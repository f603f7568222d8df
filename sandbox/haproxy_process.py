"""A real HAProxy running inside a network namespace, for tests and benchmarks.

    with NetworkNamespace() as namespace:
        proxy = HAProxyInstance(namespace, workdir, method="seamless").start()
        proxy.reload_argv()        # mesos-haproxy-reload arguments that match it
        proxy.stop()

``method`` picks the process model the reload method needs: ``seamless``
runs master-worker (``-W -S master.sock``, foreground child of the caller);
``syn_drop`` and ``plain`` run a daemon (``-D -p pid``) that ``haproxy -sf``
replaces. ``answer_config`` writes a config whose frontends answer requests
themselves (``http-request return``), so no backend is needed; pass
``extra`` to add sections. ``config_text`` may be a callable that gets the
instance's directory (where its sockets live) and returns the config.
"""

import contextlib
import os
import pathlib
import signal
import socket
import subprocess
import time

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
RELOAD_SCRIPT = REPO_ROOT / "_utils" / "haproxy_reload.py"


def global_section(directory, method):
    """The global lines salt/mesos/files/haproxy-global.jinja renders, for ``directory``."""
    lines = [
        "global",
        f"    stats socket {directory}/admin.sock mode 660 level admin expose-fd listeners",
        "    stats timeout 30s",
        "    hard-stop-after 5s",
        f"    server-state-file {directory}/server-state",
        "    httpclient.ssl.verify none",
        "    maxconn 4000",
    ]
    if method == "seamless":
        lines += ["    master-worker", "    mworker-max-reloads 50"]
    return lines


def answer_config(directory, method="seamless", port=8080, body="ok", extra=""):
    """A complete config: one frontend on 127.0.0.1:``port`` answering 200 ``body``."""
    lines = [
        *global_section(directory, method),
        "defaults",
        "    mode http",
        "    load-server-state-from-file global",
        "    timeout connect 2s",
        "    timeout client 10s",
        "    timeout server 10s",
        "frontend answer",
        f"    bind 127.0.0.1:{port}",
        f"    http-request return status 200 content-type text/plain string {body}",
    ]
    return "\n".join(lines) + "\n" + extra


class HAProxyError(RuntimeError):
    """HAProxy did not start or stop; the message carries its output."""


class HAProxyInstance:
    """One HAProxy in ``namespace`` whose files live in ``directory``."""

    def __init__(self, namespace, directory, method="seamless", config_text=None, port=8080):
        self.namespace = namespace
        self.directory = pathlib.Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.method = method
        self.port = port
        self.config = self.directory / "haproxy.cfg"
        self.master_socket = self.directory / "master.sock"
        self.stats_socket = self.directory / "admin.sock"
        self.pid_file = self.directory / "haproxy.pid"
        self.lock_file = self.directory / "reload.lock"
        self.log_file = self.directory / "haproxy.log"
        self.master = None
        if callable(config_text):
            config_text = config_text(self.directory)
        self.config.write_text(config_text or answer_config(self.directory, method, port))

    @property
    def master_worker(self):
        return self.method == "seamless"

    def start(self, timeout=10):
        if self.master_worker:
            argv = ["haproxy", "-W", "-S", str(self.master_socket), "-f", str(self.config)]
            argv += ["-p", str(self.pid_file)]
            with open(self.log_file, "ab") as log:
                self.master = self.namespace.popen(argv, stdout=log, stderr=subprocess.STDOUT)
        else:
            completed = self.namespace.run(
                ["haproxy", "-D", "-p", str(self.pid_file), "-f", str(self.config)]
            )
            if completed.returncode != 0:
                raise HAProxyError(f"haproxy -D failed: {completed.stdout}{completed.stderr}")
        self.wait_until_serving(timeout)
        return self

    def wait_until_serving(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.master is not None and self.master.poll() is not None:
                raise HAProxyError(f"haproxy exited: {self.log_file.read_text()}")
            if self.stats_socket.exists() and self.pid_file.exists():
                with contextlib.suppress(OSError):
                    if "Pid:" in self.runtime("show info") and self.master_ready():
                        return
            time.sleep(0.02)
        raise HAProxyError(f"haproxy not serving after {timeout}s")

    def master_ready(self):
        """True for a daemon; for master-worker, once the master CLI lists a worker."""
        if not self.master_worker:
            return True
        return "# workers\n" in self.master_cli("show proc")

    def runtime(self, command):
        """Raw runtime-API answer from the stats socket (unix sockets ignore namespaces)."""
        return unix_socket_command(self.stats_socket, command)

    def master_cli(self, command):
        return unix_socket_command(self.master_socket, command)

    def daemon_pids(self):
        """PIDs of every HAProxy process in the namespace (old ones finishing included)."""
        pids = []
        for pid in self.namespace.pids():
            with contextlib.suppress(OSError):
                if pathlib.Path(f"/proc/{pid}/comm").read_text().strip() == "haproxy":
                    pids.append(pid)
        return pids

    def reload_argv(self, candidate=None, method=None, timeout=20, extra=()):
        """Reload script arguments for this instance (run them inside the namespace)."""
        argv = ["--config", str(self.config), "--method", method or self.method]
        argv += ["--master-socket", str(self.master_socket), "--pid-file", str(self.pid_file)]
        argv += ["--lock-file", str(self.lock_file), "--timeout", str(timeout)]
        if candidate:
            argv += ["--candidate", str(candidate)]
        return [*argv, *extra]

    def stop(self, timeout=10):
        """Stop every HAProxy process of this instance, also after a failed test."""
        if self.master is not None and self.master.poll() is None:
            self.master.terminate()
            try:
                self.master.wait(timeout)
            except subprocess.TimeoutExpired:
                self.master.kill()
                self.master.wait(timeout)
        deadline = time.monotonic() + timeout
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in self.daemon_pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            while self.daemon_pids() and time.monotonic() < deadline:
                time.sleep(0.02)
            if not self.daemon_pids():
                return
            deadline = time.monotonic() + timeout


def unix_socket_command(path, command, timeout=5):
    """Send one command to an HAProxy unix socket; return the whole answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(timeout)
        connection.connect(str(path))
        connection.sendall(command.encode() + b"\n")
        connection.shutdown(socket.SHUT_WR)
        chunks = []
        for _ in range(10000):
            chunk = connection.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def wait_for_stats_socket(path, timeout=10):
    """Wait until an HAProxy answers ``show info`` on its stats socket ``path``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if "Pid:" in unix_socket_command(path, "show info"):
                return
        time.sleep(0.02)
    raise HAProxyError(f"HAProxy never answered on {path}")
