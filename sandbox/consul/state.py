"""Shared state of the Consul stand-in: the raft-like index, the KV store,
the catalog, blocking reads, and the agent's check runner.

One condition variable guards everything. Every write takes the next raft
index and wakes all blocked readers; each reader re-runs its query and
returns as soon as the query's own index passed the one it waits on.
"""

import socket
import threading
import time
import urllib.error
import urllib.request

from .catalog import Catalog
from .kv import KVStore

TICK_SECONDS = 0.05


class ConsulState:
    def __init__(self, node="consul-sandbox", address="127.0.0.1"):
        self.condition = threading.Condition()
        self.raft_index = 1
        self.kv = KVStore()
        self.catalog = Catalog(node, address, self.raft_index, time.monotonic())
        self.closed = False
        self._runner = None

    def write(self, apply):
        """Run ``apply(index)`` as one raft entry; an exception commits nothing."""
        with self.condition:
            index = self.raft_index + 1
            result = apply(index)
            self.raft_index = index
            self.condition.notify_all()
            return result

    def read(self, query, min_index=0, wait=0.0):
        """Run ``query()`` -> (index, result); with min_index, block until the
        index passes it or ``wait`` seconds are over (then answer unchanged)."""
        deadline = time.monotonic() + wait
        with self.condition:
            while True:
                index, result = query()
                index = max(index, 1)
                if min_index == 0 or index > min_index or self.closed:
                    return index, result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return index, result
                self.condition.wait(remaining)

    # The agent's check runner ------------------------------------------------

    def start(self):
        self._runner = threading.Thread(target=self._run_checks, daemon=True)
        self._runner.start()

    def close(self):
        with self.condition:
            self.closed = True
            self.condition.notify_all()
        if self._runner is not None:
            self._runner.join(timeout=5)

    def _run_checks(self):
        while True:
            with self.condition:
                if self.closed:
                    return
                now = time.monotonic()
                due = [c for c in self.catalog.checks.values() if c.kind and c.due <= now]
                for check in due:
                    self._start_due_check(check, now)
                self.condition.wait(TICK_SECONDS)

    def _start_due_check(self, check, now):
        if check.kind == "ttl":
            check.due = now + check.ttl
            self._set_status(check.id, "critical", "TTL expired", now)
            return
        check.due = now + check.interval
        probe = self._probe_http if check.kind == "http" else self._probe_tcp
        args = (check.id, check.target, check.timeout)
        threading.Thread(target=probe, args=args, daemon=True).start()

    def _set_status(self, check_id, status, output, now):
        def apply(index):
            self.catalog.set_check_status(check_id, status, output, index, now, require_ttl=False)

        if check_id in self.catalog.checks:
            self.write(apply)

    def _report(self, check_id, status, output):
        with self.condition:
            self._set_status(check_id, status, output, time.monotonic())

    def _probe_http(self, check_id, url, timeout):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                code = response.status
        except urllib.error.HTTPError as error:
            code = error.code
        except (OSError, ValueError) as error:
            self._report(check_id, "critical", f"Get {url!r}: {error}")
            return
        status = "passing" if 200 <= code < 300 else "warning" if code == 429 else "critical"
        self._report(check_id, status, f"HTTP GET {url}: {code}")

    def _probe_tcp(self, check_id, target, timeout):
        host, _, port = target.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
                pass
        except (OSError, ValueError) as error:
            self._report(check_id, "critical", f"TCP connect {target}: {error}")
            return
        self._report(check_id, "passing", f"TCP connect {target}: Success")
