"""The two checks Marathon runs on an app body, with its error shapes.

``type_errors`` is the JSON read (Marathon answers 422 "Invalid JSON" with
``error.expected.*`` codes); ``definition_errors`` is the validation of the
read definition (422 "Object is not valid"). Both return
``[{"path": ..., "errors": [...]}]``.
"""

import re

from . import appdef

# One path segment of an app id (Marathon's PathId validation).
ID_SEGMENT = r"(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])"
ID_SEGMENT_PATTERN = re.compile(ID_SEGMENT)
ID_ERROR = f"must fully match regular expression '^{ID_SEGMENT}|(\\.|\\.\\.)$'"
COMMAND_ERROR = "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'."

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
NUMBER_FIELDS = ("cpus", "mem", "disk", "backoffFactor")
INTEGER_FIELDS = (
    "instances",
    "gpus",
    "backoffSeconds",
    "maxLaunchDelaySeconds",
    "taskKillGracePeriodSeconds",
)
STRING_FIELDS = ("id", "cmd", "user", "executor", "killSelection")
LIST_FIELDS = (
    "args",
    "constraints",
    "fetch",
    "uris",
    "storeUrls",
    "healthChecks",
    "readinessChecks",
    "dependencies",
    "acceptedResourceRoles",
    "networks",
    "portDefinitions",
    "ports",
)
OBJECT_FIELDS = (
    "container",
    "upgradeStrategy",
    "ipAddress",
    "residency",
    "secrets",
)
HEALTH_PROTOCOLS = frozenset(
    {"HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP"}
)
KILL_SELECTIONS = frozenset({"YOUNGEST_FIRST", "OLDEST_FIRST"})
CONTAINER_TYPES = frozenset({"DOCKER", "MESOS"})
NETWORK_MODES = frozenset({"host", "container", "container/bridge"})


def is_number(value):
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_integer(value):
    """A JSON number that reads as Marathon's Int (int32)."""
    return is_number(value) and float(value).is_integer() and INT32_MIN <= value <= INT32_MAX


class _Collector:
    """Accumulates ``{path, errors}`` entries, one entry per path."""

    def __init__(self):
        self.details = []

    def add(self, path, error):
        for entry in self.details:
            if entry["path"] == path:
                entry["errors"].append(error)
                return
        self.details.append({"path": path, "errors": [error]})


def type_errors(body):
    """Errors of the JSON read: wrong JSON types for known fields."""
    found = _Collector()
    if not isinstance(body, dict):
        found.add("/", "error.expected.jsobject")
        return found.details
    for key in NUMBER_FIELDS:
        if body.get(key) is not None and not is_number(body[key]):
            found.add(f"/{key}", "error.expected.jsnumber")
    for key in INTEGER_FIELDS:
        if body.get(key) is not None and not is_integer(body[key]):
            found.add(
                f"/{key}",
                "error.expected.jsnumber" if not is_number(body[key]) else "error.expected.int",
            )
    for key in STRING_FIELDS:
        if body.get(key) is not None and not isinstance(body[key], str):
            found.add(f"/{key}", "error.expected.jsstring")
    for key in LIST_FIELDS:
        if body.get(key) is not None and not isinstance(body[key], list):
            found.add(f"/{key}", "error.expected.jsarray")
    for key in (*OBJECT_FIELDS, "env", "labels"):
        if body.get(key) is not None and not isinstance(body[key], dict):
            found.add(f"/{key}", "error.expected.jsobject")
    if "requirePorts" in body and not isinstance(body["requirePorts"], bool):
        found.add("/requirePorts", "error.expected.jsboolean")
    _string_map_errors(found, body, "labels")
    _string_list_errors(found, body, "args")
    _health_check_type_errors(found, body.get("healthChecks"))
    _nested_type_errors(found, body)
    return found.details


