"""Argument checks shared by the ``marathon`` module's functions.

Each returns the normalised value or raises ``SaltInvocationError`` naming
the argument and what it got. The loader exposes them as
``marathon_arguments.<function>``.
"""

import pathlib
import runpy

from salt.exceptions import SaltInvocationError

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
