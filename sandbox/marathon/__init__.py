"""Marathon stand-in: the /v2 REST API of Marathon 1.5+ with deployments
that progress over time, on simulated tasks or real local processes.

``python -m sandbox marathon --port N [--username U --password P]
[--real-processes]`` serves it in the foreground; tests use
``MarathonServer(...).start_in_thread()`` (see tests/fixtures/marathon.py).
"""

import logging
import signal
import sys
import threading

from sandbox.httpserver import StandInServer

from . import appdef, clock
from .handlers import MarathonHandler
from .runners import TaskBehaviour
from .scheduler import Scheduler

__all__ = ["MarathonServer", "add_arguments", "serve"]

log = logging.getLogger(__name__)


class MarathonServer(StandInServer):
    """The stand-in plus the controls tests use: ``set_task_behaviour``,
    ``requests``/``clear_requests`` and ``wait_for_deployments``."""

    def __init__(
        self,
        host="127.0.0.1",
        port=0,
        username=None,
        password=None,
        real_processes=False,
        tick=0.05,
    ):
        super().__init__(MarathonHandler, host, port)
        self.scheduler = Scheduler(real_processes=real_processes)
        self.credentials = None
        if username is not None or password is not None:
            self.credentials = f"{username or ''}:{password or ''}".encode()
        self.tick_interval = tick
        self._requests = []
        self._requests_lock = threading.Lock()
        self._unavailable_for = 0  # requests still to answer 503 (no leader)
        self._ticker_stop = threading.Event()
        self._ticker = None
        # Set when the server stops, so event streams end too.
        self.closing = threading.Event()

    # -- life cycle ---------------------------------------------------------

    def serve_forever(self, poll_interval=0.5):
        self._start_ticker()
        super().serve_forever(poll_interval)

    def _start_ticker(self):
        if self._ticker is None:
            self._ticker = threading.Thread(target=self._tick_loop, daemon=True)
            self._ticker.start()

    def _tick_loop(self):
        while not self._ticker_stop.wait(self.tick_interval):
            try:
                with self.scheduler.lock:
                    self.scheduler.tick()
            except Exception:
                # One bad step must not freeze every deployment for good.
                log.exception("marathon stand-in: scheduler step failed")

    def stop(self):
        """Stop serving, then the ticker, then every task process."""
        self.closing.set()
        try:
            super().stop()
        finally:
            self.stop_ticker_and_tasks()

    def stop_ticker_and_tasks(self):
        self.closing.set()
        self._ticker_stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
        with self.scheduler.lock:
            self.scheduler.shutdown()

    # -- test controls --------------------------------------------------------

    def record_request(self, method, path_with_query):
        with self._requests_lock:
            self._requests.append((method, path_with_query))

    @property
    def requests(self):
        """Every ``(method, path_with_query)`` received so far, oldest first."""
        with self._requests_lock:
            return list(self._requests)

    def clear_requests(self):
        with self._requests_lock:
            self._requests.clear()

    def make_unavailable(self, requests=1):
        """Answer the next ``requests`` requests with 503, as Marathon does
        while it has no elected leader (for fail-over tests)."""
        with self._requests_lock:
            self._unavailable_for = requests

    def take_unavailable_turn(self):
        """True if this request is one that must answer 503."""
        with self._requests_lock:
            if self._unavailable_for <= 0:
                return False
            self._unavailable_for -= 1
            return True

    def set_task_behaviour(self, app_id=None, *, start_delay=0.0, healthy=True, kill_delay=0.0):
        """How tasks of ``app_id`` (every app when None) behave from now on:
        ``start_delay`` seconds staged before running; ``healthy`` a bool or
        a callable given the task's app definition (with its ``version``);
        ``kill_delay`` seconds a simulated task stays TASK_KILLING. Real
        processes take the start delay but get their health from real checks
        and die when they die."""
        key = appdef.canonical_id(app_id) if app_id is not None else None
        with self.scheduler.lock:
            self.scheduler.behaviours[key] = TaskBehaviour(start_delay, healthy, kill_delay)

    def wait_for_deployments(self, timeout=10.0):
        """Block until no deployment runs; AssertionError naming them if not."""
        deadline = clock.now() + timeout
        while True:
            with self.scheduler.lock:
                running = [d.as_json() for d in self.scheduler.deployments.values()]
            if not running or clock.now() >= deadline:
                break
            self._ticker_stop.wait(min(self.tick_interval, 0.05))
        if running:
            raise AssertionError(f"deployments still running after {timeout}s: {running}")


def add_arguments(parser):
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (0: any free)")
    parser.add_argument("--username", help="demand HTTP basic auth with this user")
    parser.add_argument("--password", help="password for --username")
    parser.add_argument(
        "--real-processes",
        action="store_true",
        help="run each task's cmd/args as a local process with real health checks",
    )
    parser.add_argument(
        "--tick", type=float, default=0.1, help="seconds between scheduler steps (default 0.1)"
    )


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def serve(args):
    server = MarathonServer(
        host=args.host,
        port=args.port,
        username=args.username,
        password=args.password,
        real_processes=args.real_processes,
        tick=args.tick,
    )
    # SIGTERM ends the foreground server the way Ctrl-C does, tasks included.
    signal.signal(signal.SIGTERM, _interrupt)
    # In the foreground, task life cycles go to stderr (tests keep them quiet).
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    print(f"marathon stand-in listening on {server.url}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.stop_ticker_and_tasks()
    return 0
