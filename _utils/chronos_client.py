"""HTTP client for Chronos' REST API (``/scheduler/...``), the only code
that speaks to it.

- One ``requests.Session`` per client; every call has a timeout; GETs are
  retried with backoff when Chronos could not be reached or answered 5xx.
  Writes are sent once: ``PUT /scheduler/job/<name>`` starts a run.
- The base URL may carry a path (``http://host:4400/v1`` for Chronos 3).
  Credentials (``username``/``password``, or ``user:pass@`` in the URL)
  travel as basic auth and never appear in messages.
- :func:`raise_for_status` is the one place that maps status codes to the
  typed exceptions below (all ``CommandExecutionError``).

Salt's loader exposes functions only, so modules use :func:`connect` and
:func:`exception_types`.
"""

import logging
import time
import types
import urllib.parse

import requests
from salt.exceptions import CommandExecutionError, SaltInvocationError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
GET_ATTEMPTS = 3
BACKOFF_SECONDS = 0.2


class ChronosError(CommandExecutionError):
    """Chronos refused a request or could not be reached."""


class ChronosUnreachableError(ChronosError):
    """No answer: connection refused, DNS, TLS or timeout (or 5xx on every try)."""


class ChronosBadRequestError(ChronosError):
    """400: Chronos refused the job (schedule, parent, name) or knows no such job."""


class ChronosUnauthorizedError(ChronosError):
    """401/403: credentials missing or wrong."""


class ChronosServerError(ChronosError):
    """Any other answer we do not understand."""


def exception_types():
    return types.SimpleNamespace(
        ChronosError=ChronosError,
        ChronosUnreachableError=ChronosUnreachableError,
        ChronosBadRequestError=ChronosBadRequestError,
        ChronosUnauthorizedError=ChronosUnauthorizedError,
        ChronosServerError=ChronosServerError,
    )


def connect(url, **options):
    """A :class:`ChronosClient` (see its arguments)."""
    return ChronosClient(url, **options)


def split_credentials(url):
    """``(url without user:pass, username, password)``; SaltInvocationError if not http(s)."""
    if not isinstance(url, str) or not url:
        raise SaltInvocationError("No Chronos URL: set chronos:url (pillar or minion config)")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        shown = parts._replace(netloc=parts.hostname or "").geturl()
        raise SaltInvocationError(f"Chronos URL {shown!r} must look like http(s)://host[:port]")
    netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if parts.port:
        netloc += f":{parts.port}"
    clean = urllib.parse.urlunsplit(parts._replace(netloc=netloc, query="", fragment=""))
    username = urllib.parse.unquote(parts.username) if parts.username else None
    password = urllib.parse.unquote(parts.password) if parts.password else None
    return clean.rstrip("/"), username, password


def job_path(name):
    return "/scheduler/job/" + urllib.parse.quote(name, safe="")


def raise_for_status(response, action, secrets=()):
    """Map a Chronos answer to a typed exception; 2xx passes."""
    status = response.status_code
    if 200 <= status < 300:
        return response
    detail = scrub(response.text.strip()[:300], secrets)
    message = f"Chronos answered {status} to {action}" + (f": {detail}" if detail else "")
    if status == 400:
        raise ChronosBadRequestError(message)
    if status in (401, 403):
        raise ChronosUnauthorizedError(message)
    raise ChronosServerError(message)


def scrub(text, secrets):
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class ChronosClient:
    def __init__(self, url, username=None, password=None, verify=True, timeout=DEFAULT_TIMEOUT):
        self.url, url_user, url_password = split_credentials(url)
        username = username or url_user
        password = password or url_password
        self.secrets = [secret for secret in (password,) if secret]
        self.timeout = timeout
        self.verify = verify
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"
        if username:
            self.session.auth = (username, password or "")

    def close(self):
        self.session.close()

    def request(self, method, path, action, body=None):
        attempts = GET_ATTEMPTS if method == "GET" else 1
        for attempt in range(1, attempts + 1):
            log.debug("Chronos %s %s%s", method, self.url, path)
            try:
                response = self.session.request(
                    method, self.url + path, json=body, timeout=self.timeout, verify=self.verify
                )
            except requests.RequestException as error:
                if attempt < attempts:
                    time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
                    continue
                raise ChronosUnreachableError(
                    f"Chronos at {self.url} is unreachable during {action}: {type(error).__name__}"
                ) from None
            if response.status_code >= 500 and attempt < attempts:
                time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
                continue
            return raise_for_status(response, action, self.secrets)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def jobs(self):
        """Every job as Chronos stores it."""
        response = self.request("GET", "/scheduler/jobs", "listing jobs")
        try:
            listing = response.json()
        except ValueError:
            raise ChronosServerError(
                "Chronos answered the job list with something not JSON"
            ) from None
        if not isinstance(listing, list):
            raise ChronosServerError("Chronos answered the job list with something not a list")
        return listing

    def find_job(self, name):
        """The stored job ``name`` or None."""
        for job in self.jobs():
            if job.get("name") == name:
                return job
        return None

    def put_job(self, job):
        """Create or replace: scheduled jobs go to /iso8601, dependent ones to /dependency."""
        endpoint = "/scheduler/dependency" if job.get("parents") else "/scheduler/iso8601"
        self.request("POST", endpoint, f"writing job {job['name']!r}", body=job)

    def delete_job(self, name):
        self.request("DELETE", job_path(name), f"deleting job {name!r}")

    def run_job(self, name):
        self.request("PUT", job_path(name), f"starting job {name!r}")
