"""The README's "Using it with a salt-master", as written: a real
salt-master whose file_roots is this repository's salt/ folder and whose
pillar_roots is a copy of pillar/ (connections edited to reach the
stand-ins, as a user edits them for a cluster), one minion named like the
first master, ``saltutil.sync_all``, the top file, then the one-minion
states ``mesos.config,mesos.apps,mesos.deploy_jobs``. Results are read back
from Consul, Marathon and Chronos by raw HTTP."""

import shutil

import pytest
import requests
import yaml

from tests.conftest import REPO_ROOT
from tests.fixtures.consul import read_kv_tree
from tests.fixtures.marathon import HTTP_TIMEOUT

ONE_MINION_STATES = "mesos.config,mesos.apps,mesos.deploy_jobs"


@pytest.fixture
def readme_master(salt_factories, tmp_path, consul_server, marathon_server, chronos_server):
    pillar_dir = tmp_path / "srv-pillar"
    shutil.copytree(REPO_ROOT / "pillar", pillar_dir)  # cp -r pillar /srv/pillar
    connections = {
        "consul": {"url": consul_server.url},
        "marathon": {"urls": [marathon_server.url]},
        "chronos": {"url": chronos_server.url},
    }
    with open(pillar_dir / "connections.sls", "w") as stream:
        yaml.safe_dump(connections, stream)
    overrides = {
        "file_roots": {"base": [str(REPO_ROOT / "salt")]},
        "pillar_roots": {"base": [str(pillar_dir)]},
        "open_mode": True,
    }
    master = salt_factories.salt_master_daemon("readme-master", overrides=overrides)
    with master.started():
        minion = master.salt_minion_daemon("mesos-master-1")
        with minion.started():
            yield master, minion


def test_the_salt_master_section_works_as_written(
    readme_master, consul_server, marathon_server, chronos_server
):
    master, minion = readme_master
    # This machine may be busy: give the minion time to answer (salt --timeout).
    cli = master.salt_cli(timeout=240)
    assert cli.run("saltutil.sync_all", minion_tgt=minion.id).returncode == 0

    top = cli.run("state.show_top", minion_tgt=minion.id)
    assert top.returncode == 0, top
    assert top.data == {"base": ["mesos"]}

    applied = cli.run("state.apply", ONE_MINION_STATES, minion_tgt=minion.id)
    assert applied.returncode == 0, applied
    assert all(outcome["result"] for outcome in applied.data.values()), applied.data

    assert read_kv_tree(consul_server.url, "app/production/test-server") == {
        "app/production/test-server/GREETING": "hello world",
        "app/production/test-server/LOG_LEVEL": "info",
    }
    app = requests.get(
        f"{marathon_server.url}/v2/apps/app/production/test-server", timeout=HTTP_TIMEOUT
    ).json()["app"]
    assert app["instances"] == 4
    jobs = requests.get(f"{chronos_server.url}/scheduler/jobs", timeout=HTTP_TIMEOUT).json()
    assert "deploy-test-server-staging" in {job["name"] for job in jobs}
