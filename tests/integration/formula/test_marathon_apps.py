"""The issue's "done when", as users run it: ``salt-call`` over this tree
against the Marathon stand-in (pillar ``marathon:urls`` points at it)."""

import pytest

from tests.conftest import write_pillar
from tests.functional import marathon_support as support
from tests.functional.marathon_support import (
    TEST_SERVER_ID,
    TEST_SERVER_TEMPLATE,
    assert_serving,
    raw_app,
)
from tests.unit.utils.loaded import load_util

servicedef = load_util("servicedef")
s3_store = support.s3_store

TAG = "master-ef5a154e25b268c611006d08a78a3ec0a451e7ed-56"
IMAGE = f"registry.local/test-server:{TAG}"


def apps_pillar(server):
    return {
        "marathon": {"urls": [server.url], "poll_interval": 0.05},
        "mesos": {
            "deploy": {"timeout": 20},
            "apps": {
                "test-server": {
                    "template": "salt://mesos/services/test-server.json",
                    "tag": TAG,
                    "environments": {"production": {"instances": 4}, "staging": {"instances": 1}},
                }
            },
        },
    }


@pytest.fixture
def built_artifact(tmp_path):
    """What the article's CI publishes: the template with only $tag filled."""
    path = tmp_path / f"service-{TAG}.json"
    path.write_text(
        servicedef.substitute(TEST_SERVER_TEMPLATE.read_text(), {"tag": TAG}, strict=False)
    )
    return path


def test_salt_call_marathon_deploy_production_4(salt_call, marathon_server, built_artifact):
    salt_call.set_pillar(apps_pillar(marathon_server))
    result = salt_call.run("marathon.deploy", str(built_artifact), "production", "4")
    assert result.returncode == 0, result
    assert result.data["app"] == TEST_SERVER_ID
    assert result.data["instances"]["healthy"] == 4
    assert_serving(marathon_server, TEST_SERVER_ID, result.data["version"], IMAGE, 4)


def test_salt_call_deploy_failure_exits_non_zero_with_the_reason(
    salt_call, marathon_server, built_artifact
):
    salt_call.set_pillar(apps_pillar(marathon_server))
    result = salt_call.run("marathon.deploy", str(built_artifact), "production", "0")
    assert result.returncode != 0
    assert "instances must be a positive integer, not 0" in str(result.data) + result.stderr
    assert raw_app(marathon_server, TEST_SERVER_ID) is None


def test_state_apply_mesos_apps_then_zero_changes(salt_call, marathon_server):
    salt_call.set_pillar(apps_pillar(marathon_server))

    predicted = salt_call.run("state.apply", "mesos.apps", "test=True")
    assert predicted.returncode == 0, predicted
    assert sorted(state["__id__"] for state in predicted.data.values()) == [
        "mesos-app-test-server-production",
        "mesos-app-test-server-staging",
    ]
    assert all(state["result"] is None for state in predicted.data.values())
    assert [method for method, _ in marathon_server.requests] == ["GET", "GET"]

    first = salt_call.run("state.apply", "mesos.apps")
    assert first.returncode == 0, first
    assert all(state["result"] is True and state["changes"] for state in first.data.values())
    production = raw_app(marathon_server, TEST_SERVER_ID)
    assert_serving(marathon_server, TEST_SERVER_ID, production["version"], IMAGE, 4)
    assert raw_app(marathon_server, "/app/staging/test-server")["tasksHealthy"] == 1

    marathon_server.clear_requests()
    second = salt_call.run("state.apply", "mesos.apps")
    assert second.returncode == 0, second
    assert [state["changes"] for state in second.data.values()] == [{}, {}]
    # An unchanged app costs one GET each, and nothing is written.
    assert sorted(marathon_server.requests) == [
        ("GET", "/v2/apps/app/production/test-server"),
        ("GET", "/v2/apps/app/staging/test-server"),
    ]


