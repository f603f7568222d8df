"""The Chronos stand-in's job graph: validation, the defaults Chronos fills
in, runs (scheduled, on demand, or triggered by parents) and the schedule
rewriting that follows a scheduled run.
"""

import copy
import datetime
import logging
import os
import re
import subprocess
import threading

from .schedule import Schedule, ScheduleError, duration_seconds, format_moment

log = logging.getLogger(__name__)

# Chronos' job name rule (JobUtils.jobNamePattern).
JOB_NAME = re.compile(r"[\w\s#_-]+")
# What GET returns for a field the job was posted without. Written apart
# from _utils/chronos_definition.py on purpose: the stand-in follows Chronos,
# not our client.
DEFAULTS = {
    "shell": True,
    "epsilon": "PT60S",
    "executor": "",
    "executorFlags": "",
    "taskInfoData": "",
    "retries": 2,
    "owner": "",
    "ownerName": "",
    "description": "",
    "cpus": 0.1,
    "disk": 256.0,
    "mem": 128.0,
    "disabled": False,
    "softError": False,
    "dataProcessingJobType": False,
    "fetch": [],
    "uris": [],
    "environmentVariables": [],
    "arguments": [],
    "highPriority": False,
    "runAsUser": "root",
    "concurrent": False,
    "constraints": [],
    "async": False,
}
COUNTERS = {
    "successCount": 0,
    "errorCount": 0,
    "lastSuccess": "",
    "lastError": "",
    "errorsSinceLastSuccess": 0,
}
FIELD_TYPES = {
    "command": str,
    "owner": str,
    "ownerName": str,
    "description": str,
    "runAsUser": str,
    "epsilon": str,
    "scheduleTimeZone": str,
    "retries": int,
    "cpus": (int, float),
    "mem": (int, float),
    "disk": (int, float),
    "shell": bool,
    "async": bool,
    "disabled": bool,
    "concurrent": bool,
    "softError": bool,
    "highPriority": bool,
    "arguments": list,
    "environmentVariables": list,
    "uris": list,
    "fetch": list,
    "constraints": list,
    "container": dict,
}
SCHEDULED_ONLY = ("schedule", "scheduleTimeZone")


class JobError(Exception):
    """A request Chronos answers with 400; ``str()`` is the body text."""


