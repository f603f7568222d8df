"""The Marathon HTTP client: failover, retries, typed errors, auth, quoting.

Small scripted HTTP servers play the failure modes a real Marathon cluster
shows (a dead master, a 503 from a master without a leader, a hung one).
"""

import base64
import socket
import threading

import pytest

from sandbox.httpserver import JSONRequestHandler, StandInServer
from tests.unit.utils.loaded import load_util

marathon_client = load_util("marathon_client")


class ScriptedHandler(JSONRequestHandler):
    """Answers from ``server.script``: a list of (status, body) used in turn."""

    def handle_any(self):
        server = self.server
        self.read_body()
        with server.lock:
            server.seen.append((self.command, self.path, dict(self.headers)))
            status, body = server.script[min(len(server.seen) - 1, len(server.script) - 1)]
        if status == "hang":
            server.release.wait(5)
            return
        self.send_json(status, body)

    def do_GET(self):
        self.handle_any()

    def do_PUT(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()


@pytest.fixture
def scripted():
    servers = []

    def start(*script):
        server = StandInServer(ScriptedHandler)
        server.script = list(script)
        server.seen = []
        server.lock = threading.Lock()
        server.release = threading.Event()
        servers.append(server.start_in_thread())
        return server

    yield start
    for server in servers:
        server.release.set()
        server.stop()


@pytest.fixture
def dead_url():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens there once the probe is closed.
    return f"http://127.0.0.1:{port}"


def client(*urls, **options):
    options.setdefault("backoff", 0.01)
    options.setdefault("timeout", 2)
    return marathon_client.connect(list(urls), **options)


def test_fails_over_from_a_dead_master_and_remembers_the_live_one(scripted, dead_url):
    live = scripted((200, {"apps": []}))
    marathon = client(dead_url, live.url)
    assert marathon.list_apps() == []
    assert marathon.list_apps() == []
    assert len(live.seen) == 2


def test_fails_over_on_5xx_for_idempotent_requests(scripted):
    leaderless = scripted((503, {"message": "no leader"}))
    live = scripted((200, {"app": {"id": "/a"}}))
    assert client(leaderless.url, live.url).get_app("/a") == {"id": "/a"}
    assert [method for method, *_ in leaderless.seen] == ["GET"]


def test_retries_with_backoff_when_every_master_fails_then_succeeds(scripted):
    flaky = scripted((502, {}), (200, {"apps": [{"id": "/a"}]}))
    assert client(flaky.url, retries=2).list_apps() == [{"id": "/a"}]
    assert len(flaky.seen) == 2


def test_every_master_down_raises_unavailable_naming_each(scripted, dead_url):
    failing = scripted((500, {"message": "boom"}))
    with pytest.raises(marathon_client.MarathonUnavailableError) as caught:
        client(dead_url, failing.url, retries=1).list_apps()
    message = str(caught.value)
    assert dead_url in message
    assert f"{failing.url}: HTTP 500" in message
    assert len(failing.seen) == 2  # one try per attempt


def test_post_is_not_resent_after_a_5xx(scripted):
    failing = scripted((503, {"message": "try later"}))
    other = scripted((200, {"deploymentId": "d", "version": "v"}))
    with pytest.raises(marathon_client.MarathonServerError):
        client(failing.url, other.url, retries=3).restart_app("/a")
    assert len(failing.seen) == 1
    assert other.seen == []


def test_post_fails_over_when_the_first_master_never_got_it(scripted, dead_url):
    live = scripted((200, {"deploymentId": "d", "version": "v"}))
    assert client(dead_url, live.url).restart_app("/a") == {"deploymentId": "d", "version": "v"}


@pytest.mark.parametrize(
    ("status", "body", "exception"),
    [
        (400, {"message": "Invalid JSON"}, "MarathonBadRequestError"),
        (401, {"message": "Unauthorized"}, "MarathonUnauthorizedError"),
        (403, {"message": "Forbidden"}, "MarathonUnauthorizedError"),
        (404, {"message": "App '/a' does not exist"}, "MarathonNotFoundError"),
        (409, {"message": "An app with id [/a] already exists."}, "MarathonConflictError"),
        (422, {"message": "Object is not valid", "details": []}, "MarathonInvalidDefinitionError"),
    ],
)
def test_status_codes_map_to_typed_errors(scripted, status, body, exception):
    server = scripted((status, body))
    with pytest.raises(getattr(marathon_client, exception)) as caught:
        client(server.url).get_app("/a")
    assert str(status) in str(caught.value)
    assert caught.value.status == status
    assert len(server.seen) == 1  # 4xx is an answer: no retry, no failover


def test_locked_409_carries_the_deployment_ids(scripted):
    body = {"message": "App is locked by one or more deployments.", "deployments": [{"id": "d1"}]}
    server = scripted((409, body))
    with pytest.raises(marathon_client.MarathonLockedError) as caught:
        client(server.url).put_app("/a", {"instances": 1})
    assert caught.value.deployment_ids == ["d1"]
    assert isinstance(caught.value, marathon_client.MarathonConflictError)


def test_invalid_definition_message_lists_the_details(scripted):
    body = {
        "message": "Object is not valid",
        "details": [{"path": "/instances", "errors": ["error.min"]}],
    }
    server = scripted((422, body))
    with pytest.raises(
        marathon_client.MarathonInvalidDefinitionError, match=r"/instances: error\.min"
    ):
        client(server.url).put_app("/a", {"instances": -1})


def test_app_ids_are_quoted_path_parts(scripted):
    server = scripted((200, {"app": {}}))
    client(server.url).get_app("app/we ird?x#y/")
    assert server.seen[0][1] == "/v2/apps/app/we%20ird%3Fx%23y"


def test_force_is_sent_only_when_asked(scripted):
    server = scripted((200, {"deploymentId": "d", "version": "v"}))
    marathon = client(server.url)
    marathon.put_app("/a", {"instances": 1})
    marathon.put_app("/a", {"instances": 1}, force=True)
    assert [path for _method, path, _headers in server.seen] == [
        "/v2/apps/a",
        "/v2/apps/a?force=true",
    ]


def test_basic_auth_and_token(scripted):
    server = scripted((200, "pong"))
    client(server.url, username="ops", password="s3cret").ping()
    client(server.url, token="abc").ping()
    expected_basic = "Basic " + base64.b64encode(b"ops:s3cret").decode()
    assert server.seen[0][2]["Authorization"] == expected_basic
    assert server.seen[1][2]["Authorization"] == "token=abc"


def test_a_hung_master_times_out_and_the_next_answers(scripted):
    hung = scripted(("hang", None))
    live = scripted((200, {"apps": []}))
    assert client(hung.url, live.url, timeout=0.3).list_apps() == []


def test_credentials_in_urls_never_reach_messages(dead_url):
    url = dead_url.replace("http://", "http://ops:s3cret@")
    with pytest.raises(marathon_client.MarathonUnavailableError) as caught:
        client(url, retries=0).list_apps()
    assert "s3cret" not in str(caught.value)
    assert marathon_client.redact_url(url) == dead_url


def test_no_url_configured_is_a_clear_error():
    with pytest.raises(marathon_client.MarathonError, match="marathon:urls"):
        marathon_client.connect([])
