"""Pillar checks and derived cluster values (_utils/mesos_cluster.py) and the
component files built from them (_utils/mesos_components.py)."""

import copy
import functools
import json
import pathlib
import subprocess

import pytest
import yaml
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from salt.exceptions import SaltInvocationError

from tests.unit.utils.loaded import load_util

cluster = load_util("mesos_cluster")
components = load_util("mesos_components")

FORMULA = pathlib.Path(__file__).resolve().parents[3] / "salt" / "mesos"
MASTERS = {
    "mesos-master-1": "10.0.0.11",
    "mesos-master-2": "10.0.0.12",
    "mesos-master-3": "10.0.0.13",
}


def merge(base, override):
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@functools.cache
def formula_defaults():
    """defaults.yaml + the Debian family's parameters, as map.jinja merges them."""
    defaults = yaml.safe_load((FORMULA / "defaults.yaml").read_text())["mesos"]
    debian = yaml.safe_load((FORMULA / "osfamilymap.yaml").read_text())["Debian"]
    return merge(defaults, debian)


def settings(**override):
    """The formula's defaults with ``override`` merged in, like pillar."""
    merged = merge(merge(formula_defaults(), {"root": "/"}), override)
    # Replaced, not merged: a test's master_nodes is the whole list.
    merged["master_nodes"] = override.get("master_nodes", MASTERS)
    return merged


def problems_of(config, node=None, roles=None):
    with pytest.raises(SaltInvocationError) as raised:
        cluster.check(config, node, roles)
    return str(raised.value)


# Derived values ------------------------------------------------------------------


@pytest.mark.parametrize(("count", "expected"), [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (7, 4)])
def test_quorum_is_a_strict_majority(count, expected):
    assert cluster.quorum(count) == expected


def test_cluster_values_from_three_masters():
    values = cluster.cluster_values(settings())

    assert values["zookeeper_ensemble"] == [
        "server.1=10.0.0.11:2888:3888",
        "server.2=10.0.0.12:2888:3888",
        "server.3=10.0.0.13:2888:3888",
    ]
    assert values["mesos_zk_url"] == "zk://10.0.0.11:2181,10.0.0.12:2181,10.0.0.13:2181/mesos"
    assert values["marathon_zk_url"] == "zk://10.0.0.11:2181,10.0.0.12:2181,10.0.0.13:2181/marathon"
    assert values["quorum"] == 2
    assert values["bootstrap_expect"] == 3
    assert values["consul_servers"] == ["10.0.0.11", "10.0.0.12", "10.0.0.13"]


def test_ids_follow_the_names_not_the_pillar_order():
    shuffled = {"c": "10.0.0.3", "a": "10.0.0.1", "b": "10.0.0.2"}
    values = cluster.cluster_values(settings(master_nodes=shuffled))
    assert [(m["id"], m["name"]) for m in values["masters"]] == [(1, "a"), (2, "b"), (3, "c")]


def test_a_master_joins_the_other_servers_and_an_agent_joins_every_server():
    master = cluster.host_values(settings(), "mesos-master-2", ["master"])
    agent = cluster.host_values(settings(), "agent-1", ["agent"])

    assert master["zookeeper_id"] == 2 and master["is_master"]
    assert master["address"] == "10.0.0.12"
    assert master["consul_retry_join"] == ["10.0.0.11", "10.0.0.13"]
    assert agent["zookeeper_id"] is None and not agent["is_master"]
    assert agent["address"] == ""
    assert agent["consul_retry_join"] == ["10.0.0.11", "10.0.0.12", "10.0.0.13"]


@hypothesis_settings(max_examples=50, deadline=None)
@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True),
        st.ip_addresses(v=4).map(str),
        min_size=1,
        max_size=9,
    ).filter(lambda nodes: len(set(nodes.values())) == len(nodes))
)
def test_every_master_agrees_and_ids_are_unique(master_nodes):
    config = settings(master_nodes=master_nodes)
    views = [cluster.host_values(config, name, ["master"]) for name in master_nodes]

    assert sorted(view["zookeeper_id"] for view in views) == list(range(1, len(master_nodes) + 1))
    for field in ("zookeeper_ensemble", "mesos_zk_url", "quorum", "consul_servers"):
        assert len({json.dumps(view[field]) for view in views}) == 1
    assert views[0]["quorum"] * 2 > len(master_nodes) >= (views[0]["quorum"] - 1) * 2
    for view in views:
        assert view["address"] not in view["consul_retry_join"]
        assert len(view["consul_retry_join"]) == len(master_nodes) - 1


