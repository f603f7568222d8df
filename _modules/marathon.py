"""Deploy and manage apps on Marathon (REST API v2).

Runs on any minion and in ``salt-call --local``. Connection settings are
read with ``config.get`` (minion config, grains or pillar); keyword
arguments of the same name override them per call:

- ``marathon:urls``: every Marathon master, tried in turn (a string works too)
- ``marathon:username`` / ``marathon:password``: HTTP basic auth
- ``marathon:token``: a DC/OS-style token (``Authorization: token=...``)
- ``marathon:verify``: TLS verification, true (default), false or a CA bundle
- ``marathon:request_timeout``: seconds per HTTP request (default 10)
- ``marathon:poll_interval``: seconds between deployment polls (default 1)
- ``marathon:max_task_failures``: failed launches of a new version after
  which a deploy stops and rolls back (default 3; 0 waits for the timeout)
- ``marathon:max_instances``: the largest instance count a definition may
  ask for (default 1000); a larger one is refused before any request
- ``marathon:s3_endpoint_url``: S3-compatible endpoint for ``s3://`` templates
- ``marathon:template_timeout``: seconds for a whole template fetch (default 30)
- ``marathon:template_max_bytes``: largest template read (default 1 MiB)

Functions raise ``CommandExecutionError`` when Marathon fails or refuses, and
``SaltInvocationError`` for bad arguments; none returns an error dict.
"""

import logging
import time
import urllib.parse

from salt.exceptions import CommandExecutionError, SaltInvocationError

log = logging.getLogger(__name__)

__virtualname__ = "marathon"

DEFAULT_TIMEOUT = 300
DEFAULT_MAX_TASK_FAILURES = 3
DEFAULT_MAX_INSTANCES = 1000
CONNECTION_SETTINGS = (
    "urls",
    "username",
    "password",
    "token",
    "verify",
    "request_timeout",
    "poll_interval",
)
# Settings that may also be given per call (besides the connection).
CALL_SETTINGS = ("url", "s3_endpoint_url", "max_task_failures", "max_instances")


# Every template fetch ends: one deadline for all of it, and a size limit.
TEMPLATE_SETTINGS = ("template_timeout", "template_max_bytes")
TEMPLATE_TIMEOUT = 30
TEMPLATE_MAX_BYTES = 1024 * 1024


def __virtual__():  # noqa: N807 - the name Salt's loader calls
    return __virtualname__


# -- reading --------------------------------------------------------------


def ping(**connection):
    """
    Return True when a Marathon master answers ``/ping``.

    CLI Example:

    .. code-block:: bash

        salt-call marathon.ping
    """
    _client(connection).ping()
    return True


def info(**connection):
    """
    Return Marathon's ``/v2/info`` (name, version, leader, configuration).

    CLI Example:

    .. code-block:: bash

        salt-call marathon.info
        salt-call marathon.info urls='["http://10.0.0.1:8080"]'
    """
    return _client(connection).info()


def apps(**connection):
    """
    Return the ids of every app Marathon runs.

    CLI Example:

    .. code-block:: bash

        salt-call marathon.apps
    """
    return sorted(app["id"] for app in _client(connection).list_apps())


def has_app(id, **connection):
    """
    Return True if the app ``id`` exists.

    CLI Example:

    .. code-block:: bash

        salt-call marathon.has_app /app/production/test-server
    """
    return _client(connection).find_app(_app_id(id)) is not None


def app(id, **connection):
    """
    Return the app ``id`` as Marathon stores it (with tasks and counts).

    CLI Example:

    .. code-block:: bash

        salt-call marathon.app /app/production/test-server
    """
    return _client(connection).get_app(_app_id(id))


def versions(id, **connection):
    """
    Return the stored versions of app ``id``, newest first.

    CLI Example:

    .. code-block:: bash

        salt-call marathon.versions /app/production/test-server
    """
    return _client(connection).app_versions(_app_id(id))


