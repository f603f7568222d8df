"""Read service templates from a local path, over HTTP(S) or from S3.

``salt://`` templates are read by the execution module (through the Salt
fileserver); this file holds the other sources. Errors are typed so callers can tell a
missing template (a bad argument) from an unreachable store:
:class:`TemplateNotFoundError` (a ``FileNotFoundError``) and
:class:`TemplateUnreachableError` (an ``OSError``).
The loader exposes :func:`read_local`, :func:`fetch_http`, :func:`fetch_s3`.
"""

import urllib.parse

import requests


class TemplateNotFoundError(FileNotFoundError):
    """The store answered, and the template is not there."""


class TemplateUnreachableError(OSError):
    """The store could not be asked (network, credentials, server error)."""


def read_local(path):
    """Read a template from the local file system."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        raise TemplateNotFoundError(f"template {path} does not exist") from None


def fetch_http(url, timeout=30.0, verify=True):
    """GET ``url`` and return its text; 404/410 -> :class:`TemplateNotFoundError`."""
    try:
        response = requests.get(url, timeout=timeout, verify=verify)
    except requests.RequestException as exc:
        raise TemplateUnreachableError(
            f"cannot fetch template {url}: {type(exc).__name__}"
        ) from None
    if response.status_code in (404, 410):
        raise TemplateNotFoundError(f"template {url} not found (HTTP {response.status_code})")
    if response.status_code != 200:
        raise TemplateUnreachableError(f"cannot fetch template {url}: HTTP {response.status_code}")
    return response.content.decode("utf-8")


def fetch_s3(url, endpoint_url=None, timeout=30.0):
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
    config = botocore.config.Config(
        connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 3}
    )
    try:
        client = boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)
    except ValueError as exc:
        raise TemplateUnreachableError(f"cannot fetch template {url}: {exc}") from None
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        return body.read().decode("utf-8")
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "NoSuchBucket", "404"):
            raise TemplateNotFoundError(f"template {url} not found ({code})") from None
        raise TemplateUnreachableError(f"cannot fetch template {url}: {code or exc}") from None
    except botocore.exceptions.BotoCoreError as exc:
        raise TemplateUnreachableError(
            f"cannot fetch template {url}: {type(exc).__name__}"
        ) from None


def split_s3_url(url):
    """``s3://bucket/path/key.json`` -> ``("bucket", "path/key.json")``."""
    parts = urllib.parse.urlsplit(url)
    key = parts.path.lstrip("/")
    if parts.scheme != "s3" or not parts.netloc or not key:
        raise TemplateNotFoundError(f"{url} is not an s3://bucket/key URL")
    return parts.netloc, key
