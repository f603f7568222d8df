"""Keep Consul KV keys and prefixes as specified.

.. code-block:: yaml

    greeting:
      consul_kv.present:
        - name: app/staging/test-server/GREETING
        - value: hello world

    old-server-config:
      consul_kv.absent:
        - name: app/staging/old-server
        - recurse: True

    mesos-config-staging-test-server:
      consul_kv.tree:
        - name: app/staging/test-server/
        - values:
            GREETING: hello world
            LOG_LEVEL: debug

Every function takes ``url`` and ``token`` to override ``consul:url`` and
``consul:token``. Changes and comments never show the token. ``tree`` and
``present`` report the values they write in changes unless ``hide_values``
says not to (True for every key, or a list of keys): secrets such as
passwords then show as ``<hidden>``. Comments name keys, never values.
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "consul_kv"
HIDDEN = "<hidden>"


def __virtual__():  # noqa: N807 - the name Salt's loader calls
    if "consul.kv_sync" not in __salt__:
        return False, "the consul_kv state needs the consul execution module"
    return __virtualname__


def _result(name, comment):
    return {"name": name, "result": True, "changes": {}, "comment": comment}


def _connection(url, token):
    return {"url": url, "token": token}


def _hidden(change):
    return {side: None if value is None else HIDDEN for side, value in change.items()}


def _masked(changes, hide_values):
    """``changes`` ({key: {old, new}}) with the values of hidden keys masked."""
    if not hide_values:
        return changes
    return {
        key: _hidden(change) if hide_values is True or key in hide_values else change
        for key, change in changes.items()
    }


def present(name, value, json=False, hide_values=False, url=None, token=None):
    """
    Ensure key ``name`` holds ``value`` (a string, stored exactly; with
    ``json: True`` any value, stored as JSON). ``hide_values: True`` keeps
    the value out of the changes.
    """
    ret = _result(name, f"Consul key {name} already holds the value")
    connection = _connection(url, token)
    try:
        old = __salt__["consul.kv_get"](name, errors="backslashreplace", **connection)
        if not __salt__["consul.kv_set"](name, value, json=json, test=True, **connection):
            return ret
        if __opts__["test"]:
            ret.update(result=None, comment=f"Consul key {name} would be set")
            ret["changes"] = _masked({name: {"old": old, "new": value}}, hide_values)[name]
            return ret
        __salt__["consul.kv_set"](name, value, json=json, **connection)
        new = __salt__["consul.kv_get"](name, **connection)
    except (CommandExecutionError, SaltInvocationError) as error:
        ret.update(result=False, comment=str(error))
        return ret
    ret["changes"] = _masked({name: {"old": old, "new": new}}, hide_values)[name]
    ret["comment"] = f"Consul key {name} set"
    return ret


def absent(name, recurse=False, hide_values=False, url=None, token=None):
    """
    Ensure key ``name`` does not exist; with ``recurse: True`` also nothing
    under ``name/`` (siblings such as ``nameX`` are left alone). Changes are
    keyed by full key; ``hide_values`` (True or a list of full keys) masks
    the deleted values.
    """
    ret = _result(name, f"Consul key {name} is already absent")
    connection = _connection(url, token)
    try:
        existing = _existing(name, recurse, connection)
        if not existing:
            return ret
        deleted = {key: {"old": value, "new": None} for key, value in existing.items()}
        ret["changes"] = _masked(deleted, hide_values)
        if __opts__["test"]:
            ret.update(result=None, comment=f"Would delete {_count(existing)} under {name}")
            return ret
        __salt__["consul.kv_delete"](name, recurse=recurse, **connection)
        left = _existing(name, recurse, connection)
    except (CommandExecutionError, SaltInvocationError) as error:
        ret.update(result=False, changes={}, comment=str(error))
        return ret
    if left:
        ret.update(result=False, comment=f"Still present after deleting: {', '.join(left)}")
        return ret
    ret["comment"] = f"Deleted {_count(existing)} under {name}"
    return ret


def _existing(name, recurse, connection):
    """{full key: value} of what ``absent`` would delete."""
    existing = {}
    key = name.rstrip("/") if recurse else name
    value = __salt__["consul.kv_get"](key, errors="backslashreplace", **connection)
    if value is not None:
        existing[key] = value
    if recurse:
        prefix = name.rstrip("/") + "/"
        for relative, value in __salt__["consul.kv_list"](prefix, **connection).items():
            existing[prefix + relative] = value
    return existing


def _count(keys):
    return f"{len(keys)} key" + ("" if len(keys) == 1 else "s")


def tree(name, values, prune=True, json=False, hide_values=False, url=None, token=None):
    """
    Ensure prefix ``name`` holds exactly ``values`` (``{key relative to the
    prefix: value}``). With ``prune`` (the default) keys under the prefix
    that ``values`` does not name are deleted; ``prune: False`` keeps them.
    The prefix is a directory: ``app/a`` never touches ``app/ab``. Changes
    are applied in one transaction where they fit, so a failure writes
    nothing. ``hide_values`` (True or a list of keys) masks values in the
    changes.
    """
    ret = _result(name, f"Consul prefix {name} already holds the {_count(values or {})}")
    sync = __salt__["consul.kv_sync"]
    arguments = {"prune": prune, "json": json, **_connection(url, token)}
    try:
        predicted = sync(name, values, test=True, **arguments)
        if not predicted:
            return ret
        if __opts__["test"]:
            ret.update(result=None, changes=_masked(predicted, hide_values))
            ret["comment"] = f"Consul prefix {name} would change: {_summary(predicted)}"
            return ret
        applied = sync(name, values, **arguments)
        remaining = sync(name, values, test=True, **arguments)
    except (CommandExecutionError, SaltInvocationError) as error:
        ret.update(result=False, comment=str(error))
        return ret
    ret["changes"] = _masked(applied, hide_values)
    if remaining:
        ret["result"] = False
        ret["comment"] = f"Consul prefix {name} still differs: {_summary(remaining)}"
        return ret
    ret["comment"] = f"Consul prefix {name} updated: {_summary(applied)}"
    return ret


def _summary(changes):
    """Key names by kind of change; values stay in ``changes`` only."""
    groups = {
        "added": [k for k, c in changes.items() if c["old"] is None],
        "changed": [k for k, c in changes.items() if None not in (c["old"], c["new"])],
        "removed": [k for k, c in changes.items() if c["new"] is None],
    }
    return "; ".join(f"{kind} {', '.join(sorted(keys))}" for kind, keys in groups.items() if keys)
