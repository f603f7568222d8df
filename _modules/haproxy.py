"""Validate and reload HAProxy without refusing connections; drain servers at run time.

The reload itself lives in ``_utils/haproxy_reload.py``, which the formula
also lays down as ``mesos-haproxy-reload`` for consul-template and systemd:
one implementation for every caller. Paths and the reload method come from
``mesos:haproxy`` (read with ``config.get``, so pillar, grains or the minion
config), prefixed with ``mesos:root``; keyword arguments override them.

Runtime functions (``list_servers``, ``drain_server``, ``disable_server``,
``enable_server``, ``set_weight``) speak to the admin stats socket, e.g. to
drain a backend server before maintenance. Their states survive reloads via
the server-state file the reload dumps first.
"""

import copy
import csv
import io
import os
import re

from salt.exceptions import CommandExecutionError, SaltInvocationError

METHODS = ("seamless", "syn_drop", "plain")
# Same values as salt/mesos/defaults.yaml (a unit test keeps them equal).
DEFAULTS = {
    "binary": "/usr/sbin/haproxy",
    "config": "/etc/haproxy/haproxy.cfg",
    "master_socket": "/run/haproxy/master.sock",
    "stats_socket": "/run/haproxy/admin.sock",
    "pid_file": "/run/haproxy/haproxy.pid",
    "lock_file": "/run/haproxy/reload.lock",
    "reload": {
        "method": "seamless",
        "timeout": 30,
        "syn_drop": {"settle_delay": 0.2, "ports": []},
    },
}
ROOTED_PATHS = ("config", "master_socket", "stats_socket", "pid_file", "lock_file")
# Backend and server names go into runtime-API commands: no spaces, no newlines.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]+$")
SERVER_STATES = {"drain": "drain", "disable": "maint", "enable": "ready"}


def _merged(base, override):
    merged = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def _settings():
    """``mesos:haproxy`` over the defaults, with managed paths under ``mesos:root``."""
    settings = _merged(DEFAULTS, __salt__["config.get"]("mesos:haproxy", {}))
    root = __salt__["config.get"]("mesos:root", "/") or "/"
    for key in ROOTED_PATHS:
        settings[key] = os.path.join(root, settings[key].lstrip("/"))
    return settings


def _port_list(ports):
    if ports in (None, "", []):
        return None
    if isinstance(ports, str):
        ports = ports.split(",")
    try:
        numbers = sorted({int(port) for port in ports})
    except (TypeError, ValueError) as error:
        raise SaltInvocationError(f"ports must be TCP port numbers, not {ports!r}") from error
    if not all(0 < port <= 65535 for port in numbers):
        raise SaltInvocationError(f"ports must be between 1 and 65535, not {ports!r}")
    return numbers


def _positive_seconds(name, value):
    try:
        seconds = float(value)
    except (TypeError, ValueError) as error:
        raise SaltInvocationError(f"{name} must be a number of seconds, not {value!r}") from error
    if seconds < 0 or (name == "timeout" and seconds == 0):
        raise SaltInvocationError(f"{name} must be positive, not {value!r}")
    return seconds


def check_config(path=None, haproxy=None):
    """
    Validate an HAProxy configuration with ``haproxy -c``.

    Returns ``{"valid": True, "path": ..., "output": ...}`` for a valid file;
    raises with HAProxy's own error text for an invalid one.

    path
        The file to check (default: ``mesos:haproxy:config``).
    haproxy
        The HAProxy binary (default: ``mesos:haproxy:binary``).

    CLI Example:

    .. code-block:: bash

        salt-call haproxy.check_config
        salt-call haproxy.check_config /etc/haproxy/haproxy.cfg.candidate
    """
    settings = _settings()
    path = path or settings["config"]
    output = __utils__["haproxy_reload.check_config"](path, haproxy or settings["binary"])
    return {"valid": True, "path": path, "output": output}


def safe_reload(
    config=None,
    candidate=None,
    method=None,
    timeout=None,
    master_socket=None,
    pid_file=None,
    lock_file=None,
    settle_delay=None,
    ports=None,
    haproxy=None,
):
    """
    Validate, install and reload HAProxy's configuration without refusing connections.

    Concurrent reloads wait for each other (a lock file). The candidate (or,
    without one, the live config) is checked with ``haproxy -c``; an invalid
    one is refused with HAProxy's error text and the running HAProxy keeps
    serving. A valid candidate replaces the live config atomically (the old
    one is kept as ``<config>.previous`` and put back if the reload fails),
    server states are saved, HAProxy is reloaded and the new process is
    confirmed up. Returns the method, the reload duration in seconds, the old
    and new worker PIDs, the ports guarded (syn_drop) and any warnings.

    config
        Live config (default: ``mesos:haproxy:config``).
    candidate
        Newly rendered config to validate and install first.
    method
        ``seamless`` (master-worker, sockets handed over), ``syn_drop``
        (iptables SYN-drop around ``haproxy -sf``) or ``plain``
        (``haproxy -sf``); default ``mesos:haproxy:reload:method``.
    timeout
        Seconds for waiting on the lock plus the reload.
    settle_delay, ports
        syn_drop only: seconds between dropping SYNs and reloading, and the
        ports to guard (default: every port the configs bind).

    CLI Example:

    .. code-block:: bash

        salt-call haproxy.safe_reload
        salt-call haproxy.safe_reload candidate=/etc/haproxy/haproxy.cfg.candidate
        salt-call haproxy.safe_reload method=syn_drop ports=80,443 timeout=20
    """
    settings = _settings()
    reload_settings = settings["reload"]
    method = method or reload_settings["method"]
    if method not in METHODS:
        raise SaltInvocationError(f"unknown reload method {method!r}; use {', '.join(METHODS)}")
    if candidate is not None and not os.path.isfile(candidate):
        raise SaltInvocationError(f"candidate {candidate} does not exist")
    syn_drop = reload_settings["syn_drop"]
    # Check every argument before anything touches HAProxy.
    arguments = {
        "candidate": candidate,
        "method": method,
        "haproxy": haproxy or settings["binary"],
        "master_socket": master_socket or settings["master_socket"],
        "pid_file": pid_file or settings["pid_file"],
        "lock_file": lock_file or settings["lock_file"],
        "timeout": _positive_seconds(
            "timeout", reload_settings["timeout"] if timeout is None else timeout
        ),
        "settle_delay": _positive_seconds(
            "settle_delay", syn_drop["settle_delay"] if settle_delay is None else settle_delay
        ),
        "ports": _port_list(ports) or _port_list(syn_drop.get("ports")),
    }
    return __utils__["haproxy_reload.safe_reload"](config or settings["config"], **arguments)


