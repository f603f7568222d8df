"""The stand-in's Marathon: stored apps and their versions, tasks, running
deployments, and the tick that moves all of them forward.

Every method expects the caller to hold ``lock`` (the HTTP layer and the
ticker thread take it); the REST semantics live in ``api``.
"""

import logging
import threading

from . import appdef, clock, events
from .deployments import Deployment, plan_steps
from .runners import ProcessRunner, SimulatedRunner, TaskBehaviour, loopback_port_is_free
from .tasks import KILLING, RUNNING, Task

log = logging.getLogger(__name__)

FIRST_SERVICE_PORT = 10000
LAST_SERVICE_PORT = 20000
# The agent's ports resource (Mesos' default --resources ports:[31000-32000]):
# every host port Marathon gives a task comes from an offer of this range.
AGENT_PORTS = range(31000, 32001)
# Marathon launches as Mesos offers come; a huge instance count fills up over many steps.
LAUNCHES_PER_STEP = 50


class AppRecord:
    """One stored version of an app; never changed once made."""

    def __init__(self, definition, version, last_scaling_at, last_config_change_at):
        self.definition = definition
        self.version = version
        self.last_scaling_at = last_scaling_at
        self.last_config_change_at = last_config_change_at

    @property
    def config_version(self):
        return self.last_config_change_at

    def as_json(self):
        return {
            **self.definition,
            "version": self.version,
            "versionInfo": {
                "lastScalingAt": self.last_scaling_at,
                "lastConfigChangeAt": self.last_config_change_at,
            },
        }


