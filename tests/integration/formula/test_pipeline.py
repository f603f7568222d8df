"""The whole pipeline as users run it: the CI step publishes to moto's S3
server, salt-call marathon.deploy deploys from S3 to the Marathon stand-in,
the pinned file rolls back in one command, and a Chronos deploy job (the
stand-in running its command for real) deploys with one click."""

import shlex
import subprocess
import sys
import time

import requests

from sandbox.chronos import ChronosServer
from tests.conftest import SALT_BIN
from tests.functional import marathon_support as support
from tests.functional.marathon_support import TEST_SERVER_TEMPLATE, assert_serving, raw_app

s3_store = support.s3_store
TOOL = support.REPO_ROOT / "tools" / "service_defs.py"
STAGING_ID = "/app/staging/test-server"
BRANCH_FILE = "s3://build-artifacts/test-server/service-master.json"


def publish(endpoint, commit, build):
    """Run the CI step for one build, as Drone would (its variables)."""
    done = subprocess.run(
        [sys.executable, str(TOOL), str(TEST_SERVER_TEMPLATE), f"--endpoint-url={endpoint}"],
        env={
            **_environ(),
            "DRONE_BRANCH": "master",
            "DRONE_COMMIT_SHA": commit,
            "DRONE_BUILD_NUMBER": str(build),
            "SERVICE_DEFS_BUCKET": "build-artifacts",
            "SERVICE_DEFS_PREFIX": "test-server",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return f"master-{commit}-{build}"


def _environ():
    import os

    return dict(os.environ)


def image(tag):
    return f"registry.local/test-server:{tag}"


def test_publish_deploy_new_build_then_roll_back_with_one_command(
    salt_call, marathon_server, s3_store
):
    salt_call.set_pillar(support.marathon_pillar(marathon_server.url))
    s3 = {"AWS_ENDPOINT_URL": s3_store}

    first = publish(s3_store, "ef5a154e25b268c611006d08a78a3ec0a451e7ed", 56)
    deployed = salt_call.run("marathon.deploy", BRANCH_FILE, "staging", env=s3)
    assert deployed.returncode == 0, deployed
    assert_serving(marathon_server, STAGING_ID, deployed.data["version"], image(first), 1)

    second = publish(s3_store, "0123456789abcdef0123456789abcdef01234567", 57)
    deployed = salt_call.run("marathon.deploy", BRANCH_FILE, "staging", "2", env=s3)
    assert deployed.returncode == 0, deployed
    assert_serving(marathon_server, STAGING_ID, deployed.data["version"], image(second), 2)

    # Rolling back to build 56 is deploying its pinned file.
    pinned = f"s3://build-artifacts/test-server/service-{first}.json"
    rolled_back = salt_call.run("marathon.deploy", pinned, "staging", "2", env=s3)
    assert rolled_back.returncode == 0, rolled_back
    assert_serving(marathon_server, STAGING_ID, rolled_back.data["version"], image(first), 2)


def test_missing_pinned_build_fails_and_leaves_the_running_version(
    salt_call, marathon_server, s3_store
):
    salt_call.set_pillar(support.marathon_pillar(marathon_server.url))
    s3 = {"AWS_ENDPOINT_URL": s3_store}
    tag = publish(s3_store, "ef5a154e25b268c611006d08a78a3ec0a451e7ed", 56)
    deployed = salt_call.run("marathon.deploy", BRANCH_FILE, "staging", env=s3)
    assert deployed.returncode == 0, deployed
    missing = "s3://build-artifacts/test-server/service-master-ffffff-1.json"
    failed = salt_call.run("marathon.deploy", missing, "staging", env=s3)
    assert failed.returncode != 0
    assert "not found" in str(failed.data) + failed.stderr
    assert_serving(marathon_server, STAGING_ID, deployed.data["version"], image(tag), 1)


def test_chronos_deploy_job_deploys_with_one_click(salt_call, marathon_server, s3_store):
    salt_call.set_pillar(support.marathon_pillar(marathon_server.url))
    tag = publish(s3_store, "ef5a154e25b268c611006d08a78a3ec0a451e7ed", 56)
    salt_call_command = shlex.join(
        [
            str(SALT_BIN / "salt-call"),
            "--local",
            f"--config-dir={salt_call.config_dir}",
            "--log-level=quiet",
        ]
    )
    with ChronosServer(run_commands=True) as chronos:
        salt_call.set_pillar(
            {
                **support.marathon_pillar(marathon_server.url),
                "chronos": {"url": chronos.url},
                "mesos": {
                    "apps": {
                        "test-server": {
                            "template": str(TEST_SERVER_TEMPLATE),
                            "environments": {"staging": {"instances": 2}},
                        }
                    },
                    "deploy_jobs": {
                        "salt_call": salt_call_command,
                        "apps": {
                            "test-server": {
                                "template": BRANCH_FILE,
                                "environments": {"staging": {}},
                            }
                        },
                    },
                },
            }
        )
        applied = salt_call.run("state.apply", "mesos.deploy_jobs")
        assert applied.returncode == 0, applied
        # The job runs on an "agent" with the S3 endpoint in its environment.
        job = requests.get(f"{chronos.url}/scheduler/jobs", timeout=10).json()[0]
        job["environmentVariables"] = [{"name": "AWS_ENDPOINT_URL", "value": s3_store}]
        job["retries"] = 0
        posted = requests.post(f"{chronos.url}/scheduler/iso8601", json=job, timeout=10)
        assert posted.status_code == 204
        clicked = salt_call.run("chronos.run_job", "deploy-test-server-staging")
        assert clicked.returncode == 0, clicked
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not chronos.runs:
            time.sleep(0.2)
        assert chronos.runs == [("deploy-test-server-staging", "manual", True)]
    app = raw_app(marathon_server, STAGING_ID)
    assert_serving(marathon_server, STAGING_ID, app["version"], image(tag), 2)
