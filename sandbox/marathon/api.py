"""Marathon's REST semantics over the scheduler: what each call stores,
which deployment it starts, and the status and body it answers with.

Every function takes the scheduler (whose lock the caller holds) and
returns ``(status, payload, headers)`` or raises ``ApiError``.
"""

import copy

from . import appdef, clock, validation
from .scheduler import AppRecord
from .tasks import count_tasks

LIST_EMBEDS = {"apps.counts", "apps.deployments"}
SINGLE_APP_EMBEDS = {"apps.counts", "apps.deployments", "apps.tasks", "apps.lastTaskFailure"}
ONLY_VERSION_OR_ID = "The 'version' field may only be combined with the 'id' field."


class ApiError(Exception):
    def __init__(self, status, payload):
        super().__init__(payload.get("message", status) if isinstance(payload, dict) else status)
        self.status = status
        self.payload = payload


def not_found(message):
    return ApiError(404, {"message": message})


def unknown_app(app_id):
    return not_found(f"App '{app_id}' does not exist")


# -- building definitions -----------------------------------------------------


def build_definition(fields, app_id):
    """A body's client fields -> the defaults-filled definition, or 422."""
    fields = {**fields, "id": app_id}
    converted = appdef.convert_deprecated(fields)
    try:
        definition = appdef.with_defaults(converted)
    except (TypeError, ValueError, AttributeError, KeyError) as error:
        details = [{"path": "/", "errors": [f"error.expected.jsobject: {error}"]}]
        raise ApiError(422, {"message": "Invalid JSON", "details": details}) from None
    errors = validation.definition_errors(definition)
    if errors:
        raise ApiError(422, {"message": "Object is not valid", "details": errors})
    return definition


def read_fields(body):
    """The client fields of a parsed body after the JSON read checks."""
    errors = validation.type_errors(body)
    if errors:
        raise ApiError(422, {"message": "Invalid JSON", "details": errors})
    conflicts = validation.deprecation_conflicts(body)
    if conflicts:
        raise ApiError(422, {"message": "Object is not valid", "details": conflicts})
    return appdef.client_fields(body)


def ensure_unlocked(scheduler, app_ids, force):
    """409 while a deployment holds one of the apps; ``force`` cancels it."""
    running = scheduler.deployments_affecting(app_ids)
    if not running:
        return
    if force:
        for deployment in running:
            scheduler.cancel(deployment)
        return
    first = running[0].id
    raise ApiError(
        409,
        {
            "message": "App is locked by one or more deployments. Override with the option "
            f"'?force=true'. View details at '/v2/deployments/{first}'.",
            "deployments": [{"id": deployment.id} for deployment in running],
        },
    )


def deployment_result(deployment):
    return {"deploymentId": deployment.id, "version": deployment.version}


def deployment_headers(deployment):
    return {"Marathon-Deployment-Id": deployment.id}


# -- apps -------------------------------------------------------------------------


def app_json(scheduler, record, embeds):
    app_id = record.definition["id"]
    app = record.as_json()
    tasks = scheduler.tasks_of(app_id)
    if "apps.counts" in embeds:
        app.update(count_tasks(tasks))
    if "apps.deployments" in embeds:
        app["deployments"] = [{"id": d.id} for d in scheduler.deployments_affecting([app_id])]
    if "apps.tasks" in embeds:
        app["tasks"] = [task.as_json() for task in tasks]
    failure = scheduler.last_task_failures.get(app_id)
    if "apps.lastTaskFailure" in embeds and failure is not None:
        app["lastTaskFailure"] = failure
    return app


def create_app(scheduler, body, force, base_url):
    fields = read_fields(body)
    app_id = appdef.canonical_id(fields.get("id")) if fields.get("id") else ""
    definition = build_definition(fields, app_id)
    if app_id in scheduler.apps:
        raise ApiError(409, {"message": f"An app with id [{app_id}] already exists."})
    ensure_unlocked(scheduler, [app_id], force)
    version = clock.new_version()
    scheduler.assign_service_ports(definition, None)
    record = AppRecord(definition, version, version, version)
    scheduler.store(record)
    deployment = scheduler.start_deployment(version, {app_id: (None, record)})
    headers = {"Location": f"{base_url}/v2/apps{app_id}", **deployment_headers(deployment)}
    # Marathon answers before any task launched: zero counts, no tasks.
    created = {
        **record.as_json(),
        **count_tasks([]),
        "deployments": [{"id": deployment.id}],
        "tasks": [],
    }
    return 201, created, headers


def update_app(scheduler, app_id, body, partial, force, base_url):
    """PUT /v2/apps/{id}: create, update, scale, roll back or nothing at all."""
    current = scheduler.apps.get(app_id)
    definition = definition_after_update(scheduler, app_id, body, current, partial)
    scheduler.assign_service_ports(definition, current)
    if current is not None and definition == current.definition:
        # Nothing changed: the app keeps its version (the one `versions`
        # lists), the plan is empty.
        deployment = scheduler.start_deployment(current.version, {})
        return 200, deployment_result(deployment), deployment_headers(deployment)
    ensure_unlocked(scheduler, [app_id], force)
    record = next_record(scheduler, current, definition)
    scheduler.store(record)
    deployment = scheduler.start_deployment(record.version, {app_id: (current, record)})
    headers = deployment_headers(deployment)
    if current is None:
        headers["Location"] = f"{base_url}/v2/apps{app_id}"
        return 201, deployment_result(deployment), headers
    return 200, deployment_result(deployment), headers


