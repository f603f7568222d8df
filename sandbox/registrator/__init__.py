"""Registrator: follows Marathon's event stream and registers ready tasks in Consul.

``python -m sandbox registrator --marathon URL --consul URL
[--resync-interval S] [--token T]`` runs it in the foreground; tests and
the demo use ``Registrator(...).start()``. Naming follows
marathon-registrator (see ``conventions`` and docs/api-notes.md).
"""

import contextlib
import logging
import signal
import sys

from .registrator import Registrator

__all__ = ["Registrator", "add_arguments", "serve"]


def add_arguments(parser):
    parser.add_argument("--marathon", default="http://127.0.0.1:8080", help="Marathon base URL")
    parser.add_argument("--consul", default="http://127.0.0.1:8500", help="Consul base URL")
    parser.add_argument("--token", default=None, help="Consul ACL token")
    parser.add_argument(
        "--resync-interval",
        type=float,
        default=30.0,
        help="seconds between full resyncs from GET /v2/apps (default 30)",
    )


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def serve(args):
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger = logging.getLogger("sandbox.registrator")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    signal.signal(signal.SIGTERM, _interrupt)
    registrator = Registrator(args.marathon, args.consul, args.token, args.resync_interval)
    print(f"registrator: {args.marathon} -> {args.consul}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        registrator.run()
    return 0
