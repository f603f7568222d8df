"""The Chronos jobs ``mesos.deploy_jobs`` declares, planned from pillar.

For every app and environment under ``mesos:deploy_jobs:apps`` one job,
``deploy-<app>-<environment>``, runs ``salt-call marathon.deploy <template>
<environment> <instances>`` on an agent. Jobs to run before it (``before``)
and after it (``after``) are chained through Chronos parents: the first job
of the chain carries the schedule, each next one names the previous as its
parent (an ``after`` job may name its own ``parents`` instead). So running
the head of the chain (one click, or the schedule) runs the whole chain in
order, and a failed step stops the rest.

:func:`plan` returns ``(jobs, problems)``: the jobs in an order where
parents come first, and every pillar problem found. The ``chronos`` module
adds the job checks (schedule, names, parents, cycles) and reports all at
once. No Salt imports; the loader exposes :func:`plan` as
``chronos_deploy_jobs.plan``.
"""

import copy
import itertools
import shlex

# Fields a hook job takes from the defaults unless it sets them.
SHARED_FIELDS = ("owner",)
APP_KEYS = frozenset({"template", "schedule", "environments"})
ENVIRONMENT_KEYS = frozenset({"template", "instances", "schedule", "timeout", "before", "after"})


def plan(apps, settings):
    """``(jobs, problems)`` from pillar ``mesos:apps`` and ``mesos:deploy_jobs``."""
    problems = []
    jobs = []
    declared = settings.get("apps") or {}
    if not isinstance(declared, dict):
        return [], ["mesos:deploy_jobs:apps must be a mapping of app names"]
    for app_name, app in sorted(declared.items()):
        app = app or {}
        if not isinstance(app, dict):
            problems.append(f"app {app_name!r} must be a mapping")
            continue
        problems += unknown_keys(app, APP_KEYS, f"app {app_name!r}")
        known_app = apps.get(app_name)
        if not isinstance(known_app, dict):
            problems.append(f"app {app_name!r} is not in mesos:apps")
            continue
        environments = app.get("environments") or {}
        if not isinstance(environments, dict) or not environments:
            problems.append(f"app {app_name!r}: environments must name at least one environment")
            continue
        for environment, options in sorted(environments.items()):
            chain, chain_problems = plan_chain(
                app_name, known_app, app, environment, options or {}, settings
            )
            jobs += chain
            problems += chain_problems
    return parents_first(jobs), problems


def plan_chain(app_name, known_app, app, environment, options, settings):
    """The before jobs, the deploy job and the after jobs of one app environment."""
    where = f"app {app_name!r} environment {environment!r}"
    if not isinstance(options, dict):
        return [], [f"{where} must be a mapping"]
    problems = unknown_keys(options, ENVIRONMENT_KEYS, where)
    known_environments = known_app.get("environments") or {}
    if environment not in known_environments:
        problems.append(f"{where}: not an environment of the app in mesos:apps")
    template = options.get("template") or app.get("template") or known_app.get("template")
    if not template:
        problems.append(f"{where}: no template (set one here or in mesos:apps)")
    instances = options.get("instances")
    if instances is None:
        instances = (known_environments.get(environment) or {}).get("instances", 1)
    deploy = shared_fields(
        {
            "name": f"deploy-{app_name}-{environment}",
            "command": deploy_command(settings, template, environment, instances, options),
        },
        settings,
    )
    before, before_problems = hooks(options.get("before"), f"{where}: before", settings)
    after, after_problems = hooks(options.get("after"), f"{where}: after", settings)
    problems += before_problems + after_problems
    chain = [*before, deploy]
    schedule = options.get("schedule") or app.get("schedule") or settings.get("schedule")
    link(chain, schedule)
    link([deploy, *after], None)
    return [*chain, *after], problems


def unknown_keys(mapping, allowed, where):
    unknown = sorted(str(key) for key in mapping if key not in allowed)
    if not unknown:
        return []
    return [f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})"]


def deploy_command(settings, template, environment, instances, options):
    words = [
        *shlex.split(str(settings.get("salt_call") or "salt-call")),
        "marathon.deploy",
        str(template),
        str(environment),
        str(instances),
    ]
    if options.get("timeout") is not None:
        words.append(f"timeout={options['timeout']}")
    return shlex.join(words)


def hooks(declared, where, settings):
    """Copies of the hook jobs of one list, and what is wrong with the list."""
    if declared is None:
        return [], []
    if not isinstance(declared, list):
        return [], [f"{where} must be a list of jobs"]
    jobs, problems = [], []
    for index, job in enumerate(declared):
        if not isinstance(job, dict) or not job.get("name"):
            problems.append(f"{where}[{index}]: a job needs a name and a command")
            continue
        jobs.append(shared_fields(copy.deepcopy(job), settings))
    return jobs, problems


def shared_fields(job, settings):
    for field in SHARED_FIELDS:
        if settings.get(field) is not None:
            job.setdefault(field, settings[field])
    return job


def link(chain, schedule):
    """Head gets the schedule (if it has neither); each next job the previous as parent."""
    if chain and schedule is not None and "parents" not in chain[0]:
        chain[0].setdefault("schedule", schedule)
    for previous, job in itertools.pairwise(chain):
        if "parents" not in job and "schedule" not in job:
            job["parents"] = [previous["name"]]


def parents_first(jobs):
    """The jobs ordered so every parent in the list comes before its children."""
    by_name = {job["name"]: job for job in jobs}
    ordered, placed, visiting = [], set(), set()

    def place(job):
        name = job["name"]
        if name in placed or name in visiting:  # a cycle is reported by the checks
            return
        visiting.add(name)
        for parent in job.get("parents") or []:
            if isinstance(parent, str) and parent in by_name:
                place(by_name[parent])
        visiting.discard(name)
        placed.add(name)
        ordered.append(job)

    for job in jobs:
        place(job)
    return ordered
