"""Template sources: typed errors tell a missing template from an unreachable store."""

import socket

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
