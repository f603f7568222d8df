#!/usr/bin/env python3
"""The CI step of the pipeline: fill ``$tag`` in an app's service.json and
publish the two service definitions to S3.

    tools/service_defs.py service.json --bucket build-artifacts --prefix test-server

writes ``s3://build-artifacts/test-server/service-<branch>.json`` (what
``marathon.deploy`` deploys) and
``s3://build-artifacts/test-server/service-<branch>-<commit>-<build>.json``
(the pinned build, for rolling back). Both hold the template with ``$tag``
set to ``<branch>-<commit>-<build>``, the image tag CI pushed; every other
placeholder (``$environment``, ``$instances``, ...) stays for deploy time.

Branch, commit and build come from ``--branch/--commit/--build`` or Drone's
``DRONE_BRANCH``, ``DRONE_COMMIT_SHA`` and ``DRONE_BUILD_NUMBER``; bucket,
prefix and ACL from ``--bucket/--prefix/--acl`` or ``SERVICE_DEFS_BUCKET``,
``SERVICE_DEFS_PREFIX`` and ``SERVICE_DEFS_ACL``. Credentials, region and
endpoint follow boto3's usual chain (``AWS_ACCESS_KEY_ID``, ...,
``AWS_ENDPOINT_URL``); ``--endpoint-url`` overrides the endpoint.

Everything is checked before anything is written: the variables, the
template (JSON once every placeholder has a value, an ``id``, a ``$tag``)
and the bucket. The pinned file is written first, so the branch file never
names a build that is not there; if the branch file cannot be written, the
pinned one is removed again. Exit codes: 0 published, 2 bad arguments or
missing CI variables, 3 invalid template, 4 S3 refused or unreachable.
"""

import argparse
import contextlib
import importlib.util
import json
import os
import pathlib
import re
import sys

SERVICEDEF_PATH = pathlib.Path(__file__).resolve().parent.parent / "_utils" / "servicedef.py"
ACLS = (
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
)
# Docker image tags: the branch part of a tag must fit them, so '/' etc. become '-'.
TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
COMMIT = re.compile(r"[0-9a-f]{7,40}")
BUILD = re.compile(r"[0-9]+")
PREFIX = re.compile(r"[A-Za-z0-9!_.*'()/-]*")
EXIT_USAGE, EXIT_TEMPLATE, EXIT_S3 = 2, 3, 4


class PublishError(Exception):
    def __init__(self, message, exit_code):
        super().__init__(message)
        self.exit_code = exit_code


