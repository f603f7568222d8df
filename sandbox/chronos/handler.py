"""HTTP front of the Chronos stand-in: ``/scheduler/...`` routes (also under
Chronos 3's ``/v1`` prefix), JSON bodies, 204 for accepted writes and 400
with a text body for what Chronos refuses.
"""

import json
import logging
from urllib.parse import unquote

from sandbox.httpserver import JSONRequestHandler

from .jobs import JobError

log = logging.getLogger(__name__)


class ChronosHandler(JSONRequestHandler):
    server_version = "ChronosStandIn"

    def dispatch(self):
        body = self.read_body()
        self.server.record_request(self.command, self.path_only)
        path = self.path_only
        if path.startswith("/v1/"):
            path = path[len("/v1") :]
        store = self.server.store
        try:
            if self.command == "GET" and path.rstrip("/") == "/scheduler/jobs":
                self.send_json(200, store.listing())
            elif self.command == "POST" and path.rstrip("/") == "/scheduler/iso8601":
                store.put_scheduled(self.json_body(body))
                self.send_body(204)
            elif self.command == "POST" and path.rstrip("/") == "/scheduler/dependency":
                store.put_dependent(self.json_body(body))
                self.send_body(204)
            elif path.startswith("/scheduler/job/") and self.command in ("DELETE", "PUT"):
                name = unquote(path[len("/scheduler/job/") :])
                if self.command == "DELETE":
                    store.delete(name)
                else:
                    store.run_now(name)
                self.send_body(204)
            else:
                self.send_body(404, "Not Found", content_type="text/plain")
        except JobError as error:
            self.send_body(400, str(error), content_type="text/plain")
        except Exception:
            log.exception("chronos stand-in: request failed")
            self.send_body(500, "internal error", content_type="text/plain")

    @staticmethod
    def json_body(body):
        try:
            return json.loads(body or b"null")
        except ValueError as error:
            raise JobError(f"the body is not JSON: {error}") from None