# --- runtime API ------------------------------------------------------------


def _runtime(command, socket):
    return __utils__["haproxy_reload.runtime_command"](
        socket or _settings()["stats_socket"], command
    )


def _stat_rows(socket):
    """``show stat`` as dicts keyed by HAProxy's CSV column names."""
    answer = _runtime("show stat", socket)
    if not answer.startswith("# "):
        raise CommandExecutionError(f"unexpected 'show stat' answer: {answer.strip()[:200]!r}")
    return list(csv.DictReader(io.StringIO(answer[2:])))


def _server_view(row):
    return {
        "backend": row["pxname"],
        "server": row["svname"],
        "status": row["status"],
        "weight": int(row["weight"] or 0),
        "current_sessions": int(row["scur"] or 0),
        "address": row.get("addr", ""),
        "check_status": row.get("check_status", ""),
    }


def _checked_name(kind, name):
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise SaltInvocationError(f"invalid {kind} name {name!r}")
    return name


def list_servers(backend=None, socket=None):
    """
    List backend servers with their status, weight and current sessions.

    backend
        Only this backend's servers (an unknown backend is an error).
    socket
        Admin stats socket (default: ``mesos:haproxy:stats_socket``).

    CLI Example:

    .. code-block:: bash

        salt-call haproxy.list_servers
        salt-call haproxy.list_servers backend=test-server-production
    """
    rows = _stat_rows(socket)
    if backend is not None:
        _checked_name("backend", backend)
        if not any(row["pxname"] == backend and row["svname"] == "BACKEND" for row in rows):
            raise CommandExecutionError(f"HAProxy has no backend named {backend!r}")
    return [
        _server_view(row)
        for row in rows
        if row["svname"] not in ("FRONTEND", "BACKEND")
        and (backend is None or row["pxname"] == backend)
    ]


def _server(backend, server, socket):
    for view in list_servers(backend, socket):
        if view["server"] == server:
            return view
    raise CommandExecutionError(f"backend {backend!r} has no server named {server!r}")


def _set_server(backend, server, setting, socket):
    """Apply ``set server <backend>/<server> <setting>``; return old and new views."""
    _checked_name("backend", backend)
    _checked_name("server", server)
    old = _server(backend, server, socket)
    command = f"set server {backend}/{server} {setting}"
    answer = _runtime(command, socket).strip()
    # These commands answer nothing on success; any text is HAProxy's refusal.
    if answer:
        raise CommandExecutionError(f"HAProxy refused '{command}': {answer}")
    new = _server(backend, server, socket)
    fields = ("status", "weight")
    return {
        "backend": backend,
        "server": server,
        "old": {field: old[field] for field in fields},
        "new": {field: new[field] for field in fields},
    }


def drain_server(backend, server, socket=None):
    """
    Drain a server: no new connections, existing ones finish, health checks go on.

    CLI Example:

    .. code-block:: bash

        salt-call haproxy.drain_server test-server-production node1_31000
    """
    return _set_server(backend, server, f"state {SERVER_STATES['drain']}", socket)


def disable_server(backend, server, socket=None):
    """
    Put a server into maintenance: it takes no traffic and is not health-checked.

    CLI Example:

    .. code-block:: bash

        salt-call haproxy.disable_server test-server-production node1_31000
    """
    return _set_server(backend, server, f"state {SERVER_STATES['disable']}", socket)


def enable_server(backend, server, socket=None):
    """
    Return a drained or disabled server to service.

    CLI Example:

    .. code-block:: bash

        salt-call haproxy.enable_server test-server-production node1_31000
    """
    return _set_server(backend, server, f"state {SERVER_STATES['enable']}", socket)


def set_weight(backend, server, weight, socket=None):
    """
    Set a server's weight: 0 to 256, or 0% to 100% of its configured weight.

    CLI Example:

    .. code-block:: bash

        salt-call haproxy.set_weight test-server-production node1_31000 50
        salt-call haproxy.set_weight test-server-production node1_31000 50%
    """
    text = str(weight).strip()
    match = re.fullmatch(r"(\d{1,3})(%?)", text)
    limit = 100 if match and match.group(2) else 256
    if not match or int(match.group(1)) > limit:
        raise SaltInvocationError(f"weight must be 0-256 or 0%-100%, not {weight!r}")
    return _set_server(backend, server, f"weight {text}", socket)
