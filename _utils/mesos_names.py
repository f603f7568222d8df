"""One rule per kind of name the platform passes between its parts.

An environment or an app name travels far: into Marathon app ids
(``/app/<environment>/<app>``, lowercase id segments), Consul KV prefixes
(``app/<environment>/<app>/``), consul-template queries
(``service "<environment>.<service>"``: the tag is split off at a dot),
HAProxy proxy names (``cluster_<environment>:<service>``) and default host
names (``<environment>-<host>``). So both are DNS labels: lowercase letters,
digits and inner hyphens. A service name is what registrator put into
Consul's catalog; consul-template can query it only without dots.

mesos.config (``consul_kv_sync``), mesos.apps (``marathon_arguments``) and
mesos.loadbalancer (``loadbalancer_config``) all check names here. Every
pattern is applied to the whole string (``fullmatch``): ``$`` would let a
trailing newline through.
"""

import re

DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
ENVIRONMENT = re.compile(DNS_LABEL)
APP = re.compile(DNS_LABEL)
SERVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,254}")

RULES = {
    "environment": (ENVIRONMENT, "lowercase letters, digits and inner '-', at most 63"),
    "app": (APP, "lowercase letters, digits and inner '-', at most 63"),
    "service": (SERVICE, "letters, digits, '_' and '-' (no dots), starting with a letter or digit"),
}


def name_problem(kind, value):
    """None when ``value`` is a valid name of ``kind``, else why not (naming the value)."""
    pattern, explanation = RULES[kind]
    if isinstance(value, str) and pattern.fullmatch(value):
        return None
    return f"{kind} name {value!r} is not valid: {explanation}"


def is_valid(kind, value):
    """True when ``value`` is a valid name of ``kind`` (environment, app, service)."""
    return name_problem(kind, value) is None


def go_pattern(kind):
    """The rule as an anchored RE2 pattern, for Go templates (regexMatch)."""
    return rf"\A{RULES[kind][0].pattern}\z"
