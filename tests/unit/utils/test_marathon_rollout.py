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
