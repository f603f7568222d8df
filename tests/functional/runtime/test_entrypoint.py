"""entrypoint.sh inside a network namespace the test makes, with a default
route through a veth pair (both ends inside it): it names the gateway ``dockerhost`` in
/etc/hosts (a file bind-mounted over /etc/hosts in a private mount
namespace, as Docker bind-mounts it), then becomes its command."""

import pytest

from sandbox.netns import NetworkNamespace
from tests.runtime_support import DASH, ENTRYPOINT

# Bind-mount the test's hosts file over /etc/hosts in a private mount
# namespace, run entrypoint.sh, and let the command show what it sees.
IN_PRIVATE_MOUNTS = 'mount --bind "$1" /etc/hosts && shift && exec "$@"'


@pytest.fixture
def namespace():
    with NetworkNamespace() as created:
        yield created


def add_default_route(namespace, gateway):
    for argv in (
        ["ip", "link", "add", "uplink", "type", "veth", "peer", "name", "bridge-side"],
        ["ip", "addr", "add", "10.77.0.2/24", "dev", "uplink"],
        ["ip", "link", "set", "uplink", "up"],
        ["ip", "link", "set", "bridge-side", "up"],
        ["ip", "route", "add", "default", "via", gateway],
    ):
        completed = namespace.run(argv)
        assert completed.returncode == 0, completed.stderr


def run_entrypoint(namespace, hosts_file, *command):
    return namespace.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            IN_PRIVATE_MOUNTS,
            "sh",
            str(hosts_file),
            DASH,
            str(ENTRYPOINT),
            *command,
        ],
        timeout=30,
    )


def test_dockerhost_is_the_default_gateway_and_the_command_runs(namespace, tmp_path):
    add_default_route(namespace, "10.77.0.1")
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n10.9.9.9 dockerhost\n::1 ip6-localhost\n")

    completed = run_entrypoint(
        namespace, hosts, "sh", "-c", "getent hosts dockerhost; cat /etc/hosts; exit 5", "x"
    )

    assert completed.returncode == 5, completed.stderr
    assert completed.stdout.splitlines()[0].split() == ["10.77.0.1", "dockerhost"]
    assert hosts.read_text() == "127.0.0.1 localhost\n::1 ip6-localhost\n10.77.0.1 dockerhost\n"


def test_without_a_default_route_it_warns_and_still_runs_the_command(namespace, tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")

    completed = run_entrypoint(namespace, hosts, "echo", "ran")

    assert completed.returncode == 0
    assert completed.stdout == "ran\n"
    assert "no IPv4 default route" in completed.stderr
    assert hosts.read_text() == "127.0.0.1 localhost\n"


def test_a_hosts_file_can_be_named_for_images_without_mount_rights(namespace, tmp_path):
    add_default_route(namespace, "10.77.0.254")
    hosts = tmp_path / "hosts"
    hosts.write_text("")

    completed = namespace.run(
        ["env", f"ENTRYPOINT_HOSTS_FILE={hosts}", DASH, str(ENTRYPOINT), "true"], timeout=30
    )

    assert completed.returncode == 0, completed.stderr
    assert hosts.read_text() == "10.77.0.254 dockerhost\n"
