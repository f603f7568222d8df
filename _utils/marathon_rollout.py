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


class RolloutStoppedError(CommandExecutionError):
    """Waiting for a deployment stopped before it finished (see the subclasses).

    ``progress``: the last progress line; ``app``: the app as last read;
    ``running``: ids of the deployments still running on the app;
    ``failure``: the last failed launch of the new version (or None).
    """

    def __init__(self, message, progress, app=None, running=(), failure=None):
        super().__init__(message)
        self.progress = progress
        self.app = app
        self.running = list(running)
        self.failure = failure


class DeploymentTimeoutError(RolloutStoppedError):
    """The deployment was still running at the deadline."""

    def reason(self, timeout):
        return f"did not finish within {timeout:g}s"


class TaskFailuresError(RolloutStoppedError):
    """Tasks of the new version failed to launch ``max_task_failures`` times."""

    def reason(self, timeout):
        return f"stopped after {self}"


def apply_definition(client, errors, app_id, definition, options):
    """PUT ``definition``, wait and roll back as ``options`` say; return the outcome.

    ``options``: ``force``, ``wait``, ``rollback``, ``poll_interval``,
    ``max_task_failures`` (0: no limit) and ``timeout``: seconds to wait for
    deployments that hold the app, then again for ours once it started (a
    long lock does not eat our rollout's time), and again for a rollback.
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
        app = wait_for_deployment(
            client,
            app_id,
            deployment_id,
            deadline,
            options["poll_interval"],
            watch=_failure_watch(answer, previous, options),
        )
    except RolloutStoppedError as exc:
        raise CommandExecutionError(
            _failure_message(client, errors, app_id, answer, previous, exc, options)
        ) from None
    _require_healthy(app_id, app)
    return _outcome(app_id, answer, previous, app, finished=True)


def timeout_type():
    """The exception :func:`wait_for_deployment` raises (the loader hides classes)."""
    return RolloutStoppedError


def failure_watch(version, max_task_failures, known_failure=None):
    """What :func:`wait_for_deployment` counts: failed launches of ``version``.

    ``known_failure`` is the app's ``lastTaskFailure`` before the change; it
    is not counted again.
    """
    return _FailureWatch(version, max_task_failures, known_failure)


class _FailureWatch:
    """Counts failed launches of one version from the app's ``lastTaskFailure``.

    Marathon keeps only the last failure, so two failures between two polls
    count once: the limit may be reached a poll later, never earlier.
    """

    def __init__(self, version, limit, known_failure=None):
        self.version = version
        self.limit = limit or 0
        self.known = (known_failure or {}).get("taskId")
        self.failed_tasks = set()
        self.last = None

    @property
    def count(self):
        return len(self.failed_tasks)

    def observe(self, app):
        failure = (app or {}).get("lastTaskFailure") or {}
        task_id = failure.get("taskId")
        if not self.version or failure.get("version") != self.version:
            return
        if task_id and task_id != self.known and task_id not in self.failed_tasks:
            self.failed_tasks.add(task_id)
            self.last = failure

    @property
    def exhausted(self):
        return bool(self.limit) and self.count >= self.limit


def wait_for_deployment(client, app_id, deployment_id, deadline, poll_interval, watch=None):
    """Poll until ``deployment_id`` and every other deployment of the app are
    over; return the app (None if it is gone).

    Logs a progress line whenever it changes. Raises
    :class:`DeploymentTimeoutError` at the deadline and
    :class:`TaskFailuresError` once ``watch`` saw too many failed launches.
    """
    watch = watch or _FailureWatch(None, 0)
    last_progress = None
    while True:
        running = _deployments_of(client, app_id, deployment_id)
        app = client.find_app(app_id)
        watch.observe(app)
        progress = describe_progress(running, app, watch.count if watch.version else None)
        if progress != last_progress:
            log.info("Marathon %s: %s", app_id, progress)
            last_progress = progress
        if not running:
            return app
        ids = [deployment.get("id") for deployment in running]
        if watch.exhausted:
            raise TaskFailuresError(
                f"{watch.count} failed launches", progress, app, ids, watch.last
            )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeploymentTimeoutError(
                f"deployment(s) {', '.join(ids)} still running", progress, app, ids, watch.last
            )
        time.sleep(min(poll_interval, remaining))


def _deployments_of(client, app_id, deployment_id):
    """Running deployments that are ours or change ``app_id`` (someone else's too)."""
    return [
        deployment
        for deployment in client.list_deployments()
        if deployment.get("id") == deployment_id or app_id in (deployment.get("affectedApps") or [])
    ]


def describe_progress(deployments, app, failed=None):
    """``step 1/2 (ScaleApplication), healthy 2/4, running 3, staged 1, failed 1``.

    ``deployments``: the running deployments (a list, one dict, or None);
    ``failed``: failed launches of the new version (None: not counted).
    """
    if isinstance(deployments, dict):
        deployments = [deployments]
    parts = [_describe_deployment(deployment) for deployment in deployments or []]
    if not parts:
        parts.append("deployment finished")
    if app is None:
        parts.append("app absent")
    else:
        counts = instance_counts(app)
        parts.append(f"healthy {counts['healthy']}/{counts['requested']}")
        parts.append(f"running {counts['running']}")
        if counts["staged"]:
            parts.append(f"staged {counts['staged']}")
        if counts["unhealthy"]:
            parts.append(f"unhealthy {counts['unhealthy']}")
    if failed:
        parts.append(f"failed launches {failed}")
    return ", ".join(parts)


def _describe_deployment(deployment):
    actions = ", ".join(
        sorted({action.get("action", "?") for action in deployment.get("currentActions") or []})
    )
    step = f"step {deployment.get('currentStep', '?')}/{deployment.get('totalSteps', '?')}"
    return f"{step} ({actions})" if actions else step


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


def unsettled(app):
    """Why ``app`` (as GET returns it) is not settled yet, or None when it is:
    a deployment in progress, or fewer healthy tasks than instances."""
    if app is None:
        return None
    running = [item.get("id") for item in app.get("deployments") or []]
    if running:
        return f"deployment(s) {', '.join(running)} in progress"
    counts = instance_counts(app)
    if counts["healthy"] < counts["requested"]:
        return f"only {counts['healthy']}/{counts['requested']} tasks healthy"
    return None


def _require_healthy(app_id, app):
    """A finished deployment whose app has fewer healthy tasks than declared is no success."""
    if app is None:
        return
    counts = instance_counts(app)
    if counts["healthy"] < counts["requested"]:
        raise CommandExecutionError(
            f"{app_id}: no deployment is running, but only {counts['healthy']}/"
            f"{counts['requested']} tasks are healthy{_task_failure(app, None)}"
        )


def _failure_watch(answer, previous, options):
    known = (previous or {}).get("lastTaskFailure")
    return failure_watch(answer.get("version"), options.get("max_task_failures", 0), known)


def _put_when_unlocked(client, errors, app_id, definition, options):
    """PUT once no deployment holds the app; return (app before, answer).

    Deployments already running on the app are waited for first (Marathon
    accepts an unchanged PUT even then, and its no-op deployment would hide
    theirs); a 409 "locked" answer is waited out the same way. ``force``
    skips the waiting and lets Marathon cancel them. The app is read again
    before every attempt: what a locking deployment leaves behind is the
    version a rollback returns to.
    """
    deadline = time.monotonic() + options["timeout"]
    while True:
        previous = client.find_app(app_id)
        holding = [item.get("id") for item in (previous or {}).get("deployments") or []]
        if holding and not options["force"]:
            _wait_for_holders(client, app_id, holding, deadline, options)
            continue
        try:
            return previous, client.put_app(app_id, definition, force=options["force"])
        except errors.MarathonLockedError as exc:
            _wait_for_holders(client, app_id, exc.deployment_ids, deadline, options)


def _wait_for_holders(client, app_id, deployment_ids, deadline, options):
    locking = ", ".join(deployment_ids)
    if time.monotonic() >= deadline:
        raise CommandExecutionError(
            f"{app_id} is locked by running deployment(s) {locking} and they did not "
            f"finish within {options['timeout']:g}s; wait for them or pass force=True "
            "to cancel them (that can leave old and new instances mixed)"
        )
    log.info("Marathon %s is locked by deployment(s) %s; waiting", app_id, locking)
    _wait_until_gone(client, deployment_ids, deadline, options["poll_interval"])


def _wait_until_gone(client, deployment_ids, deadline, poll_interval):
    pending = set(deployment_ids)
    while time.monotonic() < deadline:
        running = {deployment.get("id") for deployment in client.list_deployments()}
        if not pending & running:
            return
        time.sleep(min(poll_interval, max(deadline - time.monotonic(), 0)))


def _failure_message(client, errors, app_id, answer, previous, stopped, options):
    deployment_id = answer.get("deploymentId")
    what = f"deployment {deployment_id} of {app_id} (version {answer.get('version')})"
    what += f" {stopped.reason(options['timeout'])}: {stopped.progress}"
    what += _describe_failure(stopped.failure)
    others = [other for other in stopped.running if other != deployment_id]
    if deployment_id not in stopped.running:
        # Ours is over (an unchanged PUT): someone else's deployment holds the app.
        return (
            f"{what}; deployment(s) {', '.join(others)} of {app_id}, not started by this call, "
            "are still running: wait for them, or cancel them with force=True"
        )
    if not options["rollback"]:
        return f"{what}; not rolled back (rollback=False), the deployment is still running"
    try:
        return f"{what}; {_roll_back(client, errors, app_id, deployment_id, previous, options)}"
    except CommandExecutionError as exc:
        return f"{what}; rolling back failed too, the app needs attention: {exc}"


def _task_failure(app, version):
    """``; last task failure: ...`` when a task of ``version`` (any when None) failed."""
    failure = (app or {}).get("lastTaskFailure") or {}
    if not failure or (version is not None and failure.get("version") != version):
        return ""
    return _describe_failure(failure)


def _describe_failure(failure):
    if not failure:
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
