"""Cluster provisioning rules: pillar checks and the values derived from it.

Pure functions (no Salt calls, no I/O). ``check`` collects every problem in
the merged ``mesos`` settings (map.jinja's result) and raises them together,
so a bad pillar fails the render before any state runs. ``cluster_values``
derives what every host must agree on from ``mesos:master_nodes``: the
ZooKeeper ensemble and each master's id, the ZooKeeper URLs, the quorum and
the Consul join addresses. ``_utils/mesos_components.py`` turns these into
the files each component lays down.
"""

import ipaddress
import re

from salt.exceptions import SaltInvocationError

ROLES = ("master", "agent", "lb-internal", "lb-external")
REGISTRATORS = ("marathon-registrator", "gliderlabs")
# A host name (RFC 1123 labels) or an IPv4/IPv6 address, checked separately.
HOST_NAME = re.compile(
    r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
# Node names become HAProxy server names and Salt minion ids.
NODE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# A Mesos flag name becomes a file name under /etc/mesos-*/: no paths.
FLAG_NAME = re.compile(r"[a-z][a-z0-9_]*")
ZK_PATH = re.compile(r"(/[A-Za-z0-9_.-]+)+")
# Mesos durations: a number and a unit (the flags' own syntax).
MESOS_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|secs|mins|hrs|days|weeks)")
DURATION_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "ms": 1e-3,
    "secs": 1,
    "mins": 60,
    "hrs": 3600,
    "days": 86400,
    "weeks": 604800,
}
# Flags the formula derives from master_nodes and this host; pillar must not set them.
DERIVED_MASTER_FLAGS = ("zk", "quorum", "hostname", "ip")
DERIVED_AGENT_FLAGS = ("master", "hostname", "ip")
DERIVED_CONSUL_SETTINGS = ("server", "bootstrap_expect", "retry_join", "bind_addr")
DOCKER_IMAGE = re.compile(r"[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]+)?(@sha256:[0-9a-f]{64})?")


def invalid(problems):
    """One error naming every problem, prefixed so a user knows nothing ran."""
    return SaltInvocationError(
        "Invalid mesos pillar, nothing was applied:\n- " + "\n- ".join(problems)
    )


def is_address(value):
    if not isinstance(value, str) or not value:
        return False
    if is_ip(value):
        return True
    return bool(HOST_NAME.fullmatch(value)) and not value.replace(".", "").isdigit()


def is_ip(value):
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def is_port(value):
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


def mesos_duration_seconds(value):
    """Seconds in a Mesos duration such as ``60secs``; None if it is not one."""
    match = MESOS_DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    return float(match.group(1)) * DURATION_SECONDS[match.group(2)]


# Checks ------------------------------------------------------------------------


def check(settings, node=None, roles=None):
    """Raise SaltInvocationError naming every problem of the pillar; else None.

    ``node`` is this host's name (``mesos:node_name`` or the minion id) and
    ``roles`` its roles; without them only the cluster-wide values are checked.
    """
    problems = []
    check_master_nodes(settings.get("master_nodes"), problems)
    check_ports(settings, problems)
    check_zk_paths(settings, problems)
    check_agent_flags(settings.get("mesos_agent") or {}, problems)
    check_master_flags(settings.get("mesos_master") or {}, problems)
    check_registrator(settings.get("registrator") or {}, problems)
    check_consul(settings.get("consul") or {}, problems)
    check_repositories(settings, problems)
    if roles is not None:
        check_roles(roles, node, settings.get("master_nodes"), problems)
    if problems:
        raise invalid(problems)


def check_master_nodes(master_nodes, problems):
    if not isinstance(master_nodes, dict) or not master_nodes:
        problems.append(
            "mesos:master_nodes is empty: list every master as <host name>: <IP address>"
        )
        return
    hosts_by_address = {}
    for name, address in master_nodes.items():
        if not isinstance(name, str) or not NODE_NAME.fullmatch(name):
            problems.append(f"mesos:master_nodes: {name!r} is not a valid host name")
        if not is_address(address):
            problems.append(
                f"mesos:master_nodes:{name}: {address!r} is not an IP address or host name"
            )
            continue
        hosts_by_address.setdefault(address, []).append(str(name))
    for address, names in sorted(hosts_by_address.items()):
        if len(names) > 1:
            problems.append(
                f"mesos:master_nodes: address {address} is given to more than one master "
                f"({', '.join(sorted(names))})"
            )


