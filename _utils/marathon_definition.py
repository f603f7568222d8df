"""Compare a declared Marathon app definition with what Marathon stores.

Marathon normalises what it is sent, so a naive comparison reports changes
on every run. What this module understands:

- ids are canonical (``app/x/`` is ``/app/x``);
- numbers may come back as floats (``64`` is ``64.0``);
- omitted fields are filled with defaults, and the server adds its own
  fields (version, tasks, ...). A PUT keeps omitted top-level fields
  (``partialUpdate``), so only declared top-level fields are compared. Inside
  a declared object, an omitted key Marathon defaults (``upgradeStrategy``,
  health checks, ``container.docker``) is compared with that default;
- maps of user data (``env``, ``labels``) must match key for key, since a
  declared map replaces the stored one;
- the Docker ``network``/``portMappings`` fields deprecated in 1.5, ``uris``
  and ``ports`` are converted the way Marathon converts them before comparing;
- a port declared as 0 is Marathon's "pick one for me" (``portDefinitions``
  ``port``, ``portMappings`` ``servicePort`` and ``hostPort``): it equals
  whatever port Marathon stored.

No Salt imports: the loader exposes :func:`differences` and
:func:`canonical_id` as ``marathon_definition.<function>``.
"""

import copy
import posixpath

# A declared map under one of these keys replaces the stored map whole.
USER_MAPS = frozenset({"env", "labels", "secrets"})

UPGRADE_STRATEGY_DEFAULTS = {"minimumHealthCapacity": 1, "maximumOverCapacity": 1}
HEALTH_CHECK_DEFAULTS = {
    "gracePeriodSeconds": 300,
    "intervalSeconds": 60,
    "timeoutSeconds": 20,
    "maxConsecutiveFailures": 3,
}
DOCKER_DEFAULTS = {"forcePullImage": False, "privileged": False, "parameters": []}

# Docker's deprecated ``network`` values and the ``networks`` entry Marathon makes of them.
DOCKER_NETWORK_MODES = {"HOST": "host", "BRIDGE": "container/bridge", "USER": "container"}

MISSING = object()

# (list the field sits in, field): a declared 0 lets Marathon choose the port.
ASSIGNED_PORTS = frozenset(
    {
        ("portDefinitions", "port"),
        ("portMappings", "servicePort"),
        ("portMappings", "hostPort"),
    }
)


def canonical_id(app_id):
    """``app/x``, ``/app/x/`` -> ``/app/x``."""
    return "/" + posixpath.normpath("/" + str(app_id).strip()).lstrip("/")


def normalise(definition):
    """The declared definition with Marathon's input conversions applied."""
    app = copy.deepcopy(definition)
    if "id" in app:
        app["id"] = canonical_id(app["id"])
    _convert_docker_network(app)
    if "uris" in app:
        uris = app.pop("uris") or []
        app.setdefault("fetch", [{"uri": uri} for uri in uris])
    if "ports" in app:
        ports = app.pop("ports") or []
        app.setdefault("portDefinitions", [{"port": port} for port in ports])
    return app


def differences(declared, stored):
    """Return ``{"dotted.path": {"old": stored, "new": declared}}`` for what a PUT would change.

    ``stored`` is the app as ``GET /v2/apps/<id>`` returns it, or None for
    an app that does not exist yet (then every declared field is new).
    """
    if stored is None:
        # A new app: show the declaration as written (with its canonical id).
        created = {**declared, "id": canonical_id(declared["id"])} if "id" in declared else declared
        return {key: {"old": None, "new": value} for key, value in sorted(created.items())}
    declared = normalise(declared)
    changes = {}
    for key in sorted(declared):
        _compare(declared[key], stored.get(key, MISSING), key, changes)
    return changes


def _convert_docker_network(app):
    container = app.get("container")
    docker = container.get("docker") if isinstance(container, dict) else None
    if not isinstance(docker, dict):
        return
    network = docker.pop("network", None)
    if network is not None:
        entry = {"mode": DOCKER_NETWORK_MODES.get(network, "container")}
        network_name = (app.get("ipAddress") or {}).get("networkName")
        if entry["mode"] == "container" and network_name:
            entry["name"] = network_name
        app.setdefault("networks", [entry])
    if "portMappings" in docker:
        container.setdefault("portMappings", docker.pop("portMappings"))


def _compare(declared, stored, path, changes):
    if _left_to_marathon(declared, stored, path):
        return
    if isinstance(declared, dict) and isinstance(stored, dict):
        _compare_objects(declared, stored, path, changes)
    elif isinstance(declared, list) and isinstance(stored, list) and len(declared) == len(stored):
        for index, (item, stored_item) in enumerate(zip(declared, stored, strict=True)):
            _compare(item, stored_item, f"{path}[{index}]", changes)
    elif not _same_value(declared, stored):
        changes[path] = {
            "old": None if stored is MISSING else stored,
            "new": None if declared is MISSING else declared,
        }


def _compare_objects(declared, stored, path, changes):
    leaf = path.rsplit(".", 1)[-1]
    keys = set(declared)
    if leaf in USER_MAPS:
        keys |= set(stored)
    for key in sorted(keys):
        _compare(declared.get(key, MISSING), stored.get(key, MISSING), f"{path}.{key}", changes)
    for key, default in _defaults_for(path).items():
        if key not in declared and key in stored:
            _compare(default, stored[key], f"{path}.{key}", changes)


def _left_to_marathon(declared, stored, path):
    """A port declared as 0 and any port Marathon assigned for it."""
    if declared != 0 or not _is_number(declared) or not _is_number(stored):
        return False
    parent, _, field = path.rpartition(".")
    container = parent.rsplit(".", 1)[-1].split("[", 1)[0]
    return (container, field) in ASSIGNED_PORTS


def _defaults_for(path):
    if path == "upgradeStrategy":
        return UPGRADE_STRATEGY_DEFAULTS
    if path.startswith("healthChecks[") and path.count(".") == 0:
        return HEALTH_CHECK_DEFAULTS
    if path == "container.docker":
        return DOCKER_DEFAULTS
    return {}


def _same_value(declared, stored):
    if declared is MISSING or stored is MISSING:
        # An empty declaration and a missing stored field mean the same thing.
        present = stored if declared is MISSING else declared
        return present in (None, [], {}, "")
    if _is_number(declared) and _is_number(stored):
        return float(declared) == float(stored)
    if type(declared) is bool or type(stored) is bool:
        return declared is stored
    return declared == stored


def _is_number(value):
    return isinstance(value, int | float) and not isinstance(value, bool)
