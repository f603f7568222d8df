"""Test harness shared by every layer.

- ``make_loaders`` / ``loaders``: Salt's functional loaders over this tree,
  so execution and state modules run in-process (tests/functional).
- ``salt_call``: ``salt-call --local`` as a subprocess over this tree, with a
  pillar the test chooses (tests/integration).
- ``salt_master`` / ``salt_minion``: a real salt-master with a minion,
  through pytest-salt-factories (tests/integration).
- Stand-in servers live in tests/fixtures/*.py, one module per service.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import salt.config
import yaml
from saltfactories.utils.functional import Loaders

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
SALT_BIN = pathlib.Path(sys.executable).parent

pytest_plugins = [
    "tests.fixtures.consul",
    "tests.fixtures.marathon",
    "tests.fixtures.haproxy",
    "tests.fixtures.chronos",
]


def extension_dirs():
    """Minion options that load our extension folders straight from the tree."""
    return {
        "module_dirs": [str(REPO_ROOT / "_modules")],
        "states_dirs": [str(REPO_ROOT / "_states")],
        "render_dirs": [str(REPO_ROOT / "_renderers")],
        "utils_dirs": [str(REPO_ROOT / "_utils")],
    }


def write_pillar(pillar_dir, pillar):
    """Lay ``pillar`` (a dict) out as a one-file pillar tree for every minion."""
    pillar_dir.mkdir(parents=True, exist_ok=True)
    (pillar_dir / "top.sls").write_text("base:\n  '*':\n    - test_data\n")
    (pillar_dir / "test_data.sls").write_text(yaml.safe_dump(pillar or {}))


def local_minion_config(root_dir, pillar_dir, **overrides):
    config = {
        "id": "test-minion",
        "file_client": "local",
        "root_dir": str(root_dir),
        "file_roots": {"base": [str(REPO_ROOT / "salt")]},
        "pillar_roots": {"base": [str(pillar_dir)]},
        "log_level_logfile": "debug",
        **extension_dirs(),
    }
    config.update(overrides)
    return config


@pytest.fixture
def make_loaders(tmp_path):
    """Build functional loaders: ``make_loaders(pillar={...}, **minion_opts)``."""
    created = []

    def factory(pillar=None, **overrides):
        root = tmp_path / f"loader-root-{len(created)}"
        pillar_dir = root / "pillar"
        write_pillar(pillar_dir, pillar)
        opts = salt.config.minion_config(None)
        opts.update(local_minion_config(root, pillar_dir, **overrides))
        for key in ("cachedir", "pki_dir", "sock_dir", "extension_modules"):
            opts[key] = str(root / key)
        loaders = Loaders(opts)
        created.append(loaders)
        return loaders

    yield factory
    for loaders in created:
        loaders.reset_state()


@pytest.fixture
def loaders(make_loaders):
    return make_loaders()


class SaltCallLocal:
    """``salt-call --local`` over this tree, as a user runs it, in a subprocess."""

    def __init__(self, root_dir):
        self.root_dir = root_dir
        self.config_dir = root_dir / "conf"
        self.pillar_dir = root_dir / "pillar"
        self.set_pillar({})

    def set_pillar(self, pillar, **minion_overrides):
        write_pillar(self.pillar_dir, pillar)
        self.config_dir.mkdir(parents=True, exist_ok=True)
        config = local_minion_config(self.root_dir / "root", self.pillar_dir, **minion_overrides)
        (self.config_dir / "minion").write_text(yaml.safe_dump(config))

    def run(self, *args, timeout=300, env=None):
        """Run and return (returncode, parsed json ``local`` value or raw text, stderr)."""
        command = [
            str(SALT_BIN / "salt-call"),
            "--local",
            f"--config-dir={self.config_dir}",
            "--out=json",
            "--retcode-passthrough",
            "--log-level=quiet",
            *args,
        ]
        proc = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=REPO_ROOT,
            env={**os.environ, **(env or {})},
        )
        try:
            output = json.loads(proc.stdout)["local"]
        except (ValueError, KeyError, TypeError):
            output = proc.stdout
        return SaltCallResult(proc.returncode, output, proc.stderr)


class SaltCallResult:
    def __init__(self, returncode, data, stderr):
        self.returncode = returncode
        self.data = data
        self.stderr = stderr

    def __repr__(self):
        return f"SaltCallResult(rc={self.returncode}, data={self.data!r}, stderr={self.stderr!r})"


@pytest.fixture
def salt_call(tmp_path):
    return SaltCallLocal(tmp_path / "salt-call")


@pytest.fixture(scope="session")
def salt_factories_config():
    return {"inject_sitecustomize": False, "start_timeout": 120}


@pytest.fixture(scope="session")
def master_pillar_dir(tmp_path_factory):
    """Pillar tree the integration master serves; tests rewrite it and refresh."""
    pillar_dir = tmp_path_factory.mktemp("master-pillar")
    write_pillar(pillar_dir, {})
    return pillar_dir


@pytest.fixture(scope="session")
def salt_master(salt_factories, master_pillar_dir):
    overrides = {
        "file_roots": {"base": [str(REPO_ROOT / "salt")]},
        "pillar_roots": {"base": [str(master_pillar_dir)]},
        "open_mode": True,
    }
    factory = salt_factories.salt_master_daemon("mesos-master", overrides=overrides)
    with factory.started():
        yield factory


@pytest.fixture(scope="session")
def salt_minion(salt_master):
    factory = salt_master.salt_minion_daemon("mesos-minion-1")
    with factory.started():
        # A real minion gets our modules the way users' minions do: sync_all.
        result = factory.salt_call_cli().run("saltutil.sync_all")
        assert result.returncode == 0, result
        yield factory


def require_root():
    if os.geteuid() != 0:
        pytest.fail("this test needs root (network namespaces, iptables); run as root like CI")


def require_binary(name):
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; .ci/run installs it")
    return path