# Checks --------------------------------------------------------------------------


def test_a_valid_pillar_passes():
    assert cluster.check(settings(), "mesos-master-1", ["master", "lb-internal"]) is None


@pytest.mark.parametrize("empty", [{}, None, []])
def test_empty_master_nodes_is_named(empty):
    message = problems_of(settings(master_nodes=empty))
    assert "mesos:master_nodes is empty" in message
    assert "nothing was applied" in message


def test_every_problem_is_named_at_once():
    config = settings(
        master_nodes={"a": "10.0.0.1", "b": "10.0.0.1", "c": "10.0.0.3"},
        mesos_agent={"flags": {"docker_stop_timeout": "90secs"}},
    )
    message = problems_of(config, "a", ["master", "gateway"])

    assert "address 10.0.0.1 is given to more than one master (a, b)" in message
    assert "docker_stop_timeout (90secs)" in message
    assert "executor_shutdown_grace_period (60secs)" in message
    assert "unknown role 'gateway'" in message
    assert message.count("\n- ") == 3


@pytest.mark.parametrize(
    ("stop", "grace"),
    [("60secs", "60secs"), ("2mins", "90secs"), ("30secs", "30000ms")],
)
def test_stop_timeout_must_be_shorter_than_the_grace_period(stop, grace):
    flags = {"docker_stop_timeout": stop, "executor_shutdown_grace_period": grace}
    message = problems_of(settings(mesos_agent={"flags": flags}))
    assert f"docker_stop_timeout ({stop}) must be shorter than" in message
    assert f"executor_shutdown_grace_period ({grace})" in message


def test_a_shorter_stop_timeout_in_other_units_passes():
    flags = {"docker_stop_timeout": "1mins", "executor_shutdown_grace_period": "90secs"}
    assert cluster.check(settings(mesos_agent={"flags": flags})) is None


@pytest.mark.parametrize("value", ["60", "60s", "sixty", "60secs\n", None])
def test_durations_use_the_mesos_syntax(value):
    message = problems_of(
        settings(mesos_agent={"flags": {"executor_shutdown_grace_period": value}})
    )
    assert "executor_shutdown_grace_period must be a Mesos duration" in message


def test_flags_the_formula_derives_are_refused_and_flag_names_are_not_paths():
    config = settings(
        mesos_master={"flags": {"quorum": 1, "../../etc/passwd": "x"}},
        mesos_agent={"flags": {"master": "zk://elsewhere/mesos", "attributes": "a\nb"}},
        consul={"settings": {"bootstrap_expect": 1}},
    )
    message = problems_of(config)
    assert "mesos:mesos_master:flags:quorum is derived by the formula" in message
    assert "'../../etc/passwd' is not a Mesos flag name" in message
    assert "mesos:mesos_agent:flags:master is derived by the formula" in message
    assert "mesos:mesos_agent:flags:attributes must be one line" in message
    assert "mesos:consul:settings:bootstrap_expect is derived" in message


@pytest.mark.parametrize("address", ["10.0.0.1 ", "300.1.1.1", "a b", "", 12])
def test_master_addresses_are_checked(address):
    message = problems_of(settings(master_nodes={"m1": address}))
    assert "is not an IP address or host name" in message


def test_roles_are_checked_for_the_host():
    assert "no roles" in problems_of(settings(), "h1", [])
    assert "mesos:roles must be a list, such as [master]" in problems_of(settings(), "h1", "master")
    both = problems_of(settings(), "h1", ["lb-internal", "lb-external"])
    assert "lb-internal and lb-external exclude each other" in both
    outside = problems_of(settings(), "h9", ["master"])
    assert "host h9 has role master but is not in mesos:master_nodes" in outside


def test_registrator_kind_and_image_are_checked():
    message = problems_of(settings(registrator={"kind": "consul-registrator"}))
    assert "mesos:registrator:kind must be one of marathon-registrator, gliderlabs" in message
    message = problems_of(settings(registrator={"images": {"marathon-registrator": "x; rm -rf /"}}))
    assert "is not a Docker image name" in message


# Components -----------------------------------------------------------------------


def build(name, node="mesos-master-1", **override):
    config = settings(**override)
    return components.component(name, config, cluster.host_values(config, node))


def files_by_path(component):
    return {entry["path"]: entry["contents"] for entry in component["files"]}


