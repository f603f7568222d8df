"""The haproxy module on a real minion of a real salt-master (after saltutil.sync_all).

The minion gets ``_modules/haproxy.py`` and ``_utils/haproxy_reload.py`` the
way users' minions do, and drives an HAProxy running in a network namespace
through its unix sockets. Results are read straight from the stats socket.
"""

from tests.fixtures.haproxy import raw_server_status, two_server_config


def test_minion_drains_and_enables_a_server(salt_minion, netns, make_haproxy):
    instance = make_haproxy(netns, config_text=two_server_config)
    cli = salt_minion.salt_call_cli()
    socket_argument = f"socket={instance.stats_socket}"

    drained = cli.run("haproxy.drain_server", "app", "one", socket_argument)

    assert drained.returncode == 0, drained
    assert drained.data["new"]["status"] == "DRAIN"
    assert raw_server_status(instance, "one") == "DRAIN"

    enabled = cli.run("haproxy.enable_server", "app", "one", socket_argument)

    assert enabled.returncode == 0, enabled
    assert raw_server_status(instance, "one") in ("UP", "no check")


def test_minion_check_config_reports_haproxys_error(salt_minion, tmp_path):
    broken = tmp_path / "broken.cfg"
    broken.write_text("defaults\n    mode http\nbackend app\n    server one 127.0.0.1:notaport\n")

    result = salt_minion.salt_call_cli().run("haproxy.check_config", str(broken))

    assert result.returncode != 0
    assert "notaport" in str(result.data) + result.stderr + result.stdout
