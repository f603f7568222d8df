"""marathon.render_template (the fetch marathon.deploy does first) through
Salt's loaders: every template source ends with a clean error, within its
limits, and never shows credentials. S3 is moto's server mode."""

import boto3
import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from tests.functional import marathon_support as support
from tests.functional.marathon_support import TEST_SERVER_TEMPLATE

module_loaders = support.module_loaders
s3_store = support.s3_store
template_http_server = support.template_http_server

PNG = b"\x89PNG\r\n\x1a\n\x00\x00"


@pytest.fixture
def render(module_loaders):
    function = module_loaders.modules.marathon.render_template

    def call(template, **kwargs):
        return function(template, "staging", 1, tag="v1", **kwargs)

    return call


def put_s3(endpoint, key, body):
    boto3.client("s3", endpoint_url=endpoint).put_object(
        Bucket="build-artifacts", Key=key, Body=body
    )


def test_every_source_renders_the_same_definition(render, s3_store, template_http_server):
    expected = render(str(TEST_SERVER_TEMPLATE))
    assert render(f"file://{TEST_SERVER_TEMPLATE}") == expected
    assert render("salt://mesos/services/test-server.json") == expected
    http = f"{template_http_server.url}/test-server/service-master.json"
    assert render(http) == expected
    s3 = "s3://build-artifacts/test-server/service-master.json"
    assert render(s3, s3_endpoint_url=s3_store) == expected


def test_a_binary_template_is_a_clean_error_from_a_path_and_from_s3(render, tmp_path, s3_store):
    path = tmp_path / "image.png"
    path.write_bytes(PNG)
    with pytest.raises(SaltInvocationError, match=r"is not UTF-8 text \(byte 0x89 at offset 0\)"):
        render(str(path))
    put_s3(s3_store, "binary.json", PNG)
    with pytest.raises(
        SaltInvocationError, match=r"s3://build-artifacts/binary\.json is not UTF-8"
    ):
        render("s3://build-artifacts/binary.json", s3_endpoint_url=s3_store)


def test_endless_device_files_stop_at_the_size_limit(render):
    with pytest.raises(SaltInvocationError, match="larger than the 1048576-byte limit"):
        render("file:///dev/zero")
    with pytest.raises(SaltInvocationError, match="larger than the 2048-byte limit"):
        render("/dev/urandom", template_max_bytes=2048)


def test_the_size_limit_applies_to_every_source(render, s3_store, template_http_server):
    small = {"template_max_bytes": 100}
    sources = {
        "salt://mesos/services/test-server.json": {},
        str(TEST_SERVER_TEMPLATE): {},
        f"{template_http_server.url}/test-server/service-master.json": {},
        "s3://build-artifacts/test-server/service-master.json": {"s3_endpoint_url": s3_store},
    }
    for template, extra in sources.items():
        with pytest.raises(SaltInvocationError, match="larger than the 100-byte limit"):
            render(template, **small, **extra)


@pytest.mark.parametrize(
    ("setting", "value"),
    [("template_timeout", 0), ("template_timeout", "soon"), ("template_max_bytes", -1)],
)
def test_bad_limits_are_refused(render, setting, value):
    with pytest.raises(SaltInvocationError, match=setting):
        render(str(TEST_SERVER_TEMPLATE), **{setting: value})


def test_credentials_in_a_template_url_never_appear_in_errors(render, template_http_server):
    template_http_server.files["/needs-a-value.json"] = '{"id": "/app/$environment/x", "x": $cpu}'
    base = template_http_server.url.replace("http://", "http://deployer:pa55-w0rd@")
    failures = {
        f"{base}/missing.json": SaltInvocationError,
        f"{base}/needs-a-value.json": SaltInvocationError,
        f"{base.replace('http', 'gopher', 1)}/x.json": SaltInvocationError,
        "http://deployer:pa55-w0rd@127.0.0.1:1/x.json": CommandExecutionError,
    }
    for template, error in failures.items():
        with pytest.raises(error) as caught:
            render(template, template_timeout=5)
        assert "pa55-w0rd" not in str(caught.value), template
        assert "deployer" not in str(caught.value), template
