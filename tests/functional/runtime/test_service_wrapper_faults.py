"""What service-wrapper.sh does when Consul stalls or is down (nothing but
waiting and retrying: the app keeps running and Marathon hears nothing), and
how signals and exit statuses pass through it. The real script runs under
dash; Consul is the stand-in in its own process, reached through a cable
that can be cut."""

import os
import signal
import socket

import pytest
import requests

from tests.fixtures.marathon import poll_until
from tests.runtime_support import (
    Cable,
    ConsulProcess,
    WrappedProcess,
    host_port,
    reference_server_command,
    wait_for_text,
    wrapper_command,
)

APP_ID = "/app/production/steady"
PREFIX = APP_ID.strip("/")
RESTART = ("POST", f"/v2/apps{APP_ID}/restart")
# The app notes each start (its pid) and then just runs.
NOTE_START_AND_RUN = 'echo $$ >> "$1"; exec sleep 600'


@pytest.fixture
def consul_process():
    process = ConsulProcess()
    yield process
    process.stop()


@pytest.fixture
def cable(consul_process):
    cable = Cable(consul_process.port)
    yield cable
    cable.cut()


@pytest.fixture
def wrappers():
    started = []
    yield started
    for wrapper in started:
        wrapper.stop()


def put(consul_url, key, value):
    assert requests.put(f"{consul_url}/v1/kv/{key}", data=value, timeout=10).json() is True


def restarts(marathon_server):
    return sum(1 for request in marathon_server.requests if request == RESTART)


def start_steady_app(marathon_server, consul_address, wrappers, tmp_path):
    """A Marathon app to restart (so a restart request is accepted and
    counted) and a wrapped app that notes each start; returns (wrapper, starts)."""
    requests.put(
        f"{marathon_server.url}/v2/apps{APP_ID}",
        json={"cmd": "sleep 1", "instances": 1},
        timeout=10,
    ).raise_for_status()
    marathon_server.wait_for_deployments(10)
    starts = tmp_path / "starts"
    wrapper = WrappedProcess(
        wrapper_command(
            host_port(marathon_server.url),
            consul_address,
            PREFIX,
            *("sh", "-c", NOTE_START_AND_RUN, "app", str(starts)),
        ),
        tmp_path,
    )
    wrappers.append(wrapper)
    poll_until(
        lambda: starts.exists() and starts.read_text().endswith("\n"),
        timeout=20,
        message="the app started",
    )
    assert starts.read_text().split() == [str(wrapper.pid)]
    return wrapper, starts


def test_a_stall_and_an_outage_restart_nothing_and_a_later_change_still_does(
    consul_process, cable, marathon_server, wrappers, tmp_path
):
    put(consul_process.url, f"{PREFIX}/SETTING", "one")
    wrapper, starts = start_steady_app(
        marathon_server, f"127.0.0.1:{cable.port}", wrappers, tmp_path
    )
    app_pid = wrapper.pid

    # Stall: the server takes connections but answers nothing for a while.
    consul_process.freeze()
    try:
        wait_for_text(wrapper, "Consul did not answer", timeout=30)
    finally:
        consul_process.thaw()
    # Outage: nothing listens any more.
    cable.cut()
    wait_for_text(wrapper, "Consul did not answer", timeout=30, count=3)
    cable.splice()
    errors = wrapper.stderr.count("Consul did not answer")
    put(consul_process.url, f"{PREFIX}/UNRELATED-KEY-IS-SKIPPED", "x")
    wait_for_text(wrapper, "UNRELATED-KEY-IS-SKIPPED", timeout=30)

    assert wrapper.process.poll() is None
    assert starts.read_text().split() == [str(app_pid)]
    assert restarts(marathon_server) == 0
    assert wrapper.stderr.count("Consul did not answer") == errors, "back to normal"

    put(consul_process.url, f"{PREFIX}/SETTING", "two")
    poll_until(lambda: restarts(marathon_server) == 1, timeout=30, message="one restart")


