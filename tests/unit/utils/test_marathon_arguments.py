"""Argument checks of the marathon module: each bad value names itself."""

import re

import pytest
from salt.exceptions import SaltInvocationError

from tests.unit.utils.loaded import load_util

arguments = load_util("marathon_arguments")
servicedef = load_util("servicedef")


@pytest.mark.parametrize(("value", "expected"), [(1, 1), (4, 4), ("4", 4), (" 12 ", 12)])
def test_positive_int_accepts(value, expected):
    assert arguments.positive_int(value, "instances") == expected


@pytest.mark.parametrize("value", [0, -1, 1.5, "four", "", None, True, [4], "4.0"])
def test_positive_int_refuses_naming_the_value(value):
    with pytest.raises(
        SaltInvocationError, match=re.escape(f"instances must be a positive integer, not {value!r}")
    ):
        arguments.positive_int(value, "instances")


@pytest.mark.parametrize("value", ["production", "staging", "ab-test", "eu-west-1"])
def test_environment_accepts_id_segments(value):
    assert arguments.environment(value) == value


@pytest.mark.parametrize(
    "value", ["", "Production", "prod/x", "../x", "-x", None, 3, "eu.west", "prod_eu", "staging\n"]
)
def test_environment_refuses_what_would_break_an_app_id(value):
    with pytest.raises(SaltInvocationError, match="environment must be a lowercase name"):
        arguments.environment(value)


@pytest.mark.parametrize(("value", "expected"), [(True, True), ("false", False), ("TRUE", True)])
def test_flag(value, expected):
    assert arguments.flag(value, "wait") is expected


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_flag_refuses_other_values(value):
    with pytest.raises(SaltInvocationError, match="wait must be true or false"):
        arguments.flag(value, "wait")


@pytest.mark.parametrize("value", [0, -3, "soon", None, True])
def test_positive_seconds_refuses(value):
    with pytest.raises(SaltInvocationError, match="timeout must be a positive number of seconds"):
        arguments.positive_seconds(value, "timeout")


def test_definition_from_json_text_and_its_errors():
    assert arguments.definition_object('{"id": "/a"}', servicedef.parse_json) == {"id": "/a"}
    with pytest.raises(SaltInvocationError, match="invalid JSON at line 1 column 8"):
        arguments.definition_object('{"id": }', servicedef.parse_json)
    with pytest.raises(SaltInvocationError, match="not list"):
        arguments.definition_object([1], servicedef.parse_json)
    with pytest.raises(SaltInvocationError, match="must not contain 'version'"):
        arguments.definition_object({"version": "v"}, servicedef.parse_json)


@pytest.mark.parametrize("value", [1.1, 493, True, None])
def test_exact_text_refuses_what_yaml_changed_with_a_quoting_hint(value):
    with pytest.raises(SaltInvocationError) as caught:
        arguments.exact_text(value, "tag")
    assert f"tag arrived as the {type(value).__name__} {value!r}" in str(caught.value)
    assert """tag='"1.10"'""" in str(caught.value)
    assert arguments.exact_text("1.10", "tag") == "1.10"


def test_instances_within_the_bound():
    assert arguments.instances_within(1000, 1000) == 1000
    assert arguments.instances_within(None, 1000) is None
    with pytest.raises(SaltInvocationError, match="instances 1001 is above the limit of 1000"):
        arguments.instances_within(1001, 1000)


@pytest.mark.parametrize(
    ("apps", "key"),
    [
        ({"web": {"tag": 1.1}}, "mesos:apps:web:tag is the float 1.1"),
        ({"web": {"environments": {"prod": {"tag": 493}}}}, "environments:prod:tag is the int"),
        ({"web": {"environments": {"prod": {"tag": True}}}}, "prod:tag is the bool True"),
        ({"web": {"environments": {"prod": {"instances": "x"}}}}, "prod:instances must be"),
        ({"web": {"values": ["a"]}}, "mesos:apps:web:values must be a mapping"),
        ({"web": {"environments": {"prod": {"values": "a"}}}}, "prod:values must be a mapping"),
        ({"web": "x"}, "mesos:apps:web must be a mapping"),
    ],
)
def test_apps_pillar_names_the_key_of_the_problem(apps, key):
    with pytest.raises(SaltInvocationError) as caught:
        arguments.apps_pillar(apps)
    assert key in str(caught.value)


def test_apps_pillar_accepts_text_tags():
    apps = {"web": {"tag": "1.10", "environments": {"prod": {"tag": "2", "instances": 3}}}}
    assert arguments.apps_pillar(apps) is True