class Scheduler:
    def __init__(self, real_processes=False):
        self.lock = threading.RLock()
        self.apps = {}  # id -> current AppRecord
        self.versions = {}  # id -> {version: AppRecord}, oldest first
        self.tasks = {}  # task id -> Task, oldest first
        self._tasks_by_app = {}  # app id -> {task id: Task}, so per-app lookups stay cheap
        self.deployments = {}  # id -> Deployment, oldest first
        self.last_task_failures = {}  # app id -> lastTaskFailure JSON
        self.launch_backoff = {}  # app id -> (delay seconds, not before)
        self.behaviours = {}  # canonical app id or None -> TaskBehaviour
        self.runner = ProcessRunner(self.lock) if real_processes else SimulatedRunner()
        self.real_processes = real_processes
        self.events = events.EventBus()

    # -- apps -------------------------------------------------------------

    def store(self, record):
        self.apps[record.definition["id"]] = record
        self.versions.setdefault(record.definition["id"], {})[record.version] = record

    def forget(self, app_id):
        self.apps.pop(app_id, None)
        self.versions.pop(app_id, None)
        self.last_task_failures.pop(app_id, None)
        self.launch_backoff.pop(app_id, None)

    def assign_service_ports(self, definition, previous):
        """Give every service port 0 a free one; an app keeps the ports it had
        (Marathon reuses them, so an unchanged definition stays unchanged)."""
        slots = appdef.service_port_slots(definition)
        requested = {slot[key] for slot, key in slots if slot[key]}
        reusable = []
        if previous is not None:
            reusable = [
                slot[key]
                for slot, key in appdef.service_port_slots(previous.definition)
                if slot[key] and slot[key] not in requested
            ]
        taken = self._service_ports_in_use(exclude=definition["id"]) | requested
        for slot, key in slots:
            if slot[key]:
                continue
            if reusable:
                slot[key] = reusable.pop(0)
            else:
                slot[key] = self._free_service_port(taken)
            taken.add(slot[key])

    def _service_ports_in_use(self, exclude):
        ports = set()
        for app_id, record in self.apps.items():
            if app_id != exclude:
                ports.update(
                    slot[key] for slot, key in appdef.service_port_slots(record.definition)
                )
        return ports

    @staticmethod
    def _free_service_port(taken):
        for port in range(FIRST_SERVICE_PORT, LAST_SERVICE_PORT):
            if port not in taken:
                return port
        raise RuntimeError("no free service port left")

    # -- tasks ------------------------------------------------------------

    def tasks_of(self, app_id):
        return list(self._tasks_by_app.get(app_id, {}).values())

    def alive_tasks(self, app_id):
        return [task for task in self.tasks_of(app_id) if task.alive]

    def killing_tasks(self, app_id):
        return [task for task in self.tasks_of(app_id) if task.state == KILLING]

    def behaviour_for(self, app_id):
        return self.behaviours.get(app_id) or self.behaviours.get(None) or TaskBehaviour()

    def launch_many(self, record, count):
        """Launch up to ``count`` tasks, at most LAUNCHES_PER_STEP per step
        (as offers arrive a few at a time), stopping at the launch backoff."""
        for _ in range(min(count, LAUNCHES_PER_STEP)):
            if self.launch(record) is None:
                return

    def launch(self, record):
        """Start one task of ``record`` unless the app's launch backoff holds it."""
        app_id = record.definition["id"]
        _, not_before = self.launch_backoff.get(app_id, (0.0, 0.0))
        if clock.now() < not_before:
            return None
        host_ports = self._host_ports(record.definition, appdef.port_count(record.definition))
        if host_ports is None:
            # No offer has enough ports left: the launch waits, as in Marathon.
            return None
        service_ports = [slot[key] for slot, key in appdef.service_port_slots(record.definition)]
        task = Task(
            record.definition, record.version, record.config_version, host_ports, service_ports
        )
        self._add_task(task)
        self.runner.start(task, self.behaviour_for(app_id))
        self._publish_status(task, task.state)
        return task

    def _host_ports(self, definition, count):
        """``count`` host ports from the agent's ports resource, or None when
        too few are free (a port is free again once its task is gone)."""
        if definition.get("requirePorts") and appdef.uses_host_networking(definition):
            return [slot["port"] for slot in definition["portDefinitions"]]
        taken = {port for task in self.tasks.values() for port in task.ports}
        ports = []
        for port in AGENT_PORTS:
            if len(ports) == count:
                break
            if port in taken:
                continue
            # A real process binds its port on loopback: skip ports others hold.
            if not self.real_processes or loopback_port_is_free(port):
                ports.append(port)
        return ports if len(ports) == count else None

    def _add_task(self, task):
        self.tasks[task.id] = task
        self._tasks_by_app.setdefault(task.app_id, {})[task.id] = task

    def _remove_task(self, task):
        self.tasks.pop(task.id, None)
        of_app = self._tasks_by_app.get(task.app_id, {})
        of_app.pop(task.id, None)
        if not of_app:
            self._tasks_by_app.pop(task.app_id, None)

    def kill(self, task):
        if task.alive:
            self.runner.kill(task, self.behaviour_for(task.app_id))
            self._publish_status(task, KILLING)

    def _publish_status(self, task, state, message=""):
        log.info("%s %s %s", task.id, state, message)
        self.events.publish("status_update_event", **events.status_update(task, state, message))

    def _task_ended(self, task, state, message):
        """A task stopped on its own: remember the failure, back off launches."""
        self._remove_task(task)
        self._publish_status(task, state, message)
        self.last_task_failures[task.app_id] = task.failure_json(state, message)
        record = self.apps.get(task.app_id)
        if record is None:
            return
        delay, _ = self.launch_backoff.get(task.app_id, (0.0, 0.0))
        definition = record.definition
        if delay:
            delay = min(delay * definition["backoffFactor"], definition["maxLaunchDelaySeconds"])
        else:
            delay = float(definition["backoffSeconds"])
        self.launch_backoff[task.app_id] = (delay, clock.now() + delay)

    def reset_backoff(self, app_id):
        self.launch_backoff.pop(app_id, None)

    # -- deployments ------------------------------------------------------

    def deployments_affecting(self, app_ids):
        return [
            deployment
            for deployment in self.deployments.values()
            if set(deployment.affected_apps) & set(app_ids)
        ]

    def start_deployment(self, version, changes):
        """``changes``: {app id: (record before, record after)}; the store
        already holds the after state. Returns the (maybe empty) deployment."""
        steps = []
        for app_id, (before, after) in sorted(changes.items()):
            for index, step in enumerate(plan_steps(app_id, before, after)):
                if index < len(steps):
                    steps[index].extend(step)
                else:
                    steps.append(step)
        deployment = Deployment(
            version,
            steps,
            original={app_id: before for app_id, (before, _) in changes.items()},
            target={app_id: after for app_id, (_, after) in changes.items()},
        )
        if steps:
            self.deployments[deployment.id] = deployment
            self.events.publish(
                "deployment_info", **events.deployment_fields(deployment, with_current_step=True)
            )
            deployment.advance(self)
            self._drop_finished()
        return deployment

    def cancel(self, deployment):
        if self.deployments.pop(deployment.id, None) is not None:
            self.events.publish("deployment_failed", **events.deployment_fields(deployment))

    def _drop_finished(self):
        for deployment in [d for d in self.deployments.values() if d.finished]:
            del self.deployments[deployment.id]
            self.events.publish("deployment_success", **events.deployment_fields(deployment))

    # -- the tick ---------------------------------------------------------

    def tick(self):
        """Move every task, health check and deployment one step forward."""
        for task in list(self.tasks.values()):
            self._advance_task(task)
        for deployment in list(self.deployments.values()):
            deployment.advance(self)
        self._drop_finished()
        self._keep_instance_counts()

    def _advance_task(self, task):
        behaviour = self.behaviour_for(task.app_id)
        if task.state == KILLING:
            if self.runner.reap(task):
                self._remove_task(task)
                self._publish_status(task, "TASK_KILLED")
            return
        state_before = task.state
        ended = self.runner.poll(task, behaviour)
        if ended is not None:
            self._task_ended(task, *ended)
            return
        if task.state != state_before:
            self._publish_status(task, task.state)
        self.runner.check_health(task, behaviour)
        self._publish_health_change(task)
        if task.failing_too_long():
            self.last_task_failures[task.app_id] = task.failure_json(
                "TASK_KILLED", "killed after failing health checks"
            )
            self.kill(task)

    def _publish_health_change(self, task):
        """Health can change between ticks (real probes); report each flip once."""
        health = task.healthy if task.health_known else None
        if task.state == RUNNING and health is not None and health != task.reported_health:
            task.reported_health = health
            self.events.publish(
                "health_status_changed_event", **events.health_changed(task, health)
            )

    def _keep_instance_counts(self):
        """Outside deployments Marathon replaces tasks that ended."""
        busy = {app_id for d in self.deployments.values() for app_id in d.affected_apps}
        for app_id, record in self.apps.items():
            if app_id in busy:
                continue
            self.launch_many(record, record.definition["instances"] - len(self.alive_tasks(app_id)))

    def shutdown(self):
        self.runner.shutdown()
        self.tasks.clear()
        self._tasks_by_app.clear()