def check_ports(settings, problems):
    ports = [
        ("zookeeper:client_port", (settings.get("zookeeper") or {}).get("client_port")),
        ("zookeeper:peer_port", (settings.get("zookeeper") or {}).get("peer_port")),
        ("zookeeper:election_port", (settings.get("zookeeper") or {}).get("election_port")),
        ("mesos_master:port", (settings.get("mesos_master") or {}).get("port")),
        ("marathon:http_port", (settings.get("marathon") or {}).get("http_port")),
        ("chronos:http_port", (settings.get("chronos") or {}).get("http_port")),
    ]
    for name, value in ports:
        if not is_port(value):
            problems.append(f"mesos:{name} must be a TCP port (1-65535), not {value!r}")


def check_zk_paths(settings, problems):
    for component in ("mesos_common", "marathon", "chronos"):
        path = (settings.get(component) or {}).get("zk_path")
        if not isinstance(path, str) or not ZK_PATH.fullmatch(path):
            problems.append(
                f"mesos:{component}:zk_path must be a ZooKeeper path like /mesos, not {path!r}"
            )


def check_flags(where, flags, derived, problems):
    if not isinstance(flags, dict):
        problems.append(f"{where} must be a mapping of flag: value")
        return {}
    for name, value in flags.items():
        if not isinstance(name, str) or not FLAG_NAME.fullmatch(name):
            problems.append(f"{where}: {name!r} is not a Mesos flag name (lower case, digits, _)")
        elif name in derived:
            problems.append(
                f"{where}:{name} is derived by the formula (from mesos:master_nodes and the host); "
                "remove it from pillar"
            )
        if isinstance(value, (dict, list)) or (isinstance(value, str) and "\n" in value):
            problems.append(f"{where}:{name} must be one line of text, a number or a boolean")
    return flags


def check_master_flags(master, problems):
    check_flags(
        "mesos:mesos_master:flags", master.get("flags") or {}, DERIVED_MASTER_FLAGS, problems
    )


def check_agent_flags(agent, problems):
    flags = check_flags(
        "mesos:mesos_agent:flags", agent.get("flags") or {}, DERIVED_AGENT_FLAGS, problems
    )
    durations = {}
    for name in (
        "executor_shutdown_grace_period",
        "docker_stop_timeout",
        "executor_registration_timeout",
    ):
        value = flags.get(name)
        seconds = mesos_duration_seconds(value)
        if seconds is None:
            problems.append(
                f"mesos:mesos_agent:flags:{name} must be a Mesos duration such as 60secs or "
                f"5mins, not {value!r}"
            )
        durations[name] = seconds
    grace = durations["executor_shutdown_grace_period"]
    stop = durations["docker_stop_timeout"]
    if grace is not None and stop is not None and stop >= grace:
        stop_text = flags["docker_stop_timeout"]
        grace_text = flags["executor_shutdown_grace_period"]
        problems.append(
            f"mesos:mesos_agent:flags: docker_stop_timeout ({stop_text}) must be shorter than "
            f"executor_shutdown_grace_period ({grace_text}), or the executor is killed before "
            "Docker's SIGKILL"
        )


def check_registrator(registrator, problems):
    kind = registrator.get("kind")
    if kind not in REGISTRATORS:
        problems.append(
            f"mesos:registrator:kind must be one of {', '.join(REGISTRATORS)}, not {kind!r}"
        )
    images = registrator.get("images") or {}
    image = images.get(kind) if kind in REGISTRATORS else None
    if kind in REGISTRATORS and not (isinstance(image, str) and DOCKER_IMAGE.fullmatch(image)):
        problems.append(f"mesos:registrator:images:{kind} is not a Docker image name: {image!r}")
    if not is_address_and_port(registrator.get("consul_address")):
        problems.append(
            "mesos:registrator:consul_address must be <host>:<port> of the local Consul agent, "
            f"not {registrator.get('consul_address')!r}"
        )


def is_address_and_port(value):
    host, _, port = value.rpartition(":") if isinstance(value, str) else ("", "", "")
    return is_address(host) and port.isdigit() and is_port(int(port))


