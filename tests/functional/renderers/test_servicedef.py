"""The servicedef renderer through Salt's render system (slsutil.renderer)."""

import pytest
from salt.exceptions import SaltRenderError

from tests.functional.marathon_support import build_loaders

TEMPLATE = "salt://mesos/services/test-server.json"


@pytest.fixture(scope="module")
def slsutil(tmp_path_factory):
    pillar = {"servicedef": {"values": {"environment": "staging"}}}
    loaders = build_loaders(tmp_path_factory.mktemp("servicedef-loaders"), pillar)
    yield loaders.modules.slsutil
    loaders.reset_state()


def test_renders_a_service_template_with_keyword_values(slsutil):
    definition = slsutil.renderer(
        path=TEMPLATE,
        default_renderer="servicedef",
        tag="v7",
        environment="production",
        instances=3,
    )
    assert definition["id"] == "/app/production/test-server"
    assert definition["instances"] == 3
    assert definition["container"]["docker"]["image"] == "registry.local/test-server:v7"


def test_pillar_values_fill_what_keywords_do_not(slsutil):
    definition = slsutil.renderer(
        path=TEMPLATE, default_renderer="servicedef", tag="v7", instances=1
    )
    assert definition["id"] == "/app/staging/test-server"


def test_context_dict_is_a_source_too(slsutil):
    definition = slsutil.renderer(
        string='{"a": "$environment", "b": $count}',
        default_renderer="servicedef",
        context={"count": 2},
    )
    assert definition == {"a": "staging", "b": 2}


def test_partial_argument_is_the_build_stage(slsutil):
    built = slsutil.renderer(path=TEMPLATE, default_renderer="servicedef partial", tag="v7")
    assert isinstance(built, str)
    assert "registry.local/test-server:v7" in built
    assert '"instances": $instances' in built
    # The pillar's environment is a value too, so the build stage fills it.
    assert "$environment" not in built


def test_shebang_selects_the_renderer(slsutil):
    text = '#!servicedef\n{"n": $instances}\n'
    assert slsutil.renderer(string=text, instances=5) == {"n": 5}
    with pytest.raises(SaltRenderError, match=r"\$missing \(line 3\)"):
        slsutil.renderer(string='#!servicedef\n{"n":\n $missing}\n')


def test_unfilled_placeholder_is_a_render_error_naming_it(slsutil):
    with pytest.raises(SaltRenderError, match=r"\$tag \(line 4\)"):
        slsutil.renderer(path=TEMPLATE, default_renderer="servicedef", instances=1)


def test_invalid_json_is_a_render_error_with_line_and_column(slsutil):
    with pytest.raises(SaltRenderError, match="invalid JSON at line 2 column 1"):
        slsutil.renderer(string='{"a": 1,\n}', default_renderer="servicedef")
