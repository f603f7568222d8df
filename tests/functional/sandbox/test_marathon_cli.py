"""``python -m sandbox marathon --port N [--username U --password P]
[--real-processes]`` serves in the foreground and takes its tasks along
when it ends."""

import socket
import subprocess
import sys

import pytest
import requests

from tests.conftest import REPO_ROOT
from tests.fixtures.marathon import poll_until


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def foreground_marathon(tmp_path):
    """Start the command; always terminated (then killed) at teardown."""
    processes = []

    def start(*arguments):
        port = free_port()
        command = [sys.executable, "-m", "sandbox", "marathon", "--port", str(port), *arguments]
        log = open(tmp_path / f"marathon-{port}.log", "w+")  # noqa: SIM115 - closed at teardown
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
        processes.append((process, log))
        url = f"http://127.0.0.1:{port}"
        poll_until(lambda: answers(url, process), timeout=20, message=f"{url}/ping answering")
        return process, url

    yield start
    for process, log in processes:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        log.close()


def answers(url, process):
    assert process.poll() is None, f"the stand-in exited with {process.returncode}"
    try:
        return requests.get(f"{url}/ping", timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


def test_serves_with_basic_auth(foreground_marathon):
    _, url = foreground_marathon("--username", "ops", "--password", "s3cret")

    assert requests.get(f"{url}/v2/apps", timeout=10).status_code == 401
    info = requests.get(f"{url}/v2/info", auth=("ops", "s3cret"), timeout=10)
    assert info.status_code == 200 and info.json()["name"] == "marathon"


def test_sigterm_ends_the_server_and_its_task_processes(foreground_marathon, tmp_path):
    process, url = foreground_marathon("--real-processes")
    marker = tmp_path / "task.pid"
    body = {"cmd": f"echo $$ > {marker}; exec sleep 300", "instances": 1}
    assert requests.put(f"{url}/v2/apps/sleeper", json=body, timeout=10).status_code == 201
    poll_until(lambda: marker.exists() and marker.read_text().strip(), message="task started")
    task_pid = int(marker.read_text())

    process.terminate()

    assert process.wait(timeout=15) == 0
    assert not is_running(task_pid)


def is_running(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except FileNotFoundError:
        return False