def definition_after_update(scheduler, app_id, body, current, partial):
    """The whole definition a PUT body asks for (a rollback, a partial
    update merged onto the stored app, or a full replacement)."""
    if not isinstance(body, dict):
        raise ApiError(422, {"message": "Invalid JSON", "details": validation.type_errors(body)})
    if "version" in body:
        return rollback_definition(scheduler, app_id, body, current)
    fields = read_fields(body)
    if current is not None and partial:
        stored = {key: value for key, value in current.definition.items() if key != "id"}
        fields = appdef.merge_update(stored, appdef.convert_deprecated(fields))
    return build_definition(fields, app_id)


def next_record(scheduler, current, definition):
    """The version to store: a scaling keeps lastConfigChangeAt, anything
    else is a config change (which also resets the launch backoff)."""
    version = clock.new_version()
    if current is not None and appdef.only_scaled(current.definition, definition):
        return AppRecord(definition, version, version, current.last_config_change_at)
    if current is not None:
        scheduler.reset_backoff(current.definition["id"])
    return AppRecord(definition, version, version, version)


def rollback_definition(scheduler, app_id, body, current):
    """A body ``version``: the definition stored under that version."""
    if not isinstance(body["version"], str):
        details = [{"path": "/version", "errors": ["error.expected.jsstring"]}]
        raise ApiError(422, {"message": "Invalid JSON", "details": details})
    if set(appdef.client_fields(body)) - {"id"}:
        raise ApiError(
            422,
            {
                "message": "Object is not valid",
                "details": [{"path": "/", "errors": [ONLY_VERSION_OR_ID]}],
            },
        )
    if current is None:
        raise unknown_app(app_id)
    target = scheduler.versions.get(app_id, {}).get(body["version"])
    if target is None:
        raise not_found(f"App '{app_id}' does not exist in version {body['version']}")
    return copy.deepcopy(target.definition)


def delete_app(scheduler, app_id, force):
    current = scheduler.apps.get(app_id)
    if current is None:
        raise unknown_app(app_id)
    ensure_unlocked(scheduler, [app_id], force)
    scheduler.forget(app_id)
    scheduler.events.publish("app_terminated_event", appId=app_id)
    deployment = scheduler.start_deployment(clock.new_version(), {app_id: (current, None)})
    return 200, deployment_result(deployment), deployment_headers(deployment)


def restart_app(scheduler, app_id, force):
    current = scheduler.apps.get(app_id)
    if current is None:
        raise unknown_app(app_id)
    ensure_unlocked(scheduler, [app_id], force)
    version = clock.new_version()
    record = AppRecord(current.definition, version, version, version)
    scheduler.store(record)
    deployment = scheduler.start_deployment(version, {app_id: (current, record)})
    return 200, deployment_result(deployment), deployment_headers(deployment)


def get_app(scheduler, app_id, embeds):
    if app_id.endswith("*"):
        group = appdef.canonical_id(app_id[:-1].rstrip("/") or "/")
        prefix = group.rstrip("/") + "/"
        apps = [record for key, record in sorted(scheduler.apps.items()) if key.startswith(prefix)]
        return 200, {"*": [app_json(scheduler, r, embeds | SINGLE_APP_EMBEDS) for r in apps]}, {}
    record = scheduler.apps.get(app_id)
    if record is None:
        raise unknown_app(app_id)
    return 200, {"app": app_json(scheduler, record, embeds | SINGLE_APP_EMBEDS)}, {}


def list_apps(scheduler, query, embeds):
    selected = []
    for app_id, record in sorted(scheduler.apps.items()):
        if query.get("id") and query["id"].lower() not in app_id.lower():
            continue
        if query.get("cmd") and query["cmd"] not in (record.definition.get("cmd") or ""):
            continue
        if query.get("label") and not label_matches(record.definition["labels"], query["label"]):
            continue
        selected.append(app_json(scheduler, record, embeds | LIST_EMBEDS))
    return 200, {"apps": selected}, {}


def label_matches(labels, selector):
    """``key``, ``key==value`` or ``key!=value``, comma-separated, all must hold."""
    for term in selector.split(","):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "==" in term:
            key, value = term.split("==", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.strip() not in labels:
            return False
    return True


def app_versions(scheduler, app_id):
    if app_id not in scheduler.apps:
        raise unknown_app(app_id)
    return 200, {"versions": list(reversed(scheduler.versions[app_id]))}, {}


def app_version(scheduler, app_id, version):
    if app_id not in scheduler.apps:
        raise unknown_app(app_id)
    record = scheduler.versions[app_id].get(version)
    if record is None:
        raise not_found(f"App '{app_id}' does not exist in version {version}")
    return 200, record.as_json(), {}


# -- deployments -------------------------------------------------------------------


def list_deployments(scheduler):
    return 200, [deployment.as_json() for deployment in scheduler.deployments.values()], {}


def delete_deployment(scheduler, deployment_id, force):
    """Cancel; without ``force`` a new deployment reverts what it changed."""
    deployment = scheduler.deployments.get(deployment_id)
    if deployment is None:
        raise not_found(f"DeploymentPlan {deployment_id} does not exist")
    scheduler.cancel(deployment)
    if force:
        return 202, None, {}
    changes = {}
    for app_id, original in deployment.original.items():
        current = scheduler.apps.get(app_id)
        if original is None:
            scheduler.forget(app_id)
        else:
            scheduler.store(original)
        changes[app_id] = (current, original)
    revert = scheduler.start_deployment(clock.new_version(), changes)
    return 200, deployment_result(revert), deployment_headers(revert)
