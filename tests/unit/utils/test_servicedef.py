"""The $placeholder substitution shared by the renderer, marathon.deploy and CI."""

import json
import pathlib
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.utils.loaded import UTILS_DIR, load_util

servicedef = load_util("servicedef")

TEST_SERVER = pathlib.Path(__file__).resolve().parents[3] / "salt/mesos/services/test-server.json"
TAG = "master-ef5a154e25b268c611006d08a78a3ec0a451e7ed-56"


def test_article_template_renders_to_the_article_definition():
    definition = servicedef.render(
        TEST_SERVER.read_text(), {"tag": TAG, "environment": "production", "instances": 4}
    )
    assert definition["id"] == "/app/production/test-server"
    assert definition["instances"] == 4
    assert definition["labels"] == {"version": TAG, "environment": "production"}
    assert definition["env"]["SERVICE_TAGS"] == "production,internal-listen-http-3000"
    assert definition["container"]["docker"]["image"] == f"registry.local/test-server:{TAG}"
    assert definition["args"][3] == "app/production/test-server"


def test_bare_placeholder_takes_the_json_type_of_its_value():
    text = '{"a": $number, "b": $flag, "c": $name, "d": $items, "e": $nothing}'
    values = {"number": 4, "flag": True, "name": "x", "items": [1, "2"], "nothing": None}
    assert servicedef.render(text, values) == {
        "a": 4,
        "b": True,
        "c": "x",
        "d": [1, "2"],
        "e": None,
    }


def test_placeholder_inside_a_string_is_inserted_escaped():
    text = '{"cmd": "say $word", "n": "count=$count"}'
    rendered = servicedef.render(text, {"word": 'he said "hi"\n\\', "count": 3})
    assert rendered == {"cmd": 'say he said "hi"\n\\', "n": "count=3"}


def test_build_stage_fills_only_what_it_has_and_keeps_the_rest():
    built = servicedef.substitute(TEST_SERVER.read_text(), {"tag": TAG}, strict=False)
    assert "$tag" not in built
    assert TAG in built
    assert servicedef.placeholder_names(built) == ["environment", "instances"]
    # The built file is still a template: the deploy stage finishes it.
    definition = servicedef.render(built, {"environment": "staging", "instances": 1})
    assert definition["labels"]["version"] == TAG


def test_dollar_dollar_is_a_literal_dollar_and_survives_the_build_stage():
    text = '{"cmd": "echo $$HOME ${tag}x", "id": "$tag"}'
    built = servicedef.substitute(text, {}, strict=False)
    assert built == text
    assert servicedef.render(built, {"tag": "v1"}) == {"cmd": "echo $HOME v1x", "id": "v1"}


def test_escaped_quote_does_not_end_the_string():
    text = '{"a": "x\\" $v", "b": $v}'
    assert servicedef.render(text, {"v": 2}) == {"a": 'x" 2', "b": 2}


def test_unfilled_placeholder_is_named_with_its_line():
    text = '{\n  "id": "/app/$environment/x",\n  "instances": $instances\n}'
    with pytest.raises(servicedef.UnfilledPlaceholderError) as caught:
        servicedef.render(text, {"environment": "staging"}, source="svc.json")
    message = str(caught.value)
    assert "svc.json" in message
    assert "$instances (line 3)" in message
    assert "environment" not in message
    assert caught.value.unfilled == [("instances", 3)]


def test_invalid_json_names_line_and_column():
    text = '{\n  "instances": $instances,\n}'
    with pytest.raises(servicedef.InvalidJSONError) as caught:
        servicedef.render(text, {"instances": 2})
    assert (caught.value.line, caught.value.column) == (3, 1)
    assert "line 3 column 1" in str(caught.value)


def test_structured_value_inside_a_string_is_refused():
    with pytest.raises(servicedef.TemplateError, match=r"\$items sits inside a JSON string"):
        servicedef.render('{"a": "$items"}', {"items": [1]})


def test_find_placeholders_reports_position_and_context():
    found = servicedef.find_placeholders('{"a": "$x",\n "b": $y}')
    assert found == [("x", 1, 8, True), ("y", 2, 7, False)]


def test_plain_script_can_import_it_without_salt():
    # The CI generator imports this file without Salt on its path.
    script = (
        "import sys; sys.modules['salt'] = None; sys.path.insert(0, sys.argv[1]); "
        "import servicedef; print(servicedef.substitute('\"$tag\"', {'tag': 'v'}, strict=False))"
    )
    output = subprocess.run(
        [sys.executable, "-c", script, str(UTILS_DIR)], capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == '"v"'


@given(st.text())
def test_any_string_value_round_trips_inside_a_json_string(value):
    assert servicedef.render('{"v": "<$value>"}', {"value": value}) == {"v": f"<{value}>"}


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
        max_leaves=8,
    )
)
def test_any_json_value_round_trips_as_a_bare_value(value):
    assert servicedef.render('{"v": $value}', {"value": value}) == {"v": value}
    assert json.loads(servicedef.substitute("[$value]", {"value": value})) == [value]


@pytest.mark.parametrize("value", [1.1, 493, True, None, 0.5])
def test_a_non_text_value_inside_a_string_is_refused_naming_it_and_its_line(value):
    text = '{\n "image": "web:$tag",\n "cpus": $cpus}'
    with pytest.raises(servicedef.InexactValueError) as caught:
        servicedef.inexact_values(text, {"tag": value, "cpus": 0.5}, source="web.json")
    message = str(caught.value)
    assert message.startswith(f"web.json: $tag (line 2) is the {type(value).__name__} {value!r}")
    assert """name='"1.10"'""" in message


def test_values_outside_strings_ignored_names_and_text_pass():
    text = '{"image": "web:$tag", "instances": $instances, "label": "$instances"}'
    servicedef.inexact_values(text, {"tag": "1.10", "instances": 3}, ignore=("instances",))
    servicedef.inexact_values('{"cpus": $cpus}', {"cpus": 0.5})
