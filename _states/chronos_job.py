"""Keep Chronos jobs as declared.

.. code-block:: yaml

    nightly-backup:
      chronos_job.present:
        - command: /usr/local/bin/backup.sh
        - schedule: R/2026-11-28T03:00:00Z/P1D
        - owner: ops@example.com
        - mem: 256

    backup-report:
      chronos_job.present:
        - command: /usr/local/bin/report.sh
        - parents: [nightly-backup]
        - require:
          - chronos_job: nightly-backup

    old-job:
      chronos_job.absent: []

The job name is ``name``. Any Chronos job field may be given (``epsilon``,
``retries``, ``cpus``, ``mem``, ``disk``, ``shell``, ``arguments``,
``environmentVariables`` as a list or a mapping, ``container``, ...).

``present`` compares the declaration with what Chronos stores with one GET
and writes only when they differ. It understands Chronos' filled-in
defaults and its moving schedules: once a job has run, Chronos stores the
next start and the repeats left, which still mean the declared schedule, so
a second apply reports no change and sends no write.
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError
from salt.state import STATE_INTERNAL_KEYWORDS

CONNECTION_ARGUMENTS = ("url", "username", "password", "verify", "request_timeout")


def present(name, command, schedule=None, parents=None, **kwargs):
    """
    Ensure the Chronos job ``name`` exists as declared.

    name
        The job name.
    command
        The command Chronos runs.
    schedule
        ``R[n]/<start>/<ISO 8601 duration>``; for a scheduled job.
    parents
        Names of the jobs this one runs after; for a dependent job.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    connection, fields = _split(kwargs)
    job = {"name": name, "command": command, **fields}
    if schedule is not None:
        job["schedule"] = str(schedule)
    if parents is not None:
        job["parents"] = parents
    try:
        comparison = __salt__["chronos.job_changes"](job, **connection)
        changes = comparison["changes"]
        if not changes:
            ret["comment"] = f"Chronos job {name} is already as specified"
            return ret
        action = "updated" if comparison["exists"] else "created"
        if __opts__["test"]:
            ret.update(
                result=None, changes=changes, comment=f"Chronos job {name} would be {action}"
            )
            return ret
        __salt__["chronos.update_job"](job, **connection)
        remaining = __salt__["chronos.job_changes"](job, **connection)["changes"]
    except (CommandExecutionError, SaltInvocationError) as error:
        ret.update(result=False, comment=str(error))
        return ret
    ret["changes"] = changes
    if remaining:
        ret.update(
            result=False,
            comment=f"Chronos job {name} was {action} but still differs in: "
            + ", ".join(sorted(remaining)),
        )
        return ret
    ret["comment"] = f"Chronos job {name} {action}"
    return ret


def absent(name, **kwargs):
    """
    Ensure the Chronos job ``name`` does not exist.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    connection, _fields = _split(kwargs)
    try:
        if not __salt__["chronos.has_job"](name, **connection):
            ret["comment"] = f"Chronos job {name} is already absent"
            return ret
        if __opts__["test"]:
            ret.update(
                result=None,
                changes={"job": {"old": name, "new": None}},
                comment=f"Chronos job {name} would be deleted",
            )
            return ret
        __salt__["chronos.rm_job"](name, **connection)
        still_there = __salt__["chronos.has_job"](name, **connection)
    except (CommandExecutionError, SaltInvocationError) as error:
        ret.update(result=False, comment=str(error))
        return ret
    if still_there:
        ret.update(result=False, comment=f"Chronos job {name} still exists after deletion")
        return ret
    ret.update(changes={"job": {"old": name, "new": None}}, comment=f"Chronos job {name} deleted")
    return ret


def _split(kwargs):
    """(connection overrides, job fields); the state system's own keys are dropped."""
    connection = {key: kwargs[key] for key in CONNECTION_ARGUMENTS if kwargs.get(key) is not None}
    fields = {
        key: value
        for key, value in kwargs.items()
        if key not in CONNECTION_ARGUMENTS
        and not key.startswith("__")
        and key not in STATE_INTERNAL_KEYWORDS
    }
    return connection, fields
