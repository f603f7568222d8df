"""The load balancer's pillar checks and the data its templates receive.

Pure functions (no Salt, no I/O): :func:`template_data` takes the merged
``mesos`` settings (map.jinja: defaults.yaml, ``mesos:lookup``, pillar
``mesos``) and the text of each app's service template, checks every value
that reaches HAProxy's or consul-template's configuration against the whole
string, and answers the context the ``haproxy-<role>.ctmpl.jinja`` templates
fill in. Every problem is collected and reported at once, naming its pillar
key, before anything is written (like ``consul_kv_sync.app_config_trees``).

The rules a newcomer may want to change live here, one place each:
:func:`listener_binds` (which port a listener binds in which environment),
:func:`port_owners` (which app owns a port), :data:`PATTERNS` (what a value
may look like) and :func:`bind_addresses`.
"""

import ipaddress
import pathlib
import re
import runpy

from salt.exceptions import SaltInvocationError

NAMES = runpy.run_path(str(pathlib.Path(__file__).with_name("mesos_names.py")))

MAX_PORT = 65535
# A listener tag: internal-listen-http-<port> or internal-listen-tcp-<port>.
LISTEN_TAG = re.compile(r"internal-listen-(http|tcp)-([1-9][0-9]{0,4})")
# THE SERVER RULE's parts (haproxy-backends.ctmpl.jinja), as RE2 for the Go
# template: a Consul service ID HAProxy can use in a server name, and the
# instance addresses a server line may carry (IPv4, IPv6, host name).
SERVER_ID = r"\A[A-Za-z0-9_.:-]{1,200}\z"
_IPV4_PART = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV6_GROUPS = r"([0-9A-Fa-f]{1,4}:){0,6}[0-9A-Fa-f]{1,4}"
_HOST_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
INSTANCE_ADDRESS = (
    rf"\A(({_IPV4_PART}\.){{3}}{_IPV4_PART}"
    rf"|([0-9A-Fa-f]{{1,4}}:){{7}}[0-9A-Fa-f]{{1,4}}|({_IPV6_GROUPS})?::({_IPV6_GROUPS})?"
    rf"|{_HOST_LABEL}(\.{_HOST_LABEL})*)\z"
)
# SERVICE_TAGS (or registrator's per-port SERVICE_<port>_TAGS) in a service template.
SERVICE_TAGS_ENTRY = re.compile(r'"SERVICE(?:_[0-9]+)?_TAGS"\s*:\s*"([^"]*)"')
SYSLOG_FACILITIES = (
    "kern|user|mail|daemon|auth|syslog|lpr|news|uucp|cron|auth2|ftp|ntp|audit|alert|cron2|"
    "local[0-7]"
)
SYSLOG_LEVELS = "emerg|alert|crit|err|warning|notice|info|debug"

# Each value is matched against the whole string (fullmatch): no spaces,
# quotes, `#` (comment) or `$` (variables) where HAProxy would parse them,
# and never a newline.
PATTERNS = {
    "duration": re.compile(r"[0-9]+(?:us|ms|s|m|h|d)?"),
    "count": re.compile(r"[1-9][0-9]{0,6}"),
    "url_path": re.compile(r"/[A-Za-z0-9._~!&()*+,;=:@%/?-]*"),
    "file_path": re.compile(r"/[A-Za-z0-9._+,:@%/-]*"),
    "host_name": re.compile(
        r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
        r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    ),
    "host_prefix": re.compile(r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?[.-])?"),
    "proxy_name": re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*"),
    "system_name": re.compile(r"[a-z_][a-z0-9_-]{0,31}"),
    "log_target": re.compile(
        rf"(?:/[A-Za-z0-9._/-]+|[A-Za-z0-9.:\[\]-]+) (?:{SYSLOG_FACILITIES})"
        rf"(?: (?:{SYSLOG_LEVELS})){{0,2}}"
    ),
    "header_value": re.compile(r"[A-Za-z0-9=;, -]+"),
    "tls_version": re.compile(r"TLSv1\.[0-3]"),
}


class Problems(list):
    """Problems found so far, each naming its pillar key."""

    def check(self, key, value, pattern, what):
        """True when ``str(value)`` fully matches ``PATTERNS[pattern]``; else note it."""
        text = "" if value is None else str(value)
        if isinstance(value, bool) or not PATTERNS[pattern].fullmatch(text):
            self.append(f"{key} must be {what}, not {value!r}")
            return False
        return True