def check_consul(consul, problems):
    extra = consul.get("settings") or {}
    if not isinstance(extra, dict):
        problems.append("mesos:consul:settings must be a mapping of Consul configuration keys")
        return
    for key in sorted(set(extra) & set(DERIVED_CONSUL_SETTINGS)):
        problems.append(
            f"mesos:consul:settings:{key} is derived by the formula from mesos:master_nodes; "
            "remove it from pillar"
        )


PACKAGED = (
    "zookeeper",
    "mesos_common",
    "marathon",
    "chronos",
    "consul",
    "docker",
    "consul_template",
)


def check_repositories(settings, problems):
    """A component's repository must be one of mesos:repositories (or null)."""
    known = settings.get("repositories") or {}
    for component in PACKAGED:
        repository = (settings.get(component) or {}).get("repository")
        if repository and repository not in known:
            problems.append(
                f"mesos:{component}:repository {repository!r} is not in mesos:repositories "
                f"({', '.join(sorted(known)) or 'none defined'}); define it under "
                "mesos:lookup:repositories or set null for the OS's own packages"
            )


def check_roles(roles, node, master_nodes, problems):
    if isinstance(roles, str):
        problems.append(f"host {node}: mesos:roles must be a list, such as [{roles}]")
        return
    if not isinstance(roles, list) or not roles:
        problems.append(
            f"host {node}: no roles; set pillar mesos:roles (or grain mesos:roles) to a list of "
            f"{', '.join(ROLES)}"
        )
        return
    for role in roles:
        if role not in ROLES:
            problems.append(f"host {node}: unknown role {role!r} (known: {', '.join(ROLES)})")
    if "lb-internal" in roles and "lb-external" in roles:
        problems.append(
            f"host {node}: roles lb-internal and lb-external exclude each other "
            "(lb-external serves the internal frontends too)"
        )
    if (
        "master" in roles
        and isinstance(master_nodes, dict)
        and master_nodes
        and node not in master_nodes
    ):
        problems.append(
            f"host {node} has role master but is not in mesos:master_nodes "
            f"({', '.join(sorted(map(str, master_nodes)))}); set mesos:node_name or add it"
        )


# Derived values ----------------------------------------------------------------


def masters(master_nodes):
    """[(id, name, address)] in name order: ZooKeeper ids 1..n follow it."""
    return [
        (position, name, master_nodes[name])
        for position, name in enumerate(sorted(master_nodes), start=1)
    ]


def quorum(count):
    """Mesos replicated-log quorum: a strict majority of the masters."""
    return count // 2 + 1


def cluster_values(settings):
    """What every host derives identically from master_nodes (checked first)."""
    check(settings)
    zookeeper = settings["zookeeper"]
    ordered = masters(settings["master_nodes"])
    zk_hosts = ",".join(f"{address}:{zookeeper['client_port']}" for _, _, address in ordered)
    return {
        "masters": [{"id": i, "name": name, "address": address} for i, name, address in ordered],
        "zookeeper_ensemble": [
            f"server.{i}={address}:{zookeeper['peer_port']}:{zookeeper['election_port']}"
            for i, _, address in ordered
        ],
        "zk_hosts": zk_hosts,
        "mesos_zk_url": f"zk://{zk_hosts}{settings['mesos_common']['zk_path']}",
        "marathon_zk_url": f"zk://{zk_hosts}{settings['marathon']['zk_path']}",
        "chronos_zk_path": settings["chronos"]["zk_path"],
        "quorum": quorum(len(ordered)),
        "consul_servers": [address for _, _, address in ordered],
        "bootstrap_expect": len(ordered),
        "marathon_urls": [
            f"http://{address}:{settings['marathon']['http_port']}" for _, _, address in ordered
        ],
    }


def host_values(settings, node, roles=None):
    """Cluster values plus this host's own: its ZooKeeper id, address, server role."""
    check(settings, node, roles)
    values = cluster_values(settings)
    own = [master for master in values["masters"] if master["name"] == node]
    address = settings.get("node_address") or (own[0]["address"] if own else "")
    values.update(
        {
            "node": node,
            "roles": list(roles or []),
            "address": address,
            # --ip, Consul's bind_addr and registrator's -ip take an IP, not a name.
            "ip": address if is_ip(address) else "",
            "is_master": bool(own),
            "zookeeper_id": own[0]["id"] if own else None,
            # Servers join the other servers; clients join every server.
            "consul_retry_join": [
                master["address"] for master in values["masters"] if master["name"] != node
            ],
        }
    )
    return values
