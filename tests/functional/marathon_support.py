"""Shared by the marathon module/state tests: out-of-band checks on the
Marathon stand-in (raw HTTP, never our client) and template stores."""

import pathlib
import shutil
import socket

import pytest
import requests

from sandbox.httpserver import JSONRequestHandler, StandInServer

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
TEST_SERVER_TEMPLATE = REPO_ROOT / "salt/mesos/services/test-server.json"
TEST_SERVER_ID = "/app/production/test-server"
# Fast polling keeps deploys against the stand-in (tick 0.05 s) quick.
FAST = {"poll_interval": 0.05}


def marathon_pillar(*urls, **settings):
    return {"marathon": {"urls": list(urls), **FAST, **settings}}


def raw_app(server, app_id):
    """GET /v2/apps/<id> straight from the stand-in; None on 404."""
    response = requests.get(f"{server.url}/v2/apps{app_id}", timeout=5)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return response.json()["app"]


def raw_deployments(server):
    return requests.get(f"{server.url}/v2/deployments", timeout=5).json()


def image_of(app):
    return app["container"]["docker"]["image"]


def assert_serving(server, app_id, version, image, instances):
    """The app runs ``version`` with ``instances`` healthy tasks, all of that version."""
    app = raw_app(server, app_id)
    assert app is not None, f"{app_id} is gone"
    assert app["version"] == version
    assert image_of(app) == image
    assert app["tasksHealthy"] == instances
    assert app["tasksRunning"] == instances
    assert {task["version"] for task in app["tasks"]} == {version}
    assert raw_deployments(server) == []


def free_dead_url():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class FileHandler(JSONRequestHandler):
    """Serves ``server.files`` (path -> text); everything else is 404."""

    def do_GET(self):
        text = self.server.files.get(self.path_only)
        if text is None:
            self.send_json(404, {"message": "no such file"})
        else:
            self.send_body(200, text, content_type="application/json")


@pytest.fixture
def template_http_server():
    server = StandInServer(FileHandler)
    server.files = {"/test-server/service-master.json": TEST_SERVER_TEMPLATE.read_text()}
    with server:
        yield server


@pytest.fixture
def s3_store(monkeypatch):
    """A moto S3 server (never real AWS) with bucket build-artifacts holding the template."""
    import boto3
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket="build-artifacts")
        s3.put_object(
            Bucket="build-artifacts",
            Key="test-server/service-master.json",
            Body=TEST_SERVER_TEMPLATE.read_bytes(),
        )
        yield endpoint
    finally:
        server.stop()


@pytest.fixture
def template_copy(tmp_path):
    path = tmp_path / "service.json"
    shutil.copy(TEST_SERVER_TEMPLATE, path)
    return path


def build_loaders(root, pillar=None):
    """Salt loaders over this tree with ``pillar``, rooted at ``root``."""
    import salt.config
    from saltfactories.utils.functional import Loaders

    from tests.conftest import local_minion_config, write_pillar

    write_pillar(root / "pillar", pillar or {})
    opts = salt.config.minion_config(None)
    opts.update(local_minion_config(root, root / "pillar"))
    for key in ("cachedir", "pki_dir", "sock_dir", "extension_modules"):
        opts[key] = str(root / key)
    return Loaders(opts)


@pytest.fixture(scope="module")
def module_loaders(tmp_path_factory):
    """One set of Salt loaders per test module (building them costs ~2 s).

    Its pillar is empty: tests reach their own stand-in through per-call
    arguments (see :class:`Bound`); tests of the pillar path use make_loaders.
    """
    loaders = build_loaders(tmp_path_factory.mktemp("marathon-loaders"))
    yield loaders
    loaders.reset_state()


class Bound:
    """Calls ``module.<function>`` with this test's Marathon URL and fast polling added."""

    def __init__(self, functions, url, **settings):
        self._functions = functions
        self._settings = {"urls": [url], **FAST, **settings}

    def __getattr__(self, name):
        function = getattr(self._functions, name)

        def call(*args, **kwargs):
            return function(*args, **{**self._settings, **kwargs})

        return call