def template_data(mesos, service_templates=None):
    """The context of ``haproxy-<role>.ctmpl.jinja``, or SaltInvocationError naming every problem.

    ``mesos`` is map.jinja's merged ``mesos`` dict; ``service_templates``
    maps app names to the text of their service templates (for the ports
    their ``SERVICE_TAGS`` claim).
    """
    problems = Problems()
    lb = mesos.get("loadbalancer") or {}
    role = lb.get("role")
    if role not in ("internal", "external"):
        problems.append(f"mesos:loadbalancer:role must be internal or external, not {role!r}")
    environments = environment_data(mesos, lb, problems)
    default_check = check_data(
        "mesos:loadbalancer:default_check", lb.get("default_check"), problems
    )
    apps = mesos.get("apps") or {}
    app_checks, external_apps = app_data(apps, default_check, lb, role, problems)
    wellknown = wellknown_data(lb, problems)
    external = external_data(lb, role, problems)
    reserved = reserved_ports(wellknown, external if role == "external" else {}, problems)
    owners = port_owners(apps, service_templates or {}, environments, reserved, problems)
    data = {
        "role": role,
        "log": log_data(lb, problems),
        "chroot": optional_path("mesos:loadbalancer:chroot", lb.get("chroot"), problems),
        "maxconn": str(lb.get("maxconn")),
        "timeouts": timeouts_data(lb, problems),
        "bind_addresses": bind_addresses(lb, problems),
        "environments": environments,
        "service_name_pattern": NAMES["go_pattern"]("service"),
        "server_id_pattern": SERVER_ID,
        "instance_address_pattern": INSTANCE_ADDRESS,
        "default_check": default_check,
        "app_checks": app_checks,
        "external_apps": external_apps,
        "external": external,
        "master_nodes": master_node_data(mesos, problems),
        "wellknown_services": wellknown,
        "reserved_ports": reserved,
        "port_owners": owners,
        **haproxy_process_data(mesos.get("haproxy") or {}, problems),
    }
    problems.check("mesos:loadbalancer:maxconn", lb.get("maxconn"), "count", "a positive number")
    if problems:
        raise SaltInvocationError(
            "mesos.loadbalancer: invalid pillar, nothing was written:\n  "
            + "\n  ".join(dict.fromkeys(problems))
        )
    return data


# Environments and listeners ---------------------------------------------------


def environment_data(mesos, lb, problems):
    """[{name, port_prefix, host_prefix}] for every environment of mesos:environments."""
    prefixes = lb.get("environment_port_prefixes") or {}
    host_prefixes = (lb.get("external") or {}).get("host_prefixes") or {}
    result = []
    seen_prefixes = {}
    for environment in mesos.get("environments") or []:
        problem = NAMES["name_problem"]("environment", environment)
        if problem:
            problems.append(f"mesos:environments: {problem}")
            continue
        key = f"mesos:loadbalancer:environment_port_prefixes:{environment}"
        prefix = prefixes.get(environment)
        prefix = "" if prefix == "" else str(prefix) if prefix is not None else None
        if prefix is None or not re.fullmatch(r"[1-6]?", prefix):
            problems.append(
                f"{key} must be empty or one digit 1-6, not {prefixes.get(environment)!r}"
            )
        elif prefix in seen_prefixes:
            problems.append(f"{key} repeats the prefix of environment {seen_prefixes[prefix]}")
        seen_prefixes.setdefault(prefix, environment)
        host_prefix = host_prefixes.get(environment, f"{environment}-")
        host_prefix = "" if host_prefix is None else host_prefix
        problems.check(
            f"mesos:loadbalancer:external:host_prefixes:{environment}",
            host_prefix,
            "host_prefix",
            "a host name label followed by '-' or '.', or empty",
        )
        result.append(
            {"name": environment, "port_prefix": prefix or "", "host_prefix": host_prefix}
        )
    return result


def listener_binds(port, environments):
    """{environment: bind port} of a listener on ``port``: production binds
    ``port``, staging ``1<port>``. An environment whose bind would pass 65535
    is missing here: that one listener is left out, the others stay."""
    binds = {}
    for environment in environments:
        bind = int(f"{environment['port_prefix']}{port}")
        if bind <= MAX_PORT:
            binds[environment["name"]] = bind
    return binds


def listen_ports(template_text):
    """Tag ports of ``internal-listen-*`` entries in a service template's SERVICE_TAGS."""
    ports = set()
    for tags in SERVICE_TAGS_ENTRY.findall(template_text or ""):
        for tag in tags.split(","):
            match = LISTEN_TAG.fullmatch(tag.strip())
            if match and int(match.group(2)) <= MAX_PORT:
                ports.add(int(match.group(2)))
    return sorted(ports)


