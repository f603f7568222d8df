"""Consul KV and service discovery for the Mesos platform.

Connection settings come from ``config.get`` (minion config, grains or
pillar) and per-call keyword arguments override them:

- ``consul:url`` (``http://127.0.0.1:8500``), ``consul:token`` (ACL token),
  ``consul:verify`` (True, False or a CA bundle path; default True),
  ``consul:timeout`` (seconds per request; default 10).

Values are UTF-8 text stored exactly as given (no JSON quoting); anything
else is refused unless ``json=True`` asks for it to be stored as JSON.
Failures raise ``CommandExecutionError`` (Consul unreachable, 403, 413, CAS
conflict) or ``SaltInvocationError`` (bad key or value) naming the cause;
the ACL token never appears in them.
"""

import importlib.util
import json as jsonlib
import logging

from salt.exceptions import CommandExecutionError, SaltInvocationError

log = logging.getLogger(__name__)

__virtualname__ = "consul"
# How output shows a value it must not show (the consul_kv states use the same).
HIDDEN = "<hidden>"


def __virtual__():  # noqa: N807 - the name Salt's loader calls
    if importlib.util.find_spec("consul") is None:
        return False, "the consul module needs py-consul (pip install py-consul)"
    return __virtualname__


# Connection -----------------------------------------------------------------


def _setting(name, given, default=None):
    if given is not None:
        return given
    value = __salt__["config.get"](f"consul:{name}", default)
    return default if value in (None, "") else value


def _connection(url=None, token=None, verify=None, timeout=None):
    return __utils__["consul_connection.connect"](
        _setting("url", url),
        token=_setting("token", token),
        verify=_setting("verify", verify, True),
        timeout=_seconds(_setting("timeout", timeout, 10)),
    )


def _seconds(value):
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = 0.0
    if seconds <= 0:
        raise SaltInvocationError(f"consul:timeout must be a positive number of seconds: {value!r}")
    return seconds


def _rules(name):
    return __utils__[f"consul_kv_sync.{name}"]


def _errors():
    return __utils__["consul_connection.exception_types"]()


# KV -------------------------------------------------------------------------


def kv_get(key, default=None, json=False, errors="strict", url=None, token=None):
    """
    Return the value of ``key`` as text, or ``default`` when the key does not
    exist. ``json=True`` parses the stored value as JSON.

    A value that is not UTF-8 is an error; ``errors=backslashreplace`` shows
    it instead (``\\xff`` for each byte that is not text), as the
    ``consul_kv`` states do when they repair or delete such a key.

    CLI Example:

    .. code-block:: bash

        salt-call consul.kv_get app/staging/test-server/GREETING
        salt-call consul.kv_get app/staging/flags json=True default='{}'
        salt-call consul.kv_get app/staging/test-server/BLOB errors=backslashreplace
    """
    _rules("validate_key")(key)
    if errors not in ("strict", "backslashreplace"):
        raise SaltInvocationError(f"errors must be strict or backslashreplace, not {errors!r}")
    entry = _connection(url, token).kv_entry(key)
    if entry is None:
        return default
    if errors != "strict":
        return _rules("display")(entry["Value"])
    text = _decode(key, entry["Value"])
    if not json:
        return text
    try:
        return jsonlib.loads(text)
    except ValueError as error:
        raise CommandExecutionError(f"Value of Consul key {key!r} is not JSON: {error}") from None


def _decode(key, data):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CommandExecutionError(
            f"Value of Consul key {key!r} is not UTF-8 text "
            "(errors=backslashreplace shows it; consul_kv.present can replace it)"
        ) from None


