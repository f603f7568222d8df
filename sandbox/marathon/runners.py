"""How tasks run: simulated (tests steer start delay and health) or as real
local processes with real health checks.

Both runners offer the same calls, made by the scheduler under its lock:
``start(task, behaviour)``, ``poll(task, behaviour)`` (returns
``(state, message)`` once a task ended on its own), ``check_health(task,
behaviour)``, ``kill(task, behaviour)``, ``reap(task)`` (True once a killed
task is gone) and ``shutdown()``.
"""

import contextlib
import http.client
import logging
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading

from . import clock
from .tasks import RUNNING, STAGING

log = logging.getLogger(__name__)


class TaskBehaviour:
    """What tests decide about tasks: how long they take to start, whether
    they turn healthy (a bool, or a callable given the app definition the
    task runs) and how long a simulated task takes to die once killed."""

    def __init__(self, start_delay=0.0, healthy=True, kill_delay=0.0):
        self.start_delay = float(start_delay)
        self.healthy = healthy
        self.kill_delay = float(kill_delay)

    def evaluate(self, definition):
        """(healthy, failure cause); a callable that raises reads as
        unhealthy, and its error becomes the health check's failure cause."""
        if not callable(self.healthy):
            return bool(self.healthy), "simulated failure"
        try:
            return bool(self.healthy(definition)), "simulated failure"
        except Exception as error:
            return False, f"the healthy callable raised {type(error).__name__}: {error}"


class SimulatedRunner:
    """Tasks without processes: running after the start delay, healthy as told."""

    def start(self, task, behaviour):
        task.runs_at = clock.now() + behaviour.start_delay

    def poll(self, task, behaviour):
        if task.state == STAGING and clock.now() >= task.runs_at:
            task.mark_running()
        return None

    def check_health(self, task, behaviour):
        if task.state != RUNNING:
            return
        healthy, cause = behaviour.evaluate({**task.definition, "version": task.version})
        for check, result in zip(task.definition["healthChecks"], task.health, strict=True):
            if healthy:
                result.record_success()
            else:
                result.record_failure(cause, task.started_monotonic, check, clock.now(), True)

    def kill(self, task, behaviour):
        task.mark_killing()
        task.kill_delay = behaviour.kill_delay

    def reap(self, task):
        return clock.now() >= task.killing_since + task.kill_delay

    def shutdown(self):
        pass


def loopback_port_is_free(port):
    """True when nothing on this machine holds ``port`` on 127.0.0.1 now."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def task_environment(task):
    """The environment Marathon gives a task, over the stand-in's own."""
    definition = task.definition
    env = dict(os.environ)
    env.update(
        {
            "HOST": task.host,
            "MARATHON_APP_ID": task.app_id,
            "MARATHON_APP_VERSION": task.version,
            "MARATHON_APP_RESOURCE_CPUS": str(definition["cpus"]),
            "MARATHON_APP_RESOURCE_MEM": str(definition["mem"]),
            "MARATHON_APP_RESOURCE_DISK": str(definition["disk"]),
            "MARATHON_APP_RESOURCE_GPUS": str(definition["gpus"]),
            "MARATHON_APP_LABELS": " ".join(sorted(definition["labels"])),
            "MESOS_TASK_ID": task.id,
            "MESOS_SANDBOX": task.sandbox,
            "PORTS": ",".join(str(port) for port in task.ports),
        }
    )
    image = ((definition.get("container") or {}).get("docker") or {}).get("image")
    if image:
        env["MARATHON_APP_DOCKER_IMAGE"] = image
    for name, value in definition["labels"].items():
        env[f"MARATHON_APP_LABEL_{name.upper()}"] = value
    for index, port in enumerate(task.ports):
        env[f"PORT{index}"] = str(port)
    if task.ports:
        env["PORT"] = str(task.ports[0])
    mappings = (definition.get("container") or {}).get("portMappings") or []
    for mapping, port in zip(mappings, task.ports, strict=False):
        if mapping.get("containerPort"):
            env[f"PORT_{mapping['containerPort']}"] = str(port)
    env.update({key: value for key, value in definition["env"].items() if isinstance(value, str)})
    return env


def task_command(definition):
    if definition.get("cmd"):
        return ["/bin/sh", "-c", definition["cmd"]]
    if definition.get("args"):
        return list(definition["args"])
    return None


