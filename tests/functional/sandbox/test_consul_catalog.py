"""Conformance of the Consul stand-in's catalog, health and agent endpoints
with docs/api-notes.md, driven by py-consul and by raw HTTP."""

import socket
import threading
import time

import consul
import pytest
import requests

from sandbox.httpserver import JSONRequestHandler, StandInServer
from tests.fixtures.consul import deregister_service, register_service, set_check_status

TIMEOUT = 10


@pytest.fixture
def client(consul_server):
    return consul.Consul(host="127.0.0.1", port=consul_server.port)


def get(server, path, params=None):
    response = requests.get(f"{server.url}{path}", params=params, timeout=TIMEOUT)
    assert response.headers["X-Consul-KnownLeader"] == "true"
    assert int(response.headers["X-Consul-Index"]) >= 1
    return response


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_catalog_services_lists_the_consul_service_and_unions_tags(consul_server):
    register_service(consul_server.url, "web", 8001, tags=["a", "b"], service_id="web-1")
    register_service(consul_server.url, "web", 8002, tags=["b", "c"], service_id="web-2")
    body = get(consul_server, "/v1/catalog/services").json()
    assert body == {"consul": [], "web": ["a", "b", "c"]}


def test_catalog_service_rows_and_tag_filter(consul_server):
    register_service(consul_server.url, "web", 8001, tags=["production"], service_id="web-1")
    register_service(
        consul_server.url, "web", 8002, tags=["staging"], service_id="web-2", address=""
    )
    rows = get(consul_server, "/v1/catalog/service/web").json()
    assert [row["ServiceID"] for row in rows] == ["web-1", "web-2"]
    first = rows[0]
    for field in ("Node", "Address", "ServiceID", "ServiceName", "ServiceTags"):
        assert field in first
    assert first["ServiceAddress"] == "127.0.0.1" and first["ServicePort"] == 8001
    # An empty ServiceAddress means "use the node's Address".
    assert rows[1]["ServiceAddress"] == "" and rows[1]["Address"] == "127.0.0.1"
    tagged = get(consul_server, "/v1/catalog/service/web", {"tag": "staging"}).json()
    assert [row["ServiceID"] for row in tagged] == ["web-2"]
    assert get(consul_server, "/v1/catalog/service/unknown").json() == []


def test_health_service_shape_and_passing_filter(consul_server, client):
    register_service(consul_server.url, "api", 9001, service_id="api-1", tags=["x"])
    register_service(consul_server.url, "api", 9002, service_id="api-2", status="critical")
    rows = get(consul_server, "/v1/health/service/api").json()
    assert [row["Service"]["ID"] for row in rows] == ["api-1", "api-2"]
    row = rows[0]
    assert set(row) == {"Node", "Service", "Checks"}
    assert row["Node"]["Node"] and row["Node"]["Address"] == "127.0.0.1"
    assert row["Service"]["Service"] == "api" and row["Service"]["Port"] == 9001
    assert row["Service"]["Tags"] == ["x"]
    check_ids = {check["CheckID"]: check for check in row["Checks"]}
    assert check_ids["service:api-1"]["Status"] == "passing"
    assert check_ids["service:api-1"]["ServiceID"] == "api-1"
    assert check_ids["serfHealth"]["ServiceID"] == ""
    passing = get(consul_server, "/v1/health/service/api", {"passing": ""}).json()
    assert [row["Service"]["ID"] for row in passing] == ["api-1"]
    _, data = client.health.service("api", passing=True, tag="x")
    assert [row["Service"]["ID"] for row in data] == ["api-1"]


def test_warning_is_not_passing(consul_server):
    register_service(consul_server.url, "api", 9001, status="warning")
    assert get(consul_server, "/v1/health/service/api", {"passing": "1"}).json() == []
    assert len(get(consul_server, "/v1/health/service/api").json()) == 1


def test_a_failing_node_check_drops_every_instance_from_passing(consul_server, client):
    register_service(consul_server.url, "api", 9001)
    assert client.agent.check.register("disk", check=consul.Check.ttl("10m"), check_id="disk")
    set_check_status(consul_server.url, "disk", "critical")
    assert get(consul_server, "/v1/health/service/api", {"passing": ""}).json() == []
    set_check_status(consul_server.url, "disk", "passing")
    assert len(get(consul_server, "/v1/health/service/api", {"passing": ""}).json()) == 1


def test_new_check_starts_critical_unless_status_given(consul_server, client):
    assert client.agent.service.register("svc", port=1, check=consul.Check.ttl("10m"))
    (row,) = get(consul_server, "/v1/health/service/svc").json()
    assert {c["CheckID"]: c["Status"] for c in row["Checks"]}["service:svc"] == "critical"


def test_register_ignores_key_case_and_defaults_id_to_name(consul_server):
    payload = {"name": "lower", "PORT": 7, "tags": ["t"], "check": {"ttl": "10m"}}
    response = requests.put(
        f"{consul_server.url}/v1/agent/service/register", json=payload, timeout=TIMEOUT
    )
    assert response.status_code == 200 and response.content == b""
    (row,) = get(consul_server, "/v1/catalog/service/lower").json()
    assert row["ServiceID"] == "lower" and row["ServicePort"] == 7


