"""Value checks of the load balancer's pillar: every value that reaches
HAProxy's configuration is matched against its whole rule (fullmatch, never
`$`, which lets a trailing newline through), and a problem names its pillar
key. Used by ``loadbalancer_config.template_data``; pure functions.
"""

import ipaddress
import re

MAX_PORT = 65535

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


# Ports -----------------------------------------------------------------------------


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


def consul_template_checks(consul_template, problems):
    """mesos:consul_template values written into consul-template's config.hcl."""
    key = "mesos:consul_template"
    wait = consul_template.get("wait") or {}
    for name, value in (
        ("max_stale", consul_template.get("max_stale")),
        ("command_timeout", consul_template.get("command_timeout")),
        ("wait:min", wait.get("min")),
        ("wait:max", wait.get("max")),
    ):
        problems.check(f"{key}:{name}", value, "duration", "a duration such as 10s")
    if consul_template.get("log_level") not in ("trace", "debug", "info", "warn", "err"):
        problems.append(
            f"{key}:log_level must be trace, debug, info, warn or err, "
            f"not {consul_template.get('log_level')!r}"
        )
    for name in ("template_dir", "config_dir"):
        problems.check(f"{key}:{name}", consul_template.get(name), "file_path", "an absolute path")