def deployments(**connection):
    """
    Return the running deployments (id, affectedApps, currentStep/totalSteps, ...).

    CLI Example:

    .. code-block:: bash

        salt-call marathon.deployments
    """
    return _client(connection).list_deployments()


def app_changes(definition, **connection):
    """
    Compare ``definition`` with what Marathon stores, with one GET.

    Returns ``{"id", "exists", "changes", "unsettled"}`` where changes maps
    dotted field paths to ``{"old", "new"}``; understands Marathon's
    normalisation (see ``_utils/marathon_definition.py``). ``unsettled`` says
    why an app with the declared fields is not yet as declared (a deployment
    in progress, fewer healthy tasks than instances), else None.

    CLI Example:

    .. code-block:: bash

        salt-call marathon.app_changes '{"id": "/app/staging/web", "instances": 2}'
    """
    definition = _checked_definition(definition, max_instances=_max_instances(connection))
    app_id = definition["id"]
    stored = _client(connection).find_app(app_id)
    changes = __utils__["marathon_definition.differences"](definition, stored)
    return {
        "id": app_id,
        "exists": stored is not None,
        "changes": changes,
        "unsettled": __utils__["marathon_rollout.unsettled"](stored),
    }


def check_apps_pillar(apps):
    """
    Check pillar ``mesos:apps`` as ``mesos.apps`` reads it; return True.

    Raises ``SaltInvocationError`` naming the key of the first problem: a
    ``tag`` that is not text (``tag: 1.10`` is the number 1.1 to YAML), an
    ``instances`` that is not a positive integer, ``values`` that are not a
    mapping. ``mesos.apps`` calls it while it renders, before any request.

    CLI Example:

    .. code-block:: bash

        salt-call marathon.check_apps_pillar '{"web": {"tag": "1.10", "template": "salt://web.json"}}'
    """
    return _check("apps_pillar", apps)


# -- changing -------------------------------------------------------------


def update_app(
    id,
    config,
    force=False,
    wait=True,
    timeout=DEFAULT_TIMEOUT,
    rollback=True,
    **connection,
):
    """
    Create or update app ``id`` with the definition ``config`` (one PUT).

    With ``wait`` (default) it waits up to ``timeout`` seconds for the
    deployment, logging progress; when it does not finish and ``rollback``
    is on (default), the deployment is reverted (a new app is removed) and
    the error says what serves now. A 409 "locked" first waits up to
    ``timeout`` for the running deployment to end, then fails naming it;
    ``force=True`` overrides it instead. A rollback gets ``timeout`` again.
    Deployments already running on the app are waited for before the PUT;
    ``max_task_failures`` failed launches of the new version (default 3)
    stop the wait and roll back; a finished deployment with fewer healthy
    tasks than instances is an error.

    Returns ``{"app", "deploymentId", "version", "previousVersion",
    "created", "finished", "instances": {requested, running, healthy, ...}}``.

    CLI Example:

    .. code-block:: bash

        salt-call marathon.update_app /app/staging/web '{"cmd": "sleep 100", "instances": 2}'
        salt-call marathon.update_app /app/staging/web '{"instances": 3}' timeout=60
    """
    app_id = _app_id(id)
    definition = _checked_definition(config, app_id, max_instances=_max_instances(connection))
    options = _rollout_options(force, wait, timeout, rollback, connection)
    client = _client(connection)
    return __utils__["marathon_rollout.apply_definition"](
        client, _errors(), app_id, definition, options
    )


def rm_app(id, force=False, wait=True, timeout=DEFAULT_TIMEOUT, **connection):
    """
    Remove app ``id`` and (by default) wait until its tasks are gone.

    ``force=True`` removes it even while a deployment locks it.

    CLI Example:

    .. code-block:: bash

        salt-call marathon.rm_app /app/staging/web
    """
    app_id = _app_id(id)
    client = _client(connection)
    answer = client.delete_app(app_id, force=_check("flag", force, "force"))
    return _finish(client, app_id, answer, wait, timeout, connection)


