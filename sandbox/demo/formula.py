"""The formula's side of the demo: salt-call from the repository root (the
Saltfile makes it masterless over this tree) with the demo's pillar on top
of the example pillar, and reading back what the states laid down, so the
demo runs consul-template and HAProxy the way the formula configured them.
"""

import json
import os
import pathlib
import shlex
import subprocess
import sys

import hcl

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
SALT_CALL = str(pathlib.Path(sys.executable).parent / "salt-call")
# This host as a master, an agent and an edge load balancer (`mesos` with
# the roles below: configuration files only), the apps' settings in Consul
# KV, and the deploy jobs in Chronos.
DEMO_STATES = ["mesos", "mesos.config", "mesos.deploy_jobs"]


class SaltCallError(RuntimeError):
    """salt-call failed; the message carries its output."""


def demo_pillar(
    root,
    template,
    consul_template_wait=("500ms", "2s"),
    external_http_port=80,
    external_https_port=443,
):
    """Pillar for the demo: everything under ``root``, no packages or
    services touched, every address a loopback one, the local test-server."""
    wait_min, wait_max = consul_template_wait
    return {
        "mesos": {
            "root": str(root),
            "manage_packages": False,
            "manage_services": False,
            "roles": ["master", "agent", "lb-external"],
            "node_name": "mesos-master-1",
            "master_nodes": {"mesos-master-1": "127.0.0.1"},
            "haproxy": {"hard_stop_after": "10s", "reload": {"timeout": 20}},
            "consul_template": {"wait": {"min": wait_min, "max": wait_max}},
            "loadbalancer": {
                "role": "external",
                # No Docker bridge in the demo: loopback only.
                "bind_addresses": ["127.0.0.1"],
                # No chroot to set up; request logs go to HAProxy's stdout,
                # that is logs/haproxy.log.
                "chroot": "",
                "log": ["stdout local0"],
                "external": {
                    "bind_address": "127.0.0.1",
                    "http_port": external_http_port,
                    "https_port": external_https_port,
                    # The formula makes a self-signed certificate for it.
                    "self_signed": "mesos-test.domain.com",
                },
            },
            "apps": {
                "test-server": {
                    "template": str(template),
                    "haproxy": {
                        "health_check": "/healthcheck",
                        # Marking a draining instance down must take longer
                        # than adding its replacement (consul-template's
                        # wait max plus a reload), or for a moment no server
                        # is up: 3 x 2 s against 2 s + ~0.5 s.
                        "check": {"inter": "2s", "fall": 3, "rise": 1},
                        "external_host": "mesos-test.domain.com",
                    },
                }
            },
        }
    }


def salt_call(arguments, pillar=None, log=None, timeout=300):
    """Run ``salt-call <arguments>`` in the repository root; the parsed
    ``local`` return, or SaltCallError with the output."""
    argv = [SALT_CALL, "--out=json", "--log-level=quiet", *arguments]
    if pillar is not None:
        argv.append(f"pillar={json.dumps(pillar)}")
    completed = subprocess.run(
        argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    if log is not None:
        log.write(f"$ salt-call {' '.join(shlex.quote(a) for a in arguments)}\n")
        log.write(completed.stdout + completed.stderr + "\n")
        log.flush()
    try:
        result = json.loads(completed.stdout)["local"]
    except (ValueError, KeyError, TypeError):
        result = None
    if completed.returncode != 0 or result is None:
        raise SaltCallError(
            f"salt-call {' '.join(arguments)} failed (status {completed.returncode}):\n"
            f"{completed.stdout[-3000:]}{completed.stderr[-2000:]}"
        )
    return result


def failed_states(result):
    """Comments of every state in a state.apply result that did not succeed."""
    if not isinstance(result, dict):
        return [str(result)]
    return [
        f"{state_id}: {outcome.get('comment')}"
        for state_id, outcome in result.items()
        if not outcome.get("result")
    ]


def read_consul_template_config(path):
    """source, destination, command (argv) and wait of the template stanza
    in the config.hcl mesos.consul_template laid down, parsed by pyhcl."""
    template = hcl.loads(pathlib.Path(path).read_text()).get("template")
    if not isinstance(template, dict):
        raise ValueError(f"{path}: no single template stanza")
    try:
        return {
            "source": template["source"],
            "destination": template["destination"],
            "command": template["exec"]["command"],
            "wait": f"{template['wait']['min']}:{template['wait']['max']}",
        }
    except KeyError as error:
        raise ValueError(f"{path}: no {error.args[0]} setting in the template stanza") from None


def read_exec_start(unit_path):
    """The argv of ExecStart in the systemd unit mesos.haproxy laid down,
    with ``-Ws`` (systemd notify) as plain ``-W``: no systemd here."""
    for line in pathlib.Path(unit_path).read_text().splitlines():
        if line.startswith("ExecStart="):
            argv = shlex.split(line[len("ExecStart=") :])
            return ["-W" if word == "-Ws" else word for word in argv]
    raise ValueError(f"{unit_path}: no ExecStart line")


def rooted(root, path):
    return os.path.join(str(root), path.lstrip("/"))
