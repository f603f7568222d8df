"""Cluster provisioning by role (salt/mesos/init.sls and the component states)
through ``salt-call --local`` on this Debian host: what each role renders,
what lands in a scratch root, which file restarts which service, and bad
pillar refused before anything is written.
"""

import json
import os

import pytest

MASTERS = {"m1": "127.0.1.1", "m2": "127.0.1.2", "m3": "127.0.1.3"}
COMPONENT_SERVICES = {
    "zookeeper": "zookeeper",
    "mesos_master": "mesos-master",
    "mesos_agent": "mesos-slave",
    "marathon": "marathon",
    "chronos": "chronos",
    "consul": "consul",
    "docker": "docker",
    "registrator": "registrator",
}
ROLE_COMPONENTS = {
    "master": {"zookeeper", "mesos_master", "marathon", "chronos", "consul"},
    "agent": {"docker", "mesos_agent", "consul", "registrator"},
    "lb-internal": {"consul"},
    "lb-external": {"consul"},
}


def cluster_pillar(root, roles, node="m1", manage=False, **mesos):
    return {
        "mesos": {
            "root": str(root),
            "manage_packages": manage,
            "manage_services": manage,
            "roles": roles,
            "node_name": node,
            "master_nodes": MASTERS,
            "loadbalancer": {"chroot": None},
            "haproxy": {"user": None, "group": None},
            **mesos,
        },
        "consul": {"url": "http://127.0.0.1:8500"},
    }


def run(salt_call, pillar, *arguments):
    salt_call.set_pillar(pillar)
    return salt_call.run(*arguments)


def states(result):
    assert result.returncode == 0 and isinstance(result.data, dict), result
    return result.data


def by_function(shown, module, function):
    """{state id: arguments} of the shown states calling ``module.function``."""
    found = {}
    for state_id, body in shown.items():
        if state_id.startswith("__"):
            continue
        words = body.get(module)
        if words and function in words:
            found[state_id] = {
                key: value
                for word in words
                if isinstance(word, dict)
                for key, value in word.items()
            }
    return found


def components_of(shown):
    return {body["__sls__"].split(".")[1] for body in shown.values() if isinstance(body, dict)}


def files_under(root):
    return sorted(
        os.path.relpath(os.path.join(directory, name), root)
        for directory, _, names in os.walk(root)
        for name in names
    )


# Rendering per role ---------------------------------------------------------------


@pytest.mark.parametrize("manage", [True, False])
@pytest.mark.parametrize(
    ("roles", "node"),
    [
        (["master", "lb-internal"], "m2"),
        (["agent", "lb-internal"], "a1"),
        (["lb-external"], "edge"),
    ],
)
def test_every_role_renders_with_and_without_package_and_service_management(
    salt_call, tmp_path, roles, node, manage
):
    shown = states(
        run(salt_call, cluster_pillar(tmp_path, roles, node, manage), "state.show_sls", "mesos")
    )

    expected = set().union(*(ROLE_COMPONENTS[role] for role in roles))
    services = {args["name"] for args in by_function(shown, "service", "running").values()}
    packages = by_function(shown, "pkg", "installed")
    repositories = by_function(shown, "pkgrepo", "managed")
    assert expected <= components_of(shown)
    assert not (set(COMPONENT_SERVICES) - expected - {"mesos_common"}) & components_of(shown)
    if manage:
        assert {COMPONENT_SERVICES[name] for name in expected} | {"haproxy", "consul-template"} == (
            services
        )
        assert "mesos-consul-package" in packages and "mesos-consul-template-package" in packages
        assert {"mesos-repository-hashicorp", "mesos-repository-mesosphere"} <= set(repositories)
        assert "bookworm main" in repositories["mesos-repository-hashicorp"]["name"]
    else:
        assert services == set() and packages == {} and repositories == {}
    if "lb-external" in roles:
        assert "mesos-loadbalancer-external-template" in shown


