"""The haproxy execution module through Salt's loaders, against a real HAProxy.

HAProxy runs in a network namespace the test creates; its unix sockets are
reachable from the test process, so the module runs in-process here. Results
are checked out of band: raw runtime/master CLI answers, files on disk and
requests through HAProxy.
"""

import collections
import pathlib
import subprocess

import pytest
from salt.exceptions import CommandExecutionError

from sandbox.haproxy_process import answer_config
from tests.fixtures.haproxy import haproxy_pillar, http_get, raw_server_status, two_server_config


def answers(namespace, count=12):
    return collections.Counter(http_get(namespace, 8080)[1] for _ in range(count))


@pytest.fixture
def balanced(netns, make_haproxy, make_loaders, tmp_path):
    instance = make_haproxy(netns, config_text=two_server_config)
    loaders = make_loaders(pillar=haproxy_pillar(instance))
    for _ in range(100):
        if raw_server_status(instance, "one") == "UP" == raw_server_status(instance, "two"):
            break
        http_get(netns, 8080)
    return instance, loaders.modules.haproxy


def test_check_config_returns_haproxys_verdict(netns, make_haproxy, make_loaders, tmp_path):
    instance = make_haproxy(netns)
    haproxy = make_loaders(pillar=haproxy_pillar(instance)).modules.haproxy
    result = haproxy.check_config()
    assert result["valid"] is True
    assert result["path"] == str(instance.config)
    assert "Configuration file is valid" in result["output"]
    broken = tmp_path / "broken.cfg"
    broken.write_text("frontend x\n    bind :80\n    use_backend missing\n")
    with pytest.raises(CommandExecutionError, match="unable to find required use_backend"):
        haproxy.check_config(str(broken))


def shadow_lines():
    with open("/etc/shadow", encoding="utf-8") as stream:
        return [line.strip() for line in stream if line.strip()]


@pytest.mark.parametrize("through_symlink", [False, True], ids=["path", "symlinked-candidate"])
def test_check_config_quotes_no_line_of_a_file_that_is_no_config(
    through_symlink, make_loaders, tmp_path
):
    haproxy = make_loaders().modules.haproxy
    path = "/etc/shadow"
    if through_symlink:
        path = str(tmp_path / "haproxy.cfg.candidate")
        pathlib.Path(path).symlink_to("/etc/shadow")

    with pytest.raises(CommandExecutionError) as refused:
        haproxy.check_config(path)

    message = str(refused.value)
    assert f"haproxy -c refused {path}" in message
    assert "unknown keyword '<not shown>' out of section" in message
    for line in shadow_lines():
        assert line not in message
        assert line.split(":")[0] + ":" not in message


def test_safe_reload_installs_the_candidate_and_confirms_the_new_worker(
    netns, make_haproxy, make_loaders, tmp_path
):
    instance = make_haproxy(netns)
    haproxy = make_loaders(pillar=haproxy_pillar(instance)).modules.haproxy
    old_config = instance.config.read_text()
    candidate = tmp_path / "candidate.cfg"
    candidate.write_text(answer_config(instance.directory, body="second"))

    result = haproxy.safe_reload(candidate=str(candidate))

    assert result["method"] == "seamless"
    assert 0 < result["duration"] < 5
    assert instance.config.read_text() == candidate.read_text()
    assert (instance.directory / "haproxy.cfg.previous").read_text() == old_config
    show_proc = instance.master_cli("show proc")
    assert f"\n{result['workers']['new'][0]} " in show_proc.split("# old workers")[0]
    assert "1 [failed: 0]" in show_proc
    assert http_get(netns, 8080) == (200, "second")


def test_safe_reload_refuses_an_invalid_candidate_and_keeps_serving(
    netns, make_haproxy, make_loaders, tmp_path
):
    instance = make_haproxy(netns)
    haproxy = make_loaders(pillar=haproxy_pillar(instance)).modules.haproxy
    live = instance.config.read_text()
    candidate = tmp_path / "candidate.cfg"
    candidate.write_text(live + "backend broken\n    server s1 127.0.0.1:notaport\n")

    with pytest.raises(CommandExecutionError, match=r"haproxy -c refused .*candidate\.cfg"):
        haproxy.safe_reload(candidate=str(candidate))

    assert instance.config.read_text() == live
    assert "0 [failed: 0]" in instance.master_cli("show proc")
    assert http_get(netns, 8080) == (200, "ok")


