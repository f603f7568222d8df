"""marathon.deploy never reports success for something other than what was
asked: exact placeholder values, deployments already running, new versions
that keep failing, per-call URLs and bounded instance counts. Against the
Marathon stand-in; outcomes checked out of band with raw HTTP."""

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from tests.fixtures.marathon import poll_until
from tests.functional import marathon_support as support
from tests.functional.marathon_support import (
    FAST,
    TEST_SERVER_ID,
    Bound,
    free_dead_url,
    image_of,
    marathon_pillar,
    raw_app,
    raw_deployments,
)

module_loaders = support.module_loaders

TEMPLATE = "salt://mesos/services/test-server.json"
SLEEPER_ID = "/tools/sleeper"
CHECK = {"protocol": "COMMAND", "command": {"value": "true"}, "intervalSeconds": 1}
SLEEPER = {"cmd": "sleep 600", "cpus": 0.01, "mem": 16, "instances": 1, "healthChecks": [CHECK]}


@pytest.fixture
def marathon(module_loaders, marathon_server):
    return Bound(module_loaders.modules.marathon, marathon_server.url)


def writes(server):
    return [(method, path) for method, path in server.requests if method != "GET"]


# -- 1. placeholder values arrive exactly, or are refused before any request ----------


@pytest.mark.parametrize("tag", [1.1, 493, 31, True, 1.0e3])
def test_a_tag_yaml_turned_into_a_number_or_bool_is_refused_with_a_quoting_hint(
    marathon, marathon_server, tag
):
    with pytest.raises(SaltInvocationError) as caught:
        marathon.deploy(TEMPLATE, "production", 1, tag=tag, timeout=20)
    message = str(caught.value)
    assert f"tag arrived as the {type(tag).__name__} {tag!r}" in message
    assert """tag='"1.10"'""" in message
    assert marathon_server.requests == []


def test_a_string_tag_arrives_exactly(marathon, marathon_server):
    marathon.deploy(TEMPLATE, "production", 1, tag="1.10", timeout=20)
    app = raw_app(marathon_server, TEST_SERVER_ID)
    assert image_of(app) == "registry.local/test-server:1.10"
    assert app["labels"]["version"] == "1.10"


def test_a_non_text_value_inside_a_json_string_names_the_placeholder_and_line(
    marathon, marathon_server, tmp_path
):
    template = tmp_path / "service.json"
    template.write_text(
        '{"id": "/tools/$name",\n "cmd": "run --release $release",\n'
        ' "instances": $instances, "cpus": $cpus, "mem": 16}'
    )
    with pytest.raises(SaltInvocationError) as caught:
        marathon.deploy(
            str(template), "staging", values={"name": "w", "release": 0.10, "cpus": 0.1}
        )
    message = str(caught.value)
    assert "$release (line 2) is the float 0.1" in message
    assert "must be text" in message
    assert marathon_server.requests == []
    # Outside a string a number is a JSON number: nothing to lose.
    marathon.deploy(
        str(template), "staging", values={"name": "w", "release": "0.10", "cpus": 0.1}, timeout=20
    )
    app = raw_app(marathon_server, "/tools/w")
    assert (app["cmd"], app["cpus"]) == ("run --release 0.10", 0.1)


# -- 2. a deployment already running on the app -------------------------------------


def test_deploying_the_same_definition_during_its_slow_deployment_waits_for_it(
    marathon, marathon_server
):
    # The first deploy leaves its deployment running (wait=False); the second
    # PUT changes nothing, so Marathon starts an empty deployment of its own.
    marathon_server.set_task_behaviour(start_delay=1.0)
    first = marathon.update_app(SLEEPER_ID, SLEEPER, wait=False)
    assert [d["id"] for d in raw_deployments(marathon_server)] == [first["deploymentId"]]

    second = marathon.update_app(SLEEPER_ID, SLEEPER, timeout=20)

    assert second["finished"] is True
    assert second["instances"]["healthy"] == 1
    assert raw_deployments(marathon_server) == []


def test_a_stuck_deployment_of_the_app_fails_the_deploy_naming_it(marathon, marathon_server):
    marathon_server.set_task_behaviour(healthy=False)
    stuck = marathon.update_app(SLEEPER_ID, SLEEPER, wait=False)

    with pytest.raises(CommandExecutionError) as caught:
        marathon.update_app(SLEEPER_ID, SLEEPER, timeout=0.5)

    assert stuck["deploymentId"] in str(caught.value)
    assert "force=True" in str(caught.value)
    assert [d["id"] for d in raw_deployments(marathon_server)] == [stuck["deploymentId"]]


def test_a_finished_deployment_with_too_few_healthy_tasks_is_no_success(marathon, marathon_server):
    marathon.update_app(SLEEPER_ID, SLEEPER, timeout=20)
    # Its task turns unhealthy after the deployment ended: the app is not as declared.
    marathon_server.set_task_behaviour(healthy=False)
    poll_until(
        lambda: raw_app(marathon_server, SLEEPER_ID)["tasksHealthy"] == 0,
        message="an unhealthy task",
    )
    with pytest.raises(CommandExecutionError, match=r"only 0/1 tasks are healthy"):
        marathon.update_app(SLEEPER_ID, SLEEPER, timeout=20)