def test_an_os_family_other_than_debian_fails_clearly(salt_call, tmp_path):
    salt_call.set_pillar(
        cluster_pillar(tmp_path, ["agent"], "a1"), grains={"os_family": "RedHat", "os": "Rocky"}
    )
    result = salt_call.run("state.show_sls", "mesos")
    assert result.returncode != 0
    assert "OS family RedHat (Rocky) is not supported" in json.dumps(result.data)


# The requisite graph ----------------------------------------------------------------


def test_each_config_file_triggers_exactly_its_own_service(salt_call, tmp_path):
    pillar = cluster_pillar(tmp_path, ["master", "agent", "lb-internal"], manage=True)
    shown = states(run(salt_call, pillar, "state.show_sls", "mesos"))

    watchers = {}
    for service_id, arguments in by_function(shown, "service", "running").items():
        for requisite in arguments.get("watch", []):
            ((_, watched),) = requisite.items()
            watchers.setdefault(watched, set()).add(service_id)
    config_files = {
        state_id: body["__sls__"]
        for state_id, body in shown.items()
        if "file" in body and body["__sls__"].endswith(".config")
    }
    assert len(config_files) > 25
    for state_id, sls in config_files.items():
        component = sls.split(".")[1]
        if component == "haproxy" and state_id != "mesos-haproxy-systemd-unit":
            # HAProxy configs go live only through the reload script (checked,
            # then reloaded); the script, directories and bootstrap config
            # restart nothing.
            assert state_id not in watchers, state_id
        elif component == "mesos_common":
            # /etc/mesos/zk: read by both Mesos daemons.
            assert watchers[state_id] == {"mesos-master-service", "mesos-agent-service"}
        else:
            owner = "mesos-" + component.removeprefix("mesos_").replace("_", "-") + "-service"
            assert watchers[state_id] == {owner}, state_id
    # Every watch points at a config file of the same component (or /etc/mesos/zk).
    for watched in watchers:
        if watched.startswith("mesos-haproxy") or watched.startswith("mesos-consul-template"):
            continue
        assert watched in config_files or watched.startswith("mesos-loadbalancer-"), watched
    assert by_function(shown, "service", "running")["mesos-consul-service"]["reload"] is True
    template_config = by_function(shown, "file", "managed")["mesos-consul-template-config"]
    assert {"file": "mesos-haproxy-reload-script"} in template_config["require"]


# Applied into a scratch root --------------------------------------------------------


def test_apply_lays_down_what_pillar_says_then_changes_nothing(salt_call, tmp_path):
    root = tmp_path / "root"
    pillar = cluster_pillar(
        root,
        ["master", "agent", "lb-internal"],
        "m3",
        mesos_agent={"flags": {"attributes": "rack:r1"}},
    )
    predicted = states(run(salt_call, pillar, "state.apply", "mesos", "test=True"))
    assert {value["result"] for value in predicted.values()} <= {None, True}
    assert not root.exists() or files_under(root) == []

    applied = states(salt_call.run("state.apply", "mesos"))
    assert all(value["result"] is True for value in applied.values()), applied
    assert (root / "etc/zookeeper/conf/myid").read_text() == "3\n"
    zoo = (root / "etc/zookeeper/conf/zoo.cfg").read_text().splitlines()
    assert [line for line in zoo if line.startswith("server.")] == [
        "server.1=127.0.1.1:2888:3888",
        "server.2=127.0.1.2:2888:3888",
        "server.3=127.0.1.3:2888:3888",
    ]
    zk_url = "zk://127.0.1.1:2181,127.0.1.2:2181,127.0.1.3:2181/mesos"
    assert (root / "etc/mesos/zk").read_text() == zk_url + "\n"
    assert (root / "etc/mesos-master/quorum").read_text() == "2\n"
    assert (root / "etc/mesos-slave/master").read_text() == zk_url + "\n"
    assert (root / "etc/mesos-slave/attributes").read_text() == "rack:r1\n"
    assert (root / "etc/mesos-slave/docker_stop_timeout").read_text() == "30secs\n"
    consul = json.loads((root / "etc/consul.d/mesos.json").read_text())
    assert consul["retry_join"] == ["127.0.1.1", "127.0.1.2"] and consul["bootstrap_expect"] == 3
    assert "MARATHON_ZK=zk://127.0.1.1:2181,127.0.1.2:2181,127.0.1.3:2181/marathon" in (
        (root / "etc/default/marathon").read_text().splitlines()
    )

    again = states(salt_call.run("state.apply", "mesos"))
    assert [key for key, value in again.items() if value["changes"]] == []

    # A flag dropped from pillar disappears from the host.
    pillar["mesos"]["mesos_agent"] = {"flags": {"executor_registration_timeout": "10mins"}}
    dropped = states(run(salt_call, pillar, "state.apply", "mesos"))
    changed = {value["__id__"] for value in dropped.values() if value["changes"]}
    assert changed == {"mesos-agent-flags", "mesos-agent-flag-executor-registration-timeout"}
    assert not (root / "etc/mesos-slave/attributes").exists()

    cleaned = states(run(salt_call, pillar, "state.apply", "mesos.clean"))
    assert all(value["result"] is True for value in cleaned.values()), cleaned
    left = files_under(root)
    for gone in (
        "etc/mesos",
        "etc/mesos-slave",
        "etc/mesos-master",
        "etc/zookeeper",
        "etc/consul.d",
        "etc/default",
        "etc/consul-template",
        "etc/systemd",
        "usr/local/sbin",
    ):
        assert not [path for path in left if path.startswith(gone + "/")], left


