"""App definitions as Marathon 1.5+ stores them: canonical ids, the
conversion of deprecated fields on input, and every default filled in.

Validation lives in ``validation``; this module assumes a body whose types
already passed ``validation.type_errors``.
"""

import copy
import posixpath

# Fields the server owns: never part of what a client defines.
SERVER_FIELDS = frozenset(
    {
        "version",
        "versionInfo",
        "tasks",
        "tasksStaged",
        "tasksRunning",
        "tasksHealthy",
        "tasksUnhealthy",
        "deployments",
        "lastTaskFailure",
        "readinessCheckResults",
        "taskStats",
    }
)

# Top-level fields Marathon 1.5 knows; anything else in a body is dropped.
KNOWN_FIELDS = frozenset(
    {
        "id",
        "cmd",
        "args",
        "user",
        "env",
        "instances",
        "cpus",
        "mem",
        "disk",
        "gpus",
        "executor",
        "constraints",
        "fetch",
        "uris",
        "storeUrls",
        "backoffSeconds",
        "backoffFactor",
        "maxLaunchDelaySeconds",
        "container",
        "healthChecks",
        "readinessChecks",
        "dependencies",
        "upgradeStrategy",
        "labels",
        "acceptedResourceRoles",
        "ipAddress",
        "residency",
        "secrets",
        "taskKillGracePeriodSeconds",
        "unreachableStrategy",
        "killSelection",
        "networks",
        "portDefinitions",
        "ports",
        "requirePorts",
    }
)

TOP_LEVEL_DEFAULTS = {
    "instances": 1,
    "cpus": 1.0,
    "mem": 128.0,
    "disk": 0.0,
    "gpus": 0,
    "executor": "",
    "constraints": [],
    "fetch": [],
    "storeUrls": [],
    "backoffSeconds": 1,
    "backoffFactor": 1.15,
    "maxLaunchDelaySeconds": 300,
    "healthChecks": [],
    "readinessChecks": [],
    "dependencies": [],
    "labels": {},
    "env": {},
    "secrets": {},
    "requirePorts": False,
    "killSelection": "YOUNGEST_FIRST",
}

UPGRADE_STRATEGY_DEFAULTS = {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 1.0}
UNREACHABLE_STRATEGY_DEFAULTS = {"inactiveAfterSeconds": 300, "expungeAfterSeconds": 600}

HEALTH_CHECK_DEFAULTS = {
    "gracePeriodSeconds": 300,
    "intervalSeconds": 60,
    "timeoutSeconds": 20,
    "maxConsecutiveFailures": 3,
    "delaySeconds": 15,
}
HTTP_PROTOCOLS = frozenset({"HTTP", "HTTPS", "MESOS_HTTP", "MESOS_HTTPS"})
PORT_PROTOCOLS = HTTP_PROTOCOLS | {"TCP", "MESOS_TCP"}

# Docker's deprecated network names and the ``networks`` entry each becomes.
DOCKER_NETWORK_MODES = {
    "HOST": {"mode": "host"},
    "BRIDGE": {"mode": "container/bridge"},
    "USER": {"mode": "container"},
}

FLOAT_FIELDS = ("cpus", "mem", "disk", "backoffFactor")


def canonical_id(raw_id, base="/"):
    """``app/x`` or ``/app/x/`` -> ``/app/x``; relative ids resolve against ``base``."""
    raw_id = (raw_id or "").strip()
    joined = raw_id if raw_id.startswith("/") else posixpath.join(base, raw_id)
    normalized = posixpath.normpath(joined)
    # normpath keeps a leading "//"; Marathon paths have exactly one.
    return "/" + normalized.lstrip("/")


def convert_deprecated(body):
    """Move Docker ``network``/``portMappings``, ``ports`` and ``uris`` to
    their 1.5 places, the way Marathon converts them on input."""
    body = copy.deepcopy(body)
    container = body.get("container")
    docker = container.get("docker") if isinstance(container, dict) else None
    if isinstance(docker, dict):
        network = docker.pop("network", None)
        if network is not None:
            mode = dict(DOCKER_NETWORK_MODES.get(network, {"mode": "container"}))
            network_name = (body.get("ipAddress") or {}).get("networkName")
            if mode["mode"] == "container" and network_name:
                mode["name"] = network_name
            body["networks"] = [mode]
        if "portMappings" in docker:
            mappings = docker.pop("portMappings")
            container.setdefault("portMappings", mappings)
    if "ports" in body:
        ports = body.pop("ports")
        if ports is not None and "portDefinitions" not in body:
            body["portDefinitions"] = [{"port": port} for port in ports]
    if "uris" in body:
        uris = body.pop("uris")
        if uris and not body.get("fetch"):
            body["fetch"] = [{"uri": uri} for uri in uris]
    return body


