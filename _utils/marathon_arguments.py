"""Argument checks shared by the ``marathon`` module's functions.

Each returns the normalised value or raises ``SaltInvocationError`` naming
the argument and what it got. The loader exposes them as
``marathon_arguments.<function>``.
"""

import pathlib
import runpy

from salt.exceptions import SaltInvocationError

# What salt-call's argument parsing and pillar's YAML do to a value written as text.
YAML_CHANGES = (
    "YAML (salt-call arguments, pillar) reads 1.10 as 1.1, 0755 as 755, 0x1F as 31 and yes as True"
)
# The platform's environment name rule, shared with mesos.config and
# mesos.loadbalancer (the file beside this one).
NAMES = runpy.run_path(str(pathlib.Path(__file__).with_name("mesos_names.py")))


def environment(value):
    """A lowercase name usable as one segment of an app id."""
    if not NAMES["is_valid"]("environment", value):
        raise SaltInvocationError(
            "environment must be a lowercase name like 'production' (letters, digits, inner "
            f"'-'), not {value!r}"
        )
    return value


def positive_int(value, name):
    """An integer above zero; digit strings count, booleans and fractions do not."""
    number = value
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value)
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise SaltInvocationError(f"{name} must be a positive integer, not {value!r}")
    return number


def exact_text(value, name):
    """A value that must arrive as the text the user wrote (a tag, a quoted placeholder).

    ``salt-call`` reads ``key=value`` arguments as YAML, and so does pillar:
    ``1.10`` arrives as the float 1.1, ``0755`` as 755, ``yes`` as True. The
    original text is gone by then, so anything but a string is refused.
    """
    if isinstance(value, str):
        return value
    raise SaltInvocationError(
        f"{name} arrived as the {type(value).__name__} {value!r}, not as text: {YAML_CHANGES}. "
        f"Quote it, for example on the command line {name}='\"1.10\"', in pillar or a state "
        f"{name}: '1.10'"
    )


def instances_within(value, bound):
    """Refuse an instance count above ``bound`` (a typo must not start a million tasks)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > bound:
        raise SaltInvocationError(
            f"instances {value:g} is above the limit of {bound} (marathon:max_instances); "
            "raise the limit if you really mean it"
        )
    return value


def non_negative_int(value, name):
    """An integer of zero or more; digit strings count, booleans do not."""
    if value == 0 and not isinstance(value, bool):
        return 0
    if isinstance(value, str) and value.strip() == "0":
        return 0
    return positive_int(value, name)


def positive_seconds(value, name):
    """A number of seconds above zero, as a float."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = None
    if isinstance(value, bool) or number is None or not number > 0:
        raise SaltInvocationError(f"{name} must be a positive number of seconds, not {value!r}")
    return number


def flag(value, name):
    """True/False, also from the strings "true"/"false" a command line gives."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise SaltInvocationError(f"{name} must be true or false, not {value!r}")


def definition_object(definition, parse_json):
    """A copy of an app definition given as a dict or JSON text (parsed with ``parse_json``)."""
    if isinstance(definition, str):
        try:
            definition = parse_json(definition, source="definition")
        except ValueError as exc:
            raise SaltInvocationError(str(exc)) from None
    if not isinstance(definition, dict):
        raise SaltInvocationError(
            f"an app definition is a JSON object, not {type(definition).__name__}"
        )
    if "version" in definition:
        raise SaltInvocationError(
            "an app definition must not contain 'version': Marathon reads it as "
            "'roll back to that version' (use marathon.rollback)"
        )
    return dict(definition)


def apps_pillar(apps):
    """Check what ``mesos.apps`` reads from pillar ``mesos:apps``; errors name the key.

    A ``tag`` must be text (``tag: 1.10`` would deploy ``1.1``), ``instances``
    a positive integer and ``values`` a mapping. Placeholder values inside a
    template's JSON strings are checked when the template is rendered.
    """
    if not isinstance(apps, dict):
        raise SaltInvocationError(f"mesos:apps must be a mapping of app names, not {apps!r}")
    for app_name, app in apps.items():
        key = f"mesos:apps:{app_name}"
        if not isinstance(app, dict):
            raise SaltInvocationError(f"{key} must be a mapping, not {app!r}")
        _app_deploy_settings(key, app)
        environments = app.get("environments") or {}
        if not isinstance(environments, dict):
            raise SaltInvocationError(f"{key}:environments must be a mapping")
        for environment_name, settings in environments.items():
            settings = settings or {}
            env_key = f"{key}:environments:{environment_name}"
            if not isinstance(settings, dict):
                raise SaltInvocationError(f"{env_key} must be a mapping, not {settings!r}")
            _app_deploy_settings(env_key, settings)
            if settings.get("instances") is not None:
                positive_int(settings["instances"], f"{env_key}:instances")
    return True


def _app_deploy_settings(key, settings):
    if settings.get("tag") is not None and not isinstance(settings["tag"], str):
        tag = settings["tag"]
        raise SaltInvocationError(
            f"{key}:tag is the {type(tag).__name__} {tag!r}, not text: {YAML_CHANGES}. "
            "Quote it in pillar, for example tag: '1.10'"
        )
    if settings.get("values") is not None and not isinstance(settings["values"], dict):
        raise SaltInvocationError(f"{key}:values must be a mapping of placeholder names")
