"""Helpers for the app runtime tests: the real scripts from salt/mesos/files
run as real processes (under dash, the strictest POSIX sh here), a Consul
stand-in in its own process that a test can freeze, and a TCP cable that
can be cut to take Consul off the network while it keeps its data."""

import contextlib
import itertools
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading

from tests.fixtures.marathon import poll_until

FILES = pathlib.Path(__file__).resolve().parent.parent / "salt" / "mesos" / "files"
SERVICE_WRAPPER = FILES / "service-wrapper.sh"
ENTRYPOINT = FILES / "entrypoint.sh"
TEST_SERVER = FILES / "test-server.py"
DASH = shutil.which("dash") or "/bin/sh"

# Short waits and pauses so tests see changes and recoveries quickly.
FAST_WRAPPER = {
    "SERVICE_WRAPPER_WAIT": "2",
    "SERVICE_WRAPPER_MIN_INTERVAL": "0",
    "SERVICE_WRAPPER_MAX_BACKOFF": "1",
    "SERVICE_WRAPPER_START_TIMEOUT": "5",
}


def wrapper_command(marathon, consul, prefix, *command):
    """argv that runs service-wrapper.sh under dash; addresses are host:port."""
    return [DASH, str(SERVICE_WRAPPER), marathon, consul, prefix, *command]


def reference_server_command(drain_quiet, drain_timeout, port=None):
    """argv of the reference test-server on loopback (port: $PORT0 when None)."""
    argv = [sys.executable, str(TEST_SERVER), "--host", "127.0.0.1"]
    if port is not None:
        argv += ["--port", str(port)]
    return [*argv, "--drain-quiet", str(drain_quiet), "--drain-timeout", str(drain_timeout)]


def host_port(url):
    return url.split("://", 1)[1]


class WrappedProcess:
    """service-wrapper.sh in its own session; stderr kept in a file."""

    _numbers = itertools.count()

    def __init__(self, argv, directory, env=None):
        self.stderr_path = pathlib.Path(directory) / f"wrapper-{next(self._numbers)}.err"
        # TMPDIR: scratch files of a killed watcher stay in the test's directory.
        environment = {**os.environ, **FAST_WRAPPER, "TMPDIR": str(directory), **(env or {})}
        with open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                argv,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                start_new_session=True,
            )
        self.pid = self.process.pid

    @property
    def stderr(self):
        return self.stderr_path.read_text(errors="replace")

    def wait(self, timeout=30):
        return self.process.wait(timeout=timeout)

    def stop(self):
        """Kill the whole session: the app and the watcher."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        if self.process.stdout:
            self.process.stdout.close()


class ConsulProcess:
    """``python -m sandbox consul`` as its own process (SIGSTOP stalls it)."""

    def __init__(self):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "consul", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if not match:
            self.stop()
            raise RuntimeError(f"the Consul stand-in did not start: {line!r}")
        self.port = int(match.group(1))
        self.url = f"http://127.0.0.1:{self.port}"

    def freeze(self):
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self):
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self):
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGCONT)
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process.stdout.close()


class Cable:
    """A TCP relay from a loopback port to ``upstream_port``; ``cut()`` closes
    the port and every connection (clients get "connection refused"),
    ``splice()`` listens again on the same port."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self._lock = threading.Lock()
        self._sockets = set()
        self._listener = None
        self.port = 0
        self.splice()

    def splice(self):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self):
        with self._lock:
            doomed = [self._listener, *self._sockets]
            self._sockets.clear()
        for sock in doomed:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source, target):
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)


def wait_for_text(process, text, timeout=30, count=1):
    """Until ``text`` shows ``count`` times in the wrapper's stderr."""
    poll_until(
        lambda: process.stderr.count(text) >= count,
        timeout=timeout,
        interval=0.1,
        message=f"{text!r} x{count} in the wrapper's stderr",
    )
