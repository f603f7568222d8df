#!/usr/bin/env python3
"""The reference test-server: a service that shows its environment.

Python's standard library only, so it runs in any image with python3 and on
any host. ``GET /`` lists the environment as text, ``GET /env`` as JSON,
``GET /healthcheck`` answers 200 ``ok``.

Graceful stop: after SIGTERM or SIGINT it keeps serving but answers
``/healthcheck`` with 503, so load balancers and Marathon take it out of
rotation; it exits with status 0 once no request has been in flight for
``--drain-quiet`` seconds, and at the latest after ``--drain-timeout``
seconds (keep that below the platform's SIGKILL deadline: Marathon's
taskKillGracePeriodSeconds, the agent's docker_stop_timeout).

    test-server.py [--port N] [--host ADDRESS] [--drain-quiet S] [--drain-timeout S]

The port defaults to $PORT0 (Marathon's first host port), then 3000.
"""

import argparse
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Traffic:
    """Requests in flight and when the last one ended, for draining."""

    def __init__(self):
        self._lock = threading.Lock()
        self.in_flight = 0
        self.last_activity = time.monotonic()
        self.stopping = threading.Event()

    def begin(self):
        with self._lock:
            self.in_flight += 1
            self.last_activity = time.monotonic()

    def end(self):
        with self._lock:
            self.in_flight -= 1
            self.last_activity = time.monotonic()

    def quiet_for(self):
        """Seconds without a request in flight (0 while one is)."""
        with self._lock:
            if self.in_flight:
                return 0.0
            return time.monotonic() - self.last_activity


class Handler(BaseHTTPRequestHandler):
    server_version = "test-server/1"
    traffic = None  # set by make_server

    def do_GET(self):
        self.traffic.begin()
        try:
            status, content_type, body = self.answer()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        finally:
            self.traffic.end()

    def answer(self):
        path = self.path.split("?", 1)[0]
        if path == "/healthcheck":
            if self.traffic.stopping.is_set():
                return 503, "text/plain; charset=utf-8", b"draining\n"
            return 200, "text/plain; charset=utf-8", b"ok\n"
        if path == "/env":
            return 200, "application/json", json.dumps(dict(os.environ), sort_keys=True).encode()
        if path == "/":
            lines = "".join(f"{name}={value!r}\n" for name, value in sorted(os.environ.items()))
            return 200, "text/plain; charset=utf-8", lines.encode()
        return 404, "text/plain; charset=utf-8", b"not found\n"

    def log_message(self, format, *args):
        sys.stderr.write(f"test-server: {self.address_string()} {format % args}\n")


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description="Shows its environment; drains on SIGTERM.")
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("PORT0") or 3000), help="port"
    )
    parser.add_argument("--drain-quiet", type=float, default=5.0, metavar="SECONDS")
    parser.add_argument("--drain-timeout", type=float, default=20.0, metavar="SECONDS")
    return parser.parse_args(argv)


def make_server(host, port, traffic):
    handler = type("BoundHandler", (Handler,), {"traffic": traffic})
    return ThreadingHTTPServer((host, port), handler)


def drain(traffic, quiet, timeout):
    """Wait until quiet for ``quiet`` seconds, or ``timeout`` has passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and traffic.quiet_for() < quiet:
        time.sleep(0.1)


def main(argv=None):
    options = parse_arguments(argv)
    traffic = Traffic()
    server = make_server(options.host, options.port, traffic)
    server.daemon_threads = True

    def on_stop_signal(signum, frame):
        if not traffic.stopping.is_set():
            sys.stderr.write(f"test-server: {signal.Signals(signum).name}: draining\n")
            traffic.stopping.set()

    signal.signal(signal.SIGTERM, on_stop_signal)
    signal.signal(signal.SIGINT, on_stop_signal)
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2})
    serving.start()
    sys.stderr.write(f"test-server: listening on {options.host}:{options.port}\n")
    # Short waits: the signal handler runs in this thread between them.
    while not traffic.stopping.wait(0.2):
        pass
    drain(traffic, options.drain_quiet, options.drain_timeout)
    server.shutdown()
    server.server_close()
    sys.stderr.write("test-server: drained, exiting\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
