"""URL parsing, token scrubbing and status mapping in _utils/consul_connection.py."""

import json

import pytest
from consul.base import Response
from salt.exceptions import CommandExecutionError, SaltInvocationError

from tests.unit.utils.loaded import load_util

connection = load_util("consul_connection")
errors = connection.exception_types()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8500", ("http", "127.0.0.1", 8500)),
        ("https://consul.example.com", ("https", "consul.example.com", 443)),
        ("http://[::1]:8500/", ("http", "[::1]", 8500)),
    ],
)
def test_parse_url(url, expected):
    assert connection.parse_url(url) == expected


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (None, "No Consul URL"),
        ("", "No Consul URL"),
        ("127.0.0.1:8500", "must look like"),
        ("ftp://host", "must look like"),
        ("http://host:8500/v1", "must not carry a path"),
        ("http://user:pw@host:8500", "must not carry"),
        ("http://host:99999", "invalid port"),
    ],
)
def test_bad_urls_are_invocation_errors(url, reason):
    with pytest.raises(SaltInvocationError, match=reason):
        connection.parse_url(url)


def test_credentials_in_a_bad_url_are_not_echoed():
    with pytest.raises(SaltInvocationError) as raised:
        connection.parse_url("http://user:s3cret@host:8500")
    assert "s3cret" not in str(raised.value)


@pytest.mark.parametrize(
    "url",
    [
        "consul://127.0.0.1:8500?token=s3cret",
        "consul://127.0.0.1:8500/?token=s3cret&dc=eu",
        "http://127.0.0.1:8500?token=s3cret",
        "http://127.0.0.1:99999?token=s3cret",
        "https://ops:s3cret@consul.example.com:notaport?token=s3cret",
        "http://[::1?token=s3cret",
        "ftp://user:s3cret@host/?token=s3cret",
    ],
)
def test_a_token_in_a_bad_url_is_never_echoed(url):
    with pytest.raises(SaltInvocationError) as raised:
        connection.parse_url(url)
    message = str(raised.value)
    assert "s3cret" not in message
    assert "Consul URL" in message


def test_redact_url_keeps_what_locates_the_server():
    assert connection.redact_url("consul://u:p@h:8500/x?token=t") == "consul://h:8500/x?..."
    assert connection.redact_url("http://127.0.0.1:8500") == "http://127.0.0.1:8500"


def test_scrub_removes_bare_tokens_and_token_parameters():
    text = "GET http://h/v1/kv/a?token=abc123&recurse=1 failed for s3cr3t"
    scrubbed = connection.scrub(text, "s3cr3t")
    assert "abc123" not in scrubbed and "s3cr3t" not in scrubbed
    assert "recurse=1" in scrubbed


@pytest.mark.parametrize(
    ("code", "error_type", "words"),
    [
        (403, errors.ConsulPermissionDenied, "403 permission denied"),
        (400, errors.ConsulBadRequest, "400 bad request"),
        (413, errors.ConsulValueTooLarge, "413 too large"),
        (500, errors.ConsulServerError, "(500)"),
    ],
)
def test_status_codes_map_to_typed_errors(code, error_type, words):
    response = Response(code, {}, "Permission denied for token=tok3n")
    with pytest.raises(error_type) as raised:
        connection.raise_for_status(response, "writing key 'k'", "tok3n")
    assert isinstance(raised.value, CommandExecutionError)
    assert words in str(raised.value) and "writing key 'k'" in str(raised.value)
    assert "tok3n" not in str(raised.value)


def test_transaction_rollback_carries_consul_errors():
    body = json.dumps({"Results": None, "Errors": [{"OpIndex": 1, "What": "index is stale"}]})
    with pytest.raises(errors.ConsulTransactionRolledBack, match="index is stale") as raised:
        connection.raise_for_status(Response(409, {}, body), "syncing", None)
    assert raised.value.errors == [{"OpIndex": 1, "What": "index is stale"}]


@pytest.mark.parametrize("code", [200, 404])
def test_success_and_not_found_pass(code):
    connection.raise_for_status(Response(code, {}, ""), "reading", None)
