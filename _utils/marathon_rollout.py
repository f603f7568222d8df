"""Roll an app definition out to Marathon: PUT, wait, roll back on failure.

The ``marathon`` execution module calls :func:`apply_definition`,
:func:`wait_for_deployment` and :func:`deployment_outcome` through
``__utils__``; they take a client from ``marathon_client.connect``.

- The PUT creates or updates (never POST-then-PUT). A 409 "locked" answer
  waits (up to the timeout) for the running deployments to end, and only
  overrides them with ``force=True`` when the caller asked for it.
- Waiting polls ``/v2/deployments`` and the app, logging each change of
  progress (step i/n, healthy x/y) and stops at the deadline.
- Rolling back an update asks Marathon to revert the deployment
  (``DELETE /v2/deployments/<id>``), which restores the previous definition.
  A brand-new app has no previous version: rolling it back removes it, so a
  failed first deploy leaves nothing behind (scaling to 0 would leave a
  broken definition that the next ``marathon_app.present`` treats as
  current).
"""

import logging
import time

from salt.exceptions import CommandExecutionError

log = logging.getLogger(__name__)


class DeploymentTimeoutError(CommandExecutionError):
    """The deployment was still running at the deadline."""

    def __init__(self, message, progress, app=None):
        super().__init__(message)
        self.progress = progress
        self.app = app


def apply_definition(client, errors, app_id, definition, options):
    """PUT ``definition``, wait and roll back as ``options`` say; return the outcome.

    ``options``: ``force``, ``wait``, ``rollback``, ``poll_interval`` and
    ``timeout``: seconds to wait for deployments that lock the app, then
    again for ours once it started (a long lock does not eat our rollout's
    time), and again for a rollback.
    """
    previous, answer = _put_when_unlocked(client, errors, app_id, definition, options)
    deployment_id = answer.get("deploymentId")
    log.info(
        "Marathon deployment %s of %s started (version %s)",
        deployment_id,
        app_id,
        answer.get("version"),
    )
    if not options["wait"]:
        return _outcome(app_id, answer, previous, None, finished=False)
    deadline = time.monotonic() + options["timeout"]
    try:
        app = wait_for_deployment(client, app_id, deployment_id, deadline, options["poll_interval"])
    except DeploymentTimeoutError as exc:
        raise CommandExecutionError(
            _failure_message(client, errors, app_id, answer, previous, exc, options)
        ) from None
    return _outcome(app_id, answer, previous, app, finished=True)


def timeout_type():
    """The exception :func:`wait_for_deployment` raises (the loader hides classes)."""
    return DeploymentTimeoutError


def wait_for_deployment(client, app_id, deployment_id, deadline, poll_interval):
    """Poll until ``deployment_id`` is over; return the app (None if it is gone).

    Raises :class:`DeploymentTimeoutError` at the deadline.
    """
    last_progress = None
    while True:
        deployment = client.find_deployment(deployment_id) if deployment_id else None
        app = client.find_app(app_id)
        progress = describe_progress(deployment, app)
        if progress != last_progress:
            log.info("Marathon %s: %s", app_id, progress)
            last_progress = progress
        if deployment is None:
            return app
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeploymentTimeoutError(f"deployment {deployment_id} still running", progress, app)
        time.sleep(min(poll_interval, remaining))


def describe_progress(deployment, app):
    """``step 1/2 (ScaleApplication), healthy 2/4, running 3`` for logs and errors."""
    parts = []
    if deployment is not None:
        actions = ", ".join(
            sorted({action.get("action", "?") for action in deployment.get("currentActions") or []})
        )
        step = f"step {deployment.get('currentStep', '?')}/{deployment.get('totalSteps', '?')}"
        parts.append(f"{step} ({actions})" if actions else step)
    else:
        parts.append("deployment finished")
    if app is None:
        parts.append("app absent")
    else:
        counts = instance_counts(app)
        parts.append(f"healthy {counts['healthy']}/{counts['requested']}")
        parts.append(f"running {counts['running']}")
    return ", ".join(parts)


