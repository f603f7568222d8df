"""``python -m sandbox consul --port N --token T`` serves in the foreground."""

import socket
import subprocess
import sys
import time

import requests

from tests.conftest import REPO_ROOT


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(url, process, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()
        try:
            return requests.get(f"{url}/v1/status/leader", timeout=1)
        except requests.ConnectionError:
            time.sleep(0.05)
    raise AssertionError(f"stand-in did not answer on {url} within {timeout}s")


def test_module_command_serves_with_a_token():
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "sandbox", "consul", "--port", str(port), "--token", "t0k"]
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert wait_until_serving(url, process).status_code == 200
        assert requests.put(f"{url}/v1/kv/k", data=b"v", timeout=5).status_code == 403
        response = requests.put(
            f"{url}/v1/kv/k", data=b"v", headers={"X-Consul-Token": "t0k"}, timeout=5
        )
        assert response.json() is True
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
