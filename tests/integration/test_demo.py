"""``make demo``'s promise, in CI: the whole platform on one machine (the
stand-ins, the registrator, the formula applied with salt-call, ctmpl in
watch mode and a real HAProxy reloading through the reload script, the
test-server under service-wrapper.sh) survives a rolling redeploy and a
Consul KV change under a steady load through HAProxy without one failed
request, and leaves nothing running.

The demo runs as it does for a user (``python -m sandbox demo``), in its
own network namespace (root), with two production instances to stay short.
Its figures come from the results.json it writes; what it checked along the
way (only the new instances routed, exactly one restart for the KV change)
fails a step, which shows in that file too.
"""

import json
import subprocess
import sys

from tests.conftest import REPO_ROOT


def network_namespaces():
    completed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return {line.split()[0] for line in completed.stdout.splitlines() if line.strip()}


def test_a_rolling_redeploy_and_a_kv_change_fail_no_request(tmp_path):
    root = tmp_path / "demo"
    argv = [sys.executable, "-m", "sandbox", "demo", "--root", str(root)]
    argv += ["--instances", "2", "--steps", "redeploy,kv-change"]
    completed = subprocess.run(
        argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    output = completed.stdout + completed.stderr
    results = json.loads((root / "results.json").read_text())
    figures = {step["name"]: step for step in results["under_load"]}

    assert results["failed"] == [], output
    assert set(figures) == {"redeploy", "kv-change"}, output
    for step in figures.values():
        assert step["requests"] >= 100, step
        assert step["failed"] == 0, step
    assert "1 restart by service-wrapper" in figures["kv-change"]["detail"]
    assert completed.returncode == 0, output

    # Stopped in order, and the namespace with anything left in it is gone.
    last_line = completed.stdout.strip().splitlines()[-1]
    assert last_line.endswith("deleted; nothing left running"), output
    namespace = last_line.split()[2]
    assert namespace.startswith("mesos-demo-")
    assert namespace not in network_namespaces()