def _nested_type_errors(found, body):
    """Shapes inside objects that the defaults code relies on."""
    for key in ("portDefinitions", "networks", "fetch"):
        items = body.get(key)
        for index, item in enumerate(items if isinstance(items, list) else []):
            if not isinstance(item, dict):
                found.add(f"/{key}({index})", "error.expected.jsobject")
    strategy = body.get("upgradeStrategy")
    if isinstance(strategy, dict):
        for name, value in strategy.items():
            if not is_number(value):
                found.add(f"/upgradeStrategy/{name}", "error.expected.jsnumber")
    container = body.get("container")
    if not isinstance(container, dict):
        return
    docker = container.get("docker")
    if docker is not None and not isinstance(docker, dict):
        found.add("/container/docker", "error.expected.jsobject")
    mapping_lists = [("/container/portMappings", container.get("portMappings"))]
    if isinstance(docker, dict):
        mapping_lists.append(("/container/docker/portMappings", docker.get("portMappings")))
    for path, mappings in mapping_lists:
        if mappings is not None and not isinstance(mappings, list):
            found.add(path, "error.expected.jsarray")
            continue
        for index, mapping in enumerate(mappings if isinstance(mappings, list) else []):
            if not isinstance(mapping, dict):
                found.add(f"{path}({index})", "error.expected.jsobject")


def deprecation_conflicts(body):
    """A deprecated field next to its replacement is rejected, not merged."""
    found = _Collector()
    container = body.get("container") if isinstance(body.get("container"), dict) else {}
    docker = container.get("docker") if isinstance(container.get("docker"), dict) else {}
    if docker.get("network") is not None and body.get("networks"):
        found.add("/networks", "may not be combined with the deprecated container.docker.network")
    if docker.get("portMappings") is not None and container.get("portMappings") is not None:
        found.add(
            "/container/portMappings",
            "may not be combined with the deprecated container.docker.portMappings",
        )
    if body.get("ports") is not None and body.get("portDefinitions") is not None:
        found.add("/", "You cannot specify both ports and port definitions")
    if body.get("uris") and body.get("fetch"):
        found.add("/", "You cannot specify both uris and fetch fields")
    return found.details


def _string_map_errors(found, body, key):
    if isinstance(body.get(key), dict):
        for name, value in body[key].items():
            if not isinstance(value, str):
                found.add(f"/{key}/{name}", "error.expected.jsstring")


def _string_list_errors(found, body, key):
    if isinstance(body.get(key), list):
        for index, value in enumerate(body[key]):
            if not isinstance(value, str):
                found.add(f"/{key}({index})", "error.expected.jsstring")


def _health_check_type_errors(found, checks):
    if not isinstance(checks, list):
        return
    for index, check in enumerate(checks):
        if not isinstance(check, dict):
            found.add(f"/healthChecks({index})", "error.expected.jsobject")
            continue
        for key in (
            "gracePeriodSeconds",
            "intervalSeconds",
            "timeoutSeconds",
            "maxConsecutiveFailures",
            "portIndex",
            "port",
            "delaySeconds",
        ):
            if check.get(key) is not None and not is_integer(check[key]):
                found.add(f"/healthChecks({index})/{key}", "error.expected.jsnumber")


def definition_errors(app):
    """Validation of a defaults-filled app (``appdef.with_defaults``)."""
    found = _Collector()
    _id_errors(found, app.get("id"))
    _command_errors(found, app)
    _resource_errors(found, app)
    _strategy_errors(found, app)
    _network_errors(found, app)
    _container_errors(found, app)
    _health_check_errors(found, app)
    if app["killSelection"] not in KILL_SELECTIONS:
        found.add("/killSelection", f"is not one of ({','.join(sorted(KILL_SELECTIONS))})")
    for name, value in app["env"].items():
        if not isinstance(value, str) and not (isinstance(value, dict) and "secret" in value):
            found.add(f"/env/{name}", "must be a string or a secret reference")
    return found.details


def _id_errors(found, app_id):
    if not app_id or app_id == "/":
        found.add(
            "/id",
            "error.path.missing" if not app_id else "Path must contain at least one path element",
        )
        return
    for segment in app_id.strip("/").split("/"):
        if not ID_SEGMENT_PATTERN.fullmatch(segment):
            found.add("/id", ID_ERROR)
            return


def _command_errors(found, app):
    has_cmd = bool(app.get("cmd"))
    has_args = bool(app.get("args"))
    if (has_cmd and has_args) or (not has_cmd and not has_args and not app.get("container")):
        found.add("/", COMMAND_ERROR)
    if app.get("cmd") == "":
        found.add("/cmd", "must not be empty")


def _resource_errors(found, app):
    for key in ("cpus", "mem", "disk"):
        if app[key] < 0:
            found.add(f"/{key}", f"got {app[key]}, expected 0.0 or more")
    for key in ("instances", "gpus", "backoffSeconds", "maxLaunchDelaySeconds"):
        if app[key] < 0:
            found.add(f"/{key}", f"got {app[key]}, expected 0 or more")
    if app["backoffFactor"] < 1.0:
        found.add("/backoffFactor", f"got {app['backoffFactor']}, expected 1.0 or more")
    grace = app.get("taskKillGracePeriodSeconds")
    if grace is not None and grace < 0:
        found.add("/taskKillGracePeriodSeconds", f"got {grace}, expected 0 or more")


