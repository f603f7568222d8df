"""HTTP connection to Consul's API (v1), the only code that speaks to it.

Requests go through py-consul's transport (its ``requests`` session, TLS
settings and timeouts) with a response check of our own, because
py-consul's endpoint helpers hide what we must tell apart: its ``ClientError``
carries the status only inside its text (413, 409), and ``Txn.put`` sends no
ACL token at all.

- The ACL token travels in the ``X-Consul-Token`` header only, never in a
  URL; error texts are scrubbed of it all the same.
- Every call has a timeout; GETs are retried with backoff when Consul could
  not be reached or answered 5xx.
- TLS certificates are verified unless ``verify`` is False or a CA path.
- :func:`raise_for_status` is the one place that maps status codes to the
  typed exceptions below (all ``CommandExecutionError``).

Salt's loader exposes functions only, so modules use :func:`connect` and
:func:`exception_types`.
"""

import base64
import json
import logging
import re
import time
import types
import urllib.parse

import requests
from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    import consul

    HAS_CONSUL = True
except ImportError:  # pragma: no cover - the venv pins py-consul
    HAS_CONSUL = False

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
GET_ATTEMPTS = 3
BACKOFF_SECONDS = 0.2
DEFAULT_PORTS = {"http": 80, "https": 443}


class ConsulError(CommandExecutionError):
    """Consul refused a request or could not be reached."""


class ConsulUnreachable(ConsulError):  # noqa: N818 - reads as the condition
    """No answer: connection refused, DNS, TLS or timeout."""


class ConsulPermissionDenied(ConsulError):  # noqa: N818
    """403: the ACL token is missing, unknown or lacks the rights."""


class ConsulBadRequest(ConsulError):  # noqa: N818
    """400: Consul refused the request (bad key, bad parameter)."""


class ConsulValueTooLarge(ConsulError):  # noqa: N818
    """413: a value or transaction is over Consul's size limits."""


class ConsulCasConflict(ConsulError):  # noqa: N818
    """A check-and-set lost: the key changed since it was read."""


class ConsulTransactionRolledBack(ConsulError):  # noqa: N818
    """409 on /v1/txn: one operation failed, none was applied."""

    def __init__(self, message, errors=()):
        super().__init__(message)
        self.errors = list(errors)


class ConsulServerError(ConsulError):
    """5xx or any other answer we do not understand."""


def exception_types():
    """The exception classes as a namespace (the loader hides classes)."""
    return types.SimpleNamespace(
        ConsulError=ConsulError,
        ConsulUnreachable=ConsulUnreachable,
        ConsulPermissionDenied=ConsulPermissionDenied,
        ConsulBadRequest=ConsulBadRequest,
        ConsulValueTooLarge=ConsulValueTooLarge,
        ConsulCasConflict=ConsulCasConflict,
        ConsulTransactionRolledBack=ConsulTransactionRolledBack,
        ConsulServerError=ConsulServerError,
    )


def parse_url(url):
    """(scheme, host, port) of a Consul base URL such as http://127.0.0.1:8500."""
    if not url or not isinstance(url, str):
        raise SaltInvocationError("No Consul URL: set consul:url (pillar or minion config)")
    shown = redact_url(url)
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        raise SaltInvocationError(f"Consul URL {shown!r} cannot be parsed") from None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise SaltInvocationError(f"Consul URL {shown!r} must look like http(s)://host[:port]")
    if parts.path.strip("/") or parts.query or parts.username or parts.password:
        raise SaltInvocationError(
            f"Consul URL {shown!r} must not carry a path, query or credentials "
            "(the token goes in consul:token)"
        )
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise SaltInvocationError(f"Consul URL {shown!r} has an invalid port") from None
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"  # py-consul joins host and port as is
    return parts.scheme, host, port


def redact_url(url):
    """``url`` for messages: without user:password@, its query hidden (``?token=``)."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<a URL that cannot be parsed>"
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=host, query="..." if parts.query else ""))


def connect(url, token=None, verify=True, timeout=DEFAULT_TIMEOUT):
    """A :class:`ConsulConnection`; ``verify`` is a bool or a CA bundle path."""
    return ConsulConnection(url, token=token, verify=verify, timeout=timeout)


def scrub(text, token):
    """``text`` without the token, whether bare or as ``token=...`` in a URL."""
    text = re.sub(r"(token=)[^&\s'\"]+", r"\1***", str(text))
    if token:
        text = text.replace(token, "***")
    return text


def raise_for_status(response, action, token=None):
    """Map a py-consul Response to a typed exception; 2xx and 404 pass."""
    code = response.code
    if 200 <= code < 300 or code == 404:
        return
    body = scrub(response.body if isinstance(response.body, str) else "", token).strip()
    detail = f": {body[:300]}" if body else ""
    if code == 403:
        raise ConsulPermissionDenied(
            f"Consul denied {action} (403 permission denied): the ACL token is missing, "
            f"unknown or lacks the rights{detail}"
        )
    if code == 400:
        raise ConsulBadRequest(f"Consul rejected {action} (400 bad request){detail}")
    if code == 413:
        raise ConsulValueTooLarge(f"Consul rejected {action} (413 too large){detail}")
    if code == 409:
        errors = transaction_errors(response.body)
        whats = "; ".join(str(error.get("What")) for error in errors) or body
        raise ConsulTransactionRolledBack(
            f"Consul rolled back {action} (409), nothing was written: {scrub(whats, token)}",
            errors,
        )
    raise ConsulServerError(f"Consul failed {action} ({code}){detail}")


def transaction_errors(body):
    try:
        return json.loads(body).get("Errors") or []
    except (ValueError, AttributeError, TypeError):
        return []


def unchecked(response):
    """py-consul's callback slot: hand the Response back for raise_for_status."""
    return response


