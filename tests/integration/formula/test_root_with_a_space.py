"""A mesos:root with a space: the laid-out commands keep every path whole, and run.

mesos.haproxy and mesos.consul_template are applied with ``salt-call --local``
into a scratch root whose name has a space. The unit files are read by
systemd's own parser (``systemd-analyze verify``, whose debug dump shows each
command line as systemd split it) and consul-template's config.hcl by an HCL
parser. Then the parsed commands run inside a network namespace: HAProxy
starts as the unit starts it, consul-template's exec command installs a
candidate, the unit's reload command reloads, and requests get the answer.
"""

import json
import os
import pathlib
import shlex
import shutil
import subprocess
import tempfile

import hcl
import pytest

from sandbox.haproxy_process import wait_for_stats_socket
from tests.conftest import require_binary
from tests.fixtures.haproxy import http_get

ANSWER = (
    "frontend answer\n"
    "    bind 127.0.0.1:8080\n"
    "    http-request return status 200 content-type text/plain string from-candidate\n"
)


@pytest.fixture
def spaced_root():
    # Short: the sockets under it are limited to 108 bytes.
    root = tempfile.mkdtemp(prefix="hap root-", dir="/tmp")
    yield pathlib.Path(root)
    shutil.rmtree(root, ignore_errors=True)


def pillar(root, method):
    return {
        "mesos": {
            "root": str(root),
            "manage_packages": False,
            "manage_services": False,
            "haproxy": {"reload": {"method": method, "syn_drop": {"settle_delay": 0.05}}},
        }
    }


def systemd_commands(unit):
    """{setting: argv} of a unit's Exec* lines, as systemd itself splits them.

    Also returns the executables systemd reports missing: a path split at a
    space shows there as a truncated path.
    """
    require_binary("systemd-analyze")
    dump = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "debug"},
        check=False,
        timeout=60,
    )
    commands, setting = {}, None
    for line in (dump.stdout + dump.stderr).splitlines():
        stripped = line.strip()
        if stripped.startswith("-> Exec") and stripped.endswith(":"):
            setting = stripped[3:-1]
        elif stripped.startswith("Command Line: ") and setting:
            commands[setting] = shlex.split(stripped.removeprefix("Command Line: "))
            setting = None
    missing = [line for line in dump.stderr.splitlines() if "is not executable" in line]
    return commands, missing


@pytest.mark.parametrize("method", ["seamless", "syn_drop"])
def test_laid_out_commands_keep_a_spaced_root_whole_and_run(method, salt_call, spaced_root, netns):
    root = spaced_root
    salt_call.set_pillar(pillar(root, method))
    applied = salt_call.run("state.apply", "mesos.haproxy,mesos.consul_template")
    assert applied.returncode == 0, applied
    assert all(state["result"] is True for state in applied.data.values()), applied.data

    unit, missing = systemd_commands(root / "etc/systemd/system/haproxy.service")
    assert missing == []
    script = f"{root}/usr/local/sbin/mesos-haproxy-reload"
    config = f"{root}/etc/haproxy/haproxy.cfg"
    assert unit["ExecStartPre"] == ["/usr/sbin/haproxy", "-c", "-q", "-f", config]
    assert unit["ExecStart"][unit["ExecStart"].index("-f") + 1] == config
    assert unit["ExecReload"][:3] == [script, "--config", config]

    consul_template_unit, _ = systemd_commands(root / "etc/systemd/system/consul-template.service")
    hcl_path = f"{root}/etc/consul-template/config.hcl"
    assert consul_template_unit["ExecStart"] == ["/usr/bin/consul-template", f"-config={hcl_path}"]
    with open(hcl_path, encoding="utf-8") as stream:
        template = hcl.load(stream)["template"]
    exec_command = template["exec"]["command"]
    candidate = f"{root}/etc/haproxy/haproxy.cfg.candidate"
    assert exec_command[:3] == [script, "--candidate", candidate]
    assert template["destination"] == candidate

    assert netns.run(unit["ExecStartPre"]).returncode == 0
    master = None
    if method == "seamless":
        # -Ws stays in the foreground, as under systemd.
        master = netns.popen(unit["ExecStart"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    else:
        started = netns.run(unit["ExecStart"])
        assert started.returncode == 0, started.stderr
    try:
        wait_for_stats_socket(f"{root}/run/haproxy/admin.sock")
        # consul-template renders the candidate, then runs its exec command.
        pathlib.Path(candidate).write_text(pathlib.Path(config).read_text() + ANSWER)
        installed = netns.run([*exec_command, "--json"])
        assert installed.returncode == 0, installed.stderr
        assert json.loads(installed.stdout)["installed"] is True
        assert http_get(netns, 8080) == (200, "from-candidate")
        # systemctl reload haproxy.
        reloaded = netns.run(unit["ExecReload"])
        assert reloaded.returncode == 0, reloaded.stderr
        assert http_get(netns, 8080) == (200, "from-candidate")
        assert "-j DROP" not in netns.run(["iptables", "-S"]).stdout
    finally:
        netns.kill_all()
        if master is not None:
            master.communicate(timeout=10)
