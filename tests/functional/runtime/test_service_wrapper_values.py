"""service-wrapper.sh hands every key under its prefix to the app as an
environment variable with its exact value, and never runs any of it as shell.
The real script runs under dash against the Consul stand-in; the app writes
the environment it received to a file, read back here."""

import json
import random
import sys

import pytest
import requests

from tests.runtime_support import WrappedProcess, host_port, wrapper_command

PREFIX = "app/production/fuzz"
# Shell syntax of every kind, printf directives, unicode and line breaks.
ALPHABET = list(" \t\n\r$(){}[]`'\"\\;&|<>*?~#!%=,.-_+:/@^") + list("aZ09éß中🙂\u2028\u0085")
NASTY = [
    "$(touch {canary})",
    "`touch {canary}`",
    "'; touch {canary}; '",
    '"; touch {canary}; "',
    "$(printf x > {canary})",
    "\n\ntrailing newlines\n\n",
    "  leading and trailing spaces  ",
    "-n",
    "\\c stops printf %b",
    "\\0101 is not A",
    "%s %d %b",
    "a=b=c",
    "",
    "${HOME}",
    "$HOME",
    "*",
    "\\",
    "\\\\n",
]
DUMP_ENVIRONMENT = (
    "import json, os, sys; open(sys.argv[1], 'w').write(json.dumps(dict(os.environ)))"
)


def random_values(count, canary):
    generator = random.Random(20261127)
    values = [text.replace("{canary}", str(canary)) for text in NASTY]
    while len(values) < count:
        length = generator.randint(0, 40)
        values.append("".join(generator.choice(ALPHABET) for _ in range(length)))
    return values


def put(consul_url, key, value):
    response = requests.put(f"{consul_url}/v1/kv/{key}", data=value, timeout=10)
    assert response.status_code == 200 and response.json() is True, response.text


def run_and_dump(consul_server, tmp_path, prefix=PREFIX):
    dump = tmp_path / "environment.json"
    wrapper = WrappedProcess(
        wrapper_command(
            "127.0.0.1:1",
            host_port(consul_server.url),
            prefix,
            sys.executable,
            "-c",
            DUMP_ENVIRONMENT,
            str(dump),
        ),
        tmp_path,
    )
    try:
        assert wrapper.wait() == 0, wrapper.stderr
        return json.loads(dump.read_text()), wrapper.stderr
    finally:
        wrapper.stop()


def test_500_random_values_arrive_exactly_and_nothing_runs(consul_server, tmp_path):
    canary = tmp_path / "executed"
    values = random_values(520, canary)
    expected = {f"VALUE_{number:03d}": value for number, value in enumerate(values)}
    for name, value in expected.items():
        put(consul_server.url, f"{PREFIX}/{name}", value.encode())

    environment, stderr = run_and_dump(consul_server, tmp_path)

    received = {name: environment.get(name) for name in expected}
    assert received == expected
    assert not canary.exists(), "a value was run as shell"
    assert "skipping" not in stderr


def test_keys_that_are_no_variable_names_are_skipped_and_named(consul_server, tmp_path):
    for key in ("GOOD", "good_too", "_UNDERSCORE", "bad-name", "1DIGIT", "sub/NESTED", "dot.ted"):
        put(consul_server.url, f"{PREFIX}/{key}", b"v")
    put(consul_server.url, f"{PREFIX}/NOT_TEXT", b"\xff\xfe")
    put(consul_server.url, f"{PREFIX}/", b"folder marker")
    put(consul_server.url, f"{PREFIX}-other/ELSEWHERE", b"not ours")

    environment, stderr = run_and_dump(consul_server, tmp_path)

    assert {environment.get(name) for name in ("GOOD", "good_too", "_UNDERSCORE")} == {"v"}
    for name in ("bad-name", "1DIGIT", "NESTED", "sub/NESTED", "dot.ted", "NOT_TEXT", "ELSEWHERE"):
        assert name not in environment
    for key in ("bad-name", "1DIGIT", "sub/NESTED", "dot.ted"):
        assert f'skipping key "{PREFIX}/{key}": not a valid environment variable name' in stderr
    assert f'skipping key "{PREFIX}/NOT_TEXT": its value is not UTF-8 text' in stderr


def test_an_empty_value_is_an_empty_variable_and_an_empty_prefix_starts_the_app(
    consul_server, tmp_path
):
    put(consul_server.url, f"{PREFIX}/EMPTY", b"")
    environment, _ = run_and_dump(consul_server, tmp_path)
    assert environment["EMPTY"] == ""

    environment, _ = run_and_dump(consul_server, tmp_path, prefix="app/production/nothing-here")
    assert "EMPTY" not in environment


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["127.0.0.1:1", "127.0.0.1:1", "app/x"], "expected at least 4 arguments"),
        (["127.0.0.1:1", "127.0.0.1:1", "app/$(id)", "true"], "is not a Consul key"),
        (["127.0.0.1:1", "127.0.0.1:1", "app/x", "A=B", "true"], "contains '='"),
    ],
)
def test_bad_usage_exits_64_with_the_cause(tmp_path, arguments, message):
    wrapper = WrappedProcess(wrapper_command(*arguments), tmp_path)
    try:
        assert wrapper.wait() == 64
        assert message in wrapper.stderr
    finally:
        wrapper.stop()


def test_consul_unreachable_at_start_exits_69_without_starting_the_app(tmp_path):
    marker = tmp_path / "started"
    wrapper = WrappedProcess(
        wrapper_command("127.0.0.1:1", "127.0.0.1:1", "app/x", "touch", str(marker)),
        tmp_path,
        env={"SERVICE_WRAPPER_START_TIMEOUT": "2"},
    )
    try:
        assert wrapper.wait() == 69
        assert "not starting the app" in wrapper.stderr
        assert not marker.exists()
    finally:
        wrapper.stop()


def test_consul_token_from_the_environment_is_sent_and_required(consul_server_factory, tmp_path):
    secured = consul_server_factory(token="wrapper-token-5e1f")
    response = requests.put(
        f"{secured.url}/v1/kv/{PREFIX}/SECRET",
        data=b"s3cret",
        headers={"X-Consul-Token": "wrapper-token-5e1f"},
        timeout=10,
    )
    assert response.json() is True
    dump = tmp_path / "environment.json"
    command = wrapper_command(
        "127.0.0.1:1",
        host_port(secured.url),
        PREFIX,
        sys.executable,
        "-c",
        DUMP_ENVIRONMENT,
        str(dump),
    )

    without = WrappedProcess(command, tmp_path, env={"SERVICE_WRAPPER_START_TIMEOUT": "1"})
    with_token = WrappedProcess(command, tmp_path, env={"CONSUL_HTTP_TOKEN": "wrapper-token-5e1f"})
    try:
        assert without.wait() == 69
        assert "Consul answered HTTP 403" in without.stderr
        assert with_token.wait() == 0, with_token.stderr
        assert json.loads(dump.read_text())["SECRET"] == "s3cret"
    finally:
        without.stop()
        with_token.stop()
