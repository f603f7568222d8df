"""Template sources: typed errors tell a missing template from an unreachable store."""

import contextlib
import gzip
import http.server
import os
import socket
import threading

import pytest

from tests.unit.utils.loaded import load_util

template_fetch = load_util("template_fetch")


def test_split_s3_url():
    assert template_fetch.split_s3_url("s3://build-artifacts/a/b.json") == (
        "build-artifacts",
        "a/b.json",
    )


@pytest.mark.parametrize("url", ["s3://bucket-only", "s3:///key", "https://x/y"])
def test_bad_s3_url_is_not_found(url):
    with pytest.raises(template_fetch.TemplateNotFoundError, match="not an s3://bucket/key URL"):
        template_fetch.split_s3_url(url)


def test_missing_local_file_is_not_found_and_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        template_fetch.read_local(tmp_path / "missing.json")
    path = tmp_path / "svc.json"
    path.write_text('{"id": "/a"}')
    assert template_fetch.read_local(path) == '{"id": "/a"}'


def test_unreachable_http_store_is_not_a_missing_template():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port once the probe is closed.
    with pytest.raises(template_fetch.TemplateUnreachableError) as caught:
        template_fetch.fetch_http(f"http://127.0.0.1:{port}/x.json", timeout=2)
    assert not isinstance(caught.value, FileNotFoundError)


# Every fetch ends: one deadline, a size limit counted while reading. -------------


class BodyHandler(http.server.BaseHTTPRequestHandler):
    """Answers every GET with ``server.answer(handler)``; quiet."""

    def do_GET(self):
        self.server.answer(self)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serving(answer):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), BodyHandler)
    server.daemon_threads = True
    server.answer = answer
    server.stopping = threading.Event()
    worker = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    worker.start()
    try:
        yield server, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        worker.join(timeout=10)


def trickle(handler, length=60, every=1.0):
    """A body of ``length`` bytes, one byte every ``every`` seconds (each read is quick)."""
    handler.send_response(200)
    handler.send_header("Content-Length", str(length))
    handler.end_headers()
    for _ in range(length):
        if handler.server.stopping.wait(every):
            return
        try:
            handler.wfile.write(b" ")
            handler.wfile.flush()
        except OSError:
            return  # the client gave up, as it should