def client_fields(body):
    """What a client may define: known fields, minus what the server owns."""
    return {
        key: value
        for key, value in body.items()
        if key in KNOWN_FIELDS and key not in SERVER_FIELDS
    }


def uses_host_networking(app):
    networks = app.get("networks") or [{"mode": "host"}]
    return networks[0].get("mode") == "host"


def with_defaults(app):
    """Fill every default Marathon fills; numbers Marathon keeps as doubles
    become floats (``mem`` 64 -> 64.0)."""
    app = copy.deepcopy(app)
    for key, value in TOP_LEVEL_DEFAULTS.items():
        if app.get(key) is None:
            app[key] = copy.deepcopy(value)
    for key in FLOAT_FIELDS:
        app[key] = float(app[key])
    app["instances"] = int(app["instances"])
    app["upgradeStrategy"] = _float_values(
        {**UPGRADE_STRATEGY_DEFAULTS, **(app.get("upgradeStrategy") or {})}
    )
    if app.get("unreachableStrategy") != "disabled":
        app["unreachableStrategy"] = {
            **UNREACHABLE_STRATEGY_DEFAULTS,
            **(app.get("unreachableStrategy") or {}),
        }
    app["networks"] = app.get("networks") or [{"mode": "host"}]
    app["fetch"] = [_fetch_defaults(entry) for entry in app["fetch"]]
    if app.get("container") is not None:
        app["container"] = _container_defaults(app["container"], app["networks"])
    if uses_host_networking(app):
        app["portDefinitions"] = _port_definition_defaults(app.get("portDefinitions"))
    else:
        app["portDefinitions"] = []
    app["healthChecks"] = [_health_check_defaults(check, app) for check in app["healthChecks"]]
    return app


def _float_values(mapping):
    return {key: float(value) for key, value in mapping.items()}


def _fetch_defaults(entry):
    return {"extract": True, "executable": False, "cache": False, **entry}


def _port_definition_defaults(definitions):
    if definitions is None:
        # Host networking without ports gets one dynamic port.
        definitions = [{"port": 0, "name": "default"}]
    return [{"protocol": "tcp", "labels": {}, **definition} for definition in definitions]


def _container_defaults(container, networks):
    container = copy.deepcopy(container)
    mode = networks[0].get("mode")
    host_networking = mode == "host"
    # Only bridge networking maps container ports to host ports.
    container_networking = mode == "container"
    container.setdefault("type", "DOCKER")
    container["volumes"] = container.get("volumes") or []
    docker = container.get("docker")
    if docker is not None:
        docker.setdefault("forcePullImage", False)
        if container["type"] == "DOCKER":
            docker.setdefault("privileged", False)
            docker.setdefault("parameters", [])
    if host_networking:
        container.pop("portMappings", None)
    else:
        container["portMappings"] = [
            _port_mapping_defaults(mapping, container_networking)
            for mapping in container.get("portMappings") or []
        ]
    return container


def _port_mapping_defaults(mapping, container_networking):
    filled = {"containerPort": 0, "servicePort": 0, "protocol": "tcp", "labels": {}, **mapping}
    if not container_networking:
        filled.setdefault("hostPort", 0)
    return filled


def _health_check_defaults(check, app):
    protocol = check.get("protocol") or "HTTP"
    filled = {**HEALTH_CHECK_DEFAULTS, **check, "protocol": protocol}
    if protocol in PORT_PROTOCOLS and "port" not in check:
        filled.setdefault("portIndex", 0)
    if protocol in HTTP_PROTOCOLS:
        filled.setdefault("path", "/")
        filled.setdefault("ignoreHttp1xx", False)
    if protocol in {"HTTP", "HTTPS", "TCP"}:
        filled.setdefault("ipProtocol", "IPv4")
    return filled


def port_count(app):
    """How many host ports a task of ``app`` gets."""
    if uses_host_networking(app):
        return len(app.get("portDefinitions") or [])
    return len((app.get("container") or {}).get("portMappings") or [])


def service_port_slots(app):
    """The dicts holding service ports, in order, with the key to read/write."""
    if uses_host_networking(app):
        return [(definition, "port") for definition in app.get("portDefinitions") or []]
    return [(mapping, "servicePort") for mapping in app["container"]["portMappings"]]


def merge_update(stored, body):
    """``partialUpdate=true``: every top-level field in ``body`` replaces the stored one."""
    merged = copy.deepcopy(stored)
    merged.update(copy.deepcopy(body))
    if "container" in body and body["container"] is None:
        # An explicit null removes the container.
        del merged["container"]
    return merged


def only_scaled(old, new):
    """True when ``new`` differs from ``old`` in ``instances`` alone."""
    return {**old, "instances": new["instances"]} == new and old != new
