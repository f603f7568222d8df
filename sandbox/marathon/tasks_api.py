"""Marathon's task endpoints: listing tasks, and killing them with or
without scaling the app down (``scale=true`` stores a new version and
starts a deployment, like any other scaling).

Same contract as ``api``: the caller holds the scheduler's lock; functions
return ``(status, payload, headers)`` or raise ``api.ApiError``.
"""

import copy

from . import clock
from .api import ApiError, deployment_headers, deployment_result, ensure_unlocked, unknown_app
from .scheduler import AppRecord


def list_tasks(scheduler, status):
    tasks = [task.as_json() for task in scheduler.tasks.values()]
    if status:
        tasks = [task for task in tasks if task["state"] == f"TASK_{status.upper()}"]
    return 200, {"tasks": tasks}, {}


def app_tasks(scheduler, app_id):
    if app_id not in scheduler.apps:
        raise unknown_app(app_id)
    return 200, {"tasks": [task.as_json() for task in scheduler.tasks_of(app_id)]}, {}


def kill_app_task(scheduler, app_id, task_id, scale, force):
    """DELETE /v2/apps/{id}/tasks/{taskId}: ``{"task": ...}`` or, with
    ``scale``, the deployment that lowers ``instances``."""
    if app_id not in scheduler.apps:
        raise unknown_app(app_id)
    task = scheduler.tasks.get(task_id)
    if task is None or task.app_id != app_id or not task.alive:
        raise ApiError(404, {"message": f"Task '{task_id}' does not exist"})
    if scale:
        return _kill_and_scale(scheduler, [task], force)
    shown = task.as_json()
    scheduler.kill(task)
    return 200, {"task": shown}, {}


def kill_app_tasks(scheduler, app_id, host, scale, force):
    """DELETE /v2/apps/{id}/tasks[?host=]: every live task (on ``host``)."""
    if app_id not in scheduler.apps:
        raise unknown_app(app_id)
    tasks = [t for t in scheduler.alive_tasks(app_id) if host in (None, "", "*", t.host)]
    if scale:
        return _kill_and_scale(scheduler, tasks, force)
    return 200, {"tasks": _kill_all(scheduler, tasks)}, {}


def kill_tasks(scheduler, body, scale, force):
    """POST /v2/tasks/delete with ``{"ids": [...]}``; unknown ids are skipped."""
    ids = body.get("ids") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        details = [{"path": "/ids", "errors": ["error.expected.jsarray of strings"]}]
        raise ApiError(422, {"message": "Invalid JSON", "details": details})
    tasks = [scheduler.tasks[i] for i in ids if i in scheduler.tasks and scheduler.tasks[i].alive]
    if scale:
        return _kill_and_scale(scheduler, tasks, force)
    return 200, {"tasks": _kill_all(scheduler, tasks)}, {}


def _kill_all(scheduler, tasks):
    shown = [task.as_json() for task in tasks]
    for task in tasks:
        scheduler.kill(task)
    return shown


def _kill_and_scale(scheduler, tasks, force):
    """Kill ``tasks`` and lower each app's instances by its share of them."""
    by_app = {}
    for task in tasks:
        by_app.setdefault(task.app_id, []).append(task)
    ensure_unlocked(scheduler, list(by_app), force)
    version = clock.new_version()
    changes = {}
    for app_id, doomed in by_app.items():
        current = scheduler.apps[app_id]
        definition = copy.deepcopy(current.definition)
        definition["instances"] = max(0, definition["instances"] - len(doomed))
        scaled = AppRecord(definition, version, version, current.last_config_change_at)
        scheduler.store(scaled)
        changes[app_id] = (current, scaled)
        _kill_all(scheduler, doomed)
    deployment = scheduler.start_deployment(version, changes)
    return 200, deployment_result(deployment), deployment_headers(deployment)