class ProcessRunner:
    """Tasks as local processes in their own session (so a kill reaches the
    whole tree, as the Mesos executor's does), output in a per-task sandbox."""

    def __init__(self, lock):
        self._lock = lock
        self._root = tempfile.mkdtemp(prefix="marathon-standin-")
        self._tasks = {}

    def start(self, task, behaviour):
        task.runs_at = clock.now() + behaviour.start_delay
        task.sandbox = os.path.join(self._root, task.id)
        task.sigkill_sent = False
        self._tasks[task.id] = task

    def poll(self, task, behaviour):
        if task.state == STAGING:
            if clock.now() >= task.runs_at:
                return self._spawn(task)
            return None
        if task.state == RUNNING and task.process.poll() is not None:
            code = task.process.returncode
            self._cleanup(task)
            if code == 0:
                return ("TASK_FINISHED", "Command exited with status 0")
            return ("TASK_FAILED", f"Command exited with status {code}")
        return None

    def _spawn(self, task):
        command = task_command(task.definition)
        if command is None:
            return ("TASK_FAILED", "a real-process task needs cmd or args")
        os.makedirs(task.sandbox, exist_ok=True)
        try:
            with (
                open(os.path.join(task.sandbox, "stdout"), "wb") as stdout,
                open(os.path.join(task.sandbox, "stderr"), "wb") as stderr,
            ):
                task.process = subprocess.Popen(
                    command,
                    cwd=task.sandbox,
                    env=task_environment(task),
                    stdin=subprocess.DEVNULL,
                    stdout=stdout,
                    stderr=stderr,
                    start_new_session=True,
                )
        except OSError as error:
            return ("TASK_FAILED", f"Failed to launch: {error}")
        log.info(
            "task %s started: pid %d, ports %s, output in %s",
            task.id,
            task.process.pid,
            task.ports,
            task.sandbox,
        )
        task.mark_running()
        return None

    def check_health(self, task, behaviour):
        if task.state != RUNNING:
            return
        now = clock.now()
        for check, result in zip(task.definition["healthChecks"], task.health, strict=True):
            if result.probe_in_flight or now < result.next_probe_at:
                continue
            result.probe_in_flight = True
            result.next_probe_at = now + max(check["intervalSeconds"], 0.1)
            threading.Thread(
                target=self._probe_and_record, args=(task, check, result), daemon=True
            ).start()

    def _probe_and_record(self, task, check, result):
        ok, cause = probe(task, check)
        with self._lock:
            result.probe_in_flight = False
            if task.state != RUNNING:
                return
            if ok:
                result.record_success()
            else:
                result.record_failure(cause, task.started_monotonic, check, clock.now(), False)

    def kill(self, task, behaviour):
        task.mark_killing()
        if task.process is not None:
            _signal_group(task.process, signal.SIGTERM)

    def reap(self, task):
        """Gone once no process of the task's group lives (``sh -c`` may
        die on SIGTERM while its child ignores it); SIGKILL at the deadline."""
        if task.process is None:
            self._cleanup(task)
            return True
        task.process.poll()  # reap the leader so it does not linger as a zombie
        if not group_alive(task.process.pid):
            self._cleanup(task)
            return True
        if not task.sigkill_sent and clock.now() >= task.kill_deadline:
            _signal_group(task.process, signal.SIGKILL)
            task.sigkill_sent = True
        return False

    def _cleanup(self, task):
        if task.process is not None:
            # The leader is gone; take anything it left in its group along.
            _signal_group(task.process, signal.SIGKILL)
        self._tasks.pop(task.id, None)

    def shutdown(self):
        """Stop every process (SIGTERM, SIGKILL after 2 s) and the sandboxes."""
        running = [task.process for task in self._tasks.values() if task.process is not None]
        for process in running:
            _signal_group(process, signal.SIGTERM)
        for signum in (signal.SIGKILL, None):
            deadline = clock.now() + 2.0
            while clock.now() < deadline and any(_still_running(p) for p in running):
                threading.Event().wait(0.02)
            if signum is not None:
                for process in running:
                    _signal_group(process, signum)
        self._tasks.clear()
        shutil.rmtree(self._root, ignore_errors=True)


def _still_running(process):
    process.poll()
    return group_alive(process.pid)


def group_alive(group_id):
    """True while a process of the group runs (zombies do not count)."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue  # exited while we looked
        state, process_group = fields[0], int(fields[2])
        if process_group == group_id and state not in (b"Z", b"X"):
            return True
    return False


def _signal_group(process, signum):
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def probe(task, check):
    """Run one health check against the task; returns (ok, failure cause)."""
    protocol = check["protocol"]
    timeout = max(float(check["timeoutSeconds"]), 0.1)
    try:
        if protocol == "COMMAND":
            return _probe_command(task, check, timeout)
        port = check.get("port") or task.ports[check["portIndex"]]
        if protocol in ("TCP", "MESOS_TCP"):
            socket.create_connection((task.host, port), timeout=timeout).close()
            return True, None
        return _probe_http(task.host, port, check, timeout)
    except (OSError, http.client.HTTPException, subprocess.TimeoutExpired) as error:
        return False, f"{type(error).__name__}: {error}"


def _probe_http(host, port, check, timeout):
    if check["protocol"] in ("HTTPS", "MESOS_HTTPS"):
        context = ssl._create_unverified_context()  # health checks do not verify certificates
        connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", check.get("path") or "/")
        status = connection.getresponse().status
    finally:
        connection.close()
    if 200 <= status < 400 or (check.get("ignoreHttp1xx") and 100 <= status < 200):
        return True, None
    return False, f"HTTP {status}"


def _probe_command(task, check, timeout):
    completed = subprocess.run(
        ["/bin/sh", "-c", check["command"]["value"]],
        env=task_environment(task),
        cwd=task.sandbox,
        capture_output=True,
        timeout=timeout,
    )
    if completed.returncode == 0:
        return True, None
    return False, f"command exited with status {completed.returncode}"
