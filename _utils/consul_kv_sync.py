"""Rules for what we write to Consul KV, and the plan that syncs a prefix.

Pure functions (no HTTP): key and value validation, the diff between a
prefix's entries and the mapping it should hold, the transactions that apply
that diff, and the pillar -> ``app/<environment>/<app>/`` layout. Checking
here, before anything is sent, is what lets a bad key or value fail the
whole request with nothing written.
"""

import base64
import json
import pathlib
import re
import runpy
from dataclasses import dataclass

from salt.exceptions import SaltInvocationError

MAX_VALUE_BYTES = 512 * 1024
MAX_TXN_OPERATIONS = 64
# /v1/txn bodies share the value limit; keep room for the JSON around values.
MAX_TXN_BODY_BYTES = MAX_VALUE_BYTES - 4096
KEY_CHARACTERS = re.compile(r"[A-Za-z0-9,\-_./]+")
ENVIRONMENT_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
APP_PREFIX = "app/{environment}/{app}/"
# The platform's name rules (environment, app), shared with mesos.apps and
# mesos.loadbalancer; read from the file beside this one, loader or not.
NAMES = runpy.run_path(str(pathlib.Path(__file__).with_name("mesos_names.py")))


@dataclass
class Change:
    """One key to write (``new``) or delete (``new is None``)."""

    key: str
    old: bytes | None
    new: bytes | None
    modify_index: int = 0


def validate_key(key):
    """Refuse keys that newer Consul rejects (older ones would accept them)."""
    if not isinstance(key, str) or not key:
        raise SaltInvocationError(f"Consul key must be a non-empty string, got {key!r}")
    if key.startswith("/"):
        raise SaltInvocationError(f"Consul key {key!r} must not begin with '/'")
    if ".." in key:
        raise SaltInvocationError(f"Consul key {key!r} must not contain '..'")
    if not KEY_CHARACTERS.fullmatch(key):
        raise SaltInvocationError(f"Consul key {key!r} may only hold letters, digits and , - _ . /")
    return key


def normalize_prefix(prefix):
    """``prefix`` as a directory ("app/a" -> "app/a/") so "app/ab" stays out."""
    if not isinstance(prefix, str) or not prefix.strip("/"):
        raise SaltInvocationError(
            f"A KV prefix must name a directory such as 'app/staging/web/', got {prefix!r}"
        )
    prefix = prefix.rstrip("/") + "/"
    validate_key(prefix)
    return prefix


def encode_value(value, key, as_json=False):
    """The bytes stored for ``value``: UTF-8 text as is, or JSON when asked."""
    if as_json:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    elif isinstance(value, str):
        text = value
    else:
        raise SaltInvocationError(
            f"Value for Consul key {key!r} must be a string, got {type(value).__name__}: "
            "quote it (YAML turns 1.10, 0755, yes into numbers and booleans) "
            "or pass json=True to store it as JSON"
        )
    data = text.encode("utf-8")
    if len(data) > MAX_VALUE_BYTES:
        raise SaltInvocationError(
            f"Value for Consul key {key!r} is {len(data)} bytes, over Consul's "
            f"{MAX_VALUE_BYTES}-byte (512 KiB) limit"
        )
    return data


def encode_mapping(prefix, values, as_json=False):
    """{full key: bytes} for a mapping of keys relative to ``prefix``."""
    if not isinstance(values, dict):
        raise SaltInvocationError(
            f"Values for {prefix!r} must be a mapping of key -> value, got {type(values).__name__}"
        )
    encoded = {}
    for relative, value in values.items():
        if not isinstance(relative, str) or not relative or relative.startswith("/"):
            raise SaltInvocationError(
                f"Key {relative!r} under {prefix!r} must be a relative, non-empty string"
            )
        key = validate_key(prefix + relative)
        encoded[key] = encode_value(value, key, as_json)
    return encoded


def plan_sync(current_entries, desired, prune=True, prefix=""):
    """Changes that make the entries under ``prefix`` equal ``desired``.

    ``current_entries`` are decoded KV entries (Value as bytes) under the
    prefix; ``desired`` is {full key: bytes}. The entry named exactly like
    the prefix (a folder marker) is left alone.
    """
    current = {entry["Key"]: entry for entry in current_entries if entry["Key"] != prefix}
    changes = []
    for key in sorted(desired):
        entry = current.get(key)
        if entry is None:
            changes.append(Change(key, None, desired[key]))
        elif entry["Value"] != desired[key]:
            changes.append(Change(key, entry["Value"], desired[key], entry["ModifyIndex"]))
    if prune:
        for key in sorted(set(current) - set(desired)):
            entry = current[key]
            changes.append(Change(key, entry["Value"], None, entry["ModifyIndex"]))
    return changes


def transaction_operation(change):
    """A check-and-set operation, so a concurrent writer makes it roll back."""
    if change.new is None:
        return {"KV": {"Verb": "delete-cas", "Key": change.key, "Index": change.modify_index}}
    return {
        "KV": {
            "Verb": "cas",
            "Key": change.key,
            "Value": base64.b64encode(change.new).decode(),
            "Index": change.modify_index,
        }
    }


def operation_size(operation):
    return len(json.dumps(operation)) + 2  # plus the list's ", "