def port_owners(apps, service_templates, environments, reserved, problems):
    """{bind port (str): app} for every port pillar gives an app.

    An app's ports are ``mesos:apps:<app>:haproxy:ports`` when set, else
    the listen tags in its service template's ``SERVICE_TAGS``. The owner
    keeps a port another service claims too; a clash inside pillar, or with
    a fixed frontend, is a pillar problem.
    """
    owners = {}
    for app in sorted(apps):
        haproxy = (apps[app] or {}).get("haproxy") or {}
        if "ports" in haproxy:
            ports = explicit_ports(app, haproxy["ports"], problems)
        else:
            ports = listen_ports(service_templates.get(app))
        for port in ports:
            for environment, bind in listener_binds(port, environments).items():
                key = str(bind)
                if key in reserved:
                    problems.append(
                        f"mesos:apps:{app}: port {bind} ({environment}) is taken by {reserved[key]}"
                    )
                elif owners.get(key, app) != app:
                    problems.append(
                        f"mesos:apps:{app}: port {bind} ({environment}) is also given to "
                        f"app {owners[key]}"
                    )
                else:
                    owners[key] = app
    return owners


def explicit_ports(app, ports, problems):
    key = f"mesos:apps:{app}:haproxy:ports"
    if not isinstance(ports, list):
        problems.append(f"{key} must be a list of ports, not {ports!r}")
        return []
    return [port for port in (checked_port(key, port, problems) for port in ports) if port]


# Apps: health checks and external hosts ---------------------------------------


def check_data(key, check, problems):
    """{health_check, timing} of a server check (``inter``/``fall``/``rise``)."""
    check = check or {}
    health_check = check.get("health_check") or ""
    if health_check:
        problems.check(f"{key}:health_check", health_check, "url_path", "a path without spaces")
    problems.check(f"{key}:inter", check.get("inter"), "duration", "a duration such as 10s")
    for word in ("fall", "rise"):
        problems.check(f"{key}:{word}", check.get(word), "count", "a positive number")
    timing = f"inter {check.get('inter')} fall {check.get('fall')} rise {check.get('rise')}"
    return {"health_check": health_check, "timing": timing}


def app_data(apps, default_check, lb, role, problems):
    """([{name, health_check, timing}], [{name, service, host}]) from mesos:apps."""
    if not isinstance(apps, dict):
        problems.append(f"mesos:apps must be a mapping, not {type(apps).__name__}")
        return [], []
    base = lb.get("default_check") or {}
    app_checks, external_apps = [], []
    for app in sorted(apps, key=str):
        problem = NAMES["name_problem"]("app", app)
        if problem:
            problems.append(f"mesos:apps: {problem}")
            continue
        haproxy = (apps[app] or {}).get("haproxy") or {}
        key = f"mesos:apps:{app}:haproxy"
        check = {**base, **(haproxy.get("check") or {})}
        check["health_check"] = haproxy.get("health_check", base.get("health_check"))
        app_checks.append({"name": app, **check_data(key, check, problems)})
        if haproxy.get("external_host"):
            host = haproxy["external_host"]
            service = haproxy.get("external_service") or app
            problems.check(f"{key}:external_host", host, "host_name", "a host name")
            service_problem = NAMES["name_problem"]("service", service)
            if service_problem:
                problems.append(f"{key}:external_service: {service_problem}")
            external_apps.append({"name": app, "service": service, "host": host})
    return app_checks, external_apps


# Fixed frontends ------------------------------------------------------------------


def port_problem(key, value):
    if isinstance(value, bool) or not re.fullmatch(r"[1-9][0-9]{0,4}", str(value)):
        return f"{key} must be a TCP port 1-65535, not {value!r}"
    if int(value) > MAX_PORT:
        return f"{key} must be a TCP port 1-65535, not {value!r}"
    return None


def checked_port(key, value, problems):
    problem = port_problem(key, value)
    if problem:
        problems.append(problem)
        return None
    return int(value)


def wellknown_data(lb, problems):
    """[{name, listen_port, port, health_check, timeout}] of the masters' services."""
    result = []
    for name, service in sorted((lb.get("wellknown_services") or {}).items()):
        if not service:
            continue
        key = f"mesos:loadbalancer:wellknown_services:{name}"
        problems.check(key, name, "proxy_name", "a name of letters, digits, '_', '.', '-'")
        problems.check(f"{key}:health_check", service.get("health_check"), "url_path", "a path")
        timeout = service.get("timeout") or ""
        if timeout:
            problems.check(f"{key}:timeout", timeout, "duration", "a duration")
        result.append(
            {
                "name": name,
                "listen_port": checked_port(
                    f"{key}:listen_port", service.get("listen_port"), problems
                ),
                "port": checked_port(f"{key}:port", service.get("port"), problems),
                "health_check": service.get("health_check"),
                "timeout": timeout,
            }
        )
    return result


