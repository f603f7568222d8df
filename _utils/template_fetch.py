"""Read service templates from a local path, over HTTP(S) or from S3.

``salt://`` templates are cached by the execution module (through the Salt
fileserver) and then read here as local files. Every fetch ends:

- one deadline for the whole fetch (``timeout`` seconds), not per read, so a
  server that trickles a byte every few seconds fails in time;
- at most ``max_bytes`` are read, counted while reading, so an endless body
  or ``/dev/zero`` fails instead of filling memory;
- the text must be UTF-8.

Errors are typed so callers can tell a missing template (a bad argument) from
an unreachable store and from a template that is not usable:
:class:`TemplateNotFoundError` (a ``FileNotFoundError``),
:class:`TemplateUnreachableError` (an ``OSError``) and
:class:`TemplateInvalidError` (a ``ValueError``). Messages show locations
through :func:`redact`: never ``user:password@`` nor a query string (presigned
URLs carry their signature there).
The loader exposes :func:`read_local`, :func:`fetch_http`, :func:`fetch_s3`,
:func:`redact`.
"""

import threading
import time
import urllib.parse

import requests
import urllib3.exceptions

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_BYTES = 1024 * 1024
CHUNK_BYTES = 64 * 1024


class TemplateNotFoundError(FileNotFoundError):
    """The store answered, and the template is not there."""


class TemplateUnreachableError(OSError):
    """The store could not be asked in time (network, credentials, server error)."""


class TemplateInvalidError(ValueError):
    """The template was read and cannot be used: too large, or not UTF-8 text."""


def redact(location):
    """``location`` without ``user:password@`` and with its query hidden."""
    location = str(location)
    parts = urllib.parse.urlsplit(location)
    if not parts.scheme or ("@" not in parts.netloc and not parts.query):
        return location
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=host, query="..." if parts.query else ""))


def read_local(path, timeout=DEFAULT_TIMEOUT, max_bytes=DEFAULT_MAX_BYTES):
    """Read a template from the local file system (a FIFO or device too, bounded)."""
    shown = str(path)
    deadline = time.monotonic() + timeout

    def read():
        try:
            with open(path, "rb") as handle:
                return read_limited(handle.read, shown, max_bytes, deadline, timeout)
        except FileNotFoundError:
            raise TemplateNotFoundError(f"template {shown} does not exist") from None

    return decode(within_deadline(read, shown, timeout), shown)


def fetch_http(url, timeout=DEFAULT_TIMEOUT, verify=True, max_bytes=DEFAULT_MAX_BYTES):
    """GET ``url`` and return its text; 404/410 -> :class:`TemplateNotFoundError`."""
    shown = redact(url)
    deadline = time.monotonic() + timeout

    def read():
        with requests.get(url, timeout=timeout, verify=verify, stream=True) as response:
            check_http_status(response, shown)
            refuse_announced_size(response.headers.get("Content-Length"), shown, max_bytes)

            # read1 returns what has arrived, so the deadline is checked between
            # small reads instead of waiting for a full chunk that trickles in.
            def read_chunk(size):
                return response.raw.read1(size, decode_content=True)

            return read_limited(read_chunk, shown, max_bytes, deadline, timeout)

    try:
        return decode(within_deadline(read, shown, timeout), shown)
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        raise TemplateUnreachableError(
            f"cannot fetch template {shown}: {type(exc).__name__}"
        ) from None


def check_http_status(response, shown):
    if response.status_code in (404, 410):
        raise TemplateNotFoundError(f"template {shown} not found (HTTP {response.status_code})")
    if response.status_code != 200:
        raise TemplateUnreachableError(
            f"cannot fetch template {shown}: HTTP {response.status_code}"
        )


