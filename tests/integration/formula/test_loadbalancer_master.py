"""mesos.loadbalancer through a real salt-master and minion: the template
and its included parts come from the master's file server, as on a real
fleet, and the result renders into a config HAProxy accepts.
"""

from tests.conftest import write_pillar
from tests.fixtures.consul import register_service
from tests.loadbalancer_support import (
    haproxy_check,
    prepare_runtime_dirs,
    render,
    scratch_pillar,
    sections,
    self_signed_certificate,
    template_path,
)


def test_master_served_templates_render_into_a_config_haproxy_accepts(
    salt_minion, master_pillar_dir, consul_server, tmp_path
):
    root = tmp_path / "root"
    self_signed_certificate(root / "etc/haproxy/certs/site.pem")
    prepare_runtime_dirs(root)
    write_pillar(master_pillar_dir, scratch_pillar(root, role="external"))
    try:
        cli = salt_minion.salt_call_cli()
        assert cli.run("saltutil.refresh_pillar", wait=True).returncode == 0
        first = cli.run("state.apply", "mesos.loadbalancer")
        assert first.returncode == 0, first
        assert all(state["result"] is True for state in first.data.values()), first.data
        second = cli.run("state.apply", "mesos.loadbalancer")
        assert second.returncode == 0, second
        assert [state["changes"] for state in second.data.values() if state["changes"]] == []
    finally:
        write_pillar(master_pillar_dir, {})
        salt_minion.salt_call_cli().run("saltutil.refresh_pillar", wait=True)

    tags = ["production", "internal-listen-http-3000"]
    register_service(consul_server.url, "test-server", 31000, tags, service_id="ts-1")
    config_path = tmp_path / "haproxy.cfg"
    config = render(consul_server.url, template_path(root, "external"), config_path)
    ok, output = haproxy_check(config_path)
    assert ok, output
    routes = sections(config)["frontend external_https_in"]
    assert "use_backend cluster_production:test-server if host_production:test-server" in routes
    assert (
        "option httpchk GET /healthcheck"
        in sections(config)["backend cluster_production:test-server"]
    )
