"""HTTP client for Marathon's REST API (v2), the only code that speaks to it.

- One ``requests.Session`` per client; every call has a timeout.
- ``urls`` lists every Marathon master: connection errors and 5xx answers
  fail over to the next one. Idempotent requests (GET, PUT, DELETE) are also
  retried with exponential backoff; a POST is only sent again when the
  previous attempt never reached a server.
- Basic auth (username/password) or a token (``Authorization: token=...``,
  as DC/OS issues them); TLS certificates are verified unless ``verify`` is
  False or a CA bundle path.
- :func:`raise_for_status` is the one place that maps status codes to the
  typed exceptions below (all ``CommandExecutionError``).
- App ids are URL-quoted path parts.

Salt's loader exposes functions only, so modules use :func:`connect` and
:func:`exception_types`.
"""

import logging
import time
import types
import urllib.parse

import requests
import urllib3.exceptions
from salt.exceptions import CommandExecutionError

log = logging.getLogger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class MarathonError(CommandExecutionError):
    """Marathon refused a request or could not be reached."""

    def __init__(self, message, status=None, body=None):
        super().__init__(message)
        self.status = status
        self.body = body


class MarathonUnavailableError(MarathonError):
    """No Marathon URL answered (connection errors or 5xx on every one)."""


class MarathonBadRequestError(MarathonError):
    """400: Marathon could not parse the request."""


class MarathonUnauthorizedError(MarathonError):
    """401/403: credentials missing, wrong or not allowed."""


class MarathonNotFoundError(MarathonError):
    """404: no such app, version or deployment."""


class MarathonConflictError(MarathonError):
    """409: the resource exists already (POST) or is otherwise in conflict."""


class MarathonLockedError(MarathonConflictError):
    """409 on a change: the app is locked by running deployments."""

    def __init__(self, message, status=None, body=None, deployment_ids=()):
        super().__init__(message, status, body)
        self.deployment_ids = list(deployment_ids)


class MarathonInvalidDefinitionError(MarathonError):
    """422: the app definition is not valid."""


class MarathonServerError(MarathonError):
    """5xx from the last server tried."""


def exception_types():
    """Return the exception classes as a namespace (the loader hides classes)."""
    return types.SimpleNamespace(
        MarathonError=MarathonError,
        MarathonUnavailableError=MarathonUnavailableError,
        MarathonBadRequestError=MarathonBadRequestError,
        MarathonUnauthorizedError=MarathonUnauthorizedError,
        MarathonNotFoundError=MarathonNotFoundError,
        MarathonConflictError=MarathonConflictError,
        MarathonLockedError=MarathonLockedError,
        MarathonInvalidDefinitionError=MarathonInvalidDefinitionError,
        MarathonServerError=MarathonServerError,
    )


def connect(urls, **options):
    """Return a :class:`MarathonClient` for ``urls`` (see its arguments)."""
    return MarathonClient(urls, **options)


def app_path(app_id, *suffix):
    """``/v2/apps/<quoted id>[/<suffix>...]`` for an app id with or without a leading ``/``."""
    segments = [urllib.parse.quote(part, safe="") for part in app_id.strip("/").split("/")]
    segments += [urllib.parse.quote(str(part), safe="") for part in suffix]
    return "/v2/apps/" + "/".join(segments)