@pytest.mark.parametrize(
    ("signal_number", "expected_status"),
    [(signal.SIGTERM, 42), (signal.SIGINT, 43)],
)
def test_signals_reach_the_app_and_its_status_is_the_wrappers(
    consul_process, wrappers, tmp_path, signal_number, expected_status
):
    ready = tmp_path / "ready"
    app = (
        'trap "echo TERM >> \\"$1\\"; exit 42" TERM; trap "echo INT >> \\"$1\\"; exit 43" INT; '
        'echo ready > "$2"; while :; do sleep 0.05; done'
    )
    caught = tmp_path / "caught"
    wrapper = WrappedProcess(
        wrapper_command(
            "127.0.0.1:1",
            host_port(consul_process.url),
            PREFIX,
            "sh",
            "-c",
            app,
            "app",
            str(caught),
            str(ready),
        ),
        tmp_path,
    )
    wrappers.append(wrapper)
    poll_until(ready.exists, timeout=20, message="the app started")

    os.kill(wrapper.pid, signal_number)

    assert wrapper.wait() == expected_status
    assert caught.read_text().split() == [signal_number.name.removeprefix("SIG")]


def test_the_app_exit_status_passes_through(consul_process, wrappers, tmp_path):
    wrapper = WrappedProcess(
        wrapper_command("127.0.0.1:1", host_port(consul_process.url), PREFIX, "sh", "-c", "exit 7"),
        tmp_path,
    )
    wrappers.append(wrapper)
    assert wrapper.wait() == 7


def test_the_test_server_drains_after_sigterm_through_the_wrapper(
    consul_process, wrappers, tmp_path
):
    put(consul_process.url, f"{PREFIX}/GREETING", "hello 'quoted' $(world)")
    port = free_port()
    wrapper = WrappedProcess(
        wrapper_command(
            "127.0.0.1:1",
            host_port(consul_process.url),
            PREFIX,
            *reference_server_command(drain_quiet=1, drain_timeout=30, port=port),
        ),
        tmp_path,
    )
    wrappers.append(wrapper)
    base = f"http://127.0.0.1:{port}"
    poll_until(lambda: answers(f"{base}/healthcheck") == 200, timeout=20, message="healthy")
    assert requests.get(f"{base}/env", timeout=10).json()["GREETING"] == "hello 'quoted' $(world)"

    os.kill(wrapper.pid, signal.SIGTERM)

    poll_until(lambda: answers(f"{base}/healthcheck") == 503, timeout=10, message="draining")
    assert requests.get(f"{base}/", timeout=10).status_code == 200, "still serves while draining"
    assert wrapper.wait(timeout=30) == 0
    assert answers(f"{base}/healthcheck") is None


def test_the_test_server_exits_after_its_drain_timeout_under_steady_traffic(tmp_path):
    port = free_port()
    server = WrappedProcess(
        reference_server_command(drain_quiet=5, drain_timeout=2, port=port), tmp_path
    )
    try:
        base = f"http://127.0.0.1:{port}"
        poll_until(lambda: answers(f"{base}/healthcheck") == 200, timeout=20, message="up")
        server.process.send_signal(signal.SIGINT)
        # Requests keep coming faster than the quiet period: only the timeout ends it.
        poll_until(
            lambda: answers(f"{base}/") is None or server.process.poll() is not None,
            timeout=30,
            interval=0.2,
            message="exit under traffic",
        )
        assert server.wait(timeout=10) == 0
        assert "draining" in server.stderr
    finally:
        server.stop()


def answers(url):
    try:
        return requests.get(url, timeout=2).status_code
    except requests.ConnectionError:
        return None


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_index_that_goes_back_means_reading_afresh_not_restarting(
    consul_server, marathon_server, wrappers, tmp_path
):
    for number in range(30):  # push the index well above a fresh server's
        put(consul_server.url, f"elsewhere/KEY{number}", "x")
    put(consul_server.url, f"{PREFIX}/SETTING", "one")
    wrapper, starts = start_steady_app(
        marathon_server, host_port(consul_server.url), wrappers, tmp_path
    )

    # A restore from an older snapshot: same data, lower index. The wrapper
    # is held still meanwhile, so it never sees the store half restored.
    os.killpg(wrapper.pid, signal.SIGSTOP)
    try:
        consul_server.reset()
        put(consul_server.url, f"{PREFIX}/SETTING", "one")
    finally:
        os.killpg(wrapper.pid, signal.SIGCONT)
    wait_for_text(wrapper, "index went back", timeout=30)
    put(consul_server.url, f"{PREFIX}/UNRELATED-KEY-IS-SKIPPED", "x")
    wait_for_text(wrapper, "UNRELATED-KEY-IS-SKIPPED", timeout=30)

    assert restarts(marathon_server) == 0
    assert starts.read_text().split() == [str(wrapper.pid)]

    put(consul_server.url, f"{PREFIX}/SETTING", "two")
    poll_until(lambda: restarts(marathon_server) == 1, timeout=30, message="one restart")
