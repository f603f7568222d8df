"""The registrator's loop: Marathon's event stream and a periodic resync in,
Consul agent registrations out.

One thread reads ``GET /v2/events`` and queues the id of every app an event
touches; one worker resyncs those apps (``GET /v2/apps/<id>``) and, on a
timer and after every (re)connection of the stream, all apps
(``GET /v2/apps?embed=apps.tasks``), so a lost event or a service left by a
crash is corrected by the next resync. Consul is spoken to through py-consul.
"""

import contextlib
import http.client
import json
import logging
import queue
import socket
import threading
import time
from urllib.parse import quote, urlencode, urlsplit

import consul
import requests

from .conventions import app_registrations, is_ours

log = logging.getLogger(__name__)

EVENT_TYPES = ("status_update_event", "health_status_changed_event", "app_terminated_event")
RESYNC_ALL = object()  # a queue item: resync every app
HTTP_TIMEOUT = 10
# An idle stream is reopened after this long (and everything resynced), so
# a connection that died silently cannot stop registrations for good.
STREAM_READ_TIMEOUT = 60
MAX_BACKOFF = 5.0


def consul_client(consul_url, token=None):
    parts = urlsplit(consul_url)
    default_port = 443 if parts.scheme == "https" else 80
    return consul.Consul(
        host=parts.hostname,
        port=parts.port or default_port,
        token=token,
        scheme=parts.scheme or "http",
    )