class JobStore:
    """Every job, guarded by one lock; ``clock()`` gives the current instant."""

    def __init__(self, clock, run_commands=False):
        self.clock = clock
        self.run_commands = run_commands
        self.lock = threading.RLock()
        self.jobs = {}
        # For each dependent job: parents that succeeded since it last ran.
        self.parents_done = {}
        self.runs = []  # (job name, "scheduled"|"manual"|"dependency", ok)

    # -- reading ----------------------------------------------------------

    def listing(self):
        with self.lock:
            return [self.as_json(job) for job in self.jobs.values()]

    @staticmethod
    def as_json(job):
        shown = copy.deepcopy(job)
        if "schedule" in shown:
            shown["schedule"] = shown["schedule"].text()
        return shown

    # -- writing ----------------------------------------------------------

    def put_scheduled(self, body):
        job = self.checked(body)
        try:
            schedule = Schedule.parse(body.get("schedule"))
        except ScheduleError as error:
            raise JobError(str(error)) from None
        job.pop("parents", None)
        job["schedule"] = schedule
        job.setdefault("scheduleTimeZone", "")
        with self.lock:
            self.store(job)

    def put_dependent(self, body):
        job = self.checked(body)
        parents = body.get("parents")
        if (
            not isinstance(parents, list)
            or not parents
            or not all(isinstance(parent, str) for parent in parents)
        ):
            raise JobError("a dependent job needs 'parents': a non-empty list of job names")
        for name in SCHEDULED_ONLY:
            job.pop(name, None)
        job["parents"] = list(dict.fromkeys(parents))
        with self.lock:
            missing = [parent for parent in job["parents"] if parent not in self.jobs]
            if missing:
                raise JobError(f"parent job(s) not found: {', '.join(missing)}")
            if self.would_cycle(job["name"], job["parents"]):
                raise JobError(f"job {job['name']} would depend on itself (dependency cycle)")
            self.store(job)
            self.parents_done.setdefault(job["name"], set())

    def checked(self, body):
        if not isinstance(body, dict):
            raise JobError("the body must be a JSON object")
        name = body.get("name")
        if not isinstance(name, str) or not JOB_NAME.fullmatch(name):
            raise JobError(f"invalid job name {name!r}")
        if not isinstance(body.get("command"), str):
            raise JobError("a job needs a 'command'")
        for field, expected in FIELD_TYPES.items():
            value = body.get(field)
            if value is None:
                continue
            # bool is an int in Python, not in JSON.
            if not isinstance(value, expected) or (
                isinstance(value, bool) and expected is not bool
            ):
                raise JobError(f"field {field!r} has the wrong type")
        epsilon = body.get("epsilon")
        if epsilon is not None:
            try:
                duration_seconds(epsilon)
            except ScheduleError as error:
                raise JobError(f"epsilon: {error}") from None
        job = {**copy.deepcopy(DEFAULTS), **COUNTERS}
        job.update({key: copy.deepcopy(value) for key, value in body.items() if value is not None})
        for field in ("cpus", "mem", "disk"):
            job[field] = float(job[field])
        for field in COUNTERS:
            job[field] = COUNTERS[field]
        return job

    def store(self, job):
        old = self.jobs.get(job["name"])
        if old is not None:  # replacing a job keeps its run history
            for field in COUNTERS:
                job[field] = old[field]
        if "parents" not in job:
            self.parents_done.pop(job["name"], None)
        self.jobs[job["name"]] = job

    def would_cycle(self, name, parents):
        """True if ``name`` is reachable from one of ``parents`` through parent links."""
        seen = set()
        pending = list(parents)
        while pending:
            current = pending.pop()
            if current == name:
                return True
            if current in seen:
                continue
            seen.add(current)
            pending.extend(self.jobs.get(current, {}).get("parents", []))
        return False

    def delete(self, name):
        with self.lock:
            if name not in self.jobs:
                raise JobError(f"job '{name}' not found")
            del self.jobs[name]
            self.parents_done.pop(name, None)

    # -- running ----------------------------------------------------------

    def run_now(self, name):
        """PUT /scheduler/job/<name>: start it now; the schedule stays as it is."""
        with self.lock:
            job = self.jobs.get(name)
            if job is None:
                raise JobError(f"job '{name}' not found")
            if job["disabled"]:
                log.info("chronos stand-in: %s is disabled, not started", name)
                return
            self.run(job, "manual")

    def run_due(self, now=None):
        """One scheduler pass: run what is due, skip what was missed by more than epsilon."""
        now = now or self.clock()
        with self.lock:
            for job in list(self.jobs.values()):
                if "schedule" in job:
                    self.catch_up(job, now)

    def catch_up(self, job, now):
        schedule = job["schedule"]
        epsilon = datetime.timedelta(seconds=duration_seconds(job["epsilon"]))
        while not schedule.exhausted() and schedule.start <= now:
            due = now - schedule.start <= epsilon
            schedule.advance()
            if due and not job["disabled"]:
                self.run(job, "scheduled")
            if schedule.exhausted():
                # Chronos disables a job whose repeat count reached zero.
                job["disabled"] = True

    def run(self, job, reason):
        """Simulated runs succeed at once; real commands run in a thread of their own."""
        if not self.run_commands:
            self.record(job["name"], reason, True)
            return
        threading.Thread(target=self.execute, args=(dict(job), reason), daemon=True).start()

    def record(self, name, reason, ok):
        with self.lock:
            job = self.jobs.get(name)
            self.runs.append((name, reason, ok))
            if job is None:  # deleted while it ran
                return
            stamp = format_moment(self.clock())
            if ok:
                job["successCount"] += 1
                job["lastSuccess"] = stamp
                job["errorsSinceLastSuccess"] = 0
                self.trigger_children(name)
            else:
                job["errorCount"] += 1
                job["lastError"] = stamp
                job["errorsSinceLastSuccess"] += 1

    def execute(self, job, reason):
        """Run the command here (shell), retried ``retries`` times, then record the outcome."""
        env = {item.get("name"): item.get("value", "") for item in job["environmentVariables"]}
        command = job["command"] if job["shell"] else [job["command"], *job["arguments"]]
        ok = False
        for _attempt in range(int(job["retries"]) + 1):
            try:
                done = subprocess.run(
                    command, shell=job["shell"], timeout=600, env={**os.environ, **env}
                )
            except (OSError, subprocess.TimeoutExpired):
                continue
            if done.returncode == 0:
                ok = True
                break
        self.record(job["name"], reason, ok)

    def trigger_children(self, parent):
        """A dependent job runs once every parent succeeded since its own last run."""
        for name, child in list(self.jobs.items()):
            if parent not in child.get("parents", ()):
                continue
            done = self.parents_done.setdefault(name, set())
            done.add(parent)
            if done >= set(child["parents"]) and not child["disabled"]:
                done.clear()
                self.run(child, "dependency")
