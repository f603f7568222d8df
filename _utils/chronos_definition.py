"""Chronos jobs as declared versus as Chronos stores them.

What Chronos does to a job, and what this module understands:

- GET returns every field, the omitted ones with Chronos' defaults
  (:data:`DEFAULTS`), plus run counters. A POST replaces the whole job, so
  an omitted field means "the default" and is compared with it.
- Numbers come back as floats (``mem: 64`` is ``64.0``); ``epsilon`` is a
  duration (``PT1M`` is ``PT60S``); the order of ``parents`` is not kept.
- The schedule moves as the job runs: the start goes forward by whole
  periods (written in UTC with milliseconds) and a finite repeat count goes
  down by one per period, run or skipped. Two schedules mean the same when
  the periods are equal and the stored start is the declared start plus k
  periods with the declared repeats minus k left (:func:`same_schedule`).
  A job whose count reached zero is disabled by Chronos; that is expected.

No Salt imports, so plain scripts can use it too; the loader exposes its
functions as ``chronos_definition.<function>``.
"""

import copy
import datetime
import re

from dateutil.relativedelta import relativedelta

SCHEDULE = re.compile(r"R(?P<repeats>\d*)/(?P<start>[^/]+)/(?P<period>P[^/]+)")
DURATION = re.compile(
    r"P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)
# Chronos' job name rule.
JOB_NAME = re.compile(r"[\w\s#_-]+")
INFINITE = None
# Steps tried when calendar periods (months, years) separate two starts.
MAX_CALENDAR_STEPS = 100_000

DEFAULTS = {
    "shell": True,
    "epsilon": "PT60S",
    "executor": "",
    "executorFlags": "",
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
SCHEDULED_DEFAULTS = {"scheduleTimeZone": ""}
# Fields a job declaration may carry besides name, command, schedule, parents.
DECLARABLE = frozenset({*DEFAULTS, "scheduleTimeZone", "container", "taskInfoData"})
NUMBERS = ("cpus", "mem", "disk")
EPOCH = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)


class InvalidJobError(ValueError):
    """A job declaration Chronos would refuse; ``problems`` lists every reason."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


# -- schedules ------------------------------------------------------------


def parse_schedule(text):
    """``R[n]/<start>/<period>`` -> ``(repeats or None, start in UTC, period)``."""
    match = SCHEDULE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"schedule {text!r} is not R[n]/<ISO 8601 start>/<ISO 8601 duration>")
    repeats = int(match["repeats"]) if match["repeats"] else INFINITE
    return repeats, parse_moment(match["start"]), parse_duration(match["period"])


def parse_moment(text):
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"start {text!r} is not an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    moment = moment.astimezone(datetime.UTC)
    # Chronos keeps milliseconds.
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def parse_duration(text):
    """An ISO 8601 duration (``P1D``, ``PT30M``, ``P1M``) as a relativedelta above zero."""
    match = DURATION.fullmatch(text) if isinstance(text, str) else None
    if match is None or text == "P":
        raise ValueError(f"duration {text!r} is not an ISO 8601 duration like P1D or PT1H")
    parts = {name: float(value) for name, value in match.groupdict().items() if value}
    seconds = parts.pop("seconds", 0.0)
    period = relativedelta(
        **{name: int(value) for name, value in parts.items()},
        seconds=int(seconds),
        microseconds=round(seconds % 1 * 1_000_000),
    )
    if EPOCH + period <= EPOCH:
        raise ValueError(f"duration {text!r} is zero")
    return period


def fixed_seconds(period):
    """Length of a period without months or years, else None."""
    if period.years or period.months:
        return None
    return (EPOCH + period - EPOCH).total_seconds()


def periods_between(start, later, period):
    """k with ``start + k*period == later`` (k >= 0), or None when off the grid."""
    if later < start:
        return None
    length = fixed_seconds(period)
    if length is not None:
        steps, rest = divmod((later - start).total_seconds(), length)
        return int(steps) if abs(rest) < 0.0005 else None
    moment, steps = start, 0
    while moment < later and steps < MAX_CALENDAR_STEPS:
        moment, steps = moment + period, steps + 1
    return steps if moment == later else None


def same_schedule(declared, stored):
    """True when ``stored`` is what Chronos makes of ``declared`` after running it."""
    try:
        want_repeats, want_start, want_period = parse_schedule(declared)
        have_repeats, have_start, have_period = parse_schedule(stored)
    except ValueError:
        return False
    if want_period != have_period:
        return False
    steps = periods_between(want_start, have_start, want_period)
    if steps is None:
        return False
    if want_repeats is INFINITE:
        return have_repeats is INFINITE
    return have_repeats == max(want_repeats - steps, 0)


def repeats_left(schedule):
    try:
        return parse_schedule(schedule)[0]
    except ValueError:
        return None


# -- jobs -----------------------------------------------------------------


def job_problems(job):
    """Every reason Chronos would refuse ``job`` (a dict), as messages naming it."""
    if not isinstance(job, dict):
        return [f"a job must be a mapping, not {type(job).__name__}"]
    name = job.get("name")
    label = f"job {name!r}"
    problems = []
    if not isinstance(name, str) or not JOB_NAME.fullmatch(name):
        problems.append(f"{label}: name must be letters, digits, spaces, '#', '_' or '-'")
    command = job.get("command")
    if command is not None and not isinstance(command, str):
        # salt-call reads `command=true` as YAML: a bool, not the shell builtin.
        problems.append(
            f"{label}: command must be a string, not {type(command).__name__} {command!r} "
            "(quote it)"
        )
    elif not command or not command.strip():
        problems.append(f"{label}: no command")
    schedule, parents = job.get("schedule"), job.get("parents")
    if (schedule is None) == (not parents):
        problems.append(f"{label}: needs exactly one of schedule or parents")
    if schedule is not None:
        try:
            parse_schedule(schedule)
        except ValueError as error:
            problems.append(f"{label}: invalid schedule: {error}")
    if parents is not None and (
        not isinstance(parents, list) or not all(isinstance(p, str) for p in parents)
    ):
        problems.append(f"{label}: parents must be a list of job names")
    if "epsilon" in job:
        try:
            parse_duration(job["epsilon"])
        except ValueError as error:
            problems.append(f"{label}: invalid epsilon: {error}")
    unknown = sorted(set(job) - DECLARABLE - {"name", "command", "schedule", "parents"})
    if unknown:
        problems.append(f"{label}: unknown field(s) {', '.join(unknown)}")
    return problems


def graph_problems(jobs, existing=()):
    """Parents that exist neither in ``jobs`` nor in ``existing``; dependency cycles."""
    known = {job.get("name") for job in jobs} | set(existing)
    parents_of = {job.get("name"): list(job.get("parents") or []) for job in jobs}
    problems = [
        f"job {name!r}: parent {parent!r} does not exist"
        for name, parents in parents_of.items()
        for parent in parents
        if parent not in known
    ]
    problems += [f"dependency cycle: {' -> '.join(cycle)}" for cycle in cycles(parents_of)]
    return problems


def cycles(parents_of):
    """Each dependency cycle once, as a list of names ending where it starts."""
    found, finished = [], set()

    def visit(name, path):
        if name in path:
            found.append([*path[path.index(name) :], name])
            return
        if name in finished or name not in parents_of:
            return
        for parent in parents_of[name]:
            visit(parent, [*path, name])
        finished.add(name)

    for name in sorted(parents_of):
        visit(name, [])
    return found


def placement_problems(job, stored_jobs):
    """Problems of adding ``job`` to the jobs Chronos holds: a missing parent, a cycle."""
    parents_of = {other.get("name"): list(other.get("parents") or []) for other in stored_jobs}
    parents_of[job["name"]] = list(job.get("parents") or [])
    problems = [
        f"job {job['name']!r}: parent {parent!r} does not exist"
        for parent in parents_of[job["name"]]
        if parent not in parents_of
    ]
    problems += [
        f"dependency cycle: {' -> '.join(cycle)}"
        for cycle in cycles(parents_of)
        if job["name"] in cycle
    ]
    return problems


def check_jobs(jobs, existing=()):
    """Raise :class:`InvalidJobError` naming every problem of ``jobs`` at once."""
    problems = [problem for job in jobs for problem in job_problems(job)]
    jobs = [job for job in jobs if isinstance(job, dict)]
    names = [job.get("name") for job in jobs]
    problems += [
        f"job {name!r} is declared twice" for name in sorted(set(names)) if names.count(name) > 1
    ]
    linked = [
        {"name": job.get("name"), "parents": job.get("parents")}
        for job in jobs
        if isinstance(job.get("parents") or [], list)
    ]
    problems += graph_problems(linked, existing)
    if problems:
        raise InvalidJobError(problems)
    return jobs


def normalise(job):
    """The declaration as Chronos will hold it: defaults filled, numbers as floats."""
    wanted = {**copy.deepcopy(DEFAULTS), **copy.deepcopy(job)}
    if "schedule" in job:
        wanted = {**SCHEDULED_DEFAULTS, **wanted}
    else:
        wanted.pop("scheduleTimeZone", None)
    for field in NUMBERS:
        wanted[field] = float(wanted[field])
    if isinstance(wanted.get("environmentVariables"), dict):
        wanted["environmentVariables"] = [
            {"name": key, "value": str(value)}
            for key, value in sorted(wanted["environmentVariables"].items())
        ]
    return wanted


def differences(job, stored):
    """``{field: {"old", "new"}}`` between a declaration and the stored job (or None)."""
    wanted = normalise(job)
    if stored is None:
        return {field: {"old": None, "new": value} for field, value in sorted(wanted.items())}
    changes = {}
    for field, value in sorted(wanted.items()):
        old = stored.get(field)
        if not _same(field, value, old, wanted, stored):
            changes[field] = {"old": old, "new": value}
    # A POST without these drops them.
    for field in ("schedule", "parents", "container"):
        if stored.get(field) is not None and field not in wanted:
            changes[field] = {"old": stored[field], "new": None}
    return changes


def _same(field, value, old, wanted, stored):
    if field == "schedule":
        return isinstance(old, str) and same_schedule(value, old)
    if field == "parents":
        return isinstance(old, list) and sorted(value) == sorted(old)
    if field == "epsilon":
        try:
            return parse_duration(value) == parse_duration(old)
        except ValueError:
            return False
    if field == "disabled" and old is True and value is False:
        # Chronos disables a job once its repeat count reaches zero.
        return "schedule" in wanted and repeats_left(stored.get("schedule", "")) == 0
    if field in NUMBERS:
        return isinstance(old, int | float) and float(old) == float(value)
    return old == value