def kv_set(key, value, cas=None, flags=None, json=False, test=False, url=None, token=None):
    """
    Store ``value`` at ``key`` unless it already holds exactly that value.
    Returns True when it wrote (or, with ``test=True``, would write), False
    when the key already held the value.

    ``value`` must be a string (stored byte for byte as UTF-8); pass
    ``json=True`` to store any other value as JSON. ``cas`` makes the write
    a check-and-set: 0 writes only if the key does not exist, N only if the
    key's ModifyIndex is N; a lost check-and-set raises an error. Without
    ``flags`` the key keeps the flags it has.

    CLI Example:

    .. code-block:: bash

        salt-call consul.kv_set app/staging/test-server/GREETING 'hello world'
        salt-call consul.kv_set app/staging/test-server/WORKERS '"4"'
        salt-call consul.kv_set app/staging/limits '{"cpu": 2}' json=True
        salt-call consul.kv_set app/staging/test-server/LOCK taken cas=0
    """
    _rules("validate_key")(key)
    data = _rules("encode_value")(value, key, json)
    connection = _connection(url, token)
    entry = connection.kv_entry(key)
    if entry is not None and entry["Value"] == data and flags in (None, entry["Flags"]):
        return False
    if test:
        return True
    if flags is None and entry is not None:
        flags = entry["Flags"]  # a PUT without flags would reset them to 0
    if not connection.kv_put(key, data, cas=cas, flags=flags):
        raise _errors().ConsulCasConflict(
            f"CAS conflict on Consul key {key!r}: its ModifyIndex is not {cas} "
            "(it changed or exists), nothing was written"
        )
    return True


def kv_delete(key, recurse=False, cas=None, url=None, token=None):
    """
    Delete ``key``; returns True when something was deleted. ``recurse=True``
    deletes ``key`` and every key under ``key/`` in one transaction (never a
    sibling such as ``keyX``). ``cas=N`` deletes only if the key's
    ModifyIndex is N and raises an error otherwise.

    CLI Example:

    .. code-block:: bash

        salt-call consul.kv_delete app/staging/test-server/GREETING
        salt-call consul.kv_delete app/staging/old-server recurse=True
    """
    _rules("validate_key")(key)
    connection = _connection(url, token)
    if recurse:
        return _delete_tree(connection, key.rstrip("/"))
    if connection.kv_entry(key) is None:
        return False
    if not connection.kv_delete(key, cas=cas):
        raise _errors().ConsulCasConflict(
            f"CAS conflict on Consul key {key!r}: its ModifyIndex is not {cas}, nothing was deleted"
        )
    return True


def _delete_tree(connection, key):
    prefix = _rules("normalize_prefix")(key)
    entries = connection.kv_entries(prefix)
    own = connection.kv_entry(key)
    if own is not None:
        entries.append(own)
    changes = _rules("plan_sync")(entries, {}, True, "")
    _apply(connection, changes, f"deleting {key!r} recursively")
    return bool(changes)


def kv_list(prefix="", url=None, token=None):
    """
    Return the tree under ``prefix`` as ``{key relative to prefix: value}``.
    ``prefix`` names a directory: ``app/staging/web`` lists
    ``app/staging/web/...`` and never ``app/staging/web2``.

    CLI Example:

    .. code-block:: bash

        salt-call consul.kv_list app/staging/test-server
    """
    prefix = _rules("normalize_prefix")(prefix) if prefix else ""
    entries = _connection(url, token).kv_entries(prefix)
    display = _rules("display")
    return {
        entry["Key"][len(prefix) :]: display(entry["Value"])
        for entry in entries
        if entry["Key"] != prefix
    }


def kv_sync(prefix, values, prune=True, json=False, test=False, url=None, token=None):
    """
    Make ``prefix`` hold exactly ``values`` (``{key relative to prefix:
    value}``): write what differs and, with ``prune`` (the default), delete
    keys under the prefix that ``values`` does not name. Nothing outside the
    prefix is touched (``app/a`` never reaches ``app/ab``).

    Every key and value is checked before anything is sent. The changes go
    in one transaction when they fit (64 operations, 512 KiB), so a failure
    leaves nothing half-written; each write is a check-and-set against what
    was read, so a concurrent change makes it fail rather than be lost.
    Larger change sets are split, writes before deletions.

    Returns ``{key: {"old": ..., "new": ...}}`` of what changed (``None``
    for absent); ``test=True`` only computes it.

    CLI Example:

    .. code-block:: bash

        salt-call consul.kv_sync app/staging/test-server '{"GREETING": "hi", "LOG_LEVEL": "debug"}'
        salt-call consul.kv_sync app/staging/test-server '{"GREETING": "hi"}' prune=False test=True
    """
    prefix = _rules("normalize_prefix")(prefix)
    desired = _rules("encode_mapping")(prefix, values, json)
    connection = _connection(url, token)
    changes = _rules("plan_sync")(connection.kv_entries(prefix), desired, prune, prefix)
    if changes and not test:
        _apply(connection, changes, f"syncing prefix {prefix!r}")
    return _rules("describe")(changes, prefix)