def test_zookeeper_files_hold_the_ensemble_and_the_hosts_own_id():
    files = files_by_path(build("zookeeper", node="mesos-master-3"))
    assert files["/etc/zookeeper/conf/myid"] == "3\n"
    zoo = files["/etc/zookeeper/conf/zoo.cfg"].splitlines()
    assert "server.3=10.0.0.13:2888:3888" in zoo and "clientPort=2181" in zoo


def test_master_only_components_refuse_other_hosts():
    with pytest.raises(SaltInvocationError, match="host agent-1 is not in mesos:master_nodes"):
        build("zookeeper", node="agent-1")


def test_agent_flags_and_what_its_service_watches():
    agent = build("mesos_agent", node="agent-1", root="/scratch")
    files = files_by_path(agent)
    assert files["/scratch/etc/mesos-slave/docker_stop_timeout"] == "30secs\n"
    assert files["/scratch/etc/mesos-slave/executor_shutdown_grace_period"] == "60secs\n"
    assert files["/scratch/etc/mesos-slave/containerizers"] == "docker,mesos\n"
    assert files["/scratch/etc/mesos-slave/master"].startswith("zk://10.0.0.11:2181,")
    own = {entry["id"] for entry in agent["files"]} | {"mesos-agent-flags"}
    assert set(agent["service"]["watch"]) == own | {"mesos-common-zk"}
    assert agent["directories"] == [
        {
            "id": "mesos-agent-flags",
            "path": "/scratch/etc/mesos-slave",
            "clean": True,
            "require": sorted(own - {"mesos-agent-flags"}),
        }
    ]


def test_marathon_environment_file_reads_back_through_sh(tmp_path):
    marathon = build("marathon", marathon={"flags": {"event_subscriber": "http callback; $x"}})
    path = tmp_path / "marathon"
    path.write_text(marathon["files"][0]["contents"])
    script = f'. {path}; printf \'%s|%s\' "$MARATHON_EVENT_SUBSCRIBER" "$MARATHON_ZK"'
    output = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    assert output.stdout == (
        "http callback; $x|zk://10.0.0.11:2181,10.0.0.12:2181,10.0.0.13:2181/marathon"
    )


def test_consul_server_and_client_configuration():
    server = json.loads(build("consul")["files"][0]["contents"])
    client = json.loads(build("consul", node="agent-1")["files"][0]["contents"])
    assert server["server"] is True and server["bootstrap_expect"] == 3
    assert server["retry_join"] == ["10.0.0.12", "10.0.0.13"]
    assert client["server"] is False and "bootstrap_expect" not in client
    assert client["retry_join"] == ["10.0.0.11", "10.0.0.12", "10.0.0.13"]
    assert build("consul")["service"]["reload"] is True


def test_registrators_command_lines():
    default = components.registrator_command(settings(), cluster.host_values(settings(), "agent-1"))
    assert default[-3:] == [
        "-consul=http://127.0.0.1:8500",
        "-marathon=http://10.0.0.11:8080,10.0.0.12:8080,10.0.0.13:8080",
        "-resync-interval=5m",
    ]
    config = settings(registrator={"kind": "gliderlabs"}, node_address="10.0.1.5")
    gliderlabs = components.registrator_command(config, cluster.host_values(config, "agent-1"))
    assert "--volume=/var/run/docker.sock:/tmp/docker.sock" in gliderlabs
    assert gliderlabs[-3:] == ["-ip=10.0.1.5", "-resync=300", "consul://127.0.0.1:8500"]


def test_component_paths_need_no_valid_pillar():
    paths = components.component_paths("mesos_master", settings(master_nodes={}, root="/r"))
    assert paths["directories"] == ["/r/etc/mesos-master"]
    assert paths["service"] == "mesos-master"


def test_a_master_known_by_host_name_gets_no_ip_flag_or_bind_address():
    named = {"m1": "master-1.example.net", "m2": "10.0.0.2", "m3": "10.0.0.3"}
    master = build("mesos_master", node="m1", master_nodes=named)
    files = files_by_path(master)
    assert files["/etc/mesos-master/hostname"] == "m1\n"
    assert "/etc/mesos-master/ip" not in files
    consul = json.loads(build("consul", node="m1", master_nodes=named)["files"][0]["contents"])
    assert "bind_addr" not in consul
    assert consul["retry_join"] == ["10.0.0.2", "10.0.0.3"]


def test_a_component_repository_must_be_defined():
    message = problems_of(settings(docker={"repository": "docker-ce"}))
    assert "mesos:docker:repository 'docker-ce' is not in mesos:repositories" in message
    assert "(hashicorp, mesosphere)" in message
