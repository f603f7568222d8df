"""Network namespaces for tests and benchmarks that need real iptables and ports.

Everything that listens, drops packets or rewrites iptables runs inside a
namespace created here, so the host's network and firewall are never touched
and parallel runs cannot collide on ports.

    with NetworkNamespace() as namespace:            # created with lo up
        namespace.run(["iptables", "-S"])            # subprocess.run inside it
        process = namespace.popen(["haproxy", ...])  # subprocess.Popen inside it
        namespace.enter_current_thread()             # this thread's sockets live there
    # on exit every process left in the namespace is killed and it is deleted

Needs root. Names start with ``mesos-test-`` so a leftover is easy to spot
(``ip netns list``).
"""

import contextlib
import ctypes
import os
import secrets
import signal
import subprocess
import threading
import time

CLONE_NEWNET = 0x40000000
NAME_PREFIX = "mesos-test-"


class NamespaceError(RuntimeError):
    """Creating, entering or deleting a namespace failed; the message has ip's output."""


def ip(*arguments, timeout=10):
    completed = subprocess.run(
        ["ip", *arguments], capture_output=True, text=True, timeout=timeout, check=False
    )
    if completed.returncode != 0:
        raise NamespaceError(f"ip {' '.join(arguments)}: {completed.stderr.strip()}")
    return completed.stdout


class NetworkNamespace:
    """One network namespace with loopback up; a context manager that always deletes it."""

    def __init__(self, name=None):
        self.name = name or f"{NAME_PREFIX}{os.getpid()}-{secrets.token_hex(3)}"
        self.created = False

    def create(self):
        ip("netns", "add", self.name)
        self.created = True
        try:
            ip("-n", self.name, "link", "set", "lo", "up")
        except BaseException:
            self.delete()
            raise
        return self

    def command(self, argv):
        """``argv`` prefixed so it runs inside the namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, argv, timeout=60, **kwargs):
        """subprocess.run inside the namespace (text output captured unless overridden)."""
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        return subprocess.run(self.command(argv), timeout=timeout, check=False, **kwargs)

    def popen(self, argv, **kwargs):
        return subprocess.Popen(self.command(argv), **kwargs)

    def pids(self):
        """PIDs of every process whose network namespace is this one."""
        if not self.created:
            return []
        return [int(word) for word in ip("netns", "pids", self.name).split()]

    def enter_current_thread(self):
        """Move the calling thread into the namespace (setns applies per thread)."""
        libc = ctypes.CDLL(None, use_errno=True)
        descriptor = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        try:
            if libc.setns(descriptor, CLONE_NEWNET) != 0:
                error = ctypes.get_errno()
                raise NamespaceError(f"setns({self.name}): {os.strerror(error)}")
        finally:
            os.close(descriptor)

    def thread(self, target, *args, **kwargs):
        """A daemon thread that enters the namespace, then runs ``target``."""

        def run_inside():
            self.enter_current_thread()
            target(*args, **kwargs)

        return threading.Thread(target=run_inside, daemon=True)

    def kill_all(self, timeout=5):
        """SIGTERM, then SIGKILL, every process still in the namespace."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = self.pids()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + timeout
            while self.pids() and time.monotonic() < deadline:
                time.sleep(0.02)
            if not self.pids():
                return

    def delete(self):
        if not self.created:
            return
        try:
            self.kill_all()
        finally:
            ip("netns", "delete", self.name)
            self.created = False

    def __enter__(self):
        return self.create()

    def __exit__(self, *exc_info):
        self.delete()