def restart_app(id, force=False, wait=True, timeout=DEFAULT_TIMEOUT, **connection):
    """
    Restart every task of app ``id`` as a rolling upgrade and (by default) wait.

    CLI Example:

    .. code-block:: bash

        salt-call marathon.restart_app /app/production/test-server
    """
    app_id = _app_id(id)
    client = _client(connection)
    answer = client.restart_app(app_id, force=_check("flag", force, "force"))
    return _finish(client, app_id, answer, wait, timeout, connection)


def rollback(id, version=None, force=False, wait=True, timeout=DEFAULT_TIMEOUT, **connection):
    """
    Deploy a stored version of app ``id`` again (default: the one before the current).

    CLI Example:

    .. code-block:: bash

        salt-call marathon.rollback /app/production/test-server
        salt-call marathon.rollback /app/production/test-server version=2026-11-25T10:00:00.000Z
    """
    app_id = _app_id(id)
    client = _client(connection)
    if version is None:
        version = _version_before_current(client, app_id)
    answer = client.put_app(app_id, {"version": str(version)}, force=_check("flag", force, "force"))
    return _finish(client, app_id, answer, wait, timeout, connection)


def render_template(
    template, environment, instances=1, tag=None, values=None, saltenv="base", **options
):
    """
    Fetch a service template and substitute its placeholders; return the definition.

    ``template`` is ``salt://...``, a local path, ``http(s)://...`` or
    ``s3://bucket/key``. ``$environment`` and ``$instances`` come from the
    arguments, ``$tag`` from ``tag`` (usually filled at build time already),
    any other ``$name`` from ``values`` (a dict).

    CLI Example:

    .. code-block:: bash

        salt-call marathon.render_template salt://mesos/services/test-server.json staging 2 tag=v1
    """
    _reject_unknown_arguments(options)
    if values is not None and not isinstance(values, dict):
        raise SaltInvocationError(
            f"values must be a mapping of placeholder names to values, not {values!r}"
        )
    placeholders = dict(values or {})
    placeholders["environment"] = _check("environment", environment)
    placeholders["instances"] = _check("positive_int", instances, "instances")
    if tag is not None:
        placeholders["tag"] = _check("exact_text", tag, "tag")
    text = _read_template(template, saltenv, options)
    servicedef = {name: __utils__[f"servicedef.{name}"] for name in ("render", "inexact_values")}
    try:
        # $instances is ours (checked above); every other value must be text where
        # the template quotes it, or YAML may already have changed it (1.10 -> 1.1).
        source = __utils__["template_fetch.redact"](template)
        servicedef["inexact_values"](text, placeholders, ignore=("instances",), source=source)
        definition = servicedef["render"](text, placeholders, source=source)
    except ValueError as exc:
        raise SaltInvocationError(str(exc)) from None
    return _checked_definition(definition, max_instances=_max_instances(options))


def deploy(
    template,
    environment,
    instances=1,
    tag=None,
    values=None,
    timeout=DEFAULT_TIMEOUT,
    rollback=True,
    force=False,
    saltenv="base",
    **connection,
):
    """
    Deploy a service template to an environment: the article's marathon-deploy.sh.

    Fetches ``template`` (``salt://``, local path, ``http(s)://``, ``s3://``),
    fills ``$environment``, ``$instances`` (default 1), ``$tag`` (if given)
    and ``values``, PUTs the definition, waits up to ``timeout`` seconds for
    the deployment (logging step i/n, healthy x/y) and rolls it back when it
    does not finish (``rollback=False`` leaves it running). A new app that
    fails is removed. See ``update_app`` for the result and for ``force``.

    ``tag`` and values placed inside JSON strings must arrive as text:
    salt-call reads ``tag=1.10`` as the number 1.1, so write ``tag='"1.10"'``
    (anything else is refused before any request).

    CLI Example:

    .. code-block:: bash

        salt-call marathon.deploy s3://build-artifacts/test-server/service-master.json staging
        salt-call marathon.deploy salt://mesos/services/test-server.json production 4 tag=v42
        salt-call marathon.deploy https://artifacts.local/test-server.json production 4 timeout=600
    """
    definition = render_template(
        template, environment, instances, tag=tag, values=values, saltenv=saltenv, **connection
    )
    return update_app(
        definition["id"],
        definition,
        force=force,
        wait=True,
        timeout=timeout,
        rollback=rollback,
        **connection,
    )


