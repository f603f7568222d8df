"""mesos.haproxy applied with ``salt-call --local`` into a scratch root, then used.

The laid-out unit's ExecStart and ExecReload lines are run as they are inside
a network namespace: HAProxy starts from the bootstrap config, the laid-out
reload script (the same file as _utils/haproxy_reload.py, run by whatever
python3 is on PATH, without Salt) installs a candidate the way
consul-template calls it, and requests through HAProxy get the new answer.
"""

import json
import os
import pathlib
import shlex
import shutil
import stat
import subprocess
import tempfile

import pytest

from sandbox.haproxy_process import answer_config, wait_for_stats_socket
from tests.conftest import REPO_ROOT
from tests.fixtures.haproxy import http_get


def scratch_pillar(root, method="seamless", **manage):
    return {
        "mesos": {
            "root": str(root),
            "manage_packages": manage.get("packages", False),
            "manage_services": manage.get("services", False),
            "haproxy": {"reload": {"method": method, "syn_drop": {"settle_delay": 0.05}}},
        }
    }


def apply(salt_call, *arguments):
    result = salt_call.run("state.apply", "mesos.haproxy", *arguments)
    assert isinstance(result.data, dict), result
    return result


def unit_commands(unit_path):
    """ExecStartPre/ExecStart/ExecReload of a unit file, as argument lists."""
    commands = {}
    for line in unit_path.read_text().splitlines():
        key, _, value = line.partition("=")
        if key in ("ExecStartPre", "ExecStart", "ExecReload"):
            commands[key] = shlex.split(value)
    return commands


@pytest.fixture
def scratch_root():
    # Short: the sockets under it are limited to 108 bytes.
    root = tempfile.mkdtemp(prefix="hapsls-", dir="/tmp")
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_test_mode_predicts_and_changes_nothing(salt_call, scratch_root):
    salt_call.set_pillar(scratch_pillar(scratch_root))

    result = apply(salt_call, "test=True")

    assert result.returncode == 0, result
    assert {state["result"] for state in result.data.values()} == {None}
    predicted = {state["name"] for state in result.data.values() if state["changes"]}
    assert f"{scratch_root}/usr/local/sbin/mesos-haproxy-reload" in predicted
    assert f"{scratch_root}/etc/systemd/system/haproxy.service" in predicted
    assert os.listdir(scratch_root) == []


def test_apply_lays_out_the_script_unit_and_bootstrap_config_once(salt_call, scratch_root):
    salt_call.set_pillar(scratch_pillar(scratch_root))

    first = apply(salt_call)

    assert first.returncode == 0, first
    assert all(state["result"] is True for state in first.data.values())
    script = f"{scratch_root}/usr/local/sbin/mesos-haproxy-reload"
    with open(script, "rb") as laid, open(REPO_ROOT / "_utils" / "haproxy_reload.py", "rb") as src:
        assert laid.read() == src.read()
    assert stat.S_IMODE(os.stat(script).st_mode) == 0o755
    config = f"{scratch_root}/etc/haproxy/haproxy.cfg"
    check = subprocess.run(["haproxy", "-c", "-f", config], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert "Warnings were found" not in check.stdout  # server-state file is in place

    # The config belongs to the reload script once it exists: never replaced.
    with open(config, "a") as stream:
        stream.write("# installed by the reload script\n")
    second = apply(salt_call)
    assert second.returncode == 0, second
    assert [state["changes"] for state in second.data.values() if state["changes"]] == []
    assert pathlib.Path(config).read_text().endswith("# installed by the reload script\n")


def test_service_and_package_states_follow_the_switches(salt_call, scratch_root):
    salt_call.set_pillar(scratch_pillar(scratch_root, packages=True, services=True))
    shown = salt_call.run("state.show_sls", "mesos.haproxy")
    assert shown.returncode == 0, shown
    assert {"mesos-haproxy-package", "mesos-haproxy-service"} <= set(shown.data)
    service = shown.data["mesos-haproxy-service"]["service"]
    assert "running" in service
    assert {"watch": [{"file": "mesos-haproxy-systemd-unit"}]} in service

    salt_call.set_pillar(scratch_pillar(scratch_root))
    shown = salt_call.run("state.show_sls", "mesos.haproxy")
    assert not {"mesos-haproxy-package", "mesos-haproxy-service"} & set(shown.data)


@pytest.mark.parametrize("method", ["seamless", "syn_drop"])
def test_the_laid_out_unit_commands_start_and_reload_haproxy(
    method, salt_call, scratch_root, netns, tmp_path
):
    salt_call.set_pillar(scratch_pillar(scratch_root, method))
    assert apply(salt_call).returncode == 0
    commands = unit_commands(pathlib.Path(scratch_root, "etc/systemd/system/haproxy.service"))
    assert netns.run(commands["ExecStartPre"]).returncode == 0
    master = None
    if method == "seamless":
        # -Ws stays in the foreground like under systemd.
        master = netns.popen(
            commands["ExecStart"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    else:
        started = netns.run(commands["ExecStart"])
        assert started.returncode == 0, started.stderr
    try:
        wait_for_stats_socket(f"{scratch_root}/run/haproxy/admin.sock")
        use_the_unit_commands(method, commands, scratch_root, netns, tmp_path)
    finally:
        netns.kill_all()
        if master is not None:
            master.wait(10)


def use_the_unit_commands(method, commands, scratch_root, netns, tmp_path):
    candidate = tmp_path / "candidate.cfg"
    config_text = answer_config(f"{scratch_root}/run/haproxy", method, body="from-candidate")
    candidate.write_text(config_text)
    # consul-template's call: the unit's reload command plus the candidate.
    installed = netns.run([*commands["ExecReload"], "--candidate", str(candidate), "--json"])
    assert installed.returncode == 0, installed.stderr
    assert json.loads(installed.stdout)["method"] == method
    assert http_get(netns, 8080) == (200, "from-candidate")

    # systemctl reload: validate and reload the live config.
    reloaded = netns.run(commands["ExecReload"])
    assert reloaded.returncode == 0, reloaded.stderr
    assert http_get(netns, 8080) == (200, "from-candidate")
    assert "-j DROP" not in netns.run(["iptables", "-S"]).stdout


@pytest.mark.parametrize("verify", [False, True])
def test_the_httpclient_ca_store_is_loaded_only_when_asked(verify, salt_call, scratch_root):
    pillar = scratch_pillar(scratch_root)
    pillar["mesos"]["haproxy"]["httpclient_verify_tls"] = verify
    salt_call.set_pillar(pillar)

    assert apply(salt_call).returncode == 0

    config = f"{scratch_root}/etc/haproxy/haproxy.cfg"
    lines = [line.strip() for line in pathlib.Path(config).read_text().splitlines()]
    assert ("httpclient.ssl.verify none" in lines) is not verify
    check = subprocess.run(["haproxy", "-c", "-f", config], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
