"""The example Drone pipeline (tools/ci/app.drone.yml): current Drone syntax,
and its publish step, run as written, agrees with the image tags it pushes."""

import os
import re
import shlex
import subprocess
import sys

import boto3
import pytest
import requests
import yaml

from tests.functional import marathon_support as support

s3_store = support.s3_store
template_copy = support.template_copy
PIPELINE = support.REPO_ROOT / "tools" / "ci" / "app.drone.yml"
DRONE = {
    "DRONE_BRANCH": "feature/login",
    "DRONE_COMMIT_SHA": "ef5a154e25b268c611006d08a78a3ec0a451e7ed",
    "DRONE_BUILD_NUMBER": "57",
}


def drone_substitute(text, variables):
    """The two forms of Drone's substitution the example uses: ${V} and ${V//\\//-}."""

    def replace(match):
        value = variables[match["name"]]
        return value.replace("/", "-") if match["slash"] else value

    return re.sub(r"\$\{(?P<name>\w+)(?P<slash>//\\//-)?\}", replace, text)


@pytest.fixture
def pipeline():
    return yaml.safe_load(PIPELINE.read_text())


def step(pipeline, name):
    return next(item for item in pipeline["steps"] if item["name"] == name)


def test_current_drone_syntax(pipeline):
    assert (pipeline["kind"], pipeline["type"]) == ("pipeline", "docker")
    assert [item["name"] for item in pipeline["steps"]] == [
        "test",
        "image",
        "service-definitions",
    ]
    for item in pipeline["steps"]:
        assert item["image"]
        assert "commands" in item or "settings" in item
    tags = [drone_substitute(tag, DRONE) for tag in step(pipeline, "image")["settings"]["tags"]]
    assert tags == ["latest", "feature-login", f"feature-login-{DRONE['DRONE_COMMIT_SHA']}-57"]


def test_publish_step_as_written_matches_the_pushed_image(pipeline, s3_store, template_copy):
    requests.post(f"{s3_store}/moto-api/reset", timeout=10).raise_for_status()
    boto3.client("s3", endpoint_url=s3_store).create_bucket(Bucket="build-artifacts")
    publish = step(pipeline, "service-definitions")
    environment = {
        name: value for name, value in publish["environment"].items() if isinstance(value, str)
    }
    command = shlex.split(publish["commands"][-1])
    # The step's checkout of this repository is this checkout; its python3 is ours.
    command = [sys.executable, str(support.REPO_ROOT / "tools" / "service_defs.py"), *command[2:]]
    done = subprocess.run(
        command,
        cwd=template_copy.parent,
        env={**os.environ, **environment, **DRONE, "AWS_ENDPOINT_URL": s3_store},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    pushed = drone_substitute(step(pipeline, "image")["settings"]["tags"][2], DRONE)
    s3 = boto3.client("s3", endpoint_url=s3_store)
    body = s3.get_object(Bucket="build-artifacts", Key=f"test-server/service-{pushed}.json")
    assert f'"image": "registry.local/test-server:{pushed}"' in body["Body"].read().decode()
    assert s3.head_object(Bucket="build-artifacts", Key="test-server/service-feature-login.json")