def load_servicedef():
    """``_utils/servicedef.py``, the one implementation of the template rules."""
    spec = importlib.util.spec_from_file_location("servicedef", SERVICEDEF_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_arguments(argv, environ):
    parser = argparse.ArgumentParser(
        prog="service_defs.py", description=__doc__.split("\n\n")[0].strip()
    )
    parser.add_argument("template", help="the app's service.json template")
    parser.add_argument("--branch", default=environ.get("DRONE_BRANCH"))
    parser.add_argument("--commit", default=environ.get("DRONE_COMMIT_SHA"))
    parser.add_argument("--build", default=environ.get("DRONE_BUILD_NUMBER"))
    parser.add_argument("--bucket", default=environ.get("SERVICE_DEFS_BUCKET"))
    parser.add_argument("--prefix", default=environ.get("SERVICE_DEFS_PREFIX", ""))
    parser.add_argument("--acl", default=environ.get("SERVICE_DEFS_ACL") or None)
    parser.add_argument("--endpoint-url", default=None, help="S3-compatible endpoint")
    parser.add_argument("--output-dir", help="also write both files here")
    parser.add_argument(
        "--no-publish", action="store_true", help="check and write --output-dir only"
    )
    return parser.parse_args(argv)


def build_identity(args):
    """(branch part of names, commit, build); every missing or bad value named at once."""
    problems = []
    for value, flag, variable in (
        (args.branch, "--branch", "DRONE_BRANCH"),
        (args.commit, "--commit", "DRONE_COMMIT_SHA"),
        (args.build, "--build", "DRONE_BUILD_NUMBER"),
    ):
        if not value:
            problems.append(f"no {flag[2:]}: pass {flag} or set {variable}")
    if args.commit and not COMMIT.fullmatch(args.commit):
        problems.append(f"commit {args.commit!r} is not a hex commit id (7 to 40 digits)")
    if args.build and not BUILD.fullmatch(args.build):
        problems.append(f"build {args.build!r} is not a build number")
    if not args.no_publish and not args.bucket:
        problems.append("no bucket: pass --bucket or set SERVICE_DEFS_BUCKET")
    if not PREFIX.fullmatch(args.prefix or ""):
        problems.append(f"prefix {args.prefix!r} has characters unsafe in an S3 key")
    if args.acl is not None and args.acl not in ACLS:
        problems.append(f"ACL {args.acl!r} is not one of {', '.join(ACLS)}")
    if problems:
        raise PublishError("; ".join(problems), EXIT_USAGE)
    branch = TAG_UNSAFE.sub("-", args.branch).strip(".-") or "branch"
    return branch, args.commit, args.build


def fill_tag(servicedef, text, tag, source):
    """The template with ``$tag`` filled, checked to become JSON at deploy time."""
    if "tag" not in servicedef.placeholder_names(text):
        raise PublishError(f"{source}: no $tag placeholder; the image tag would never change", 3)
    filled = servicedef.substitute(text, {"tag": tag}, strict=False, source=source)
    probe = {name: 1 for name in servicedef.placeholder_names(filled)}
    try:
        definition = servicedef.render(filled, probe, source=source)
    except ValueError as error:
        raise PublishError(str(error), EXIT_TEMPLATE) from None
    if not isinstance(definition, dict) or not definition.get("id"):
        raise PublishError(f"{source}: not a Marathon app definition with an 'id'", EXIT_TEMPLATE)
    return filled


def object_key(prefix, name):
    return f"{prefix.strip('/')}/{name}" if prefix.strip("/") else name


class Publisher:
    """Writes both files to one bucket, or neither."""

    def __init__(self, bucket, acl, endpoint_url):
        import boto3
        import botocore.config
        import botocore.exceptions

        self.errors = botocore.exceptions
        self.bucket = bucket
        self.acl = acl
        config = botocore.config.Config(
            connect_timeout=10, read_timeout=30, retries={"max_attempts": 3}
        )
        try:
            self.s3 = boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)
        except (ValueError, self.errors.BotoCoreError) as error:
            raise PublishError(f"cannot set up S3: {error}", EXIT_S3) from None

    def check_bucket(self):
        self.call("reach the bucket", self.s3.head_bucket, Bucket=self.bucket)

    def put(self, key, body):
        extra = {"ACL": self.acl} if self.acl else {}
        self.call(
            f"write {key}",
            self.s3.put_object,
            Bucket=self.bucket,
            Key=key,
            Body=body.encode("utf-8"),
            ContentType="application/json",
            **extra,
        )

    def delete(self, key):
        self.call(f"remove {key}", self.s3.delete_object, Bucket=self.bucket, Key=key)

    def call(self, what, function, **arguments):
        try:
            return function(**arguments)
        except self.errors.ClientError as error:
            code = error.response.get("Error", {}).get("Code") or "error"
            reason = {
                "404": "the bucket does not exist",
                "NoSuchBucket": "the bucket does not exist",
                "403": "access denied: check the S3 credentials and the bucket policy",
                "AccessDenied": "access denied: check the S3 credentials and the bucket policy",
                "InvalidAccessKeyId": "the access key is not known to S3",
                "SignatureDoesNotMatch": "the secret key does not match the access key",
            }.get(code, code)
            raise PublishError(
                f"S3 bucket {self.bucket}: cannot {what}: {reason}", EXIT_S3
            ) from None
        except self.errors.NoCredentialsError:
            raise PublishError(
                "S3: no credentials (set AWS_ACCESS_KEY_ID/SECRET)", EXIT_S3
            ) from None
        except self.errors.BotoCoreError as error:
            raise PublishError(
                f"S3 bucket {self.bucket}: cannot {what}: {type(error).__name__}", EXIT_S3
            ) from None

    def publish(self, files):
        """``files`` is [(key, text)], pinned first; undo the earlier ones if a later fails."""
        written = []
        try:
            for key, text in files:
                self.put(key, text)
                written.append(key)
        except PublishError:
            for key in written:
                # The first error is the one to report.
                with contextlib.suppress(PublishError):
                    self.delete(key)
            raise


def run(argv=None, environ=None):
    args = parse_arguments(argv, os.environ if environ is None else environ)
    branch, commit, build = build_identity(args)
    tag = f"{branch}-{commit}-{build}"
    try:
        text = pathlib.Path(args.template).read_text(encoding="utf-8")
    except OSError as error:
        raise PublishError(
            f"cannot read template {args.template}: {error.strerror}", EXIT_USAGE
        ) from None
    filled = fill_tag(load_servicedef(), text, tag, args.template)
    names = [f"service-{tag}.json", f"service-{branch}.json"]
    if args.output_dir:
        out = pathlib.Path(args.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name in names:
            (out / name).write_text(filled, encoding="utf-8")
    keys = [object_key(args.prefix or "", name) for name in names]
    if not args.no_publish:
        publisher = Publisher(args.bucket, args.acl, args.endpoint_url)
        publisher.check_bucket()
        publisher.publish([(key, filled) for key in keys])
    return {"tag": tag, "files": [f"s3://{args.bucket}/{key}" for key in keys]}


def main(argv=None):
    try:
        result = run(argv)
    except PublishError as failure:
        print(f"service_defs: {failure}", file=sys.stderr)
        return failure.exit_code
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