def decode_entry(entry):
    """A KV entry with ``Value`` as bytes (b"" for an empty value)."""
    entry = dict(entry)
    entry["Value"] = base64.b64decode(entry["Value"]) if entry.get("Value") else b""
    return entry


class ConsulConnection:
    """One Consul agent: KV, transactions, catalog and health reads."""

    def __init__(self, url, token=None, verify=True, timeout=DEFAULT_TIMEOUT):
        if not HAS_CONSUL:
            raise CommandExecutionError("py-consul is not installed (pip install py-consul)")
        scheme, host, port = parse_url(url)
        self.url = f"{scheme}://{host}:{port}"
        self.token = token or None
        # token=None here: ours goes in a header per request, so neither
        # CONSUL_HTTP_TOKEN nor a ?token= URL ever takes part.
        self.client = consul.Consul(
            host=host,
            port=port,
            scheme=scheme,
            verify=verify,
            connections_timeout=timeout,
        )
        self.http = self.client.http

    # Transport -------------------------------------------------------------

    def headers(self):
        return {"X-Consul-Token": self.token} if self.token else {}

    def request(self, method, path, action, params=None, data=None):
        """Send one request; returns the py-consul Response (2xx or 404)."""
        attempts = GET_ATTEMPTS if method == "get" else 1
        for attempt in range(1, attempts + 1):
            try:
                response = self.send(method, path, params, data)
            except requests.RequestException as error:
                if attempt < attempts:
                    self.back_off(attempt, action)
                    continue
                raise ConsulUnreachable(
                    f"Consul at {self.url} is unreachable during {action}: "
                    f"{type(error).__name__}: {scrub(error, self.token)}"
                ) from None
            if response.code >= 500 and attempt < attempts:
                self.back_off(attempt, action)
                continue
            raise_for_status(response, action, self.token)
            return response
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def send(self, method, path, params, data):
        log.debug("Consul %s %s", method.upper(), path)
        kwargs = {"params": params or [], "headers": self.headers()}
        if method == "get":
            return self.http.get(unchecked, path, **kwargs)
        return getattr(self.http, method)(unchecked, path, data=data or "", **kwargs)

    def back_off(self, attempt, action):
        delay = BACKOFF_SECONDS * 2 ** (attempt - 1)
        log.debug("Consul %s: retrying in %.1fs", action, delay)
        time.sleep(delay)

    @staticmethod
    def json(response):
        try:
            return json.loads(response.body)
        except ValueError:
            message = f"Consul answered {response.code} with a body that is not JSON"
            raise ConsulServerError(message) from None

    @staticmethod
    def kv_path(key):
        return f"/v1/kv/{key}"

    # KV --------------------------------------------------------------------

    def kv_entry(self, key):
        """The entry of ``key`` (Value as bytes) or None."""
        response = self.request("get", self.kv_path(key), f"reading key {key!r}")
        if response.code == 404:
            return None
        return decode_entry(self.json(response)[0])

    def kv_entries(self, prefix):
        """Every entry under ``prefix`` (Values as bytes), sorted by key."""
        action = f"listing prefix {prefix!r}"
        response = self.request("get", self.kv_path(prefix), action, [("recurse", "1")])
        if response.code == 404:
            return []
        return [decode_entry(entry) for entry in self.json(response)]

    def kv_put(self, key, value, cas=None, flags=None):
        """Write ``value`` (bytes); False when a check-and-set lost."""
        params = []
        if cas is not None:
            params.append(("cas", int(cas)))
        if flags is not None:
            params.append(("flags", int(flags)))
        response = self.request("put", self.kv_path(key), f"writing key {key!r}", params, value)
        return self.json(response) is True

    def kv_delete(self, key, cas=None):
        params = [("cas", int(cas))] if cas is not None else []
        response = self.request("delete", self.kv_path(key), f"deleting key {key!r}", params)
        return self.json(response) is True

    def transaction(self, operations, action):
        """Apply KV operations atomically (``PUT /v1/txn``); returns Results."""
        payload = json.dumps(operations)
        response = self.request("put", "/v1/txn", action, data=payload)
        return self.json(response).get("Results") or []

    # Catalog and health ------------------------------------------------------

    def catalog_services(self):
        response = self.request("get", "/v1/catalog/services", "listing services")
        return self.json(response)

    def health_service(self, name, tag=None, passing_only=True):
        params = [("tag", tag)] if tag else []
        if passing_only:
            params.append(("passing", "1"))
        path = f"/v1/health/service/{name}"
        response = self.request("get", path, f"reading health of service {name!r}", params)
        if response.code == 404:
            return []
        return self.json(response)