def instance_counts(app):
    """Requested, running, healthy, staged and unhealthy tasks of ``app``.

    Marathon only counts tasks with health results as healthy, so without
    health checks "healthy" is the running count.
    """
    running = int(app.get("tasksRunning") or 0)
    healthy = int(app.get("tasksHealthy") or 0) if app.get("healthChecks") else running
    return {
        "requested": int(app.get("instances") or 0),
        "running": running,
        "healthy": healthy,
        "staged": int(app.get("tasksStaged") or 0),
        "unhealthy": int(app.get("tasksUnhealthy") or 0),
    }


def _put_when_unlocked(client, errors, app_id, definition, options):
    """PUT, waiting out deployments that lock the app; return (app before, answer).

    The app is read again before every attempt: what a locking deployment
    leaves behind is the version a rollback returns to.
    """
    deadline = time.monotonic() + options["timeout"]
    while True:
        previous = client.find_app(app_id)
        try:
            return previous, client.put_app(app_id, definition, force=options["force"])
        except errors.MarathonLockedError as exc:
            locking = ", ".join(exc.deployment_ids)
            if time.monotonic() >= deadline:
                raise CommandExecutionError(
                    f"{app_id} is locked by running deployment(s) {locking} and they did not "
                    f"finish within {options['timeout']:g}s; wait for them or pass force=True "
                    "to cancel them (that can leave old and new instances mixed)"
                ) from None
            log.info("Marathon %s is locked by deployment(s) %s; waiting", app_id, locking)
            _wait_until_gone(client, exc.deployment_ids, deadline, options["poll_interval"])


def _wait_until_gone(client, deployment_ids, deadline, poll_interval):
    pending = set(deployment_ids)
    while time.monotonic() < deadline:
        running = {deployment.get("id") for deployment in client.list_deployments()}
        if not pending & running:
            return
        time.sleep(min(poll_interval, max(deadline - time.monotonic(), 0)))


def _failure_message(client, errors, app_id, answer, previous, timed_out, options):
    deployment_id = answer.get("deploymentId")
    what = (
        f"deployment {deployment_id} of {app_id} (version {answer.get('version')}) did not "
        f"finish within {options['timeout']:g}s: {timed_out.progress}"
        f"{_task_failure(timed_out.app, answer.get('version'))}"
    )
    if not options["rollback"]:
        return f"{what}; not rolled back (rollback=False), the deployment is still running"
    try:
        return f"{what}; {_roll_back(client, errors, app_id, deployment_id, previous, options)}"
    except CommandExecutionError as exc:
        return f"{what}; rolling back failed too, the app needs attention: {exc}"


def _task_failure(app, version):
    """``; last task failure: ...`` when a task of the new version failed, else ``""``."""
    failure = (app or {}).get("lastTaskFailure") or {}
    if not failure or failure.get("version") != version:
        return ""
    return f"; last task failure: {failure.get('state', '?')}: {failure.get('message', '')}"


def _roll_back(client, errors, app_id, deployment_id, previous, options):
    """Undo the timed-out deployment; return a sentence saying what serves now."""
    deadline = time.monotonic() + options["timeout"]
    if previous is None:
        answer = client.delete_app(app_id, force=True)
        wait_for_deployment(
            client, app_id, answer.get("deploymentId"), deadline, options["poll_interval"]
        )
        return "rolled back: the app was new, so it was removed"
    try:
        answer = client.cancel_deployment(deployment_id)
    except errors.MarathonNotFoundError:
        # It ended between the timeout and now: deploy the stored previous version instead.
        answer = client.put_app(app_id, {"version": previous["version"]}, force=True)
    app = wait_for_deployment(
        client, app_id, answer.get("deploymentId"), deadline, options["poll_interval"]
    )
    return _serving_sentence(previous, app)


def _serving_sentence(previous, app):
    if app is None:
        return "rolled back, but the app is gone"
    counts = instance_counts(app)
    health = f"{counts['healthy']}/{counts['requested']} healthy"
    if app.get("version") == previous.get("version"):
        return f"rolled back: previous version {previous['version']} is serving ({health})"
    return (
        f"rolled back to the previous definition, stored as version {app.get('version')} "
        f"(was {previous.get('version')}; {health})"
    )


def _outcome(app_id, answer, previous, app, finished):
    outcome = {
        "app": app_id,
        "deploymentId": answer.get("deploymentId"),
        "version": answer.get("version"),
        "previousVersion": previous.get("version") if previous else None,
        "created": previous is None,
        "finished": finished,
    }
    if app is not None:
        outcome["instances"] = instance_counts(app)
    return outcome