def _strategy_errors(found, app):
    for key, value in app["upgradeStrategy"].items():
        if key not in appdef.UPGRADE_STRATEGY_DEFAULTS:
            continue
        if not is_number(value) or not 0.0 <= value <= 1.0:
            found.add(f"/upgradeStrategy/{key}", f"got {value}, expected between 0.0 and 1.0")
    _unreachable_strategy_errors(found, app["unreachableStrategy"])


def _unreachable_strategy_errors(found, strategy):
    if strategy == "disabled":
        return
    if not isinstance(strategy, dict):
        found.add("/unreachableStrategy", "must be 'disabled' or an object")
        return
    inactive = strategy.get("inactiveAfterSeconds")
    expunge = strategy.get("expungeAfterSeconds")
    if not is_integer(inactive) or inactive < 1:
        found.add(
            "/unreachableStrategy/inactiveAfterSeconds", f"got {inactive}, expected 1 or more"
        )
    elif not is_integer(expunge) or expunge <= inactive:
        found.add(
            "/unreachableStrategy/inactiveAfterSeconds",
            f"inactiveAfterSeconds ({inactive}) must be less than expungeAfterSeconds ({expunge})",
        )


def _network_errors(found, app):
    networks = app["networks"]
    for index, network in enumerate(networks):
        if not isinstance(network, dict) or network.get("mode") not in NETWORK_MODES:
            found.add(f"/networks({index})/mode", "is not one of (container,container/bridge,host)")
            return
    modes = {network["mode"] for network in networks}
    if len(networks) > 1 and modes & {"host", "container/bridge"}:
        found.add("/networks", "host or bridge networking may not be combined with other networks")
    if not appdef.uses_host_networking(app) and not app.get("container"):
        found.add("/networks", "container networking requires a container")


def _container_errors(found, app):
    container = app.get("container")
    if container is None:
        return
    if container["type"] not in CONTAINER_TYPES:
        found.add("/container/type", "is not one of (DOCKER,MESOS)")
        return
    docker = container.get("docker")
    if container["type"] == "DOCKER" and not (isinstance(docker, dict) and docker.get("image")):
        found.add("/container/docker/image", "must not be empty")
    for index, mapping in enumerate(container.get("portMappings") or []):
        for key in ("containerPort", "hostPort", "servicePort"):
            value = mapping.get(key)
            if value is not None and (not is_integer(value) or not 0 <= value <= 65535):
                found.add(
                    f"/container/portMappings({index})/{key}",
                    f"got {value}, expected between 0 and 65535",
                )
        if mapping.get("protocol") not in {"tcp", "udp", "udp,tcp", "tcp,udp"}:
            found.add(
                f"/container/portMappings({index})/protocol", "is not one of (tcp,udp,udp,tcp)"
            )
    for index, definition in enumerate(app["portDefinitions"]):
        port = definition.get("port")
        if not is_integer(port) or not 0 <= port <= 65535:
            found.add(
                f"/portDefinitions({index})/port", f"got {port}, expected between 0 and 65535"
            )


def _health_check_errors(found, app):
    ports = appdef.port_count(app)
    for index, check in enumerate(app["healthChecks"]):
        path = f"/healthChecks({index})"
        protocol = check["protocol"]
        if protocol not in HEALTH_PROTOCOLS:
            found.add(f"{path}/protocol", f"is not one of ({','.join(sorted(HEALTH_PROTOCOLS))})")
            continue
        if protocol == "COMMAND" and not (check.get("command") or {}).get("value"):
            found.add(f"{path}/command", "error.path.missing")
        index_value = check.get("portIndex")
        if protocol != "COMMAND" and "port" not in check and not 0 <= index_value < max(ports, 0):
            found.add(
                path,
                "Health check port indices must address an element of the ports array "
                "or container port mappings.",
            )
        for key in (
            "gracePeriodSeconds",
            "intervalSeconds",
            "timeoutSeconds",
            "maxConsecutiveFailures",
        ):
            if check[key] < 0:
                found.add(f"{path}/{key}", f"got {check[key]}, expected 0 or more")
