"""Progress lines and instance counts the rollout logs and reports."""

from tests.unit.utils.loaded import load_util

rollout = load_util("marathon_rollout")


def test_progress_names_step_actions_and_health():
    deployment = {
        "currentStep": 1,
        "totalSteps": 2,
        "currentActions": [{"action": "RestartApplication"}, {"action": "ScaleApplication"}],
    }
    app = {"instances": 4, "tasksRunning": 5, "tasksHealthy": 2, "healthChecks": [{}]}
    assert rollout.describe_progress(deployment, app) == (
        "step 1/2 (RestartApplication, ScaleApplication), healthy 2/4, running 5"
    )
    assert rollout.describe_progress(None, None) == "deployment finished, app absent"


def test_without_health_checks_running_tasks_count_as_healthy():
    # Marathon reports tasksHealthy 0 for apps without health checks.
    app = {"instances": 3, "tasksRunning": 3, "tasksHealthy": 0, "healthChecks": []}
    assert rollout.instance_counts(app) == {
        "requested": 3,
        "running": 3,
        "healthy": 3,
        "staged": 0,
        "unhealthy": 0,
    }


def test_task_failure_is_named_only_for_the_new_version():
    app = {"lastTaskFailure": {"state": "TASK_FAILED", "message": "exit 3", "version": "v2"}}
    assert rollout._task_failure(app, "v2") == "; last task failure: TASK_FAILED: exit 3"
    assert rollout._task_failure(app, "v3") == ""
    assert rollout._task_failure(None, "v2") == ""


def test_progress_counts_staged_unhealthy_failed_and_every_running_deployment():
    deployments = [
        {"currentStep": 1, "totalSteps": 1, "currentActions": [{"action": "ScaleApplication"}]},
        {"currentStep": 1, "totalSteps": 1},
    ]
    app = {"instances": 2, "tasksRunning": 1, "tasksStaged": 1, "tasksUnhealthy": 1}
    assert rollout.describe_progress(deployments, {**app, "healthChecks": [{}]}, 2) == (
        "step 1/1 (ScaleApplication), step 1/1, healthy 0/2, running 1, staged 1, "
        "unhealthy 1, failed launches 2"
    )


def test_failure_watch_counts_new_failures_of_the_new_version_only():
    known = {"taskId": "t0", "version": "v2"}
    watch = rollout.failure_watch("v2", 2, known)
    for failure in [known, {"taskId": "t1", "version": "v1"}, {"taskId": "t2", "version": "v2"}]:
        watch.observe({"lastTaskFailure": failure})
    assert (watch.count, watch.exhausted) == (1, False)
    watch.observe({"lastTaskFailure": {"taskId": "t2", "version": "v2"}})
    watch.observe({"lastTaskFailure": {"taskId": "t3", "version": "v2", "message": "exit 3"}})
    assert (watch.count, watch.exhausted, watch.last["message"]) == (2, True, "exit 3")
    assert rollout.failure_watch("v2", 0).exhausted is False


def test_unsettled_names_running_deployments_then_missing_health():
    app = {"instances": 2, "tasksRunning": 2, "deployments": [{"id": "d1"}]}
    assert rollout.unsettled(app) == "deployment(s) d1 in progress"
    app = {"instances": 2, "tasksRunning": 2, "tasksHealthy": 1, "healthChecks": [{}]}
    assert rollout.unsettled(app) == "only 1/2 tasks healthy"
    assert rollout.unsettled({**app, "tasksHealthy": 2}) is None
    assert rollout.unsettled(None) is None