# -- 3. a new version that keeps failing to launch ---------------------------------


@pytest.fixture
def process_marathon(module_loaders, marathon_server_factory):
    server = marathon_server_factory(real_processes=True)
    return server, Bound(module_loaders.modules.marathon, server.url)


def test_failing_launches_stop_the_deploy_roll_back_and_name_the_last_failure(
    process_marathon, caplog
):
    server, marathon = process_marathon
    before = marathon.update_app(SLEEPER_ID, SLEEPER, timeout=20)
    with caplog.at_level("INFO"), pytest.raises(CommandExecutionError) as caught:
        # A timeout far beyond what the test takes: the failure count ends it.
        marathon.update_app(SLEEPER_ID, {**SLEEPER, "cmd": "exit 3"}, timeout=120)
    message = str(caught.value)
    assert "stopped after 3 failed launches" in message
    assert "last task failure: TASK_FAILED" in message
    assert f"previous version {before['version']} is serving" in message
    app = raw_app(server, SLEEPER_ID)
    assert (app["cmd"], app["version"], app["tasksRunning"]) == ("sleep 600", before["version"], 1)
    progress = [r.getMessage() for r in caplog.records if "failed launches" in r.getMessage()]
    assert any("failed launches 1" in line for line in progress), progress
    assert any("failed launches 2" in line for line in progress), progress


def test_the_failure_limit_is_configurable(process_marathon):
    server, marathon = process_marathon
    marathon.update_app(SLEEPER_ID, SLEEPER, timeout=20)
    with pytest.raises(CommandExecutionError, match="stopped after 1 failed launches"):
        marathon.update_app(
            SLEEPER_ID, {**SLEEPER, "cmd": "exit 4"}, timeout=120, max_task_failures=1
        )
    assert raw_app(server, SLEEPER_ID)["cmd"] == "sleep 600"


# -- 5. per-call URLs win over configuration ---------------------------------------


@pytest.mark.parametrize("argument", ["url", "urls"])
def test_a_per_call_url_wins_over_marathon_urls_in_pillar(make_loaders, marathon_server, argument):
    marathon = make_loaders(pillar=marathon_pillar(free_dead_url())).modules.marathon
    value = marathon_server.url if argument == "url" else [marathon_server.url]
    assert marathon.apps(**{argument: value}) == []
    marathon.update_app(SLEEPER_ID, SLEEPER, timeout=20, **FAST, **{argument: value})
    assert raw_app(marathon_server, SLEEPER_ID) is not None


# -- 6. instance counts are bounded ------------------------------------------------


def test_a_huge_instance_count_is_refused_before_any_request(marathon, marathon_server):
    with pytest.raises(SaltInvocationError, match=r"instances 1e\+09 is above the limit of 1000"):
        marathon.deploy(TEMPLATE, "production", 1000000000, tag="v1")
    with pytest.raises(SaltInvocationError, match="marathon:max_instances"):
        marathon.update_app(SLEEPER_ID, {**SLEEPER, "instances": 5000})
    assert marathon_server.requests == []


def test_the_instance_bound_is_configurable(make_loaders, marathon_server):
    pillar = marathon_pillar(marathon_server.url, max_instances=2)
    marathon = make_loaders(pillar=pillar).modules.marathon
    with pytest.raises(SaltInvocationError, match="above the limit of 2"):
        marathon.update_app(SLEEPER_ID, {**SLEEPER, "instances": 3})
    assert marathon_server.requests == []
    marathon.update_app(SLEEPER_ID, {**SLEEPER, "instances": 2}, timeout=20)
    assert raw_app(marathon_server, SLEEPER_ID)["instances"] == 2


# -- 10. removing an app a deployment holds -----------------------------------------


def test_rm_app_without_force_leaves_a_locked_app_and_names_the_deployment(
    marathon, marathon_server
):
    marathon.update_app(SLEEPER_ID, SLEEPER, timeout=20)
    marathon_server.set_task_behaviour(start_delay=600)
    locking = marathon.update_app(SLEEPER_ID, {"instances": 2}, wait=False)

    with pytest.raises(CommandExecutionError) as caught:
        marathon.rm_app(SLEEPER_ID, timeout=5)

    assert locking["deploymentId"] in str(caught.value)
    assert raw_app(marathon_server, SLEEPER_ID) is not None
    marathon.rm_app(SLEEPER_ID, force=True, timeout=20)
    assert raw_app(marathon_server, SLEEPER_ID) is None


def test_an_unreachable_marathon_is_named_by_its_url_without_credentials(module_loaders):
    dead = free_dead_url()
    with_credentials = dead.replace("http://", "http://ops:s3cret@")
    with pytest.raises(CommandExecutionError) as caught:
        module_loaders.modules.marathon.apps(url=with_credentials)
    assert dead in str(caught.value)
    assert "s3cret" not in str(caught.value)