# -- helpers --------------------------------------------------------------


def _client(connection):
    _reject_unknown_arguments(connection)
    settings = {name: _setting(name, connection) for name in CONNECTION_SETTINGS}
    urls = _urls(connection)
    verify = settings["verify"]
    if isinstance(verify, str) and verify.lower() in ("true", "false"):
        verify = _check("flag", verify, "verify")
    return __utils__["marathon_client.connect"](
        urls,
        username=settings["username"],
        password=settings["password"],
        token=settings["token"],
        verify=True if verify is None else verify,
        timeout=_check("positive_seconds", settings["request_timeout"] or 10, "request_timeout"),
    )


def _urls(connection):
    """Per-call ``urls``/``url`` win over ``marathon:urls``/``marathon:url`` from config."""
    for name in ("urls", "url"):
        if connection.get(name) is not None:
            return connection[name]
    return _setting("urls", {}) or _setting("url", {})


def _reject_unknown_arguments(connection):
    # Salt adds __pub_* keys; anything else unknown is a typo worth an error.
    known = {*CONNECTION_SETTINGS, *CALL_SETTINGS, *TEMPLATE_SETTINGS}
    unknown = sorted(key for key in connection if not key.startswith("__") and key not in known)
    if unknown:
        raise SaltInvocationError(f"unknown argument(s): {', '.join(unknown)}")


def _setting(name, connection):
    """A per-call argument, else ``marathon:<name>`` from config.get; None when unset."""
    if connection.get(name) is not None:
        return connection[name]
    # config.get answers "" for a missing key; an unset setting must stay None
    # (an empty `verify` would switch TLS verification off).
    value = __salt__["config.get"](f"marathon:{name}", default=None)
    return None if value == "" else value


def _errors():
    return __utils__["marathon_client.exception_types"]()


def _rollout_options(force, wait, timeout, rollback, connection):
    return {
        "force": _check("flag", force, "force"),
        "wait": _check("flag", wait, "wait"),
        "rollback": _check("flag", rollback, "rollback"),
        "timeout": _check("positive_seconds", timeout, "timeout"),
        "poll_interval": _check(
            "positive_seconds", _setting("poll_interval", connection) or 1, "poll_interval"
        ),
        "max_task_failures": _max_task_failures(connection),
    }


def _max_task_failures(connection):
    limit = _setting("max_task_failures", connection)
    if limit is None:
        return DEFAULT_MAX_TASK_FAILURES
    return _check("non_negative_int", limit, "max_task_failures")


def _finish(client, app_id, answer, wait, timeout, connection):
    """Wait (if asked) for the deployment a DELETE/restart/rollback started."""
    options = _rollout_options(False, wait, timeout, False, connection)
    result = {
        "app": app_id,
        "deploymentId": answer.get("deploymentId"),
        "version": answer.get("version"),
    }
    if not options["wait"]:
        return result
    rollout = {
        name: __utils__[f"marathon_rollout.{name}"]
        for name in ("wait_for_deployment", "failure_watch", "timeout_type")
    }
    deadline = time.monotonic() + options["timeout"]
    watch = rollout["failure_watch"](answer.get("version"), options["max_task_failures"])
    try:
        app_now = rollout["wait_for_deployment"](
            client, app_id, answer.get("deploymentId"), deadline, options["poll_interval"], watch
        )
    except rollout["timeout_type"]() as exc:
        raise CommandExecutionError(
            f"{app_id}: deployment {answer.get('deploymentId')} "
            f"{exc.reason(options['timeout'])} ({exc.progress})"
        ) from None
    if app_now is not None:
        result["instances"] = __utils__["marathon_rollout.instance_counts"](app_now)
    return result