def test_list_servers_reports_the_backend(balanced):
    _instance, haproxy = balanced
    servers = haproxy.list_servers("app")
    assert [(server["server"], server["status"]) for server in servers] == [
        ("one", "UP"),
        ("two", "UP"),
    ]
    assert servers[0]["address"] == "127.0.0.1:8081"
    assert all(server["backend"] == "app" for server in haproxy.list_servers())
    with pytest.raises(CommandExecutionError, match="no backend named 'nope'"):
        haproxy.list_servers("nope")
    with pytest.raises(CommandExecutionError, match="no server named 'three'"):
        haproxy.drain_server("app", "three")


def test_drain_stops_new_traffic_and_survives_a_reload(balanced, netns):
    instance, haproxy = balanced
    assert set(answers(netns)) == {"one", "two"}

    change = haproxy.drain_server("app", "one")

    assert change["old"]["status"] == "UP"
    assert change["new"]["status"] == "DRAIN"
    assert raw_server_status(instance, "one") == "DRAIN"
    assert set(answers(netns)) == {"two"}

    haproxy.safe_reload()  # the server-state file carries the drain over

    assert raw_server_status(instance, "one") == "DRAIN"
    assert set(answers(netns)) == {"two"}
    haproxy.enable_server("app", "one")
    assert raw_server_status(instance, "one") == "UP"
    assert set(answers(netns)) == {"one", "two"}


def test_disable_enable_and_weight(balanced, netns):
    instance, haproxy = balanced
    change = haproxy.disable_server("app", "two")
    assert change["new"]["status"] == "MAINT"
    assert raw_server_status(instance, "two") == "MAINT"
    assert set(answers(netns)) == {"one"}

    haproxy.enable_server("app", "two")
    change = haproxy.set_weight("app", "one", 0)
    assert (change["old"]["weight"], change["new"]["weight"]) == (1, 0)
    assert set(answers(netns)) == {"two"}
    change = haproxy.set_weight("app", "one", "100%")
    assert change["new"]["weight"] == 1
    assert set(answers(netns)) == {"one", "two"}


def test_reload_without_a_running_haproxy_fails_and_keeps_the_live_config(make_loaders, tmp_path):
    config, candidate = tmp_path / "haproxy.cfg", tmp_path / "candidate.cfg"
    config.write_text(answer_config(tmp_path, body="live"))
    candidate.write_text(answer_config(tmp_path, body="new"))
    pillar = {
        "mesos": {
            "haproxy": {
                "config": str(config),
                "master_socket": str(tmp_path / "master.sock"),
                "lock_file": str(tmp_path / "reload.lock"),
            }
        }
    }
    haproxy = make_loaders(pillar=pillar).modules.haproxy

    with pytest.raises(CommandExecutionError, match="is HAProxy running master-worker"):
        haproxy.safe_reload(candidate=str(candidate))

    assert config.read_text() == answer_config(tmp_path, body="live")
    # Found out before the install: nothing was written next to the config.
    assert sorted(path.name for path in tmp_path.iterdir() if "loader-root" not in path.name) == [
        "candidate.cfg",
        "haproxy.cfg",
        "reload.lock",
    ]


def test_a_failed_reload_keeps_previous_as_it_was(netns, make_haproxy, make_loaders, tmp_path):
    instance = make_haproxy(netns)
    haproxy = make_loaders(pillar=haproxy_pillar(instance)).modules.haproxy
    live = instance.config.read_text()
    # Valid for haproxy -c, but the master cannot load it: the port is another's.
    clashing = tmp_path / "clashing.cfg"
    clashing.write_text(answer_config(instance.directory, body="clash") + BIND_TAKEN_PORT)
    blocker = netns.popen(["python3", "-c", HOLD_PORT_9090], stdout=subprocess.PIPE, text=True)
    try:
        assert blocker.stdout.readline().strip() == "listening"
        with pytest.raises(CommandExecutionError, match="could not load the new config"):
            haproxy.safe_reload(candidate=str(clashing))
    finally:
        blocker.kill()
        blocker.wait(10)

    assert instance.config.read_text() == live
    assert not (instance.directory / "haproxy.cfg.previous").exists()
    assert not [path for path in instance.directory.iterdir() if path.name.startswith(".")]
    assert http_get(netns, 8080) == (200, "ok")


BIND_TAKEN_PORT = "frontend clash\n    bind 127.0.0.1:9090\n    http-request return status 200\n"
HOLD_PORT_9090 = (
    "import socket, time\n"
    "listener = socket.socket()\n"
    "listener.bind(('127.0.0.1', 9090))\n"
    "listener.listen()\n"
    "print('listening', flush=True)\n"
    "time.sleep(120)\n"
)
