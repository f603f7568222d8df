"""Which Consul services one Marathon task becomes, by marathon-registrator's
conventions (docs/api-notes.md, "Registrators"):

- one service per task port; the service ID is the task id (with several
  ports, ``<task id>:<port>``, since IDs are unique per agent);
- the name is ``SERVICE_NAME`` from the app's env, else from its labels, else
  the last segment of the app id; an app with several ports registers
  ``<name>-<port>`` for each, and ``SERVICE_<port>_NAME`` names one port;
- tags are ``SERVICE_TAGS`` (comma separated), ``SERVICE_<port>_TAGS`` for
  one port;
- ``<port>`` is the container port of a Docker port mapping, else the port
  of the app's port definition, else the task's host port;
- only running tasks are registered, and of an app with health checks only
  tasks whose every check answers alive.

Pure functions over Marathon's JSON: the registrator fetches, these decide.
"""

from dataclasses import dataclass

RUNNING = "TASK_RUNNING"
# Meta on every service we register, so a resync removes only our own.
OWNER_META_KEY = "registered-by"
OWNER_META_VALUE = "sandbox-registrator"


@dataclass(frozen=True)
class Registration:
    """One Consul service for one port of one task."""

    service_id: str
    name: str
    tags: tuple
    address: str
    port: int
    app_id: str
    task_id: str

    @property
    def meta(self):
        return {
            OWNER_META_KEY: OWNER_META_VALUE,
            "marathon-app": self.app_id,
            "marathon-task": self.task_id,
        }

    def matches(self, registered):
        """True if Consul's ``/v1/agent/services`` entry already says this."""
        return (
            registered.get("Service") == self.name
            and tuple(registered.get("Tags") or ()) == self.tags
            and registered.get("Address") == self.address
            and registered.get("Port") == self.port
            and (registered.get("Meta") or {}).get("marathon-app") == self.app_id
        )


def setting(definition, key):
    """A registrator setting from the app's env (a string), else its labels."""
    value = (definition.get("env") or {}).get(key)
    if isinstance(value, str):
        return value
    value = (definition.get("labels") or {}).get(key)
    return value if isinstance(value, str) else None


def split_tags(text):
    return tuple(tag.strip() for tag in (text or "").split(",") if tag.strip())


def port_keys(definition, task):
    """The ``<port>`` each task port is known by in SERVICE_<port>_* and names."""
    mappings = (definition.get("container") or {}).get("portMappings") or []
    if not mappings:
        mappings = ((definition.get("container") or {}).get("docker") or {}).get(
            "portMappings"
        ) or []
    definitions = definition.get("portDefinitions") or []
    keys = []
    for index, host_port in enumerate(task.get("ports") or []):
        key = None
        if index < len(mappings):
            key = mappings[index].get("containerPort") or None
        if key is None and index < len(definitions):
            key = definitions[index].get("port") or None
        keys.append(int(key or host_port))
    return keys


def task_is_ready(definition, task):
    """Running, and alive on every health check if the app has any."""
    if task.get("state") != RUNNING:
        return False
    checks = definition.get("healthChecks") or []
    if not checks:
        return True
    results = task.get("healthCheckResults") or []
    return len(results) >= len(checks) and all(result.get("alive") for result in results)


def task_registrations(definition, task):
    """Every Registration one ready task makes ([] if it is not ready)."""
    if not task_is_ready(definition, task):
        return []
    app_id = definition["id"]
    base_name = setting(definition, "SERVICE_NAME") or app_id.rstrip("/").rsplit("/", 1)[-1]
    base_tags = split_tags(setting(definition, "SERVICE_TAGS"))
    host_ports = task.get("ports") or []
    keys = port_keys(definition, task)
    several = len(host_ports) > 1
    registrations = []
    for host_port, key in zip(host_ports, keys, strict=True):
        name = setting(definition, f"SERVICE_{key}_NAME")
        if not name:
            name = f"{base_name}-{key}" if several else base_name
        tags = setting(definition, f"SERVICE_{key}_TAGS")
        registrations.append(
            Registration(
                service_id=f"{task['id']}:{key}" if several else task["id"],
                name=name,
                tags=split_tags(tags) if tags is not None else base_tags,
                address=task.get("host") or "127.0.0.1",
                port=int(host_port),
                app_id=app_id,
                task_id=task["id"],
            )
        )
    return registrations


def app_registrations(app, definition_of):
    """Registrations of every task of ``app`` (Marathon JSON with ``tasks``).

    ``definition_of(app_id, version)`` gives the definition a task runs:
    during a rolling upgrade old tasks still run the old version, whose
    SERVICE_* settings may differ from the app's current ones.
    """
    registrations = []
    for task in app.get("tasks") or []:
        version = task.get("version")
        definition = (
            app if version in (None, app.get("version")) else definition_of(app["id"], version)
        )
        registrations.extend(task_registrations(definition, task))
    return registrations


def is_ours(registered):
    return (registered.get("Meta") or {}).get(OWNER_META_KEY) == OWNER_META_VALUE
