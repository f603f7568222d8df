"""Unit tests for the reload script's pure parts: parsing, installing, locking."""

import importlib.util
import multiprocessing
import os
import pathlib
import stat
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

REPO_ROOT = pathlib.Path(__file__).resolve().parents[3]


def load_reload_util():
    path = REPO_ROOT / "_utils" / "haproxy_reload.py"
    spec = importlib.util.spec_from_file_location("haproxy_reload_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reload_util = load_reload_util()

SHOW_PROC_AFTER_RELOADS = """\
#<PID>          <type>          <reloads>       <uptime>        <version>
1162            master          5 [failed: 1]   0d00h02m07s     2.6.12
# workers
1271            worker          1               0d00h00m00s     2.6.12
# old workers
1233            worker          3               0d00h00m43s     2.6.12
1240            worker          2               0d00h00m40s     2.6.12
# programs
1244            foo             0               0d00h00m00s     -
"""


def test_show_proc_separates_current_and_old_workers():
    state = reload_util.parse_show_proc(SHOW_PROC_AFTER_RELOADS)
    assert state == {
        "master": 1162,
        "reloads": 5,
        "failed": 1,
        "workers": [1271],
        "old_workers": [1233, 1240],
    }


def test_show_proc_without_a_master_line_is_an_error():
    with pytest.raises(reload_util.ReloadError, match="unexpected answer"):
        reload_util.parse_show_proc("Unknown command.\n")


@pytest.mark.parametrize(
    ("address", "ports"),
    [
        (":80", [80]),
        ("*:443", [443]),
        ("0.0.0.0:3000", [3000]),
        ("ipv4@127.0.0.1:8080", [8080]),
        ("ipv6@:::8443", [8443]),
        ("10.0.0.1:8000-8002", [8000, 8001, 8002]),
        ("/run/haproxy/local.sock", []),
        ("unix@/run/x.sock", []),
        ("abns@name", []),
        ("fd@3", []),
        ("quic4@:443", []),
    ],
)
def test_bind_address_ports(address, ports):
    assert reload_util.ports_of_address(address) == ports


@pytest.mark.parametrize("address", ["127.0.0.1", ":${PORT}", ":0", ":90-80", ":70000"])
def test_bind_address_without_a_clear_port_is_refused(address):
    with pytest.raises(reload_util.ReloadError, match="port"):
        reload_util.ports_of_address(address)


@given(
    host=st.sampled_from(["", "*", "0.0.0.0", "127.0.0.1", "ipv4@10.1.2.3", "ipv6@::"]),
    port=st.integers(min_value=1, max_value=65535),
)
def test_any_host_and_port_yields_that_port(host, port):
    assert reload_util.ports_of_address(f"{host}:{port}") == [port]


CONFIG = """\
global
    stats socket /run/haproxy/admin.sock mode 660 level admin expose-fd listeners
    server-state-file /var/lib/haproxy/server-state   # dumped before reloads
    master-worker
defaults
    mode http
frontend internal
    bind :3000,:3001
    bind 127.0.0.1:13000 # staging
    # bind :9999 is commented out
    bind /run/haproxy/local.sock
frontend external
    bind :80
"""


def test_config_reading(tmp_path):
    config = tmp_path / "haproxy.cfg"
    config.write_text(CONFIG)
    assert reload_util.bound_ports(str(config)) == [80, 3000, 3001, 13000]
    assert reload_util.stats_socket_path(str(config)) == "/run/haproxy/admin.sock"
    assert reload_util.server_state_file(str(config)) == "/var/lib/haproxy/server-state"


def test_relative_server_state_file_uses_the_base(tmp_path):
    config = tmp_path / "haproxy.cfg"
    config.write_text("global\n    server-state-base /var/state\n    server-state-file global\n")
    assert reload_util.server_state_file(str(config)) == "/var/state/global"


def test_guarded_ports_prefers_the_given_ones_and_unions_configs(tmp_path):
    old, new = tmp_path / "old.cfg", tmp_path / "new.cfg"
    old.write_text("frontend a\n    bind :80\n")
    new.write_text("frontend a\n    bind :80\n    bind :81\n")
    assert reload_util.guarded_ports(None, str(old), str(new)) == [80, 81]
    assert reload_util.guarded_ports([443, 80, 443], str(old)) == [80, 443]
    empty = tmp_path / "empty.cfg"
    empty.write_text("global\n")
    with pytest.raises(reload_util.ReloadError, match="binds no TCP port"):
        reload_util.guarded_ports(None, str(empty))


def test_install_keeps_the_previous_config_and_its_mode(tmp_path):
    config, candidate = tmp_path / "haproxy.cfg", tmp_path / "candidate.cfg"
    config.write_text("old\n")
    config.chmod(0o640)
    candidate.write_text("new\n")
    staged = reload_util.stage_candidate(str(candidate), str(config))
    installation = reload_util.Installation(staged, str(config))
    assert config.read_text() == "new\n"
    assert stat.S_IMODE(config.stat().st_mode) == 0o640
    backup = installation.commit()
    assert pathlib.Path(backup).read_text() == "old\n"
    # No temporary files are left next to the config.
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "candidate.cfg",
        "haproxy.cfg",
        "haproxy.cfg.previous",
    ]