def fetch_s3(url, endpoint_url=None, timeout=DEFAULT_TIMEOUT, max_bytes=DEFAULT_MAX_BYTES):
    """Read ``s3://bucket/key`` with boto3 and return its text.

    Credentials and region come from boto3's usual chain (environment, AWS
    config files, instance role); ``endpoint_url`` (or ``AWS_ENDPOINT_URL``)
    points at an S3-compatible store.
    """
    # boto3 takes long to import and only s3:// templates need it.
    import boto3
    import botocore.config
    import botocore.exceptions

    bucket, key = split_s3_url(url)
    shown = redact(url)
    deadline = time.monotonic() + timeout
    config = botocore.config.Config(
        connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 3}
    )

    def read():
        client = boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)
        answer = client.get_object(Bucket=bucket, Key=key)
        refuse_announced_size(answer.get("ContentLength"), shown, max_bytes)
        body = answer["Body"]
        try:
            return read_limited(body.read, shown, max_bytes, deadline, timeout)
        finally:
            body.close()

    try:
        return decode(within_deadline(read, shown, timeout), shown)
    except ValueError as exc:
        if isinstance(exc, TemplateInvalidError):
            raise
        # boto3 refuses a malformed endpoint URL with a ValueError.
        raise TemplateUnreachableError(f"cannot fetch template {shown}: {exc}") from None
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "NoSuchBucket", "404"):
            raise TemplateNotFoundError(f"template {shown} not found ({code})") from None
        raise TemplateUnreachableError(f"cannot fetch template {shown}: {code or exc}") from None
    except botocore.exceptions.BotoCoreError as exc:
        raise TemplateUnreachableError(
            f"cannot fetch template {shown}: {type(exc).__name__}"
        ) from None


def split_s3_url(url):
    """``s3://bucket/path/key.json`` -> ``("bucket", "path/key.json")``."""
    parts = urllib.parse.urlsplit(url)
    key = parts.path.lstrip("/")
    if parts.scheme != "s3" or not parts.netloc or not key:
        raise TemplateNotFoundError(f"{redact(url)} is not an s3://bucket/key URL")
    return parts.netloc, key


# Limits ---------------------------------------------------------------------


def within_deadline(read, shown, timeout):
    """``read()`` in a worker thread; give up on it once ``timeout`` has passed.

    A read blocked in the kernel (a silent server, a FIFO without a writer)
    cannot be interrupted from Python, so the caller stops waiting instead;
    the worker is a daemon and stops itself at its own deadline checks.
    """
    outcome = {}

    def run():
        try:
            outcome["text"] = read()
        except BaseException as exc:  # handed to the caller as is
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="template-fetch", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise deadline_passed(shown, timeout)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["text"]


def read_limited(read_chunk, shown, max_bytes, deadline, timeout):
    """Bytes from ``read_chunk(size)`` until EOF, within ``max_bytes`` and the deadline."""
    chunks, total = [], 0
    while True:
        if time.monotonic() > deadline:
            raise deadline_passed(shown, timeout)
        chunk = read_chunk(min(CHUNK_BYTES, max_bytes + 1 - total))
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > max_bytes:
            raise too_large(shown, max_bytes)
        chunks.append(chunk)


def refuse_announced_size(announced, shown, max_bytes):
    """Fail before reading when the store says the body is over the limit."""
    try:
        size = int(announced)
    except (TypeError, ValueError):
        return
    if size > max_bytes:
        raise too_large(shown, max_bytes)


def deadline_passed(shown, timeout):
    return TemplateUnreachableError(
        f"template {shown} was not read within {timeout:g}s "
        "(the whole fetch has one deadline: template_timeout)"
    )


def too_large(shown, max_bytes):
    return TemplateInvalidError(
        f"template {shown} is larger than the {max_bytes}-byte limit (template_max_bytes)"
    )


def decode(data, shown):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TemplateInvalidError(
            f"template {shown} is not UTF-8 text (byte 0x{data[exc.start]:02x} "
            f"at offset {exc.start}); a service template is a JSON text file"
        ) from None