def endless(handler, limit=64 * 1024 * 1024):
    """No Content-Length, and bytes until the client hangs up (bounded for old code)."""
    handler.send_response(200)
    handler.end_headers()
    chunk = b"x" * 65536
    for _ in range(limit // len(chunk)):
        if handler.server.stopping.is_set():
            return
        try:
            handler.wfile.write(chunk)
        except OSError:
            return
    handler.close_connection = True


def send(status, body, headers=()):
    def answer(handler):
        handler.send_response(status)
        for name, value in headers:
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return answer


def test_a_trickling_server_fails_at_the_total_deadline_not_per_read():
    # Each byte comes within the 3 s timeout, so a per-read timeout never fires.
    with (
        serving(trickle) as (_, url),
        pytest.raises(template_fetch.TemplateUnreachableError, match="not read within 3s"),
    ):
        template_fetch.fetch_http(f"{url}/slow.json", timeout=3)


def test_an_endless_body_fails_at_the_size_limit():
    with (
        serving(endless) as (_, url),
        pytest.raises(template_fetch.TemplateInvalidError, match="100000-byte"),
    ):
        template_fetch.fetch_http(f"{url}/endless.json", max_bytes=100_000)


def test_an_announced_size_over_the_limit_fails_before_the_body_is_read():
    answer = send(200, b"{}", headers=[("X-Note", "small body, big claim")])

    def lying(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(10**12))
        handler.end_headers()

    with (
        serving(lying) as (_, url),
        pytest.raises(template_fetch.TemplateInvalidError, match="larger than"),
    ):
        template_fetch.fetch_http(f"{url}/huge.json", max_bytes=1000)
    with serving(answer) as (_, url):
        assert template_fetch.fetch_http(f"{url}/ok.json", max_bytes=1000) == "{}"


def test_the_size_limit_counts_decompressed_bytes():
    bomb = gzip.compress(b"0" * (20 * 1024 * 1024))
    answer = send(200, bomb, headers=[("Content-Encoding", "gzip")])
    with (
        serving(answer) as (_, url),
        pytest.raises(template_fetch.TemplateInvalidError, match="1048576-byte"),
    ):
        template_fetch.fetch_http(f"{url}/bomb.json")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_an_endless_device_file_fails_at_the_size_limit(device):
    with pytest.raises(template_fetch.TemplateInvalidError, match="larger than the 4096-byte"):
        template_fetch.read_local(device, max_bytes=4096)


def test_a_fifo_without_a_writer_fails_at_the_deadline(tmp_path):
    fifo = tmp_path / "template.json"
    os.mkfifo(fifo)
    with pytest.raises(template_fetch.TemplateUnreachableError, match="not read within 1s"):
        template_fetch.read_local(fifo, timeout=1)
    # Unblock the abandoned reader so it ends with the test.
    os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def test_a_file_at_the_limit_is_read_and_one_byte_more_is_not(tmp_path):
    path = tmp_path / "svc.json"
    path.write_bytes(b"x" * 100)
    assert template_fetch.read_local(path, max_bytes=100) == "x" * 100
    with pytest.raises(template_fetch.TemplateInvalidError):
        template_fetch.read_local(path, max_bytes=99)


# Binary templates and credentials. ------------------------------------------------


def test_a_binary_template_is_a_clean_error(tmp_path):
    path = tmp_path / "svc.json"
    path.write_bytes(b'{"id": "/a"}\n\x89PNG\r\n\x1a\n')
    with pytest.raises(template_fetch.TemplateInvalidError, match=r"not UTF-8 text \(byte 0x89"):
        template_fetch.read_local(path)
    with (
        serving(send(200, b"\xff\xfe{}")) as (_, url),
        pytest.raises(template_fetch.TemplateInvalidError, match="not UTF-8 text"),
    ):
        template_fetch.fetch_http(f"{url}/binary.json")


def test_utf8_text_arrives_exactly(tmp_path):
    text = '{"cmd": "echo caf\u00e9 \u2028 \U0001f600"}'
    path = tmp_path / "svc.json"
    path.write_text(text, encoding="utf-8")
    assert template_fetch.read_local(path) == text
    with serving(send(200, text.encode())) as (_, url):
        assert template_fetch.fetch_http(f"{url}/svc.json") == text


def secret_url(base, path):
    return base.replace("http://", "http://deployer:pa55-w0rd@") + path


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (send(404, b"gone"), template_fetch.TemplateNotFoundError),
        (send(500, b"oops"), template_fetch.TemplateUnreachableError),
        (send(200, b"\xff"), template_fetch.TemplateInvalidError),
        (endless, template_fetch.TemplateInvalidError),
        (trickle, template_fetch.TemplateUnreachableError),
    ],
    ids=["404", "500", "binary", "too large", "deadline"],
)
def test_credentials_in_a_url_never_appear_in_errors(answer, error):
    with serving(answer) as (_, url), pytest.raises(error) as caught:
        template_fetch.fetch_http(
            secret_url(url, "/svc.json?X-Amz-Signature=s1gnature"), timeout=2, max_bytes=1000
        )
    message = str(caught.value)
    assert "/svc.json" in message
    for secret in ("pa55-w0rd", "deployer", "s1gnature"):
        assert secret not in message


def test_credentials_never_appear_when_the_store_is_unreachable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://deployer:pa55-w0rd@127.0.0.1:{port}/x.json"
    with pytest.raises(template_fetch.TemplateUnreachableError) as caught:
        template_fetch.fetch_http(url, timeout=2)
    assert "127.0.0.1" in str(caught.value)
    assert "pa55-w0rd" not in str(caught.value)


@pytest.mark.parametrize(
    ("location", "shown"),
    [
        ("http://u:p@h:8080/a.json", "http://h:8080/a.json"),
        ("https://token@h/a.json?sig=1", "https://h/a.json?..."),
        ("s3://bucket/key.json", "s3://bucket/key.json"),
        ("/srv/templates/a.json", "/srv/templates/a.json"),
    ],
)
def test_redact(location, shown):
    assert template_fetch.redact(location) == shown


def test_a_silent_s3_endpoint_fails_at_the_deadline(monkeypatch):
    # Accepts connections and never answers: botocore's retries would wait
    # read_timeout once per attempt; the fetch as a whole has one deadline.
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(template_fetch.TemplateUnreachableError, match="not read within 2s"):
            template_fetch.fetch_s3("s3://bucket/key.json", endpoint_url=endpoint, timeout=2)
