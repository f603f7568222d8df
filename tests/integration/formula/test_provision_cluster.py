"""A whole cluster through a real salt-master: 6 minions (3 masters, 3
agents) run highstate with the formula's own top file (salt/top.sls), each
host's roles coming from its pillar, each into its own scratch root
(manage_packages/services off). Then the hosts are compared with each other:
what one derived from mesos:master_nodes, every other must agree with.
"""

import concurrent.futures
import json
import pathlib
import re
import shutil
import tempfile

import pytest
import yaml

from tests.conftest import write_pillar

# Starting six minions and a highstate each on 2 shared cores can outlast
# the suite's 300 s default while other test runs load the machine.
pytestmark = pytest.mark.timeout(1200)

MASTERS = {f"cluster-master-{n}": f"127.0.1.{n}" for n in (1, 2, 3)}
AGENTS = {f"cluster-agent-{n}": f"127.0.2.{n}" for n in (1, 2, 3)}
WELLKNOWN_PORTS = {"marathon": 8080, "chronos": 4400, "consul": 8500}


def host_pillar(root, name):
    roles = ["master", "lb-internal"] if name in MASTERS else ["agent", "lb-internal"]
    settings = {"roles": roles, "root": str(root / name)}
    if name in AGENTS:
        settings["node_address"] = AGENTS[name]
    return {"mesos": settings}


def cluster_pillar():
    return {
        "mesos": {
            "manage_packages": False,
            "manage_services": False,
            "master_nodes": MASTERS,
            "loadbalancer": {"chroot": None},
            "haproxy": {"user": None, "group": None},
        },
        "consul": {"url": "http://127.0.0.1:8500"},
    }


def write_cluster_pillar(pillar_dir, root):
    """A top file that gives each minion the shared pillar plus its own."""
    top = {"base": {"*": ["test_data"], "cluster-*": ["cluster_common"]}}
    (pillar_dir / "cluster_common.sls").write_text(yaml.safe_dump(cluster_pillar()))
    for name in [*MASTERS, *AGENTS]:
        sls = "cluster_host_" + name.replace("-", "_")
        (pillar_dir / f"{sls}.sls").write_text(yaml.safe_dump(host_pillar(root, name)))
        top["base"][name] = [sls]
    (pillar_dir / "top.sls").write_text(yaml.safe_dump(top))


@pytest.fixture(scope="module")
def scratch_roots():
    root = tempfile.mkdtemp(prefix="cluster-", dir="/tmp")
    yield pathlib.Path(root)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster_minions(salt_master, master_pillar_dir, scratch_roots):
    """Six minions on the shared master, started side by side."""
    write_cluster_pillar(master_pillar_dir, scratch_roots)
    factories = [salt_master.salt_minion_daemon(name) for name in [*MASTERS, *AGENTS]]
    try:
        with concurrent.futures.ThreadPoolExecutor(len(factories)) as pool:
            # Six minions start side by side on 2 shared cores: allow for it.
            list(pool.map(lambda factory: factory.start(start_timeout=400), factories))
        synced = salt_master.salt_cli(timeout=300).run("saltutil.sync_all", minion_tgt="cluster-*")
        assert synced.returncode == 0, synced
        assert set(synced.data) == {*MASTERS, *AGENTS}, synced
        yield factories
    finally:
        with concurrent.futures.ThreadPoolExecutor(len(factories)) as pool:
            list(pool.map(lambda factory: factory.terminate(), factories))
        for path in master_pillar_dir.glob("cluster_*.sls"):
            path.unlink()
        write_pillar(master_pillar_dir, {})


@pytest.fixture(scope="module")
def highstate(salt_master, cluster_minions):
    result = salt_master.salt_cli(timeout=600).run("state.highstate", minion_tgt="cluster-*")
    assert isinstance(result.data, dict) and set(result.data) == {*MASTERS, *AGENTS}, result
    return result.data


def read(root, name, path):
    return (root / name / path).read_text()


def test_highstate_gives_every_host_its_role(highstate, scratch_roots):
    for name, states in highstate.items():
        assert isinstance(states, dict), (name, states)
        failed = {key: value["comment"] for key, value in states.items() if not value["result"]}
        assert failed == {}, name
        ran = {value["__id__"] for value in states.values()}
        assert ("mesos-zookeeper-myid" in ran) == (name in MASTERS), name
        assert ("mesos-agent-flags" in ran) == (name in AGENTS), name
        assert "mesos-loadbalancer-internal-template" in ran, name


def test_hosts_agree_on_zookeeper_mesos_and_consul(highstate, scratch_roots):
    root = scratch_roots
    ids = [read(root, name, "etc/zookeeper/conf/myid").strip() for name in MASTERS]
    assert sorted(ids) == ["1", "2", "3"]
    ensembles = {
        tuple(
            line
            for line in read(root, name, "etc/zookeeper/conf/zoo.cfg").splitlines()
            if line.startswith("server.")
        )
        for name in MASTERS
    }
    assert len(ensembles) == 1
    (ensemble,) = ensembles
    assert sorted(line.split("=")[1].split(":")[0] for line in ensemble) == sorted(MASTERS.values())
    # Each master's own id is its own line of the ensemble.
    for name, address in MASTERS.items():
        own_id = read(root, name, "etc/zookeeper/conf/myid").strip()
        assert f"server.{own_id}={address}:2888:3888" in ensemble

    zk_urls = {read(root, name, "etc/mesos/zk") for name in [*MASTERS, *AGENTS]}
    zk_urls |= {read(root, name, "etc/mesos-slave/master") for name in AGENTS}
    assert len(zk_urls) == 1
    (zk_url,) = zk_urls
    assert re.fullmatch(r"zk://(127\.0\.1\.[123]:2181,){2}127\.0\.1\.[123]:2181/mesos\n", zk_url)
    assert {read(root, name, "etc/mesos-master/quorum") for name in MASTERS} == {"2\n"}
    marathon_zk = {
        line
        for name in MASTERS
        for line in read(root, name, "etc/default/marathon").splitlines()
        if line.startswith("MARATHON_MASTER=")
    }
    assert marathon_zk == {"MARATHON_MASTER=" + zk_url.strip()}

    servers = set(MASTERS.values())
    for name in MASTERS:
        consul = json.loads(read(root, name, "etc/consul.d/mesos.json"))
        assert consul["server"] is True and consul["bootstrap_expect"] == len(MASTERS)
        assert set(consul["retry_join"]) | {consul["bind_addr"]} == servers
        assert consul["bind_addr"] not in consul["retry_join"]
    for name, address in AGENTS.items():
        consul = json.loads(read(root, name, "etc/consul.d/mesos.json"))
        assert consul["server"] is False and "bootstrap_expect" not in consul
        assert set(consul["retry_join"]) == servers
        assert consul["bind_addr"] == address
        assert read(root, name, "etc/mesos-slave/ip") == address + "\n"


def test_every_hosts_wellknown_backends_list_all_three_masters(highstate, scratch_roots):
    for name in [*MASTERS, *AGENTS]:
        template = read(scratch_roots, name, "etc/consul-template/templates/haproxy-internal.ctmpl")
        for service, port in WELLKNOWN_PORTS.items():
            for master, address in MASTERS.items():
                assert re.search(
                    rf"^\s*server \S+ {re.escape(address)}:{port}\b", template, re.M
                ), (
                    name,
                    service,
                    master,
                )
