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
:func:`port_owners` (which app owns a port), :data:`SERVER_ID` and
:data:`INSTANCE_ADDRESS` (the server rule's parts). What each pillar value
may look like (``PATTERNS``) and the bind addresses: ``loadbalancer_values``.
"""

import pathlib
import re
import runpy

from salt.exceptions import SaltInvocationError

NAMES = runpy.run_path(str(pathlib.Path(__file__).with_name("mesos_names.py")))
VALUES = runpy.run_path(str(pathlib.Path(__file__).with_name("loadbalancer_values.py")))
MAX_PORT = VALUES["MAX_PORT"]
Problems = VALUES["Problems"]
address_problem = VALUES["address_problem"]
checked_port = VALUES["checked_port"]

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
    apps = haproxy_settings(mesos.get("apps") or {}, problems)
    app_checks, external_apps = app_data(apps, lb, problems)
    wellknown = wellknown_data(lb, problems)
    external = external_data(lb, role, problems)
    reserved = reserved_ports(wellknown, external if role == "external" else {}, problems)
    owners = port_owners(apps, service_templates or {}, environments, reserved, problems)
    data = {
        "role": role,
        "log": VALUES["log_data"](lb, problems),
        "chroot": VALUES["optional_path"]("mesos:loadbalancer:chroot", lb.get("chroot"), problems),
        "maxconn": str(lb.get("maxconn")),
        "timeouts": VALUES["timeouts_data"](lb, problems),
        "bind_addresses": VALUES["bind_addresses"](lb, problems),
        "environments": environments,
        "service_name_pattern": NAMES["go_pattern"]("service"),
        "server_id_pattern": SERVER_ID,
        "instance_address_pattern": INSTANCE_ADDRESS,
        "default_check": default_check,
        "app_checks": app_checks,
        "external_apps": external_apps,
        "external": external,
        "master_nodes": VALUES["master_node_data"](mesos, problems),
        "wellknown_services": wellknown,
        "reserved_ports": reserved,
        "port_owners": owners,
        **VALUES["haproxy_process_data"](mesos.get("haproxy") or {}, problems),
    }
    VALUES["consul_template_checks"](mesos.get("consul_template") or {}, problems)
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
    for app, haproxy in apps.items():
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


def haproxy_settings(apps, problems):
    """{app: its ``haproxy`` mapping} of every app of mesos:apps with a valid
    name and shape, in name order; the others are noted as problems."""
    if not isinstance(apps, dict):
        problems.append(f"mesos:apps must be a mapping, not {type(apps).__name__}")
        return {}
    settings = {}
    for app in sorted(apps, key=str):
        problem = NAMES["name_problem"]("app", app)
        if problem:
            problems.append(f"mesos:apps: {problem}")
            continue
        spec = apps[app] or {}
        haproxy = (spec.get("haproxy") if isinstance(spec, dict) else None) or {}
        if not isinstance(spec, dict) or not isinstance(haproxy, dict):
            problems.append(f"mesos:apps:{app}:haproxy must be a mapping")
        elif not isinstance(haproxy.get("check") or {}, dict):
            problems.append(f"mesos:apps:{app}:haproxy:check must be a mapping")
        else:
            settings[app] = haproxy
    return settings


def app_data(apps, lb, problems):
    """([{name, health_check, timing}], [{name, service, host}]) from mesos:apps."""
    base = lb.get("default_check") or {}
    app_checks, external_apps = [], []
    for app, haproxy in apps.items():
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
        if external.get("self_signed"):
            problems.check(
                f"{key}:self_signed", external["self_signed"], "host_name", "a host name"
            )
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
