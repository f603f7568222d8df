"""HTTP front of the Marathon stand-in: routing, basic auth, JSON bodies.

Routes map to functions of ``api``; every call runs under the scheduler's
lock so a request sees one consistent state.
"""

import base64
import binascii
import hmac
import json
import logging
import queue
import re
from urllib.parse import unquote

from sandbox.httpserver import JSONRequestHandler

from . import api, appdef, tasks_api
from .scheduler import FIRST_SERVICE_PORT, LAST_SERVICE_PORT

log = logging.getLogger(__name__)

APP_SUFFIXES = [
    (re.compile(r"^(?P<id>/.+)/versions/(?P<version>[^/]+)$"), "version"),
    (re.compile(r"^(?P<id>/.+)/versions/?$"), "versions"),
    (re.compile(r"^(?P<id>/.+)/restart/?$"), "restart"),
    (re.compile(r"^(?P<id>/.+)/tasks/(?P<task>[^/]+)$"), "task"),
    (re.compile(r"^(?P<id>/.+)/tasks/?$"), "tasks"),
    (re.compile(r"^(?P<id>/.+)$"), "app"),
]
MARATHON_VERSION = "1.5.2"


def match_app_path(rest):
    """``/a/b/versions/v`` -> ("version", match with id and version), etc."""
    for pattern, kind in APP_SUFFIXES:
        match = pattern.match(rest)
        if match:
            return kind, match
    raise api.ApiError(404, {"message": f"App '{rest}' does not exist"})


def flag(query, name, default=False):
    """Marathon's boolean query parameters: ``true``/``false``."""
    if name not in query:
        return default
    return query[name].strip().lower() == "true"