def redact_url(url):
    """``url`` without user:password, for messages and logs."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=host))


def raise_for_status(response, method, path):
    """Map a Marathon answer to a typed exception; return the response when it is a success."""
    status = response.status_code
    if status < 400:
        return response
    body = _json_or_text(response)
    message = f"Marathon answered {status} to {method} {path}: {_describe_error(body)}"
    if status == 400:
        raise MarathonBadRequestError(message, status, body)
    if status in (401, 403):
        raise MarathonUnauthorizedError(message, status, body)
    if status == 404:
        raise MarathonNotFoundError(message, status, body)
    if status == 409:
        deployment_ids = _locking_deployments(body)
        if deployment_ids:
            raise MarathonLockedError(message, status, body, deployment_ids)
        raise MarathonConflictError(message, status, body)
    if status == 422:
        raise MarathonInvalidDefinitionError(message, status, body)
    if status >= 500:
        raise MarathonServerError(message, status, body)
    raise MarathonError(message, status, body)


class MarathonClient:
    """Talks to one Marathon cluster through any of its masters."""

    def __init__(
        self,
        urls,
        username=None,
        password=None,
        token=None,
        verify=True,
        timeout=10.0,
        retries=2,
        backoff=0.2,
    ):
        if isinstance(urls, str):
            urls = [urls]
        self.urls = [url.rstrip("/") for url in urls or [] if url]
        if not self.urls:
            raise MarathonError("no Marathon URL configured (set marathon:urls)")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.session = requests.Session()
        # Passed on every request too: requests lets REQUESTS_CA_BUNDLE override session.verify.
        self.verify = verify
        self.session.headers["Accept"] = "application/json"
        if username:
            self.session.auth = (username, password or "")
        elif token:
            self.session.headers["Authorization"] = f"token={token}"
        # The master that answered last is tried first next time.
        self._preferred = 0

    def close(self):
        self.session.close()

    def request(self, method, path, params=None, body=None):
        """Send a request, failing over and retrying; return the decoded JSON (or text)."""
        idempotent = method in IDEMPOTENT_METHODS
        attempts = self.retries + 1 if idempotent else 1
        failures = []
        for attempt in range(attempts):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            for index in self._url_order():
                outcome = self._try_once(index, method, path, params, body, idempotent)
                if isinstance(outcome, requests.Response):
                    self._preferred = index
                    return _json_or_text(raise_for_status(outcome, method, path))
                failures.append(outcome)
                if outcome.final:
                    raise outcome.error
        tried = "; ".join(str(failure) for failure in failures[-len(self.urls) :])
        raise MarathonUnavailableError(f"no Marathon master answered {method} {path}: {tried}")

    def _url_order(self):
        count = len(self.urls)
        return [(self._preferred + offset) % count for offset in range(count)]

    def _try_once(self, index, method, path, params, body, idempotent):
        url = self.urls[index]
        shown = redact_url(url)
        log.debug("Marathon %s %s%s", method, shown, path)
        try:
            response = self.session.request(
                method,
                url + path,
                params=params,
                json=body,
                timeout=self.timeout,
                verify=self.verify,
            )
        except requests.RequestException as exc:
            # Without idempotence, only an attempt that never reached a server may be resent.
            final = not idempotent and not _never_sent(exc)
            error = MarathonUnavailableError(f"{method} {shown}{path} failed: {type(exc).__name__}")
            return _Failure(shown, type(exc).__name__, final, error)
        if response.status_code >= 500:
            if not idempotent:
                return _Failure(
                    shown, response.status_code, True, _as_error(response, method, path)
                )
            return _Failure(shown, f"HTTP {response.status_code}", False, None)
        return response

    # -- apps ---------------------------------------------------------------

    def ping(self):
        return self.request("GET", "/ping")

    def info(self):
        return self.request("GET", "/v2/info")

    def list_apps(self):
        return self.request("GET", "/v2/apps")["apps"]

    def get_app(self, app_id):
        return self.request("GET", app_path(app_id))["app"]

    def find_app(self, app_id):
        """The app as Marathon stores it, or None when it does not exist."""
        try:
            return self.get_app(app_id)
        except MarathonNotFoundError:
            return None

    def put_app(self, app_id, definition, force=False):
        """Create or update; returns ``{"deploymentId", "version"}``."""
        params = {"force": "true"} if force else None
        return self.request("PUT", app_path(app_id), params=params, body=definition)

    def delete_app(self, app_id, force=False):
        # Marathon's DELETE defaults to force=true (it cancels a running
        # deployment): say false explicitly so a locked app answers 409.
        params = {"force": "true" if force else "false"}
        return self.request("DELETE", app_path(app_id), params=params)

    def restart_app(self, app_id, force=False):
        params = {"force": "true"} if force else None
        return self.request("POST", app_path(app_id, "restart"), params=params)

    def app_versions(self, app_id):
        return self.request("GET", app_path(app_id, "versions"))["versions"]

    def app_version(self, app_id, version):
        return self.request("GET", app_path(app_id, "versions", version))

    # -- deployments --------------------------------------------------------

    def list_deployments(self):
        return self.request("GET", "/v2/deployments")

    def find_deployment(self, deployment_id):
        """The running deployment with this id, or None once it is over."""
        for deployment in self.list_deployments():
            if deployment.get("id") == deployment_id:
                return deployment
        return None

    def cancel_deployment(self, deployment_id, force=False):
        """Without force Marathon starts a deployment that reverts this one."""
        params = {"force": "true"} if force else None
        path = "/v2/deployments/" + urllib.parse.quote(deployment_id, safe="")
        return self.request("DELETE", path, params=params)


class _Failure:
    def __init__(self, url, reason, final, error):
        self.url = url
        self.reason = reason
        self.final = final
        self.error = error

    def __str__(self):
        return f"{self.url}: {self.reason}"


def _never_sent(exc):
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _as_error(response, method, path):
    try:
        raise_for_status(response, method, path)
    except MarathonError as exc:
        return exc
    return MarathonError(f"unexpected answer {response.status_code} to {method} {path}")


def _json_or_text(response):
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def _describe_error(body):
    if not isinstance(body, dict):
        return str(body or "no details")[:500]
    text = str(body.get("message") or "no message")
    details = body.get("details") or []
    problems = [
        f"{detail.get('path', '?')}: {', '.join(map(str, detail.get('errors', [])))}"
        for detail in details
        if isinstance(detail, dict)
    ]
    if problems:
        text += " (" + "; ".join(problems) + ")"
    if body.get("deployments"):
        ids = ", ".join(_locking_deployments(body))
        text += f" [deployments: {ids}]"
    return text


def _locking_deployments(body):
    if not isinstance(body, dict):
        return []
    return [item["id"] for item in body.get("deployments") or [] if isinstance(item, dict)]