def external_data(lb, role, problems):
    """The public frontends' settings (external role), checked."""
    external = dict(lb.get("external") or {})
    if role != "external":
        return external
    key = "mesos:loadbalancer:external"
    external["bind_address"] = external.get("bind_address") or ""
    address = external["bind_address"]
    if address and not address_problem(f"{key}:bind_address", address, problems):
        external["bind_address"] = f"[{address}]" if ":" in address else address
    for port in ("http_port", "https_port"):
        external[port] = checked_port(f"{key}:{port}", external.get(port), problems)
    if external.get("https"):
        problems.check(f"{key}:certificate", external.get("certificate"), "file_path", "a path")
        problems.check(f"{key}:hsts", external.get("hsts"), "header_value", "a header value")
        problems.check(
            f"{key}:tls_min_version", external.get("tls_min_version"), "tls_version", "TLSv1.0-1.3"
        )
    return external


def reserved_ports(wellknown, external, problems):
    """{port (str): what binds it} of the fixed frontends; two on one port is a problem."""
    reserved = {}
    fixed = [
        (service["listen_port"], f"well-known service {service['name']}") for service in wellknown
    ]
    if external:
        fixed.append((external.get("http_port"), "the external HTTP frontend"))
        if external.get("https"):
            fixed.append((external.get("https_port"), "the external HTTPS frontend"))
    for port, what in fixed:
        if port is None:
            continue
        if str(port) in reserved:
            problems.append(f"mesos:loadbalancer: port {port} is used by two fixed frontends")
        reserved.setdefault(str(port), what)
    return reserved


# Addresses -----------------------------------------------------------------------


def address_problem(key, value, problems):
    """Note a problem unless ``value`` is an IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(value if isinstance(value, str) else "")
    except ValueError:
        problems.append(f"{key} must be an IP address, not {value!r}")
        return True
    return False


def bind_addresses(lb, problems):
    """The addresses internal and well-known frontends bind (default:
    loopback and the Docker bridge, where containers reach `dockerhost`)."""
    key = "mesos:loadbalancer:bind_addresses"
    if "bind_address" in lb:
        problems.append(
            "mesos:loadbalancer:bind_address is replaced by mesos:loadbalancer:bind_addresses "
            "(a list, default [127.0.0.1, 172.17.0.1])"
        )
    addresses = lb.get("bind_addresses")
    if not isinstance(addresses, list) or not addresses:
        problems.append(f"{key} must be a non-empty list of IP addresses, not {addresses!r}")
        return []
    valid = [a for a in addresses if not address_problem(key, a, problems)]
    return [f"[{a}]" if ":" in a else a for a in valid]


def master_node_data(mesos, problems):
    """[{name, address}] of mesos:master_nodes (host name -> address)."""
    result = []
    for name, address in sorted((mesos.get("master_nodes") or {}).items()):
        key = f"mesos:master_nodes:{name}"
        problems.check("mesos:master_nodes", name, "proxy_name", "host names")
        if not PATTERNS["host_name"].fullmatch(str(address)):
            address_problem(key, address, problems)
        result.append({"name": name, "address": str(address)})
    return result


# The global section -------------------------------------------------------------


def log_data(lb, problems):
    targets = lb.get("log") or []
    if not isinstance(targets, list):
        problems.append(f"mesos:loadbalancer:log must be a list, not {targets!r}")
        return []
    for target in targets:
        problems.check(
            "mesos:loadbalancer:log",
            target,
            "log_target",
            "'<address or socket> <facility> [level]'",
        )
    return targets


def optional_path(key, value, problems):
    if value in (None, ""):
        return ""
    problems.check(key, value, "file_path", "an absolute path")
    return value


def timeouts_data(lb, problems):
    timeouts = lb.get("timeouts") or {}
    for name in ("connect", "client", "server"):
        problems.check(
            f"mesos:loadbalancer:timeouts:{name}", timeouts.get(name), "duration", "a duration"
        )
    return timeouts


def haproxy_process_data(haproxy, problems):
    """mesos:haproxy values written into the global section: user, group and
    the reload settings (stats socket, state file, hard-stop-after, ...)."""
    key = "mesos:haproxy"
    for name in ("user", "group"):
        if haproxy.get(name):
            problems.check(f"{key}:{name}", haproxy[name], "system_name", "a user or group name")
    for name in ("stats_socket", "server_state_file"):
        problems.check(f"{key}:{name}", haproxy.get(name), "file_path", "an absolute path")
    problems.check(
        f"{key}:hard_stop_after", haproxy.get("hard_stop_after"), "duration", "a duration"
    )
    problems.check(
        f"{key}:mworker_max_reloads",
        haproxy.get("mworker_max_reloads"),
        "count",
        "a positive number",
    )
    method = (haproxy.get("reload") or {}).get("method")
    if method not in ("seamless", "syn_drop", "plain"):
        problems.append(f"{key}:reload:method must be seamless, syn_drop or plain, not {method!r}")
    return {"user": haproxy.get("user") or "", "group": haproxy.get("group") or ""}
