"""The HTTP plumbing every stand-in shares: a threaded server that runs in
the foreground (``python -m sandbox ...``) or in a background thread (tests).
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


class StandInServer(ThreadingHTTPServer):
    """A threaded HTTP server bound to one address; ``url`` is its base URL."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler_class, host="127.0.0.1", port=0):
        super().__init__((host, port), handler_class)
        self._thread = None

    @property
    def url(self):
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self):
        return self.server_address[1]

    def start_in_thread(self):
        """Serve from a daemon thread; returns self so tests can chain it."""
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self):
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self):
        return self.start_in_thread()

    def __exit__(self, *exc_info):
        self.stop()


class JSONRequestHandler(BaseHTTPRequestHandler):
    """Request parsing and response writing shared by the stand-ins.

    Subclasses implement ``dispatch``, which every method reaches; ``self.path_only`` and
    ``self.query`` (a dict of the last value per name, presence counts) are
    parsed before dispatch.
    """

    protocol_version = "HTTP/1.1"
    # Headers and body leave in one buffered write without Nagle: written
    # apart, the client's delayed ACK costs ~40 ms per keep-alive request.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    # Quiet by default: tests start many servers.
    log_requests = False

    # Every method goes to one router, ``dispatch``, which subclasses define.
    def do_GET(self):
        self.dispatch()

    do_PUT = do_POST = do_DELETE = do_PATCH = do_GET  # noqa: N815 - the stdlib's names

    def dispatch(self):
        raise NotImplementedError

    def parse_request(self):
        ok = super().parse_request()
        if ok:
            parts = urlsplit(self.path)
            self.path_only = parts.path
            self.query_pairs = parse_qsl(parts.query, keep_blank_values=True)
            self.query = dict(self.query_pairs)
        return ok

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_body(self, status, body=b"", content_type="application/json", headers=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, str(value))
        if body or status not in (204, 304):
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status, payload, headers=None):
        self.send_body(status, json.dumps(payload), headers=headers)

    def log_message(self, format, *args):
        if self.log_requests:
            super().log_message(format, *args)