class Registrator:
    """Keeps Consul's services equal to Marathon's ready tasks.

    ``start()`` runs it in background threads (tests, the demo); ``run()``
    in the foreground until ``stop()`` or Ctrl-C.
    """

    def __init__(self, marathon_url, consul_url, token=None, resync_interval=30.0):
        self.marathon_url = marathon_url.rstrip("/")
        self.resync_interval = float(resync_interval)
        self.consul = consul_client(consul_url, token)
        self._session = requests.Session()
        self._definitions = {}  # (app id, version) -> definition; versions never change
        self._work = queue.Queue()
        self._stopping = threading.Event()
        self._threads = []
        self._stream_socket = None
        self.stream_connected = threading.Event()
        self.resyncs = 0  # completed full resyncs, for tests and the demo

    # -- life cycle -------------------------------------------------------

    def start(self):
        for target in (self._follow_events, self._work_loop):
            thread = threading.Thread(
                target=target, daemon=True, name=f"registrator{target.__name__}"
            )
            thread.start()
            self._threads.append(thread)
        return self

    def run(self):
        self.start()
        try:
            while not self._stopping.wait(0.5):
                pass
        finally:
            self.stop()

    def stop(self):
        self._stopping.set()
        self._work.put(None)
        stream_socket = self._stream_socket
        if stream_socket is not None:
            # Wakes the reader at once; closing would wait for its next event.
            with contextlib.suppress(OSError):
                stream_socket.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)
        self._session.close()

    # -- Marathon's event stream -----------------------------------------

    def _follow_events(self):
        backoff = 0.2
        while not self._stopping.is_set():
            try:
                self._read_stream()
                backoff = 0.2
            except (OSError, http.client.HTTPException, ValueError) as error:
                if self._stopping.is_set():
                    return
                log.warning("registrator: event stream lost (%s); reconnecting", error)
            self.stream_connected.clear()
            self._stopping.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    def _read_stream(self):
        """Queue the app of every event until the stream ends.

        Read with http.client, whose socket ``stop()`` can shut down to wake
        a read that would otherwise block until the next event.
        """
        query = urlencode([("event_type", event_type) for event_type in EVENT_TYPES])
        connection = open_connection(self.marathon_url, STREAM_READ_TIMEOUT)
        try:
            connection.connect()
            # Kept now: a response that ends with the connection takes the
            # socket away from ``connection``.
            self._stream_socket = connection.sock
            connection.request(
                "GET", f"/v2/events?{query}", headers={"Accept": "text/event-stream"}
            )
            response = connection.getresponse()
            if response.status != 200:
                raise ValueError(f"GET /v2/events answered {response.status}")
            if self._stopping.is_set():
                return
            # Whatever happened before we listened is only in a full resync.
            self._work.put(RESYNC_ALL)
            self.stream_connected.set()
            lines = (line.decode("utf-8").rstrip("\r\n") for line in response)
            for event in parse_server_sent_events(lines):
                app_id = event.get("appId")
                if app_id:
                    self._work.put(app_id)
        finally:
            self._stream_socket = None
            connection.close()

    # -- the worker -------------------------------------------------------

    def _work_loop(self):
        next_full = time.monotonic()
        while not self._stopping.is_set():
            try:
                item = self._work.get(timeout=max(0.0, next_full - time.monotonic()))
            except queue.Empty:
                item = RESYNC_ALL
            items = {item, *drain(self._work)}
            if None in items or self._stopping.is_set():
                return
            try:
                if RESYNC_ALL in items:
                    self.resync_all()
                    next_full = time.monotonic() + self.resync_interval
                else:
                    for app_id in items:
                        self.resync_app(app_id)
            except (requests.RequestException, consul.ConsulException, ValueError) as error:
                # Try again soon; meanwhile Consul keeps what it had.
                log.warning("registrator: resync failed (%s); retrying", error)
                next_full = time.monotonic() + 1.0

    def resync_all(self):
        """Make every registration of ours match Marathon's ready tasks."""
        apps = self._get_json("/v2/apps", params={"embed": "apps.tasks"})["apps"]
        wanted = [r for app in apps for r in app_registrations(app, self._definition)]
        self._apply(wanted, self._our_services(lambda service: True))
        self.resyncs += 1

    def resync_app(self, app_id):
        """Make our registrations of one app match its ready tasks."""
        app_id = "/" + app_id.strip("/")
        response = self._session.get(
            f"{self.marathon_url}/v2/apps/{quote(app_id.strip('/'))}",
            params={"embed": "app.tasks"},
            timeout=HTTP_TIMEOUT,
        )
        if response.status_code == 404:
            wanted = []
        else:
            response.raise_for_status()
            wanted = app_registrations(response.json()["app"], self._definition)
        owned = self._our_services(lambda service: service_app(service) == app_id)
        self._apply(wanted, owned)

    def _apply(self, wanted, owned):
        wanted_ids = {registration.service_id for registration in wanted}
        for service_id, service in owned.items():
            if service_id not in wanted_ids:
                self.consul.agent.service.deregister(service_id)
                log.info("deregistered %s (%s)", service_id, service.get("Service"))
        for registration in wanted:
            if registration.service_id in owned and registration.matches(
                owned[registration.service_id]
            ):
                continue
            self.consul.agent.service.register(
                registration.name,
                service_id=registration.service_id,
                address=registration.address,
                port=registration.port,
                tags=list(registration.tags),
                meta=registration.meta,
            )
            log.info(
                "registered %s as %s on %s:%d tags %s",
                registration.service_id,
                registration.name,
                registration.address,
                registration.port,
                ",".join(registration.tags),
            )

    def _our_services(self, wanted):
        services = self.consul.agent.services()
        return {sid: s for sid, s in services.items() if is_ours(s) and wanted(s)}

    def _definition(self, app_id, version):
        key = (app_id, version)
        if key not in self._definitions:
            path = f"/v2/apps/{quote(app_id.strip('/'))}/versions/{quote(version)}"
            self._definitions[key] = self._get_json(path)
        return self._definitions[key]

    def _get_json(self, path, params=None):
        response = self._session.get(
            f"{self.marathon_url}{path}", params=params, timeout=HTTP_TIMEOUT
        )
        response.raise_for_status()
        return response.json()


def open_connection(base_url, timeout):
    parts = urlsplit(base_url)
    if parts.scheme == "https":
        return http.client.HTTPSConnection(parts.hostname, parts.port or 443, timeout=timeout)
    return http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)


def service_app(service):
    return (service.get("Meta") or {}).get("marathon-app")


def drain(work):
    """Every item already queued, without waiting."""
    items = []
    while True:
        try:
            items.append(work.get_nowait())
        except queue.Empty:
            return items


def parse_server_sent_events(lines):
    """Yield the JSON ``data`` of each server-sent event (blank line ends one)."""
    data = []
    for line in lines:
        if line is None:
            continue
        if line == "":
            if data:
                yield json.loads("\n".join(data))
                data = []
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