def _apply(connection, changes, action):
    batches, singles = _rules("plan_batches")(changes)
    if len(batches) + len(singles) > 1:
        message = "%s: %d changes need several requests, so not one atomic transaction"
        log.warning(message, action, len(changes))
    applied = 0
    try:
        for batch in batches:
            _run_transaction(connection, [operation for _, operation in batch], action)
            applied += len(batch)
        for change in singles:
            if not connection.kv_put(change.key, change.new, cas=change.modify_index):
                raise _errors().ConsulCasConflict(
                    f"CAS conflict on Consul key {change.key!r} while {action}: "
                    "it changed since it was read"
                )
            applied += 1
    except CommandExecutionError as error:
        if applied:
            raise CommandExecutionError(
                f"{error} ({applied} of {len(changes)} changes were already written)"
            ) from None
        raise


def _run_transaction(connection, operations, action):
    errors = _errors()
    try:
        connection.transaction(operations, action)
    except errors.ConsulTransactionRolledBack as error:
        raise errors.ConsulCasConflict(
            f"CAS conflict while {action}: a key changed since it was read, so the "
            f"transaction rolled back and nothing of it was written ({error})"
        ) from None


# Pillar -> KV ----------------------------------------------------------------


def app_config_trees(apps=None, environments=None, show_secrets=False):
    """
    Check the ``mesos:apps`` pillar and return, for every app and each of its
    environments, the KV prefix ``app/<environment>/<app>/`` and the settings
    it must hold (the app's shared ``config`` overridden key by key by the
    environment's ``config``), and the app's ``secret_keys`` (KEYs whose
    values output hides: ``<hidden>`` here unless ``show_secrets=True``).
    Every problem (an app without environments, a KEY that is not an
    environment variable name, a value that is not a string) is reported at
    once, before anything is written.

    ``apps`` and ``environments`` default to pillar ``mesos:apps`` and
    ``mesos:environments``, read unmasked (Salt masks pillar values in
    output, which would hide every value, not only the secret ones);
    ``salt/mesos/config.sls`` passes them from map.jinja.

    CLI Example:

    .. code-block:: bash

        salt-call consul.app_config_trees
    """
    if apps is None:
        apps = _pillar("mesos:apps", {})
    if environments is None:
        environments = _pillar("mesos:environments", [])
    trees = _rules("app_config_trees")(apps, environments or None)
    if show_secrets is True:
        return trees
    if show_secrets is not False:
        raise SaltInvocationError(f"show_secrets must be True or False, not {show_secrets!r}")
    return [_rules("hide_secrets")(tree, HIDDEN) for tree in trees]


def _pillar(key, default):
    return __salt__["pillar.get"](key, default, unmask=True)


# Services --------------------------------------------------------------------


def services(url=None, token=None):
    """
    Return every service in the catalog with the union of its tags.

    CLI Example:

    .. code-block:: bash

        salt-call consul.services
    """
    return _connection(url, token).catalog_services()


def service_instances(name, tag=None, passing_only=True, url=None, token=None):
    """
    Return the instances of service ``name`` as ``[{id, node, address,
    port, tags, status}]`` sorted by node and id. ``status`` is the worst of
    the instance's checks, node checks included; ``passing_only`` (default)
    keeps only instances whose checks all pass. An empty service address is
    replaced by the node's, as Consul clients do.

    CLI Example:

    .. code-block:: bash

        salt-call consul.service_instances test-server tag=production
        salt-call consul.service_instances test-server passing_only=False
    """
    rows = _connection(url, token).health_service(name, tag=tag, passing_only=passing_only)
    instances = [_instance(row) for row in rows]
    return sorted(instances, key=lambda instance: (instance["node"], instance["id"]))


STATUS_RANK = {"passing": 0, "warning": 1, "critical": 2}


def _instance(row):
    service, node = row["Service"], row["Node"]
    statuses = [check.get("Status", "critical") for check in row.get("Checks") or []]
    worst = max(statuses, key=lambda status: STATUS_RANK.get(status, 2), default="passing")
    return {
        "id": service["ID"],
        "node": node["Node"],
        "address": service.get("Address") or node["Address"],
        "port": service.get("Port", 0),
        "tags": list(service.get("Tags") or []),
        "status": worst if worst in STATUS_RANK else "critical",
    }
