"""The CI step (tools/service_defs.py) run as CI runs it, against moto's S3 server."""

import json
import subprocess
import sys

import boto3
import pytest
import requests

from tests.functional import marathon_support as support

s3_store = support.s3_store
template_copy = support.template_copy
TOOL = support.REPO_ROOT / "tools" / "service_defs.py"
COMMIT = "ef5a154e25b268c611006d08a78a3ec0a451e7ed"
DRONE = {"DRONE_BRANCH": "master", "DRONE_COMMIT_SHA": COMMIT, "DRONE_BUILD_NUMBER": "56"}
BUCKET_SETTINGS = {"SERVICE_DEFS_BUCKET": "build-artifacts", "SERVICE_DEFS_PREFIX": "test-server"}


def run_tool(*args, env=None, drop=()):
    environ = {**_environ(), **(env or {})}
    for name in drop:
        environ.pop(name, None)
    return subprocess.run(
        [sys.executable, str(TOOL), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=environ,
    )


def _environ():
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("DRONE_", "SERVICE_DEFS_"))}


def keys(endpoint, bucket="build-artifacts"):
    s3 = boto3.client("s3", endpoint_url=endpoint)
    listing = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return sorted(item["Key"] for item in listing)


def read(endpoint, key, bucket="build-artifacts"):
    s3 = boto3.client("s3", endpoint_url=endpoint)
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()


@pytest.fixture
def empty_store(s3_store):
    """Bucket build-artifacts, empty (moto keeps its state per process: reset it)."""
    requests.post(f"{s3_store}/moto-api/reset", timeout=10).raise_for_status()
    boto3.client("s3", endpoint_url=s3_store).create_bucket(Bucket="build-artifacts")
    return s3_store


def test_publishes_both_files_from_drone_variables(empty_store, template_copy):
    env = {**DRONE, **BUCKET_SETTINGS, "SERVICE_DEFS_ACL": "public-read"}
    done = run_tool(template_copy, "--endpoint-url", empty_store, env=env)
    assert done.returncode == 0, done.stderr
    tag = f"master-{COMMIT}-56"
    pinned, branch = f"test-server/service-{tag}.json", "test-server/service-master.json"
    assert json.loads(done.stdout) == {
        "tag": tag,
        "files": [f"s3://build-artifacts/{pinned}", f"s3://build-artifacts/{branch}"],
    }
    assert keys(empty_store) == sorted([pinned, branch])
    text = read(empty_store, branch)
    assert text == read(empty_store, pinned)
    assert f'"image": "registry.local/test-server:{tag}"' in text
    assert '"instances": $instances' in text and '"id": "/app/$environment/test-server"' in text
    grants = boto3.client("s3", endpoint_url=empty_store).get_object_acl(
        Bucket="build-artifacts", Key=branch
    )["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("/AllUsers") for g in grants)


def test_arguments_win_over_variables_and_branch_names_become_tag_safe(
    empty_store, template_copy, tmp_path
):
    done = run_tool(
        template_copy,
        "--branch=feature/login",
        "--commit=abc1234",
        "--build=7",
        "--bucket=build-artifacts",
        "--prefix=web/",
        f"--endpoint-url={empty_store}",
        f"--output-dir={tmp_path / 'out'}",
        env=DRONE,
    )
    assert done.returncode == 0, done.stderr
    assert keys(empty_store) == [
        "web/service-feature-login-abc1234-7.json",
        "web/service-feature-login.json",
    ]
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [
        "service-feature-login-abc1234-7.json",
        "service-feature-login.json",
    ]


def test_missing_ci_variables_are_named_and_nothing_is_written(empty_store, template_copy):
    done = run_tool(template_copy, "--endpoint-url", empty_store, env=BUCKET_SETTINGS)
    assert done.returncode == 2
    for name in ("DRONE_BRANCH", "DRONE_COMMIT_SHA", "DRONE_BUILD_NUMBER"):
        assert name in done.stderr
    assert keys(empty_store) == []
    bad = run_tool(template_copy, "--build=x1", "--acl=everyone", env={**DRONE, **BUCKET_SETTINGS})
    assert bad.returncode == 2
    assert "build 'x1' is not a build number" in bad.stderr
    assert "ACL 'everyone'" in bad.stderr


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('{"id": "/app/x", "image": "r/x:$tag" "instances": $instances}', "invalid JSON at line 1"),
        ('{"id": "/app/x", "image": "r/x:latest"}', "no $tag placeholder"),
        ('["r/x:$tag"]', "not a Marathon app definition"),
    ],
)
def test_invalid_templates_fail_before_any_write(empty_store, tmp_path, template, expected):
    path = tmp_path / "service.json"
    path.write_text(template)
    done = run_tool(path, "--endpoint-url", empty_store, env={**DRONE, **BUCKET_SETTINGS})
    assert done.returncode == 3
    assert expected in done.stderr
    assert keys(empty_store) == []


def test_missing_bucket_is_named(empty_store, template_copy):
    env = {**DRONE, **BUCKET_SETTINGS, "SERVICE_DEFS_BUCKET": "no-such-bucket"}
    done = run_tool(template_copy, "--endpoint-url", empty_store, env=env)
    assert done.returncode == 4
    assert "S3 bucket no-such-bucket: cannot reach the bucket: the bucket does not exist" in (
        done.stderr
    )


def test_wrong_credentials_are_named_and_nothing_is_written(
    empty_store, template_copy, monkeypatch
):
    import moto.settings

    # From here on moto's server checks every request's credentials.
    monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    env = {
        **DRONE,
        **BUCKET_SETTINGS,
        "AWS_ACCESS_KEY_ID": "AKIAWRONG",
        "AWS_SECRET_ACCESS_KEY": "x",
    }
    done = run_tool(template_copy, "--endpoint-url", empty_store, env=env)
    monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", float("inf"))
    assert done.returncode == 4
    assert "S3 bucket build-artifacts: cannot" in done.stderr
    assert "AKIAWRONG" not in done.stderr
    assert keys(empty_store) == []
