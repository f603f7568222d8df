"""marathon-registrator's naming conventions, as pure functions over
Marathon's JSON (sandbox/registrator/conventions.py)."""

import pytest

from sandbox.registrator.conventions import (
    app_registrations,
    is_ours,
    task_is_ready,
    task_registrations,
)


def running_task(task_id="app_x.1", ports=(31000,), alive=(True,), version="v1"):
    task = {"id": task_id, "host": "127.0.0.1", "ports": list(ports), "state": "TASK_RUNNING"}
    task["version"] = version
    if alive is not None:
        task["healthCheckResults"] = [{"alive": value} for value in alive]
    return task


def app(app_id="/app/production/test-server", env=None, labels=None, checks=1, **extra):
    return {
        "id": app_id,
        "env": env or {},
        "labels": labels or {},
        "healthChecks": [{"protocol": "HTTP"}] * checks,
        "version": "v1",
        **extra,
    }


def test_one_port_takes_service_name_and_tags_from_env_and_the_task_id():
    definition = app(env={"SERVICE_NAME": "test-server", "SERVICE_TAGS": "production, a ,,b"})
    (registration,) = task_registrations(definition, running_task())
    assert registration.service_id == "app_x.1"
    assert registration.name == "test-server"
    assert registration.tags == ("production", "a", "b")
    assert (registration.address, registration.port) == ("127.0.0.1", 31000)


def test_name_falls_back_to_labels_then_the_last_segment_of_the_app_id():
    by_label = app(labels={"SERVICE_NAME": "from-label"})
    assert task_registrations(by_label, running_task())[0].name == "from-label"
    env_wins = app(env={"SERVICE_NAME": "from-env"}, labels={"SERVICE_NAME": "from-label"})
    assert task_registrations(env_wins, running_task())[0].name == "from-env"
    assert task_registrations(app(), running_task())[0].name == "test-server"
    assert task_registrations(app(), running_task())[0].tags == ()


def test_several_ports_register_name_dash_container_port_each():
    definition = app(
        env={"SERVICE_NAME": "test-server", "SERVICE_TAGS": "production"},
        container={"portMappings": [{"containerPort": 3000}, {"containerPort": 3010}]},
    )
    task = running_task(ports=(31000, 31001))
    registrations = task_registrations(definition, task)
    assert [(r.service_id, r.name, r.port) for r in registrations] == [
        ("app_x.1:3000", "test-server-3000", 31000),
        ("app_x.1:3010", "test-server-3010", 31001),
    ]
    assert all(r.tags == ("production",) for r in registrations)


def test_port_settings_name_and_tag_one_port():
    definition = app(
        env={
            "SERVICE_NAME": "web",
            "SERVICE_TAGS": "shared",
            "SERVICE_9000_NAME": "web-admin",
            "SERVICE_9000_TAGS": "admin,internal-listen-http-4000",
        },
        portDefinitions=[{"port": 8000}, {"port": 9000}],
    )
    first, second = task_registrations(definition, running_task(ports=(31000, 31001)))
    assert (first.name, first.tags) == ("web-8000", ("shared",))
    assert (second.name, second.tags) == ("web-admin", ("admin", "internal-listen-http-4000"))


def test_docker_port_mappings_in_the_old_place_name_ports_too():
    definition = app(
        container={"docker": {"portMappings": [{"containerPort": 80}, {"containerPort": 443}]}}
    )
    names = [r.name for r in task_registrations(definition, running_task(ports=(31000, 31001)))]
    assert names == ["test-server-80", "test-server-443"]


@pytest.mark.parametrize(
    "task, ready",
    [
        (running_task(alive=(True,)), True),
        (running_task(alive=(False,)), False),
        (running_task(alive=None), False),  # no health result yet
        ({**running_task(), "state": "TASK_STAGING"}, False),
        ({**running_task(), "state": "TASK_KILLING"}, False),
    ],
)
def test_only_running_tasks_alive_on_every_check_are_ready(task, ready):
    assert task_is_ready(app(), task) is ready
    assert bool(task_registrations(app(), task)) is ready


def test_an_app_without_health_checks_registers_running_tasks():
    assert task_is_ready(app(checks=0), running_task(alive=None))
    two_checks = app(checks=2)
    assert not task_is_ready(two_checks, running_task(alive=(True,)))
    assert task_is_ready(two_checks, running_task(alive=(True, True)))


def test_old_tasks_of_a_rolling_upgrade_use_the_definition_they_run():
    current = app(env={"SERVICE_NAME": "new-name"}, version="v2")
    current["tasks"] = [running_task("t.new", version="v2"), running_task("t.old", version="v1")]
    asked = []

    def definition_of(app_id, version):
        asked.append((app_id, version))
        return app(env={"SERVICE_NAME": "old-name"}, version="v1")

    names = {r.task_id: r.name for r in app_registrations(current, definition_of)}
    assert names == {"t.new": "new-name", "t.old": "old-name"}
    assert asked == [("/app/production/test-server", "v1")]


def test_registrations_carry_the_owner_mark_and_only_ours_count():
    (registration,) = task_registrations(app(), running_task())
    assert is_ours({"Meta": registration.meta})
    assert not is_ours({"Meta": {}})
    assert not is_ours({})
    assert registration.meta["marathon-app"] == "/app/production/test-server"
