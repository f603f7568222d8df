"""A steady request load through HAProxy, and what each step of the demo
cost it: failed requests and latency percentiles.

Each request opens a new TCP connection (as most clients of an internal
load balancer do), so a reload that refused connections would show here.
Requests are paced, not flat out, so the figures are about the platform,
not about how fast this process can loop.
"""

import http.client
import math
import ssl
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Outcome:
    started: float  # time.monotonic() when the request was sent
    seconds: float
    ok: bool
    detail: str  # "200", "503", or the error's type


@dataclass
class Window:
    """The requests one step of the demo saw."""

    name: str
    outcomes: list = field(default_factory=list)

    @property
    def failed(self):
        return [outcome for outcome in self.outcomes if not outcome.ok]

    def percentile(self, fraction):
        latencies = sorted(outcome.seconds for outcome in self.outcomes)
        if not latencies:
            return math.nan
        index = min(len(latencies) - 1, max(0, math.ceil(fraction * len(latencies)) - 1))
        return latencies[index]

    def summary(self):
        failures = {}
        for outcome in self.failed:
            failures[outcome.detail] = failures.get(outcome.detail, 0) + 1
        return {
            "step": self.name,
            "requests": len(self.outcomes),
            "failed": len(self.failed),
            "failures": failures,
            "p50_ms": self.percentile(0.50) * 1000,
            "p90_ms": self.percentile(0.90) * 1000,
            "p99_ms": self.percentile(0.99) * 1000,
            "max_ms": self.percentile(1.0) * 1000,
        }


def request_once(host, port, path="/", host_header=None, timeout=5.0, tls=False):
    """One GET on a new connection (TLS without verification: the demo's
    certificate is self-signed): (ok, detail, body)."""
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        headers = {"Connection": "close"}
        if host_header:
            headers["Host"] = host_header
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        return response.status == 200, str(response.status), body
    except (OSError, http.client.HTTPException) as error:
        return False, type(error).__name__, b""
    finally:
        connection.close()


class SteadyLoad:
    """``rate`` requests per second to ``host:port`` from a background thread
    until ``stop()``. ``window(name)`` starts collecting into a new window;
    outcomes between windows are kept in ``"between steps"``."""

    def __init__(self, host, port, rate=40.0, path="/", timeout=5.0):
        self.host = host
        self.port = port
        self.interval = 1.0 / rate
        self.path = path
        self.timeout = timeout
        self.windows = []
        self._current = Window("warm-up")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="steady-load")

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=self.timeout + 5)
        return self.close_window()

    def window(self, name):
        """Close the current window and collect into a new one named ``name``."""
        with self._lock:
            closed = self._current
            self._current = Window(name)
            self.windows.append(self._current)
        return closed

    def close_window(self):
        return self.window("between steps")

    def _run(self):
        next_at = time.monotonic()
        while not self._stop.is_set():
            started = time.monotonic()
            ok, detail, _ = request_once(self.host, self.port, self.path, timeout=self.timeout)
            outcome = Outcome(started, time.monotonic() - started, ok, detail)
            with self._lock:
                self._current.outcomes.append(outcome)
            next_at = max(next_at + self.interval, time.monotonic())
            self._stop.wait(max(0.0, next_at - time.monotonic()))
