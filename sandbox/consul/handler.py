"""HTTP side of the Consul stand-in: routing, ACL, headers, query parsing.

The shapes, status codes and headers follow docs/api-notes.md.
"""

import base64
import binascii
import json
import logging
import random
import re
import time
from urllib.parse import unquote

from sandbox.httpserver import JSONRequestHandler

from . import shapes
from .catalog import STATUSES, CatalogError, parse_duration
from .kv import MAX_TXN_OPERATIONS, MAX_VALUE_SIZE, KVError, TxnRollbackError, validate_key

log = logging.getLogger(__name__)

DEFAULT_WAIT = 300.0
MAX_WAIT = 600.0
MAX_UINT64 = 2**64 - 1
# Endpoints a Consul server answers without an ACL token.
ACL_EXEMPT = ("/v1/status/",)


class RequestError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def parse_uint(text, what):
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise RequestError(400, f"Invalid {what}") from None
    if not 0 <= value <= MAX_UINT64:
        raise RequestError(400, f"Invalid {what}")
    return value


class ConsulHandler(JSONRequestHandler):
    server_version = "Consul-sandbox"
    ROUTES = (
        ("GET", r"/v1/kv/(?P<key>.*)", "kv_get"),
        ("PUT", r"/v1/kv/(?P<key>.*)", "kv_put"),
        ("DELETE", r"/v1/kv/(?P<key>.*)", "kv_delete"),
        ("PUT", r"/v1/txn", "txn"),
        ("GET", r"/v1/catalog/services", "catalog_services"),
        ("GET", r"/v1/catalog/service/(?P<name>[^/]+)", "catalog_service"),
        ("GET", r"/v1/health/service/(?P<name>[^/]+)", "health_service"),
        ("PUT", r"/v1/agent/service/register", "agent_service_register"),
        ("PUT", r"/v1/agent/service/deregister/(?P<service_id>[^/]+)", "agent_service_deregister"),
        ("PUT", r"/v1/agent/check/register", "agent_check_register"),
        ("PUT", r"/v1/agent/check/deregister/(?P<check_id>[^/]+)", "agent_check_deregister"),
        ("PUT", r"/v1/agent/check/(?P<verb>pass|warn|fail)/(?P<check_id>[^/]+)", "agent_check_ttl"),
        ("PUT", r"/v1/agent/check/update/(?P<check_id>[^/]+)", "agent_check_update"),
        ("GET", r"/v1/agent/services", "agent_services"),
        ("GET", r"/v1/agent/checks", "agent_checks"),
        ("GET", r"/v1/agent/self", "agent_self"),
        ("GET", r"/v1/status/leader", "status_leader"),
        ("GET", r"/v1/status/peers", "status_peers"),
    )

    @property
    def state(self):
        return self.server.state

    def dispatch(self):
        path = self.path_only
        allowed = False
        for method, pattern, name in self.ROUTES:
            match = re.fullmatch(pattern, path)
            if match is None:
                continue
            allowed = True
            if method != self.command:
                continue
            try:
                self.check_token()
                getattr(self, name)(**{k: unquote(v) for k, v in match.groupdict().items()})
            except (RequestError, KVError, CatalogError) as error:
                self.send_text(error.status, error.message)
            except Exception as error:
                # Answer like a server would instead of dropping the connection.
                log.exception("consul stand-in failed on %s %s", self.command, path)
                self.send_text(500, f"{type(error).__name__}: {error}")
            return
        if allowed:
            self.send_text(405, f"method {self.command} not allowed")
        else:
            self.send_text(404, "404 page not found")

    # Plumbing --------------------------------------------------------------

    def check_token(self):
        wanted = self.server.token
        if wanted is None or self.path_only.startswith(ACL_EXEMPT):
            return
        given = self.query.get("token") or self.headers.get("X-Consul-Token")
        bearer = self.headers.get("Authorization", "")
        if not given and bearer.lower().startswith("bearer "):
            given = bearer[len("bearer ") :].strip()
        if not given:
            raise RequestError(403, "Permission denied: anonymous token lacks permission")
        if given != wanted:
            raise RequestError(403, "ACL not found")

    def send_text(self, status, text):
        self.discard_body()
        self.send_body(status, text, content_type="text/plain; charset=utf-8")

    def discard_body(self):
        if not getattr(self, "body_read", False):
            self.body_read = True
            self.read_body()

    def body(self):
        self.body_read = True
        return self.read_body()

    def body_size(self):
        return int(self.headers.get("Content-Length") or 0)

    def read_headers(self, index):
        return {
            "X-Consul-Index": index,
            "X-Consul-KnownLeader": "true",
            "X-Consul-LastContact": 0,
        }

    def blocking(self):
        """(min_index, wait seconds) from ?index and ?wait."""
        wait = DEFAULT_WAIT
        if "wait" in self.query:
            wait = parse_duration(self.query["wait"])
            if wait is None:
                raise RequestError(400, "Invalid wait time")
            wait = min(wait, MAX_WAIT)
        min_index = 0
        if "index" in self.query:
            min_index = parse_uint(self.query["index"], "index")
        # Consul adds up to wait/16 of jitter so clients do not stampede.
        return min_index, wait + random.uniform(0, wait / 16)

    def blocking_read(self, query):
        min_index, wait = self.blocking()
        return self.state.read(query, min_index, wait)

    def json_body(self):
        try:
            return json.loads(self.body() or b"null")
        except ValueError as error:
            raise RequestError(400, f"Request decode failed: {error}") from None

    # KV --------------------------------------------------------------------

    def kv_get(self, key):
        kv = self.state.kv
        if "recurse" in self.query or "keys" in self.query:
            if key:
                validate_key(key)
            self.kv_list(key)
            return
        if not key:
            raise RequestError(400, "Missing key name")
        validate_key(key)
        index, entry = self.blocking_read(lambda: kv.get(key))
        headers = self.read_headers(index)
        if entry is None:
            self.send_body(404, b"", headers=headers)
        elif "raw" in self.query:
            self.send_body(200, entry.value, "text/plain; charset=utf-8", headers)
        else:
            self.send_json(200, [entry.to_json()], headers)

    def kv_list(self, prefix):
        kv = self.state.kv
        if "keys" in self.query:
            separator = self.query.get("separator", "")
            index, keys = self.blocking_read(lambda: kv.keys(prefix, separator))
            if not keys and prefix:
                self.send_body(404, b"", headers=self.read_headers(index))
            else:
                self.send_json(200, keys, self.read_headers(index))
            return
        index, entries = self.blocking_read(lambda: kv.list(prefix))
        if not entries:
            self.send_body(404, b"", headers=self.read_headers(index))
        else:
            self.send_json(200, [entry.to_json() for entry in entries], self.read_headers(index))

    def kv_put(self, key):
        if not key:
            raise RequestError(400, "Missing key name")
        validate_key(key)
        if self.body_size() > MAX_VALUE_SIZE:
            raise RequestError(
                413,
                f"Request body({self.body_size()} bytes) too large, "
                f"max size: {MAX_VALUE_SIZE} bytes",
            )
        options = [name for name in ("cas", "acquire", "release") if name in self.query]
        if len(options) > 1:
            raise RequestError(400, "Conflicting flags: " + "&".join(options))
        if options and options[0] in ("acquire", "release"):
            raise RequestError(500, f'invalid session "{self.query[options[0]]}"')
        flags = parse_uint(self.query.get("flags", "0"), "flags")
        value = self.body()
        if "cas" in self.query:
            cas_index = parse_uint(self.query["cas"], "cas index")
            written = self.state.write(lambda i: self.state.kv.cas(key, value, flags, cas_index, i))
        else:
            self.state.write(lambda i: self.state.kv.set(key, value, flags, i))
            written = True
        self.send_json(200, written)

    def kv_delete(self, key):
        kv = self.state.kv
        recurse = "recurse" in self.query
        if recurse and "cas" in self.query:
            raise RequestError(400, "Conflicting flags: cas=&recurse")
        if not key and not recurse:
            raise RequestError(400, "Missing key name")
        if key:
            validate_key(key)
        if recurse:
            self.state.write(lambda i: kv.delete_tree(key, i))
            deleted = True
        elif "cas" in self.query:
            cas_index = parse_uint(self.query["cas"], "cas index")
            deleted = self.state.write(lambda i: kv.delete_cas(key, cas_index, i))
        else:
            self.state.write(lambda i: kv.delete(key, i))
            deleted = True
        self.send_json(200, deleted)

    def txn(self):
        if self.body_size() > MAX_VALUE_SIZE:
            raise RequestError(413, f"Request body too large, max size: {MAX_VALUE_SIZE} bytes")
        payload = self.json_body()
        if not isinstance(payload, list):
            raise RequestError(400, "Failed to parse body: expected a list of operations")
        if len(payload) > MAX_TXN_OPERATIONS:
            raise RequestError(
                413,
                f"Transaction contains too many operations ({len(payload)} > {MAX_TXN_OPERATIONS})",
            )
        operations = [self.txn_operation(op) for op in payload]
        try:
            results = self.state.write(lambda i: self.state.kv.apply_txn(operations, i))
        except TxnRollbackError as error:
            errors = [{"OpIndex": error.op_index, "What": error.what}]
            self.send_json(409, {"Results": None, "Errors": errors})
            return
        body = {"Results": [{"KV": result} for result in results], "Errors": None}
        self.send_json(200, body, self.read_headers(self.state.raft_index))

    def txn_operation(self, op):
        if not isinstance(op, dict) or not isinstance(op.get("KV"), dict):
            raise RequestError(400, "Failed to parse body: only KV operations are supported")
        kv = op["KV"]
        key = kv.get("Key") or ""
        if not isinstance(key, str):
            raise RequestError(400, "Failed to parse body: Key must be a string")
        if key:
            validate_key(key)
        try:
            value = base64.b64decode(kv.get("Value") or "", validate=True)
        except (binascii.Error, TypeError):
            raise RequestError(400, "Failed to parse body: Value must be base64") from None
        if len(value) > MAX_VALUE_SIZE:
            raise RequestError(413, f"Value for key {key!r} exceeds {MAX_VALUE_SIZE} bytes")
        return {
            "Verb": kv.get("Verb") or "",
            "Key": key,
            "Value": value,
            "Flags": parse_uint(kv.get("Flags") or 0, "flags"),
            "Index": parse_uint(kv.get("Index") or 0, "index"),
        }

    # Catalog and health ------------------------------------------------------

    def tags(self):
        return [value for name, value in self.query_pairs if name == "tag"]

    def catalog_services(self):
        index, body = self.blocking_read(self.state.catalog.services_listing)
        self.send_json(200, body, self.read_headers(index))

    def catalog_service(self, name):
        tags = self.tags()
        index, rows = self.blocking_read(lambda: self.state.catalog.catalog_service(name, tags))
        self.send_json(200, rows, self.read_headers(index))

    def health_service(self, name):
        tags, passing = self.tags(), "passing" in self.query
        catalog = self.state.catalog
        index, rows = self.blocking_read(lambda: catalog.health_service(name, tags, passing))
        self.send_json(200, rows, self.read_headers(index))

    # Agent -----------------------------------------------------------------

    def agent_service_register(self):
        payload = self.json_body()
        replace = self.query.get("replace-existing-checks", "") in ("true", "1")
        now = time.monotonic()
        catalog = self.state.catalog
        self.state.write(lambda i: catalog.register_service(payload, i, now, replace))
        self.send_body(200, b"")

    def agent_service_deregister(self, service_id):
        self.discard_body()
        self.state.write(lambda i: self.state.catalog.deregister_service(service_id, i))
        self.send_body(200, b"")

    def agent_check_register(self):
        payload = self.json_body()
        now = time.monotonic()
        self.state.write(lambda i: self.state.catalog.register_check(payload, i, now))
        self.send_body(200, b"")

    def agent_check_deregister(self, check_id):
        self.discard_body()
        self.state.write(lambda i: self.state.catalog.remove_check(check_id, i))
        self.send_body(200, b"")

    def agent_check_ttl(self, verb, check_id):
        self.discard_body()
        status = {"pass": "passing", "warn": "warning", "fail": "critical"}[verb]
        self.set_check(check_id, status, self.query.get("note", ""))

    def agent_check_update(self, check_id):
        payload = self.json_body() or {}
        if not isinstance(payload, dict):
            raise RequestError(400, "Request decode failed: expected an object")
        status = payload.get("Status", "")
        if status not in STATUSES:
            raise RequestError(400, f"Invalid check status: {status!r}")
        self.set_check(check_id, status, str(payload.get("Output", "")))

    def set_check(self, check_id, status, output):
        now = time.monotonic()
        catalog = self.state.catalog
        self.state.write(lambda i: catalog.set_check_status(check_id, status, output, i, now))
        self.send_body(200, b"")

    def agent_services(self):
        with self.state.condition:
            body = shapes.agent_services(self.state.catalog)
        self.send_json(200, body)

    def agent_checks(self):
        with self.state.condition:
            body = shapes.agent_checks(self.state.catalog)
        self.send_json(200, body)

    def agent_self(self):
        catalog = self.state.catalog
        config = {"Datacenter": "dc1", "NodeName": catalog.node, "NodeID": catalog.node_id}
        member = {"Name": catalog.node, "Addr": catalog.address, "Port": 8301, "Status": 1}
        self.send_json(200, {"Config": config, "Member": member})

    def status_leader(self):
        self.send_json(200, f"{self.state.catalog.address}:8300")

    def status_peers(self):
        self.send_json(200, [f"{self.state.catalog.address}:8300"])
