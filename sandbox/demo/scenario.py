"""The demo's story, step by step: deploy, show the routes, then change
things under a steady load and report what each change cost.

Every step says what it did in one progress line; ``Scenario.summary()``
gathers them with the services, instances, routes and load figures.
"""

import concurrent.futures
import json
import time

import requests

from . import formula
from .load import SteadyLoad, request_once
from .platform import CHRONOS_URL, CONSUL_URL, MARATHON_URL, Platform
from .processes import ProcessError

TEMPLATE = formula.REPO_ROOT / "sandbox" / "demo" / "test-server.json"
FILES = formula.REPO_ROOT / "salt" / "mesos" / "files"
PRODUCTION = "/app/production/test-server"
HTTP_TIMEOUT = 5
STEPS_UNDER_LOAD = ("redeploy", "kv-change", "failing-deploy")
# The steps that must cost no request (the demo's exit status says so).
ZERO_FAILURE_STEPS = ("redeploy", "kv-change")


class StepError(RuntimeError):
    """A step of the demo did not reach its goal; the message says which."""


class Scenario:
    def __init__(self, platform: Platform, say, instances=4, load_rate=40.0):
        self.platform = platform
        self.say = say
        self.instances = instances
        self.load_rate = load_rate
        self.steps = []  # progress lines
        self.load_figures = []  # Window.summary() per step under load
        self.failed_steps = []

    # -- deploys --------------------------------------------------------------

    def deploy(self, environment, instances, tag, health_check="/healthcheck", timeout=90):
        values = json.dumps({"files": str(FILES), "health_check": health_check})
        return self.platform.salt_call(
            "marathon.deploy",
            str(TEMPLATE),
            environment,
            str(instances),
            f"tag={tag}",
            f"values={values}",
            f"timeout={timeout}",
            timeout=timeout * 2 + 60,
        )

    def marathon_app(self, app_id):
        response = requests.get(f"{MARATHON_URL}/v2/apps{app_id}", timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        return response.json()["app"]

    def healthy_task_addresses(self, app_id):
        return {
            (task["host"], task["ports"][0])
            for task in self.marathon_app(app_id)["tasks"]
            if task["state"] == "TASK_RUNNING"
            and all(result.get("alive") for result in task.get("healthCheckResults") or [{}])
        }

    def wait_until_routed(self, environment, app_id, what, timeout=30):
        """HAProxy's backend lists exactly Marathon's healthy tasks, all UP."""
        backend = f"cluster_{environment}:test-server"

        def settled():
            tasks = self.healthy_task_addresses(app_id)
            servers = self.platform.backend_servers(backend)
            # srv_op_state 2 is "running" (UP).
            return tasks and set(servers) == tasks and set(servers.values()) == {"2"}

        self.platform.processes.wait_until(settled, what, timeout)
        return self.platform.backend_servers(backend)

    # -- the steps ------------------------------------------------------------

    def deploy_both_environments(self):
        started = time.monotonic()
        # Two salt-calls at once: each spends most of its time starting up.
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            deploys = [
                pool.submit(self.deploy, "staging", 1, "v1"),
                pool.submit(self.deploy, "production", self.instances, "v1"),
            ]
            for deploy in deploys:
                deploy.result()
        self.wait_until_routed("staging", "/app/staging/test-server", "staging routed")
        servers = self.wait_until_routed("production", PRODUCTION, "production routed")
        self.record(
            f"deployed test-server v1: staging 1 instance, production {len(servers)}, "
            f"routed by HAProxy in {time.monotonic() - started:.1f}s"
        )

    def show_requests(self):
        """One request per route, printed with who answered."""
        external = self.platform.pillar["mesos"]["loadbalancer"]["external"]
        http_port, https_port = external["http_port"], external["https_port"]
        routes = [
            ("production, internal port", 3000, "/env", None),
            ("staging, internal port", 13000, "/env", None),
            ("production by Host header", http_port, "/env", "mesos-test.domain.com"),
            ("staging by Host header", http_port, "/env", "staging-mesos-test.domain.com"),
            ("production, HTTPS by Host", https_port, "/env", "mesos-test.domain.com"),
            ("Marathon, well-known port", 18080, "/ping", None),
            ("Consul, well-known port", 18500, "/v1/status/leader", None),
        ]
        if self.platform.has_chronos:
            routes.append(("Chronos, well-known port", 14400, "/scheduler/jobs", None))
        for label, port, path, host in routes:
            tls = port == https_port
            ok, status, body = request_once("127.0.0.1", port, path, host_header=host, tls=tls)
            shown = describe_answer(path, body)
            scheme = "https" if tls else "http"
            where = f"{scheme}://127.0.0.1:{port}{path}" + (f" Host: {host}" if host else "")
            self.say(f"  {label:28} {where:55} -> {status} {shown}")
            if not ok:
                raise StepError(f"{label}: {where} answered {status}")
        self.record(f"requests answered through HAProxy on {len(routes)} routes")

    def under_load(self, steps=STEPS_UNDER_LOAD):
        """The changes in ``steps`` (names of STEPS_UNDER_LOAD), in that
        order, under one steady load."""
        titles = {
            "redeploy": ("rolling redeploy v1 -> v2", self.rolling_redeploy),
            "kv-change": ("Consul KV change -> one rolling restart", self.kv_change),
            "failing-deploy": ("failing deploy v3 -> rolled back", self.failing_deploy),
        }
        load = SteadyLoad("127.0.0.1", 3000, rate=self.load_rate).start()
        try:
            time.sleep(2)
            for step in steps:
                title, run = titles[step]
                self.measured(load, step, title, run)
        finally:
            load.stop()

    def measured(self, load, step_name, name, step):
        """Run ``step`` in its own load window; a step that fails is
        reported and the next one still runs."""
        load.window(name)
        try:
            detail = step()
        except (StepError, ProcessError, formula.SaltCallError) as error:
            self.failed_steps.append(name)
            detail = f"FAILED: {str(error).strip().splitlines()[-1]}"
        figures = {**load.close_window().summary(), "name": step_name, "detail": detail}
        self.load_figures.append(figures)
        self.record(
            f"{name}: {detail}; {figures['failed']} of {figures['requests']} requests failed"
            f"{failure_kinds(figures)}, p50 {figures['p50_ms']:.1f} ms, "
            f"p99 {figures['p99_ms']:.1f} ms, max {figures['max_ms']:.1f} ms"
        )

    def rolling_redeploy(self):
        before = self.healthy_task_addresses(PRODUCTION)
        reloads = self.platform.reloads()
        self.deploy("production", self.instances, "v2")
        servers = self.wait_until_routed("production", PRODUCTION, "v2 routed")
        if set(servers) & before:
            raise StepError("an instance of v1 is still routed after the redeploy")
        return (
            f"{len(servers)} new instances routed, none of v1, "
            f"{self.platform.reloads() - reloads} HAProxy reloads"
        )

    def kv_change(self):
        versions_before = self.versions(PRODUCTION)
        before = self.healthy_task_addresses(PRODUCTION)
        self.platform.salt_call(
            "consul.kv_set", "app/production/test-server/GREETING", "hello from Consul KV"
        )
        self.platform.processes.wait_until(
            lambda: self.replaced_by_restart(before), "tasks replaced by the restart", 90
        )
        self.wait_until_routed("production", PRODUCTION, "restart routed")
        restarts = len(self.versions(PRODUCTION) - versions_before)
        greeting = self.greeting()
        if restarts != 1:
            raise StepError(f"the KV change caused {restarts} restarts, not 1")
        return f"{restarts} restart by service-wrapper, instances now say GREETING={greeting!r}"

    def failing_deploy(self):
        current = self.marathon_app(PRODUCTION)["version"]
        try:
            self.deploy("production", self.instances, "v3", health_check="/broken", timeout=15)
        except formula.SaltCallError:
            pass  # expected: the deploy must fail and roll back
        else:
            raise StepError("a deploy whose health checks fail was reported as a success")
        self.platform.processes.wait_until(lambda: not self.deployments(), "rollback finished", 60)
        app = self.marathon_app(PRODUCTION)
        if app["labels"].get("version") != "v2":
            raise StepError(f"after the rollback Marathon runs {app['labels']} (was {current})")
        self.wait_until_routed("production", PRODUCTION, "v2 routed again")
        return "marathon.deploy gave up after 15 s and rolled back; v2 serves"

    # -- helpers ------------------------------------------------------------------

    def versions(self, app_id):
        response = requests.get(f"{MARATHON_URL}/v2/apps{app_id}/versions", timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        return set(response.json()["versions"])

    def deployments(self):
        response = requests.get(f"{MARATHON_URL}/v2/deployments", timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        return response.json()

    def replaced_by_restart(self, before):
        now = self.healthy_task_addresses(PRODUCTION)
        return len(now) == self.instances and not now & before and not self.deployments()

    def greeting(self):
        _, _, body = request_once("127.0.0.1", 3000, "/env")
        return json.loads(body or b"{}").get("GREETING")

    def results(self):
        """What the demo measured, for results.json (the integration test reads it)."""
        return {"steps": self.steps, "under_load": self.load_figures, "failed": self.failed_steps}

    def succeeded(self):
        zero = [f for f in self.load_figures if f["name"] in ZERO_FAILURE_STEPS]
        return not self.failed_steps and all(figures["failed"] == 0 for figures in zero)

    def record(self, line):
        self.steps.append(line)
        self.say(line)

    # -- summary ------------------------------------------------------------------

    def summary(self):
        catalog = requests.get(f"{CONSUL_URL}/v1/catalog/services", timeout=HTTP_TIMEOUT).json()
        apps = requests.get(f"{MARATHON_URL}/v2/apps", timeout=HTTP_TIMEOUT).json()["apps"]
        lines = ["", "Summary", "-------"]
        lines.append("Consul services: " + ", ".join(sorted(catalog)))
        for app in apps:
            lines.append(
                f"Marathon {app['id']}: {app['tasksHealthy']}/{app['instances']} healthy, "
                f"version {app['labels'].get('version')}"
            )
        for backend in ("cluster_production:test-server", "cluster_staging:test-server"):
            servers = self.platform.backend_servers(backend)
            shown = ", ".join(f"{address}:{port}" for address, port in sorted(servers))
            lines.append(f"HAProxy {backend}: {shown}")
        lines.append(f"HAProxy reloads: {self.platform.reloads()}")
        if self.platform.has_chronos:
            jobs = requests.get(f"{CHRONOS_URL}/scheduler/jobs", timeout=HTTP_TIMEOUT).json()
            lines.append("Chronos jobs: " + ", ".join(sorted(job["name"] for job in jobs)))
        lines.append("")
        lines.append(
            f"{'step under load':42} {'requests':>8} {'failed':>6} {'p50 ms':>7} "
            f"{'p90 ms':>7} {'p99 ms':>7} {'max ms':>7}"
        )
        for figures in self.load_figures:
            lines.append(
                f"{figures['step']:42} {figures['requests']:>8} {figures['failed']:>6} "
                f"{figures['p50_ms']:>7.1f} {figures['p90_ms']:>7.1f} {figures['p99_ms']:>7.1f} "
                f"{figures['max_ms']:>7.1f}"
            )
        lines.append("")
        lines.extend(f"{index}. {step}" for index, step in enumerate(self.steps, 1))
        return "\n".join(lines)


def failure_kinds(figures):
    if not figures["failures"]:
        return ""
    return " (" + ", ".join(f"{kind} x{count}" for kind, count in figures["failures"].items()) + ")"


def describe_answer(path, body):
    """A short line about who answered: the test-server's version, task and
    greeting, or the first bytes of another service's answer."""
    if path == "/env":
        try:
            env = json.loads(body)
        except ValueError:
            return body[:60].decode(errors="replace")
        task = env.get("MESOS_TASK_ID", "?").split(".")[-1][:8]
        greeting = env.get("GREETING")
        return f"{env.get('VERSION')} task {task} port {env.get('PORT0')} GREETING={greeting!r}"
    if path == "/scheduler/jobs":
        try:
            names = sorted(job["name"] for job in json.loads(body))
        except (ValueError, KeyError, TypeError):
            return body[:40].decode(errors="replace")
        return f"{len(names)} jobs: {', '.join(names)}"[:90]
    return body[:40].decode(errors="replace").strip()
