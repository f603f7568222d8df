"""Tasks of the Marathon stand-in: their life cycle, health results and JSON.

A task runs either simulated (it turns running after the configured start
delay, its health is whatever the test says) or as a real local process
(``runners.ProcessRunner``) probed by real health checks.
"""

import uuid

from . import clock

STAGING = "TASK_STAGING"
RUNNING = "TASK_RUNNING"
KILLING = "TASK_KILLING"

AGENT_ID = "a6f8e3c4-0d3b-4c3e-9a53-5a1d2c7e0f11-S0"
# Marathon's default kill grace period is 3 s on the agent (docker stop timeout etc.).
DEFAULT_KILL_GRACE_SECONDS = 3.0


class HealthResult:
    """What Marathon remembers about one health check of one task."""

    def __init__(self):
        self.alive = None  # None: no result yet (still starting or in grace)
        self.consecutive_failures = 0
        self.first_success = None
        self.last_success = None
        self.last_failure = None
        self.last_failure_cause = None
        self.last_failure_counted_at = None
        self.next_probe_at = 0.0
        self.probe_in_flight = False

    def record_success(self):
        self.alive = True
        self.consecutive_failures = 0
        self.first_success = self.first_success or clock.timestamp()
        self.last_success = clock.timestamp()

    def record_failure(self, cause, started_at, check, now, count_once_per_interval):
        """Count a failed probe unless the grace period still covers it."""
        in_grace = self.first_success is None and now < started_at + check["gracePeriodSeconds"]
        if in_grace:
            return
        if (
            count_once_per_interval
            and self.last_failure_counted_at is not None
            and now - self.last_failure_counted_at < check["intervalSeconds"]
        ):
            return
        self.last_failure_counted_at = now
        self.alive = False
        self.consecutive_failures += 1
        self.last_failure = clock.timestamp()
        self.last_failure_cause = cause

    def as_json(self, task_id):
        return {
            "alive": bool(self.alive),
            "consecutiveFailures": self.consecutive_failures,
            "firstSuccess": self.first_success,
            "lastSuccess": self.last_success,
            "lastFailure": self.last_failure,
            "lastFailureCause": self.last_failure_cause,
            "instanceId": task_id.replace(".", ".instance-", 1),
            "taskId": task_id,
        }


class Task:
    """One instance of one app version."""

    def __init__(self, definition, version, config_version, ports, service_ports):
        app_id = definition["id"]
        self.id = f"{app_id.strip('/').replace('/', '_')}.{uuid.uuid4()}"
        self.app_id = app_id
        self.definition = definition
        self.version = version
        self.config_version = config_version
        self.host = "127.0.0.1"
        self.ports = ports
        self.service_ports = service_ports
        self.state = STAGING
        self.staged_at = clock.timestamp()
        self.staged_monotonic = clock.now()
        self.started_at = None
        self.started_monotonic = None
        self.kill_deadline = None
        self.health = [HealthResult() for _ in definition["healthChecks"]]
        self.process = None
        self.sandbox = None
        self.reported_health = None  # last health published as an event

    @property
    def alive(self):
        """Counts toward the app's instances (not on its way out)."""
        return self.state in (STAGING, RUNNING)

    def mark_running(self):
        self.state = RUNNING
        self.started_at = clock.timestamp()
        self.started_monotonic = clock.now()

    def mark_killing(self):
        grace = self.definition.get("taskKillGracePeriodSeconds")
        if grace is None:
            grace = DEFAULT_KILL_GRACE_SECONDS
        self.state = KILLING
        self.killing_since = clock.now()
        self.kill_deadline = self.killing_since + grace

    @property
    def has_health_checks(self):
        return bool(self.health)

    @property
    def healthy(self):
        """Every health check has answered alive."""
        return self.has_health_checks and all(result.alive for result in self.health)

    @property
    def health_known(self):
        """Every health check has a result (alive or not)."""
        return self.has_health_checks and all(r.alive is not None for r in self.health)

    @property
    def unhealthy(self):
        return any(result.alive is False for result in self.health)

    @property
    def ready(self):
        """What a deployment waits for: healthy, or running if it has no checks."""
        if self.state != RUNNING:
            return False
        return self.healthy if self.has_health_checks else True

    def failing_too_long(self):
        """Marathon kills a task once a check fails maxConsecutiveFailures times."""
        for check, result in zip(self.definition["healthChecks"], self.health, strict=True):
            limit = check["maxConsecutiveFailures"]
            if limit > 0 and result.consecutive_failures >= limit:
                return True
        return False

    def as_json(self):
        task = {
            "id": self.id,
            "appId": self.app_id,
            "host": self.host,
            "ports": list(self.ports),
            "servicePorts": list(self.service_ports),
            "ipAddresses": [{"ipAddress": self.host, "protocol": "IPv4"}],
            "slaveId": AGENT_ID,
            "stagedAt": self.staged_at,
            "state": self.state,
            "version": self.version,
            "localVolumes": [],
        }
        if self.started_at:
            task["startedAt"] = self.started_at
        if any(result.alive is not None for result in self.health):
            task["healthCheckResults"] = [result.as_json(self.id) for result in self.health]
        return task

    def failure_json(self, state, message):
        """``lastTaskFailure`` of the app after this task ended badly."""
        return {
            "appId": self.app_id,
            "host": self.host,
            "message": message,
            "state": state,
            "taskId": self.id,
            "timestamp": clock.timestamp(),
            "version": self.version,
            "slaveId": AGENT_ID,
        }


def count_tasks(tasks):
    """tasksStaged/Running/Healthy/Unhealthy as Marathon counts them."""
    return {
        "tasksStaged": sum(1 for task in tasks if task.state == STAGING),
        "tasksRunning": sum(1 for task in tasks if task.state in (RUNNING, KILLING)),
        "tasksHealthy": sum(1 for task in tasks if task.healthy),
        "tasksUnhealthy": sum(1 for task in tasks if task.unhealthy),
    }