def plan_batches(changes):
    """Split changes into (transactions, single_writes).

    Every transaction holds at most 64 operations and fits Consul's request
    limit; writes go before deletions, so a failure between two batches never
    leaves a key missing that should exist. A value too large to fit any
    transaction once base64-encoded (over ~380 KiB) is written on its own.
    """
    ordered = [c for c in changes if c.new is not None] + [c for c in changes if c.new is None]
    batches, singles = [], []
    batch, batch_size = [], 2
    for change in ordered:
        operation = transaction_operation(change)
        size = operation_size(operation)
        if size + 2 > MAX_TXN_BODY_BYTES:
            singles.append(change)
            continue
        if len(batch) == MAX_TXN_OPERATIONS or batch_size + size > MAX_TXN_BODY_BYTES:
            batches.append(batch)
            batch, batch_size = [], 2
        batch.append((change, operation))
        batch_size += size
    if batch:
        batches.append(batch)
    return batches, singles


def display(data):
    """Bytes as text for changes and comments (None stays None).

    Bytes that are not UTF-8 show as ``\\xNN``, so a key holding them can
    still be listed, repaired and deleted.
    """
    return None if data is None else data.decode("utf-8", errors="backslashreplace")


def describe(changes, prefix=""):
    """{key relative to prefix: {"old", "new"}} as states report changes."""
    return {
        change.key[len(prefix) :]: {"old": display(change.old), "new": display(change.new)}
        for change in changes
    }


# Pillar mesos:apps -> app/<environment>/<app>/ ---------------------------------


def app_config_trees(apps, environments=None):
    """[{environment, app, prefix, values, secret_keys}] per app and environment.

    An environment's ``config`` overrides the app's shared ``config`` key by
    key. Everything is checked first and every problem reported together, so
    a bad pillar fails before anything is written for any app.
    """
    problems = []
    trees = []
    if not isinstance(apps, dict):
        raise SaltInvocationError(f"mesos:apps must be a mapping, got {type(apps).__name__}")
    for app in sorted(apps, key=str):
        trees.extend(app_trees(app, apps[app], environments, problems))
    if problems:
        raise SaltInvocationError(
            "Invalid mesos:apps pillar, nothing was written:\n- " + "\n- ".join(problems)
        )
    return trees


def app_trees(app, spec, environments, problems):
    problem = NAMES["name_problem"]("app", app)
    if problem:
        problems.append(problem)
        return []
    if not isinstance(spec, dict):
        problems.append(f"app {app!r} must be a mapping")
        return []
    shared = config_of(spec, f"app {app!r}", problems)
    secret_keys = secret_keys_of(spec, app, problems)
    envs = spec.get("environments")
    if not isinstance(envs, dict) or not envs:
        known = f" (one of {', '.join(environments)})" if environments else ""
        problems.append(
            f"app {app!r} has no environments: add mesos:apps:{app}:environments:<name>{known}"
        )
        return []
    trees = []
    for environment in sorted(envs, key=str):
        where = f"app {app!r} environment {environment!r}"
        if environments and environment not in environments:
            problems.append(f"{where} is not in mesos:environments ({', '.join(environments)})")
            continue
        problem = NAMES["name_problem"]("environment", environment)
        if problem:
            problems.append(f"{where}: {problem}")
            continue
        env_spec = envs[environment] or {}
        if not isinstance(env_spec, dict):
            problems.append(f"{where} must be a mapping")
            continue
        values = {**shared, **config_of(env_spec, where, problems)}
        prefix = APP_PREFIX.format(environment=environment, app=app)
        trees.append(
            {
                "environment": environment,
                "app": app,
                "prefix": prefix,
                "values": values,
                "secret_keys": secret_keys,
            }
        )
    return trees


def hide_secrets(tree, hidden):
    """``tree`` with the values of its ``secret_keys`` replaced by ``hidden``."""
    values = {
        key: hidden if key in tree["secret_keys"] else value
        for key, value in tree["values"].items()
    }
    return {**tree, "values": values}


def secret_keys_of(spec, app, problems):
    """``secret_keys``: KEYs whose values state output must not show."""
    keys = spec.get("secret_keys") or []
    if not isinstance(keys, list) or not all(
        isinstance(key, str) and ENVIRONMENT_VARIABLE.fullmatch(key) for key in keys
    ):
        problems.append(f"app {app!r}: secret_keys must be a list of config KEY names")
        return []
    return sorted(set(keys))


def config_of(spec, where, problems):
    """The valid part of ``spec['config']``; problems are collected, not raised."""
    config = spec.get("config") or {}
    if not isinstance(config, dict):
        problems.append(f"{where}: config must be a mapping of KEY: value")
        return {}
    valid = {}
    for key, value in config.items():
        if not isinstance(key, str) or not ENVIRONMENT_VARIABLE.fullmatch(key):
            problems.append(
                f"{where}: config key {key!r} is not a valid environment variable name "
                "([A-Za-z_][A-Za-z0-9_]*)"
            )
            continue
        if not isinstance(value, str):
            problems.append(
                f"{where}: value of {key} must be a string, got {type(value).__name__}; "
                f"quote it in pillar ({key}: '...')"
            )
            continue
        if len(value.encode("utf-8")) > MAX_VALUE_BYTES:
            problems.append(f"{where}: value of {key} is over Consul's 512 KiB limit")
            continue
        valid[key] = value
    return valid