def _version_before_current(client, app_id):
    current = client.get_app(app_id)["version"]
    older = [version for version in client.app_versions(app_id) if version != current]
    if not older:
        raise CommandExecutionError(f"{app_id} has no version before {current} to roll back to")
    return max(older)


def _app_id(app_id):
    if not isinstance(app_id, str) or not app_id.strip("/ "):
        raise SaltInvocationError(
            f"an app id is a non-empty string like /app/staging/web, not {app_id!r}"
        )
    canonical = __utils__["marathon_definition.canonical_id"](app_id)
    if any(part in (".", "..") for part in app_id.strip("/").split("/")):
        raise SaltInvocationError(f"app id {app_id!r} must not contain '.' or '..' segments")
    return canonical


def _checked_definition(definition, app_id=None, max_instances=DEFAULT_MAX_INSTANCES):
    """A definition dict with a canonical id; ``app_id`` (from the path) wins, as in Marathon.

    An instance count above ``max_instances`` is refused here, before any request.
    """
    definition = _check("definition_object", definition, __utils__["servicedef.parse_json"])
    if app_id is None:
        if not definition.get("id"):
            raise SaltInvocationError("the app definition has no 'id'")
        app_id = _app_id(definition["id"])
    definition["id"] = app_id
    _check("instances_within", definition.get("instances"), max_instances)
    return definition


def _max_instances(options):
    bound = _setting("max_instances", options)
    if bound is None:
        return DEFAULT_MAX_INSTANCES
    return _check("positive_int", bound, "max_instances")


def _read_template(template, saltenv, options):
    if not isinstance(template, str) or not template:
        raise SaltInvocationError("template must be a salt://, path, http(s):// or s3:// location")
    scheme = urllib.parse.urlsplit(template).scheme
    fetch = {name: __utils__[f"template_fetch.{name}"] for name in ("fetch_http", "fetch_s3")}
    limits = _template_limits(options)
    try:
        if scheme == "salt":
            path = _cache_salt_file(template, saltenv)
            return __utils__["template_fetch.read_local"](path, **limits)
        if scheme in ("http", "https"):
            verify = _setting("verify", options)
            verify = True if verify is None else verify
            return fetch["fetch_http"](template, verify=verify, **limits)
        if scheme == "s3":
            # None lets boto3 use AWS_ENDPOINT_URL(_S3) from the environment.
            endpoint = _setting("s3_endpoint_url", options)
            return fetch["fetch_s3"](template, endpoint_url=endpoint, **limits)
        if scheme in ("", "file"):
            path = urllib.parse.urlsplit(template).path if scheme else template
            return __utils__["template_fetch.read_local"](path, **limits)
    except (FileNotFoundError, ValueError) as exc:
        raise SaltInvocationError(str(exc)) from None
    except OSError as exc:
        raise CommandExecutionError(str(exc)) from None
    shown = __utils__["template_fetch.redact"](template)
    raise SaltInvocationError(f"template {shown}: unsupported scheme {scheme}://")


def _template_limits(options):
    """One deadline for the whole fetch, and a byte limit checked while reading."""
    limits = {"timeout": TEMPLATE_TIMEOUT, "max_bytes": TEMPLATE_MAX_BYTES}
    checks = {"timeout": "positive_seconds", "max_bytes": "positive_int"}
    for name, check in checks.items():
        value = _setting(f"template_{name}", options)
        if value is not None:
            limits[name] = _check(check, value, f"template_{name}")
    return limits


def _cache_salt_file(template, saltenv):
    path = __salt__["cp.cache_file"](template, saltenv=saltenv)
    if not path:
        raise FileNotFoundError(
            f"template {template} not found on the Salt fileserver (saltenv {saltenv})"
        )
    return path


def _check(name, *args):
    return __utils__[f"marathon_arguments.{name}"](*args)
