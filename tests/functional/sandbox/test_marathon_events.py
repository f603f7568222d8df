"""The Marathon stand-in's event stream (``GET /v2/events``, server-sent
events), read the way a registrator reads it: raw HTTP, line by line."""

import contextlib
import json
import socket
import threading
import urllib.parse

import pytest
import requests

from tests.fixtures.marathon import article_test_server, poll_until, put_app

APP_ID = "/app/production/test-server"


class EventReader:
    """Reads one event stream over a plain socket in a thread; ``events``
    fills as they come. Subscribed once the constructor returns."""

    def __init__(self, url, **params):
        host, port = url.removeprefix("http://").split(":")
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.sock.sendall(
            f"GET /v2/events{query} HTTP/1.1\r\nHost: {host}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        self.stream = self.sock.makefile("rb")
        self.status_line = self.stream.readline().decode()
        self.headers = {}
        while (line := self.stream.readline().decode().strip()) != "":
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self.sock.settimeout(None)  # events may be far apart; close() ends the wait
        self.events = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        event_type = None
        with contextlib.suppress(OSError, ValueError):
            for raw in self.stream:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    event_type = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    data = json.loads(line.removeprefix("data: "))
                    data["_sse_event"] = event_type
                    with self._lock:
                        self.events.append(data)

    def of_type(self, event_type):
        with self._lock:
            return [event for event in self.events if event["eventType"] == event_type]

    @property
    def finished(self):
        return not self._thread.is_alive()

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)
        self.stream.close()
        self.sock.close()


@pytest.fixture
def open_stream():
    readers = []

    def open_one(server, **params):
        # The stand-in subscribes before it answers: events from now on arrive.
        reader = EventReader(server.url, **params)
        readers.append(reader)
        return reader

    yield open_one
    for reader in readers:
        reader.close()


def test_a_deployment_streams_task_updates_health_and_success(marathon_server, open_stream):
    stream = open_stream(marathon_server)
    poll_until(lambda: stream.events, message="event_stream_attached")
    assert stream.status_line.split()[1] == "200"
    assert stream.headers["content-type"] == "text/event-stream"
    assert stream.events[0]["eventType"] == "event_stream_attached"

    deployment_id = put_app(marathon_server, APP_ID, article_test_server(2)).json()["deploymentId"]
    marathon_server.wait_for_deployments(10)
    poll_until(lambda: stream.of_type("deployment_success"), message="deployment_success")

    [info] = stream.of_type("deployment_info")
    assert info["plan"]["id"] == deployment_id
    assert info["currentStep"]["actions"] == [{"action": "StartApplication", "app": APP_ID}]
    updates = stream.of_type("status_update_event")
    by_task = {}
    for update in updates:
        assert update["appId"] == APP_ID and update["host"] == "127.0.0.1"
        by_task.setdefault(update["taskId"], []).append(update["taskStatus"])
    assert list(by_task.values()) == [["TASK_STAGING", "TASK_RUNNING"]] * 2
    health = stream.of_type("health_status_changed_event")
    assert sorted(event["taskId"] for event in health) == sorted(by_task)
    assert all(event["alive"] is True for event in health)
    assert all(event["_sse_event"] == event["eventType"] for event in stream.events)
    types = [event["eventType"] for event in stream.events]
    assert types.index("deployment_success") > max(
        i for i, t in enumerate(types) if t == "health_status_changed_event"
    )
    assert stream.of_type("deployment_success")[0]["id"] == deployment_id


def test_deleting_an_app_streams_the_kills(marathon_server, open_stream):
    put_app(marathon_server, APP_ID, article_test_server(1))
    marathon_server.wait_for_deployments(10)
    stream = open_stream(marathon_server)

    requests.delete(f"{marathon_server.url}/v2/apps{APP_ID}", timeout=10)
    marathon_server.wait_for_deployments(10)
    poll_until(lambda: stream.of_type("deployment_success"), message="stop finished")

    statuses = [event["taskStatus"] for event in stream.of_type("status_update_event")]
    assert statuses == ["TASK_KILLING", "TASK_KILLED"]
    assert [event["appId"] for event in stream.of_type("app_terminated_event")] == [APP_ID]


def test_event_type_filters_the_stream(marathon_server, open_stream):
    stream = open_stream(marathon_server, event_type="deployment_success")

    put_app(marathon_server, APP_ID, article_test_server(1))
    marathon_server.wait_for_deployments(10)
    poll_until(lambda: stream.events, message="the filtered event")

    assert {event["eventType"] for event in stream.events} == {"deployment_success"}


def test_a_cancelled_deployment_is_reported_failed(marathon_server, open_stream):
    marathon_server.set_task_behaviour(healthy=False)
    stuck = put_app(marathon_server, APP_ID, article_test_server(1)).json()["deploymentId"]
    stream = open_stream(marathon_server)

    requests.delete(
        f"{marathon_server.url}/v2/deployments/{stuck}", params={"force": "true"}, timeout=10
    )

    failed = poll_until(lambda: stream.of_type("deployment_failed"), message="deployment_failed")
    assert failed[0]["id"] == stuck


def test_stopping_the_server_ends_the_stream(marathon_server_factory, open_stream):
    server = marathon_server_factory()
    stream = open_stream(server)

    server.stop()

    poll_until(lambda: stream.finished, timeout=5, message="stream closed")