class MarathonHandler(JSONRequestHandler):
    server_version = "MarathonStandIn"

    # -- plumbing ---------------------------------------------------------

    def dispatch(self):
        self.server.record_request(self.command, self.path)
        body = self.read_body()
        if self.server.take_unavailable_turn():
            message = {"message": "Could not determine the current leader"}
            self.send_json(503, message, headers={"Retry-After": "1"})
            return
        if self.path_only.rstrip("/") == "/ping":
            # Load balancers probe /ping without credentials.
            self.send_body(200, "pong", content_type="text/plain")
            return
        if not self._authorized():
            self.send_json(
                401,
                {"message": "Invalid username or password."},
                headers={"WWW-Authenticate": 'Basic realm="Mesosphere Marathon"'},
            )
            return
        if self.command == "GET" and self.path_only.rstrip("/") == "/v2/events":
            self._stream_events()
            return
        try:
            status, payload, headers = self._route(body)
        except api.ApiError as error:
            status, payload, headers = error.status, error.payload, {}
        except Exception as error:
            # Marathon answers 500 with a message rather than dropping the connection.
            log.exception("marathon stand-in: %s %s failed", self.command, self.path)
            status, payload, headers = 500, {"message": f"{type(error).__name__}: {error}"}, {}
        headers = {**headers, "X-Marathon-Leader": self.server.url}
        if payload is None:
            self.send_body(status, b"", headers=headers)
        else:
            self.send_json(status, payload, headers=headers)

    def _stream_events(self):
        """Server-sent events until the client leaves or the server stops."""
        bus = self.server.scheduler.events
        wanted = [value for name, value in self.query_pairs if name == "event_type"]
        subscriber = bus.subscribe(wanted)
        self.close_connection = True
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.send_header("X-Marathon-Leader", self.server.url)
            self.end_headers()
            self.wfile.flush()  # headers now, even if no event comes for a while
            attached = {"remoteAddress": self.client_address[0]}
            bus.publish("event_stream_attached", **attached)
            while not self.server.closing.is_set() and bus.is_subscribed(subscriber):
                try:
                    event = subscriber[0].get(timeout=0.2)
                except queue.Empty:
                    continue
                data = json.dumps(event)
                self.wfile.write(f"event: {event['eventType']}\ndata: {data}\n\n".encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the subscriber went away
        finally:
            bus.unsubscribe(subscriber)

    def _authorized(self):
        expected = self.server.credentials
        if expected is None:
            return True
        scheme, _, encoded = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, expected)

    def _json_body(self, raw):
        try:
            return json.loads(raw or b"")
        except ValueError as error:
            detail = [{"path": "/", "errors": [f"Unexpected input: {error}"]}]
            raise api.ApiError(400, {"message": "Invalid JSON", "details": detail}) from None

    def _route(self, raw_body):
        path = unquote(self.path_only)
        method = self.command
        scheduler = self.server.scheduler
        with scheduler.lock:
            if path.rstrip("/") == "/v2/apps":
                return self._apps_collection(method, raw_body)
            if path.startswith("/v2/apps/"):
                return self._app_resource(method, path[len("/v2/apps") :], raw_body)
            if path.rstrip("/") == "/v2/deployments" and method == "GET":
                return api.list_deployments(scheduler)
            if path.startswith("/v2/deployments/") and method == "DELETE":
                deployment_id = path[len("/v2/deployments/") :].strip("/")
                return api.delete_deployment(scheduler, deployment_id, flag(self.query, "force"))
            if path.rstrip("/") == "/v2/tasks" and method == "GET":
                return tasks_api.list_tasks(scheduler, self.query.get("status"))
            if path.rstrip("/") == "/v2/tasks/delete" and method == "POST":
                body = self._json_body(raw_body)
                scale = flag(self.query, "scale")
                return tasks_api.kill_tasks(scheduler, body, scale, flag(self.query, "force"))
            if path.rstrip("/") == "/v2/info" and method == "GET":
                return 200, self._info(), {}
            if path.rstrip("/") == "/v2/leader" and method == "GET":
                return 200, {"leader": self._leader()}, {}
        raise api.ApiError(404, {"message": f"Not found: {method} {path}"})

    def _embeds(self):
        return {value for name, value in self.query_pairs if name == "embed"}

    def _apps_collection(self, method, raw_body):
        scheduler = self.server.scheduler
        if method == "GET":
            return api.list_apps(scheduler, self.query, self._embeds())
        if method == "POST":
            body = self._json_body(raw_body)
            return api.create_app(scheduler, body, flag(self.query, "force"), self._base_url())
        raise api.ApiError(405, {"message": f"Method {method} not allowed on /v2/apps"})

    def _app_resource(self, method, rest, raw_body):
        scheduler = self.server.scheduler
        kind, match = match_app_path(rest)
        app_id = match["id"] if match["id"].endswith("*") else appdef.canonical_id(match["id"])
        force = flag(self.query, "force")
        routes = {
            ("GET", "app"): lambda: api.get_app(scheduler, app_id, self._embeds()),
            ("PUT", "app"): lambda: api.update_app(
                scheduler,
                app_id,
                self._json_body(raw_body),
                flag(self.query, "partialUpdate", default=True),
                force,
                self._base_url(),
            ),
            ("PATCH", "app"): lambda: api.update_app(
                scheduler, app_id, self._json_body(raw_body), True, force, self._base_url()
            ),
            # DELETE is the one call whose force defaults to true.
            ("DELETE", "app"): lambda: api.delete_app(
                scheduler, app_id, flag(self.query, "force", default=True)
            ),
            ("GET", "versions"): lambda: api.app_versions(scheduler, app_id),
            ("GET", "version"): lambda: api.app_version(scheduler, app_id, match["version"]),
            ("POST", "restart"): lambda: api.restart_app(scheduler, app_id, force),
            ("GET", "tasks"): lambda: tasks_api.app_tasks(scheduler, app_id),
            ("DELETE", "tasks"): lambda: tasks_api.kill_app_tasks(
                scheduler, app_id, self.query.get("host"), flag(self.query, "scale"), force
            ),
            ("DELETE", "task"): lambda: tasks_api.kill_app_task(
                scheduler, app_id, match["task"], flag(self.query, "scale"), force
            ),
        }
        route = routes.get((method, kind))
        if route is None:
            raise api.ApiError(405, {"message": f"Method {method} not allowed here"})
        return route()

    def _base_url(self):
        host = self.headers.get("Host")
        return f"http://{host}" if host else self.server.url

    def _leader(self):
        return self.server.url.removeprefix("http://")

    def _info(self):
        return {
            "name": "marathon",
            "version": MARATHON_VERSION,
            "buildref": "stand-in",
            "elected": True,
            "leader": self._leader(),
            "frameworkId": "5c2e3f1a-7b7e-4d53-9c1f-0c1b2f1e9a00-0000",
            "marathon_config": {
                "checkpoint": True,
                "executor": "//cmd",
                "failover_timeout": 604800,
                "features": [],
                "framework_name": "marathon",
                "ha": True,
                "hostname": "127.0.0.1",
                "leader_proxy_connection_timeout_ms": 5000,
                "leader_proxy_read_timeout_ms": 10000,
                "local_port_min": FIRST_SERVICE_PORT,
                "local_port_max": LAST_SERVICE_PORT,
                "master": "zk://127.0.0.1:2181/mesos",
                "mesos_leader_ui_url": "http://127.0.0.1:5050/",
                "mesos_role": None,
                "mesos_user": "root",
                "reconciliation_initial_delay": 15000,
                "reconciliation_interval": 600000,
                "task_launch_timeout": 300000,
                "task_reservation_timeout": 20000,
                "webui_url": None,
            },
            "http_config": {"http_port": self.server.port, "https_port": 8443},
            "zookeeper_config": {
                "zk": "zk://127.0.0.1:2181/marathon",
                "zk_timeout": 10000,
                "zk_session_timeout": 10000,
                "zk_max_versions": 50,
            },
            "event_subscriber": None,
        }