def test_a_rolled_back_install_leaves_previous_as_it_was(tmp_path):
    config, candidate = tmp_path / "haproxy.cfg", tmp_path / "candidate.cfg"
    previous = tmp_path / "haproxy.cfg.previous"
    config.write_text("live\n")
    candidate.write_text("new\n")
    for earlier in (None, "older\n"):
        if earlier:
            previous.write_text(earlier)
        staged = reload_util.stage_candidate(str(candidate), str(config))
        installation = reload_util.Installation(staged, str(config))
        installation.roll_back()
        assert config.read_text() == "live\n"
        assert (previous.read_text() if previous.exists() else None) == earlier
        assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
            ["candidate.cfg", "haproxy.cfg"] + (["haproxy.cfg.previous"] if earlier else [])
        )


def test_the_staged_copy_is_the_candidate_as_read_once(tmp_path):
    config, candidate = tmp_path / "haproxy.cfg", tmp_path / "candidate.cfg"
    candidate.write_text("checked\n")
    staged = reload_util.stage_candidate(str(candidate), str(config))
    candidate.write_text("rewritten after the read\n")
    reload_util.Installation(staged, str(config)).commit()
    assert config.read_text() == "checked\n"


def test_first_install_has_no_backup(tmp_path):
    candidate = tmp_path / "candidate.cfg"
    candidate.write_text("new\n")
    config = str(tmp_path / "haproxy.cfg")
    staged = reload_util.stage_candidate(str(candidate), config)
    assert reload_util.Installation(staged, config).commit() is None
    assert (tmp_path / "haproxy.cfg").read_text() == "new\n"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("reboot", "/m.sock", None, 30, 0.2), "unknown reload method"),
        (("seamless", None, "/p.pid", 30, 0.2), "master socket"),
        (("syn_drop", "/m.sock", None, 30, 0.2), "pid file"),
        (("plain", None, None, 30, 0.2), "pid file"),
        (("seamless", "/m.sock", None, 0, 0.2), "timeout"),
        (("syn_drop", None, "/p.pid", 30, -1), "settle delay"),
    ],
)
def test_bad_arguments_are_refused_before_anything_happens(arguments, message):
    with pytest.raises(reload_util.ReloadError, match=message):
        reload_util.check_arguments(*arguments)


def hold_lock(lock_file, hold_seconds, started, timestamps):
    with reload_util.reload_lock(lock_file, reload_util.Deadline(30)):
        started.set()
        begin = time.time()
        time.sleep(hold_seconds)
        timestamps.put((begin, time.time()))


def test_lock_makes_a_second_process_wait_and_times_out(tmp_path):
    lock_file = str(tmp_path / "reload.lock")
    context = multiprocessing.get_context("fork")
    started, timestamps = context.Event(), context.Queue()
    holder = context.Process(target=hold_lock, args=(lock_file, 0.6, started, timestamps))
    holder.start()
    try:
        assert started.wait(10)
        with (
            pytest.raises(reload_util.LockTimeoutError, match="held"),
            reload_util.reload_lock(lock_file, reload_util.Deadline(0.1)),
        ):
            pass
        with reload_util.reload_lock(lock_file, reload_util.Deadline(10)) as waited:
            acquired = time.time()
        _held_from, held_until = timestamps.get(timeout=10)
        assert acquired >= held_until
        assert waited > 0.1
    finally:
        holder.join(10)
    assert holder.exitcode == 0
    assert os.path.exists(lock_file)


def test_a_missing_haproxy_binary_is_named(tmp_path):
    config = tmp_path / "haproxy.cfg"
    config.write_text("global\n")
    with pytest.raises(reload_util.ReloadError, match="not installed"):
        reload_util.check_config(str(config), haproxy=str(tmp_path / "no-haproxy"))


