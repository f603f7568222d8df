"""Keep Marathon apps as declared.

.. code-block:: yaml

    # From a service template, as mesos.apps does it:
    mesos-app-test-server-production:
      marathon_app.present:
        - template: salt://mesos/services/test-server.json
        - environment: production
        - instances: 4
        - tag: master-ef5a154e25b268c611006d08a78a3ec0a451e7ed-56

    # From a definition written in the state:
    /tools/cron-runner:
      marathon_app.present:
        - definition:
            cmd: "while true; do sleep 5; done"
            cpus: 0.1
            mem: 32
            instances: 1

The app id is the definition's ``id`` when it has one, else ``name``.

``present`` compares the declaration with what Marathon stores, understanding
how Marathon normalises definitions, and PUTs only when a declared field
differs: an unchanged app costs one GET. Changes are reported per field as
``{"old", "new"}``. It waits for the deployment (``wait``, ``timeout``) and
rolls back when it does not finish (``rollback``); see
``marathon.update_app``.

Salt's old ``marathon_app`` state names keep working: ``config`` (the
definition as ``config``) and ``running`` (the app must exist; restarts it
with ``restart: True``).
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

DEFAULT_TIMEOUT = 300
# Per-state overrides of the marathon module's connection settings.
CONNECTION_ARGUMENTS = (
    "urls",
    "username",
    "password",
    "token",
    "verify",
    "request_timeout",
    "poll_interval",
    "s3_endpoint_url",
    "max_task_failures",
    "max_instances",
)


def present(
    name,
    definition=None,
    template=None,
    environment=None,
    instances=None,
    tag=None,
    values=None,
    wait=True,
    timeout=DEFAULT_TIMEOUT,
    rollback=True,
    force=False,
    saltenv=None,
    config=None,
    **kwargs,
):
    """
    Ensure the Marathon app is defined as declared.

    name
        The app id, unless the definition carries an ``id``.
    definition
        The app definition (a dict). ``config`` is an alias.
    template, environment, instances, tag, values
        Instead of ``definition``: a service template (``salt://``, path,
        ``http(s)://``, ``s3://``) and its placeholder values; ``instances``
        defaults to 1.
    wait, timeout, rollback, force
        As for ``marathon.update_app``.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    connection = _connection(kwargs)
    try:
        declared = _declared_definition(
            name,
            definition,
            config,
            template,
            environment,
            instances,
            tag,
            values,
            saltenv,
            connection,
        )
        comparison = __salt__["marathon.app_changes"](declared, **connection)
        app_id, changes = comparison["id"], comparison["changes"]
        unsettled = comparison.get("unsettled")
        if not changes and not unsettled:
            ret["comment"] = f"Marathon app {app_id} is already as specified"
            return ret
        # Declared fields but not settled: update_app waits for the running
        # deployment (or fails naming it) and checks the healthy count.
        action = "updated" if comparison["exists"] else "created"
        if not changes:
            action = f"settled (was: {unsettled})"
        if __opts__["test"]:
            ret.update(
                result=None, changes=changes, comment=f"Marathon app {app_id} would be {action}"
            )
            return ret
        outcome = __salt__["marathon.update_app"](
            app_id,
            declared,
            force=force,
            wait=wait,
            timeout=timeout,
            rollback=rollback,
            **connection,
        )
        remaining = __salt__["marathon.app_changes"](declared, **connection)["changes"]
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    ret["changes"] = changes
    return _report_applied(ret, app_id, action, outcome, remaining, wait)


def absent(name, wait=True, timeout=DEFAULT_TIMEOUT, force=False, **kwargs):
    """
    Ensure the Marathon app ``name`` does not exist (waits for its tasks to stop).
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    connection = _connection(kwargs)
    try:
        if not __salt__["marathon.has_app"](name, **connection):
            ret["comment"] = f"Marathon app {name} is already absent"
            return ret
        if __opts__["test"]:
            ret.update(
                result=None,
                changes={"app": {"old": name, "new": None}},
                comment=f"Marathon app {name} would be removed",
            )
            return ret
        __salt__["marathon.rm_app"](name, force=force, wait=wait, timeout=timeout, **connection)
        still_there = __salt__["marathon.has_app"](name, **connection)
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    if still_there and wait:
        ret.update(result=False, comment=f"Marathon app {name} still exists after removal")
        return ret
    ret["changes"] = {"app": {"old": name, "new": None}}
    ret["comment"] = f"Marathon app {name} removed"
    return ret


def config(name, config, **kwargs):
    """
    Salt's old name: ensure app ``name`` matches ``config``. Same as ``present``.
    """
    return present(name, definition=config, **kwargs)


def running(name, restart=False, force=False, wait=True, timeout=DEFAULT_TIMEOUT, **kwargs):
    """
    Salt's old name: the app must exist; ``restart: True`` restarts its tasks.

    Unlike the old state, ``force`` defaults to False: a running deployment
    is not cancelled unless asked.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    connection = _connection(kwargs)
    try:
        if not __salt__["marathon.has_app"](name, **connection):
            ret.update(result=False, comment=f"Marathon app {name} does not exist")
            return ret
        if not restart:
            ret["comment"] = f"Marathon app {name} exists"
            return ret
        if __opts__["test"]:
            ret.update(
                result=None,
                changes={"restarted": name},
                comment=f"Marathon app {name} would be restarted",
            )
            return ret
        outcome = __salt__["marathon.restart_app"](
            name, force=force, wait=wait, timeout=timeout, **connection
        )
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    ret["changes"] = {"restarted": name, "deploymentId": outcome.get("deploymentId")}
    ret["comment"] = f"Marathon app {name} restarted"
    return ret


def _connection(kwargs):
    # The state system also hands over its own keys (__id__, fun, order, ...).
    return {key: kwargs[key] for key in CONNECTION_ARGUMENTS if kwargs.get(key) is not None}


def _declared_definition(
    name, definition, config, template, environment, instances, tag, values, saltenv, connection
):
    if definition is not None and config is not None:
        raise SaltInvocationError("give the app definition as 'definition' or 'config', not both")
    definition = definition if definition is not None else config
    if (definition is None) == (template is None):
        raise SaltInvocationError("marathon_app.present needs either 'definition' or 'template'")
    if template is not None:
        if environment is None:
            raise SaltInvocationError("a template needs an 'environment'")
        return __salt__["marathon.render_template"](
            template,
            environment,
            1 if instances is None else instances,
            tag=tag,
            values=values,
            saltenv=saltenv or __env__,
            **connection,
        )
    if not isinstance(definition, dict):
        raise SaltInvocationError("'definition' must be a mapping (the Marathon app definition)")
    declared = dict(definition)
    declared.setdefault("id", name)
    if instances is not None:
        declared["instances"] = instances
    return declared


def _report_applied(ret, app_id, action, outcome, remaining, wait):
    version = outcome.get("version")
    if not wait:
        ret["comment"] = (
            f"Marathon app {app_id} {action}; not waiting for deployment "
            f"{outcome.get('deploymentId')}"
        )
        return ret
    if remaining:
        fields = ", ".join(sorted(remaining))
        ret.update(
            result=False,
            comment=f"Marathon app {app_id} deployed as version {version}, but Marathon "
            f"stores other values for: {fields}",
        )
        return ret
    counts = outcome.get("instances") or {}
    ret["comment"] = (
        f"Marathon app {app_id} {action}, version {version}, "
        f"{counts.get('healthy', '?')}/{counts.get('requested', '?')} healthy"
    )
    return ret