def test_bad_pillar_fails_before_anything_is_written_with_every_problem_named(salt_call, tmp_path):
    root = tmp_path / "root"
    pillar = cluster_pillar(
        root,
        ["agent", "gateway"],
        "a1",
        master_nodes={"m1": "127.0.1.1", "m2": "127.0.1.1"},
        mesos_agent={
            "flags": {"executor_shutdown_grace_period": "20secs", "docker_stop_timeout": "30secs"}
        },
    )
    result = run(salt_call, pillar, "state.apply", "mesos")

    assert result.returncode != 0
    message = json.dumps(result.data)
    assert "address 127.0.1.1 is given to more than one master (m1, m2)" in message
    assert "docker_stop_timeout (30secs)" in message and "(20secs)" in message
    assert "unknown role 'gateway'" in message
    assert not root.exists() or files_under(root) == []

    result = run(
        salt_call, cluster_pillar(root, ["agent"], "a1", master_nodes={}), "state.apply", "mesos"
    )
    assert result.returncode != 0
    assert "mesos:master_nodes is empty" in json.dumps(result.data)
    assert not root.exists() or files_under(root) == []


def test_consul_template_from_the_release_archive_with_its_checksum(salt_call, tmp_path):
    pillar = cluster_pillar(tmp_path, ["lb-internal"], manage=True)
    pillar["mesos"]["consul_template"] = {"install_from": "archive"}
    shown = states(run(salt_call, pillar, "state.show_sls", "mesos.consul_template"))

    archive = by_function(shown, "archive", "extracted")["mesos-consul-template-package"]
    assert archive["source"].startswith("https://releases.hashicorp.com/consul-template/")
    assert archive["source_hash"].endswith("_SHA256SUMS")
    unit = by_function(shown, "file", "managed")["mesos-consul-template-unit"]
    assert unit["context"]["binary"] == "/usr/local/bin/consul-template"
    service = by_function(shown, "service", "running")["mesos-consul-template-service"]
    assert {"archive": "mesos-consul-template-package"} in service["require"]

    pillar["mesos"]["consul_template"] = {"install_from": "curl"}
    refused = run(salt_call, pillar, "state.show_sls", "mesos.consul_template")
    assert refused.returncode != 0
    assert "install_from must be repository or archive, not curl" in json.dumps(refused.data)


def test_cluster_values_from_the_command_line(salt_call, tmp_path):
    pillar = cluster_pillar(tmp_path, ["master"], node="m2")
    values = states(run(salt_call, pillar, "mesos_cluster.values"))
    assert values["zookeeper_id"] == 2
    assert values["quorum"] == 2
    assert values["consul_retry_join"] == ["127.0.1.1", "127.0.1.3"]