def test_command_line_refuses_an_unknown_method(capsys):
    with pytest.raises(SystemExit) as exit_info:
        reload_util.main(["--method", "reboot"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_a_master_worker_config_is_not_reloaded_daemon_style(tmp_path):
    config = tmp_path / "haproxy.cfg"
    config.write_text("global\n    master-worker\n")
    for method in ("syn_drop", "plain"):
        with pytest.raises(reload_util.ReloadError, match="with the seamless method"):
            reload_util.check_process_model(method, str(config))
    reload_util.check_process_model("seamless", str(config))
    config.write_text("global\n    daemon\n")
    reload_util.check_process_model("plain", str(config))


def test_only_syn_drop_or_a_killed_runs_marker_makes_a_reload_use_iptables(tmp_path):
    marker_dir = str(tmp_path / "markers")
    missing_iptables = str(tmp_path / "no-iptables")
    assert reload_util.remove_stale_rules("seamless", missing_iptables, marker_dir) == 0
    assert reload_util.remove_stale_rules("plain", missing_iptables, marker_dir) == 0
    with pytest.raises(reload_util.ReloadError, match="not installed"):
        reload_util.remove_stale_rules("syn_drop", missing_iptables, marker_dir)
    # A marker of this (running) process is no sign of a killed run.
    os.makedirs(marker_dir)
    pathlib.Path(reload_util.run_marker(marker_dir)).touch()
    assert reload_util.remove_stale_rules("seamless", missing_iptables, marker_dir) == 0
    # One of a process that has ended is, whatever lock that run held.
    ended = multiprocessing.get_context("fork").Process(target=time.sleep, args=(0,))
    ended.start()
    dead_marker = pathlib.Path(reload_util.run_marker(marker_dir, ended.pid))
    ended.join()
    dead_marker.touch()
    with pytest.raises(reload_util.ReloadError, match="not installed"):
        reload_util.remove_stale_rules("seamless", missing_iptables, marker_dir)


def test_a_rule_belongs_to_a_running_run_only_while_that_process_lives():
    own = reload_util.rule_comment()
    assert reload_util.owner_is_running(own)
    pid, start = reload_util.os.getpid(), reload_util.process_start_time(os.getpid())
    # Same pid, another start time: a reused pid, not the run that inserted the rule.
    assert not reload_util.owner_is_running(f"mesos-haproxy-reload pid={pid} start={start + 1}")
    assert not reload_util.owner_is_running("mesos-haproxy-reload")  # an older version's
    assert not reload_util.owner_is_running(f"{own}\n")


def test_stand_alone_runs_and_the_formula_share_one_lock():
    formula = (REPO_ROOT / "salt" / "mesos" / "defaults.yaml").read_text()
    assert f"lock_file: {reload_util.DEFAULT_LOCK_FILE}\n" in formula
    assert reload_util.argument_parser().parse_args([]).lock_file == reload_util.DEFAULT_LOCK_FILE
    assert reload_util.DEFAULT_LOCK_FILE == "/run/haproxy/reload.lock"


SHADOW_LIKE = b"root:$6$salt$secrethash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"


def test_haproxys_verdict_quotes_no_line_of_a_file_that_is_no_haproxy_config():
    output = (
        "[NOTICE]   (1) : haproxy version is 2.6.12\n"
        "[ALERT]    (1) : config : parsing [/etc/shadow:1]: unknown keyword "
        "'root:$6$salt$secrethash:19000:0:99999:7:::' out of section.\n"
    )
    verdict = reload_util.reported_verdict(output, SHADOW_LIKE)
    assert "secrethash" not in verdict
    assert "parsing [/etc/shadow:1]: unknown keyword '<not shown>' out of section." in verdict
    assert "NOTICE" not in verdict


def test_haproxys_verdict_on_a_config_keeps_its_words_but_not_other_files():
    config = b"frontend broken\n    bind :80\n    acl a src -f /etc/shadow\n    use_backend gone\n"
    output = (
        "[ALERT] (1) : config : Proxy 'broken': unable to find required use_backend: 'gone'.\n"
        "[ALERT] (1) : config : parsing [c:3] : error detected while parsing ACL 'a' : "
        "'root:$6$salt$secrethash:19000:0:99999:7:::' is not a valid IPv4 or IPv6 address "
        "at line 1 of file '/etc/shadow'.\n"
    )
    verdict = reload_util.reported_verdict(output, config)
    assert "Proxy 'broken': unable to find required use_backend: 'gone'." in verdict
    assert "secrethash" not in verdict
    assert "at line 1 of file '/etc/shadow'" in verdict