@pytest.mark.parametrize(
    "payload",
    [{"Port": 1}, {"Name": "x", "Port": "80"}, {"Name": "x", "Check": {"Interval": "1s"}}],
)
def test_bad_registrations_are_400_and_change_nothing(consul_server, payload):
    response = requests.put(
        f"{consul_server.url}/v1/agent/service/register", json=payload, timeout=TIMEOUT
    )
    assert response.status_code == 400
    assert get(consul_server, "/v1/catalog/services").json() == {"consul": []}


def test_deregister_removes_service_and_checks_and_unknown_is_404(consul_server):
    register_service(consul_server.url, "gone", 1)
    deregister_service(consul_server.url, "gone")
    assert get(consul_server, "/v1/health/service/gone").json() == []
    assert "service:gone" not in requests.get(f"{consul_server.url}/v1/agent/checks").json()
    response = requests.put(
        f"{consul_server.url}/v1/agent/service/deregister/gone", timeout=TIMEOUT
    )
    assert response.status_code == 404


def test_check_status_of_unknown_check_is_404(consul_server):
    response = requests.put(f"{consul_server.url}/v1/agent/check/pass/nope", timeout=TIMEOUT)
    assert response.status_code == 404


def test_ttl_check_turns_critical_when_not_refreshed(consul_server):
    register_service(consul_server.url, "short", 1, ttl="300ms")
    assert wait_for(
        lambda: get(consul_server, "/v1/health/service/short", {"passing": ""}).json() == []
    )
    (row,) = get(consul_server, "/v1/health/service/short").json()
    check = next(c for c in row["Checks"] if c["CheckID"] == "service:short")
    assert check["Status"] == "critical" and "TTL expired" in check["Output"]


def test_blocking_health_query_wakes_on_check_change(consul_server, client):
    register_service(consul_server.url, "api", 9001, status="critical")
    index, rows = client.health.service("api", passing=True)
    assert rows == []
    timer = threading.Timer(
        0.2, set_check_status, args=(consul_server.url, "service:api", "passing")
    )
    started = time.monotonic()
    timer.start()
    try:
        new_index, rows = client.health.service("api", passing=True, index=index, wait="20s")
    finally:
        timer.cancel()
        # The helper may still be mid-request: let it finish before the server stops.
        timer.join(timeout=10)
    assert [row["Service"]["ID"] for row in rows] == ["api"]
    assert int(new_index) > int(index) and time.monotonic() - started < 5


def test_blocking_catalog_services_wakes_on_registration(consul_server, client):
    index, _ = client.catalog.services()
    timer = threading.Timer(0.2, register_service, args=(consul_server.url, "late", 1))
    timer.start()
    try:
        new_index, services = client.catalog.services(index=index, wait="20s")
    finally:
        timer.cancel()
        # The helper may still be mid-request: let it finish before the server stops.
        timer.join(timeout=10)
    assert "late" in services and int(new_index) > int(index)


def test_catalog_services_index_ignores_check_changes(consul_server):
    register_service(consul_server.url, "api", 9001)
    before = get(consul_server, "/v1/catalog/services").headers["X-Consul-Index"]
    set_check_status(consul_server.url, "service:api", "critical")
    assert get(consul_server, "/v1/catalog/services").headers["X-Consul-Index"] == before


class Healthy(JSONRequestHandler):
    def do_GET(self):
        self.send_json(200 if self.path_only == "/ok" else 503, {})


def test_http_checks_are_probed(consul_server):
    with StandInServer(Healthy) as target:
        for name, path in (("good", "/ok"), ("bad", "/broken")):
            definition = {
                "Name": name,
                "Port": target.port,
                "Check": {"HTTP": f"{target.url}{path}", "Interval": "100ms"},
            }
            requests.put(
                f"{consul_server.url}/v1/agent/service/register", json=definition, timeout=TIMEOUT
            ).raise_for_status()
        assert wait_for(
            lambda: len(get(consul_server, "/v1/health/service/good", {"passing": ""}).json())
        )
        (row,) = get(consul_server, "/v1/health/service/bad").json()
        assert {c["CheckID"]: c["Status"] for c in row["Checks"]}["service:bad"] == "critical"


def test_tcp_checks_are_probed(consul_server):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    try:
        definition = {
            "Name": "tcp",
            "Port": listener.getsockname()[1],
            "Check": {"TCP": f"127.0.0.1:{listener.getsockname()[1]}", "Interval": "100ms"},
        }
        requests.put(
            f"{consul_server.url}/v1/agent/service/register", json=definition, timeout=TIMEOUT
        ).raise_for_status()
        assert wait_for(
            lambda: len(get(consul_server, "/v1/health/service/tcp", {"passing": ""}).json())
        )
    finally:
        listener.close()


def test_status_leader_needs_no_token_but_catalog_does(consul_server_factory):
    server = consul_server_factory(token="secret")
    assert requests.get(f"{server.url}/v1/status/leader", timeout=TIMEOUT).status_code == 200
    response = requests.get(f"{server.url}/v1/catalog/services", timeout=TIMEOUT)
    assert response.status_code == 403
    register_service(server.url, "web", 1, token="secret")
    with_token = requests.get(
        f"{server.url}/v1/catalog/services", headers={"X-Consul-Token": "secret"}, timeout=TIMEOUT
    )
    assert "web" in with_token.json()
