"""Chronos stand-in: the ``/scheduler`` REST API of Chronos 2.x (and 3.x's
``/v1`` prefix) with scheduled and dependent jobs that run.

``python -m sandbox chronos --port N [--run-commands]`` serves it in the
foreground; tests start ``ChronosServer(clock=...)`` in a thread and drive
time themselves with ``run_due()``. Behaviour follows
shared/docs/api-notes.md: 204 on writes, 400 for a bad schedule, an unknown
job or a missing parent, every field with Chronos' defaults on GET, and a
schedule that moves forward (start in milliseconds, repeat count down) as
the job runs. A job whose count reaches zero is disabled, as Chronos does.
"""

import datetime
import signal
import threading

from sandbox.httpserver import StandInServer

from .handler import ChronosHandler
from .jobs import JobStore

__all__ = ["ChronosServer", "add_arguments", "serve"]


def utc_now():
    return datetime.datetime.now(datetime.UTC)


class ChronosServer(StandInServer):
    """The stand-in plus test controls: ``requests``, ``writes``, ``run_due``, ``runs``.

    ``tick`` seconds between scheduler passes on the real clock; ``tick=None``
    (tests) leaves passes to ``run_due(now)``.
    """

    def __init__(self, host="127.0.0.1", port=0, clock=utc_now, tick=None, run_commands=False):
        super().__init__(ChronosHandler, host, port)
        self.store = JobStore(clock, run_commands=run_commands)
        self.tick_interval = tick
        self._requests = []
        self._requests_lock = threading.Lock()
        self._stop_ticking = threading.Event()
        self._ticker = None

    def serve_forever(self, poll_interval=0.5):
        if self.tick_interval and self._ticker is None:
            self._ticker = threading.Thread(target=self._tick_loop, daemon=True)
            self._ticker.start()
        super().serve_forever(poll_interval)

    def _tick_loop(self):
        while not self._stop_ticking.wait(self.tick_interval):
            self.store.run_due()

    def stop(self):
        self._stop_ticking.set()
        super().stop()

    # -- test controls ----------------------------------------------------

    def record_request(self, method, path):
        with self._requests_lock:
            self._requests.append((method, path))

    @property
    def requests(self):
        with self._requests_lock:
            return list(self._requests)

    @property
    def writes(self):
        """Requests that change jobs (POST, DELETE); PUT only runs a job."""
        return [request for request in self.requests if request[0] in ("POST", "DELETE")]

    def clear_requests(self):
        with self._requests_lock:
            self._requests.clear()

    def run_due(self, now=None):
        self.store.run_due(now)

    @property
    def runs(self):
        with self.store.lock:
            return list(self.store.runs)


def add_arguments(parser):
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=4400, help="port (0: any free; default 4400)")
    parser.add_argument(
        "--tick", type=float, default=1.0, help="seconds between scheduler passes (default 1)"
    )
    parser.add_argument(
        "--run-commands",
        action="store_true",
        help="run each job's command here (shell), instead of simulating success",
    )


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def serve(args):
    server = ChronosServer(
        host=args.host, port=args.port, tick=args.tick, run_commands=args.run_commands
    )
    signal.signal(signal.SIGTERM, _interrupt)
    print(f"chronos stand-in listening on {server.url}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server._stop_ticking.set()
        server.server_close()
    return 0