def test_mesos_apps_with_no_apps_is_a_clean_no_op(salt_call, marathon_server):
    salt_call.set_pillar({"marathon": {"urls": [marathon_server.url]}, "mesos": {"apps": {}}})
    result = salt_call.run("state.apply", "mesos.apps")
    assert result.returncode == 0, result
    assert marathon_server.requests == []


def test_real_master_and_minion_apply_mesos_apps(salt_minion, master_pillar_dir, marathon_server):
    # The minion got marathon/marathon_app from the master (saltutil.sync_all).
    write_pillar(master_pillar_dir, apps_pillar(marathon_server))
    try:
        cli = salt_minion.salt_call_cli()
        assert cli.run("saltutil.refresh_pillar", wait=True).returncode == 0
        first = cli.run("state.apply", "mesos.apps")
        assert first.returncode == 0, first
        assert all(state["result"] is True for state in first.data.values())
        version = raw_app(marathon_server, TEST_SERVER_ID)["version"]
        assert_serving(marathon_server, TEST_SERVER_ID, version, IMAGE, 4)

        marathon_server.clear_requests()
        second = cli.run("state.apply", "mesos.apps")
        assert second.returncode == 0, second
        assert [state["changes"] for state in second.data.values()] == [{}, {}]
        assert {method for method, _path in marathon_server.requests} == {"GET"}
    finally:
        write_pillar(master_pillar_dir, {})
        salt_minion.salt_call_cli().run("saltutil.refresh_pillar", wait=True)


def test_salt_call_deploy_from_s3_with_the_standard_aws_environment(
    salt_call, marathon_server, s3_store
):
    """The article's ``marathon-deploy.sh <artifact-url> production 4`` with the
    artifact on S3 (moto); the endpoint comes from AWS_ENDPOINT_URL."""
    import boto3

    built = servicedef.substitute(TEST_SERVER_TEMPLATE.read_text(), {"tag": TAG}, strict=False)
    key = f"test-server/service-{TAG}.json"
    boto3.client("s3", endpoint_url=s3_store).put_object(
        Bucket="build-artifacts", Key=key, Body=built.encode()
    )
    salt_call.set_pillar(apps_pillar(marathon_server))
    result = salt_call.run(
        "marathon.deploy",
        f"s3://build-artifacts/{key}",
        "production",
        "4",
        env={"AWS_ENDPOINT_URL": s3_store},
    )
    assert result.returncode == 0, result
    assert_serving(marathon_server, TEST_SERVER_ID, result.data["version"], IMAGE, 4)


def test_mesos_apps_passes_environment_tag_values_and_deploy_overrides(salt_call):
    salt_call.set_pillar(
        {
            "mesos": {
                "apps": {
                    "web": {
                        "template": "s3://build-artifacts/web/service-master.json",
                        "tag": "v1",
                        "values": {"region": "eu", "tier": "front"},
                        "deploy": {"timeout": 30, "rollback": False},
                        "environments": {
                            "production": {"instances": 3},
                            "canary": {"tag": "v2", "values": {"region": "us"}},
                        },
                    },
                    "idle": {"template": "salt://x.json", "environments": {}},
                }
            }
        }
    )
    result = salt_call.run("state.show_sls", "mesos.apps")
    assert result.returncode == 0, result
    arguments = {
        state_id: {
            key: value
            for item in state["marathon_app"]
            if isinstance(item, dict)
            for key, value in item.items()
        }
        for state_id, state in result.data.items()
    }
    common = {
        "template": "s3://build-artifacts/web/service-master.json",
        "wait": True,
        "timeout": 30,
        "rollback": False,
    }
    assert arguments == {
        "mesos-app-web-canary": {
            **common,
            "environment": "canary",
            "instances": 1,
            "tag": "v2",
            "values": {"region": "us", "tier": "front"},
            "order": arguments["mesos-app-web-canary"]["order"],
        },
        "mesos-app-web-production": {
            **common,
            "environment": "production",
            "instances": 3,
            "tag": "v1",
            "values": {"region": "eu", "tier": "front"},
            "order": arguments["mesos-app-web-production"]["order"],
        },
    }
