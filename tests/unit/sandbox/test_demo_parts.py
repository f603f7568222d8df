"""The demo's pure parts: reading what the formula laid down, the load
figures, and its command line."""

import argparse
import math

import pytest

from sandbox.demo import add_arguments
from sandbox.demo.formula import failed_states, read_consul_template_config, read_exec_start
from sandbox.demo.load import Outcome, Window

CONFIG_HCL = """
consul {
  address = "127.0.0.1:8500"
}
template {
  source           = "/demo root/templates/haproxy-external.ctmpl"
  destination      = "/demo root/etc/haproxy/haproxy.cfg.candidate"
  wait {
    min = "500ms"
    max = "2s"
  }
  exec {
    command = ["/demo root/usr/local/sbin/mesos-haproxy-reload", "--candidate", "/c"]
    timeout = "60s"
  }
}
"""


def test_the_consul_template_stanza_is_read_from_config_hcl(tmp_path):
    path = tmp_path / "config.hcl"
    path.write_text(CONFIG_HCL)
    assert read_consul_template_config(path) == {
        "source": "/demo root/templates/haproxy-external.ctmpl",
        "destination": "/demo root/etc/haproxy/haproxy.cfg.candidate",
        "command": ["/demo root/usr/local/sbin/mesos-haproxy-reload", "--candidate", "/c"],
        "wait": "500ms:2s",
    }


def test_a_config_hcl_without_a_setting_is_refused_by_name(tmp_path):
    path = tmp_path / "config.hcl"
    path.write_text(CONFIG_HCL.replace("destination", "target"))
    with pytest.raises(ValueError, match="no destination setting"):
        read_consul_template_config(path)


def test_exec_start_runs_master_worker_without_systemd(tmp_path):
    unit = tmp_path / "haproxy.service"
    unit.write_text(
        "[Service]\nExecStartPre=/usr/sbin/haproxy -c -q -f /r/haproxy.cfg\n"
        "ExecStart=/usr/sbin/haproxy -Ws -f /r/haproxy.cfg -p /r/pid -S /r/master.sock,mode,600\n"
    )
    argv = read_exec_start(unit)
    assert argv == [
        "/usr/sbin/haproxy",
        "-W",
        "-f",
        "/r/haproxy.cfg",
        "-p",
        "/r/pid",
        "-S",
        "/r/master.sock,mode,600",
    ]
    unit.write_text("[Service]\n")
    with pytest.raises(ValueError, match="no ExecStart"):
        read_exec_start(unit)


def test_failed_states_names_each_state_that_did_not_succeed():
    result = {
        "file_|-a_|-a_|-managed": {"result": True, "comment": "ok"},
        "file_|-b_|-b_|-managed": {"result": False, "comment": "no such file"},
    }
    assert failed_states(result) == ["file_|-b_|-b_|-managed: no such file"]
    assert failed_states(["Rendering SLS failed"]) == ["['Rendering SLS failed']"]


def test_window_figures_count_failures_by_kind_and_rank_latencies():
    window = Window("step")
    for index in range(100):
        window.outcomes.append(Outcome(index, (index + 1) / 1000, True, "200"))
    window.outcomes.append(Outcome(100, 0.5, False, "503"))
    window.outcomes.append(Outcome(101, 0.001, False, "ConnectionRefusedError"))
    figures = window.summary()
    assert figures["requests"] == 102
    assert figures["failed"] == 2
    assert figures["failures"] == {"503": 1, "ConnectionRefusedError": 1}
    assert figures["max_ms"] == pytest.approx(500)
    assert figures["p50_ms"] == pytest.approx(50)
    assert math.isnan(Window("empty").summary()["p99_ms"])


def test_the_command_line_accepts_known_steps_only():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args(["--steps", "redeploy,kv-change"]).steps == ["redeploy", "kv-change"]
    assert parser.parse_args([]).steps == ["redeploy", "kv-change", "failing-deploy"]
    with pytest.raises(SystemExit):
        parser.parse_args(["--steps", "redeploy,reboot"])
