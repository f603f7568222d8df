"""Manage Chronos jobs (REST API ``/scheduler``).

Runs on any minion and in ``salt-call --local``; it replaces Salt's own
proxy-only ``chronos`` module (same name, loaded from ``_modules``).
Connection settings are read with ``config.get`` (minion config, grains or
pillar); keyword arguments of the same name override them per call:

- ``chronos:url``: the Chronos API, e.g. ``http://10.0.0.1:4400`` (add
  ``/v1`` for Chronos 3)
- ``chronos:username`` / ``chronos:password``: HTTP basic auth
  (Chronos' ``--http_credentials``)
- ``chronos:verify``: TLS verification, true (default), false or a CA bundle
- ``chronos:request_timeout``: seconds per HTTP request (default 10)

A job is a dict of Chronos fields: ``name``, ``command`` and either
``schedule`` (``R[n]/<start>/<duration>``) or ``parents`` (a dependent job),
plus any of ``epsilon``, ``owner``, ``retries``, ``cpus``, ``mem``, ``disk``,
``shell``, ``arguments``, ``environmentVariables``, ``container``, ...

Functions raise ``CommandExecutionError`` when Chronos fails or refuses, and
``SaltInvocationError`` for bad arguments; none returns an error dict.
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "chronos"

CONNECTION_SETTINGS = ("url", "username", "password", "verify", "request_timeout")


def __virtual__():  # noqa: N807 - the name Salt's loader calls
    return __virtualname__


def jobs(**connection):
    """
    Return the names of every job Chronos holds.

    CLI Example:

    .. code-block:: bash

        salt-call chronos.jobs
        salt-call chronos.jobs url=http://10.0.0.1:4400
    """
    return sorted(job["name"] for job in _client(connection).jobs())


def job(name, **connection):
    """
    Return the job ``name`` as Chronos stores it (defaults, counters, moved schedule).

    CLI Example:

    .. code-block:: bash

        salt-call chronos.job deploy-test-server-staging
    """
    stored = _client(connection).find_job(name)
    if stored is None:
        raise CommandExecutionError(f"Chronos has no job {name!r}")
    return stored


def has_job(name, **connection):
    """
    Return True if Chronos holds a job ``name``.

    CLI Example:

    .. code-block:: bash

        salt-call chronos.has_job deploy-test-server-staging
    """
    return _client(connection).find_job(name) is not None


def check_jobs(jobs, **connection):
    """
    Check a list of job declarations without writing anything.

    Names every problem at once: invalid names, schedules or epsilons, a job
    with both or neither of schedule and parents, a parent that exists
    neither in the list nor in Chronos, a dependency cycle. Returns True or
    raises ``SaltInvocationError``.

    CLI Example:

    .. code-block:: bash

        salt-call chronos.check_jobs '[{"name": "a", "command": "true", "parents": ["b"]}]'
    """
    if not isinstance(jobs, list):
        raise SaltInvocationError("jobs must be a list of job declarations")
    existing = ()
    if any(isinstance(item, dict) and item.get("parents") for item in jobs):
        # Parents may be jobs Chronos already holds.
        existing = [stored.get("name") for stored in _client(connection).jobs()]
    _check(jobs, existing)
    return True


def job_changes(job, **connection):
    """
    Compare a job declaration with what Chronos stores, with one GET.

    Returns ``{"name", "exists", "changes"}``; changes maps fields to
    ``{"old", "new"}``. Chronos' defaults and schedules that moved forward
    as the job ran are not changes.

    CLI Example:

    .. code-block:: bash

        salt-call chronos.job_changes \\
            '{name: nightly, command: "true", schedule: R/2026-11-28T03:00:00Z/P1D}'
    """
    declared = _declaration(job)
    stored = _client(connection).find_job(declared["name"])
    changes = __utils__["chronos_definition.differences"](declared, stored)
    return {"name": declared["name"], "exists": stored is not None, "changes": changes}


def update_job(job, **connection):
    """
    Create or replace a job (``POST /scheduler/iso8601`` or ``/scheduler/dependency``).

    The declaration is checked first (schedule, name, parents that exist in
    Chronos, no cycle), so a bad job is refused before anything is sent.
    Returns the job as Chronos stores it afterwards.

    CLI Example:

    .. code-block:: bash

        salt-call chronos.update_job \\
            '{name: nightly, command: backup.sh, schedule: R/2026-11-28T03:00:00Z/P1D}'
        salt-call chronos.update_job '{name: report, command: report.sh, parents: [nightly]}'
    """
    declared = _declaration(job)
    client = _client(connection)
    if declared.get("parents"):
        others = [stored for stored in client.jobs() if stored.get("name") != declared["name"]]
        problems = __utils__["chronos_definition.placement_problems"](declared, others)
        if problems:
            raise SaltInvocationError(f"invalid Chronos job: {'; '.join(problems)}")
    client.put_job(declared)
    stored = client.find_job(declared["name"])
    if stored is None:
        raise CommandExecutionError(
            f"Chronos accepted job {declared['name']!r} but does not list it"
        )
    return stored


def rm_job(name, **connection):
    """
    Delete the job ``name``; an unknown job is an error.

    CLI Example:

    .. code-block:: bash

        salt-call chronos.rm_job deploy-test-server-staging
    """
    client = _client(connection)
    if client.find_job(name) is None:
        raise CommandExecutionError(f"Chronos has no job {name!r} to delete")
    client.delete_job(name)
    return True


def run_job(name, **connection):
    """
    Start the job ``name`` now (``PUT /scheduler/job/<name>``): the one-click deploy.

    Its dependent jobs follow when it succeeds. A disabled job is refused
    here, since Chronos would accept the request and not run it.

    CLI Example:

    .. code-block:: bash

        salt-call chronos.run_job deploy-test-server-staging
    """
    client = _client(connection)
    stored = client.find_job(name)
    if stored is None:
        raise CommandExecutionError(f"Chronos has no job {name!r} to run")
    if stored.get("disabled"):
        raise CommandExecutionError(f"Chronos job {name!r} is disabled; Chronos would not run it")
    client.run_job(name)
    return True


def plan_deploy_jobs(apps, deploy_jobs):
    """
    Return the deploy jobs ``mesos.deploy_jobs`` declares, checked as a whole.

    ``apps`` is pillar ``mesos:apps``, ``deploy_jobs`` pillar
    ``mesos:deploy_jobs``; see ``salt/mesos/deploy_jobs.sls``. Every problem
    (bad schedule, unknown app or environment, missing parent, cycle) is
    named at once in a ``SaltInvocationError``.

    CLI Example:

    .. code-block:: bash

        salt-call chronos.plan_deploy_jobs "$(salt-call --out=json pillar.get mesos:apps)" '{}'
    """
    jobs, problems = __utils__["chronos_deploy_jobs.plan"](apps or {}, deploy_jobs or {})
    try:
        __utils__["chronos_definition.check_jobs"](jobs)
    except ValueError as error:
        problems += error.problems
    if problems:
        raise SaltInvocationError("mesos:deploy_jobs: " + "; ".join(problems))
    return jobs


# -- helpers --------------------------------------------------------------


def _client(connection):
    unknown = sorted(
        key for key in connection if not key.startswith("__") and key not in CONNECTION_SETTINGS
    )
    if unknown:
        raise SaltInvocationError(f"unknown argument(s): {', '.join(unknown)}")
    settings = {name: _setting(name, connection) for name in CONNECTION_SETTINGS}
    verify = settings["verify"]
    if isinstance(verify, str) and verify.lower() in ("true", "false"):
        verify = verify.lower() == "true"
    try:
        timeout = float(settings["request_timeout"] or 10)
    except (TypeError, ValueError):
        raise SaltInvocationError("request_timeout must be a number of seconds") from None
    if timeout <= 0:
        raise SaltInvocationError("request_timeout must be above zero")
    return __utils__["chronos_client.connect"](
        settings["url"],
        username=settings["username"],
        password=settings["password"],
        verify=True if verify is None else verify,
        timeout=timeout,
    )


def _setting(name, connection):
    """A per-call argument, else ``chronos:<name>`` from config.get; None when unset."""
    if connection.get(name) is not None:
        return connection[name]
    value = __salt__["config.get"](f"chronos:{name}", default=None)
    return None if value == "" else value


def _declaration(job):
    if isinstance(job, str):
        try:
            job = __utils__["servicedef.parse_json"](job, source="job")
        except ValueError as error:
            raise SaltInvocationError(str(error)) from None
    if not isinstance(job, dict):
        raise SaltInvocationError("a job must be a mapping of Chronos fields with a name")
    _check([job], None)
    return dict(job)


def _check(jobs, existing):
    """``existing`` None: check the jobs alone, not their parents."""
    definition = "chronos_definition"
    try:
        if existing is None:
            problems = [p for job in jobs for p in __utils__[f"{definition}.job_problems"](job)]
            if problems:
                raise ValueError("; ".join(problems))
        else:
            __utils__[f"{definition}.check_jobs"](jobs, existing)
    except ValueError as error:
        raise SaltInvocationError(f"invalid Chronos job: {error}") from None
