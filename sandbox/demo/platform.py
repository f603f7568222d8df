"""The platform on one machine: the Consul, Marathon and Chronos stand-ins,
the registrator, the formula applied into a scratch root, consul-template
(tools/bin/ctmpl) in watch mode and a real HAProxy in master-worker mode.

``Platform`` starts the parts in order and stops them in reverse; the demo
and the integration test share it. It expects to run in a network namespace
of its own (or on a machine where the fixed ports are free): Consul 8500,
Marathon 8080, Chronos 4400, and HAProxy's 3000/13000, 18080/14400/18500
and the external HTTP port, all on 127.0.0.1.
"""

import importlib.util
import pathlib
import shlex
import sys
import time

import requests

from sandbox.haproxy_process import unix_socket_command

from . import formula
from .processes import Processes

CONSUL_URL = "http://127.0.0.1:8500"
MARATHON_URL = "http://127.0.0.1:8080"
CHRONOS_URL = "http://127.0.0.1:4400"
CTMPL = formula.REPO_ROOT / "tools" / "bin" / "ctmpl"
HTTP_TIMEOUT = 5


def answers(url):
    try:
        return requests.get(url, timeout=HTTP_TIMEOUT).status_code < 500
    except requests.RequestException:
        return False


class Platform:
    def __init__(self, root, pillar, say=print, registrator_resync=5.0):
        self.root = pathlib.Path(root)
        self.pillar = pillar
        self.say = say
        self.registrator_resync = registrator_resync
        self.processes = Processes(str(self.root / "logs"))
        self.salt_log = open(self.root / "logs" / "salt-call.log", "a")  # noqa: SIM115 - closed in stop()
        self.has_chronos = importlib.util.find_spec("sandbox.chronos") is not None
        self.haproxy = None

    # -- stand-ins ----------------------------------------------------------

    def start_stand_ins(self):
        python = [sys.executable, "-m", "sandbox"]
        self.processes.start("consul", [*python, "consul", "--port", "8500"])
        self.processes.start(
            "marathon", [*python, "marathon", "--port", "8080", "--real-processes"]
        )
        waits = [("Consul", CONSUL_URL, "/v1/status/leader"), ("Marathon", MARATHON_URL, "/ping")]
        if self.has_chronos:
            self.processes.start("chronos", [*python, "chronos", "--port", "4400"])
            waits.append(("Chronos", CHRONOS_URL, "/scheduler/jobs"))
        for name, base_url, path in waits:
            self.processes.wait_until(
                lambda url=base_url + path: answers(url), f"{name} answering", 30
            )
            self.say(f"{name} stand-in answers on {base_url}")
        self.processes.start(
            "registrator",
            [
                *python,
                "registrator",
                "--marathon",
                MARATHON_URL,
                "--consul",
                CONSUL_URL,
                "--resync-interval",
                str(self.registrator_resync),
            ],
        )
        self.say("registrator follows Marathon's /v2/events into Consul")

    # -- the formula ----------------------------------------------------------

    def salt_call(self, *arguments, pillar=None, timeout=300):
        return formula.salt_call(list(arguments), pillar=pillar, log=self.salt_log, timeout=timeout)

    def apply_formula(self, states):
        self.salt_call("saltutil.sync_all")
        result = self.salt_call("state.apply", ",".join(states), pillar=self.pillar)
        problems = formula.failed_states(result)
        if problems:
            raise formula.SaltCallError("state.apply failed:\n" + "\n".join(problems))
        changed = sum(1 for outcome in result.values() if outcome.get("changes"))
        self.say(
            f"salt-call state.apply {','.join(states)}: {len(result)} states, {changed} changed"
        )
        return result

    # -- the load balancer ------------------------------------------------------

    def rooted(self, path):
        return formula.rooted(self.root, path)

    def start_load_balancer(self):
        """HAProxy as the formula's unit runs it, then consul-template with
        the template, candidate and reload command of its config.hcl."""
        haproxy = self.pillar_value("haproxy")
        argv = formula.read_exec_start(self.rooted("/etc/systemd/system/haproxy.service"))
        self.processes.start("haproxy", argv)
        self.haproxy = {
            "master_socket": self.rooted(haproxy.get("master_socket", "/run/haproxy/master.sock")),
            "stats_socket": self.rooted(haproxy.get("stats_socket", "/run/haproxy/admin.sock")),
        }
        self.processes.wait_until(
            lambda: "# workers" in self.master_cli("show proc"), "HAProxy master answering", 20
        )
        self.say(f"HAProxy (master-worker) runs {argv[argv.index('-f') + 1]}")
        settings = formula.read_consul_template_config(
            self.rooted("/etc/consul-template/config.hcl")
        )
        command = " ".join(shlex.quote(word) for word in settings["command"])
        template = f"{settings['source']}:{settings['destination']}:{command}"
        self.processes.start(
            "consul-template",
            [
                str(CTMPL),
                "-consul-addr",
                CONSUL_URL,
                "-template",
                template,
                "-wait",
                settings["wait"],
            ],
        )
        self.say(
            f"consul-template (ctmpl) watches Consul, wait {settings['wait']}, reloads through"
        )
        self.say(f"  {command}")

    def pillar_value(self, key):
        """mesos:<key> of the demo pillar over the formula's defaults we rely on."""
        return (self.pillar.get("mesos") or {}).get(key) or {}

    def master_cli(self, command):
        return self._socket_command(self.haproxy["master_socket"], command)

    def runtime_api(self, command):
        return self._socket_command(self.haproxy["stats_socket"], command)

    @staticmethod
    def _socket_command(path, command, attempts=50):
        """A reload re-executes the master and hands the sockets over, so
        for a moment nobody answers: try again for up to 5 s."""
        for attempt in range(attempts):
            try:
                return unix_socket_command(path, command)
            except OSError:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.1)

    def backend_servers(self, backend):
        """{(address, port): operational state} of ``backend`` in the live HAProxy."""
        answer = self.runtime_api(f"show servers state {backend}")
        lines = [line for line in answer.splitlines() if line.strip()]
        header = next((line for line in lines if line.startswith("# be_id")), None)
        if header is None:
            return {}
        names = header[2:].split()
        servers = {}
        for line in lines[lines.index(header) + 1 :]:
            fields = dict(zip(names, line.split(), strict=False))
            if "srv_addr" in fields:
                servers[(fields["srv_addr"], int(fields["srv_port"]))] = fields["srv_op_state"]
        return servers

    def reloads(self):
        """How many times the HAProxy master has reloaded (its `show proc` line)."""
        for line in self.master_cli("show proc").splitlines():
            words = line.split()
            if words[1:2] == ["master"]:
                return int(words[2])
        return 0

    # -- life cycle -------------------------------------------------------------

    def check_alive(self):
        self.processes.check_alive()

    def stop(self):
        killed = self.processes.stop_all()
        self.salt_log.close()
        return killed
