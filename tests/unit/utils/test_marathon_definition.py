"""The declared-vs-stored comparison behind marathon_app.present's idempotence."""

import copy

from hypothesis import given
from hypothesis import strategies as st

from sandbox.marathon import appdef
from tests.unit.utils.loaded import load_util

marathon_definition = load_util("marathon_definition")
differences = marathon_definition.differences

DECLARED = {
    "id": "app/production/test-server/",
    "labels": {"version": "v1", "environment": "production"},
    "env": {"SERVICE_TAGS": "production,internal-listen-http-3000", "SERVICE_NAME": "test-server"},
    "cpus": 0.05,
    "mem": 64,
    "instances": 4,
    "args": ["node", "/app/server.js"],
    "container": {
        "type": "DOCKER",
        "docker": {
            "image": "registry.local/test-server:v1",
            "forcePullImage": True,
            "network": "BRIDGE",
            "portMappings": [{"containerPort": 3000}],
        },
    },
    "healthChecks": [
        {"protocol": "HTTP", "path": "/healthcheck", "gracePeriodSeconds": 2, "intervalSeconds": 10}
    ],
    "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.5},
}

# What Marathon 1.5 returns for DECLARED (written out by hand from its docs).
STORED = {
    "id": "/app/production/test-server",
    "labels": {"version": "v1", "environment": "production"},
    "env": {"SERVICE_TAGS": "production,internal-listen-http-3000", "SERVICE_NAME": "test-server"},
    "cpus": 0.05,
    "mem": 64.0,
    "disk": 0.0,
    "instances": 4,
    "args": ["node", "/app/server.js"],
    "backoffSeconds": 1,
    "constraints": [],
    "container": {
        "type": "DOCKER",
        "volumes": [],
        "docker": {
            "image": "registry.local/test-server:v1",
            "forcePullImage": True,
            "privileged": False,
            "parameters": [],
        },
        "portMappings": [
            {
                "containerPort": 3000,
                "hostPort": 0,
                "servicePort": 10000,
                "protocol": "tcp",
                "labels": {},
            }
        ],
    },
    "networks": [{"mode": "container/bridge"}],
    "healthChecks": [
        {
            "protocol": "HTTP",
            "path": "/healthcheck",
            "portIndex": 0,
            "gracePeriodSeconds": 2,
            "intervalSeconds": 10,
            "timeoutSeconds": 20,
            "maxConsecutiveFailures": 3,
            "delaySeconds": 15,
            "ignoreHttp1xx": False,
        }
    ],
    "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.5},
    "version": "2026-11-25T10:00:00.000Z",
    "versionInfo": {"lastScalingAt": "x", "lastConfigChangeAt": "x"},
    "tasksRunning": 4,
    "tasksHealthy": 4,
    "tasks": [],
    "deployments": [],
}


def test_normalised_equal_definition_has_no_differences():
    assert differences(DECLARED, STORED) == {}


def test_declared_definition_is_not_modified():
    declared = copy.deepcopy(DECLARED)
    differences(declared, STORED)
    assert declared == DECLARED


def test_new_app_reports_every_declared_field_as_new():
    changes = differences(DECLARED, None)
    assert changes["instances"] == {"old": None, "new": 4}
    assert changes["id"] == {"old": None, "new": "/app/production/test-server"}


def test_changed_leaf_is_reported_with_its_path():
    declared = copy.deepcopy(DECLARED)
    declared["container"]["docker"]["image"] = "registry.local/test-server:v2"
    declared["instances"] = 2
    assert differences(declared, STORED) == {
        "container.docker.image": {
            "old": "registry.local/test-server:v1",
            "new": "registry.local/test-server:v2",
        },
        "instances": {"old": 4, "new": 2},
    }


def test_removed_env_key_is_a_change_because_a_declared_map_replaces_the_stored_one():
    declared = copy.deepcopy(DECLARED)
    del declared["env"]["SERVICE_NAME"]
    assert differences(declared, STORED) == {
        "env.SERVICE_NAME": {"old": "test-server", "new": None}
    }


def test_omitted_nested_default_is_compared_with_that_default():
    declared = copy.deepcopy(DECLARED)
    del declared["upgradeStrategy"]["maximumOverCapacity"]
    assert differences(declared, STORED) == {
        "upgradeStrategy.maximumOverCapacity": {"old": 0.5, "new": 1}
    }


def test_omitted_top_level_field_is_kept_by_marathon_so_not_a_change():
    declared = copy.deepcopy(DECLARED)
    del declared["healthChecks"]
    assert differences(declared, STORED) == {}


def test_numbers_compare_by_value_but_booleans_do_not_equal_numbers():
    assert differences({"mem": 64, "cpus": 1}, {"mem": 64.0, "cpus": 1.0}) == {}
    assert differences({"requirePorts": 1}, {"requirePorts": True}) != {}


def test_empty_declaration_equals_missing_stored_field():
    assert differences({"constraints": [], "labels": {}}, {"id": "/x"}) == {}


def test_list_length_change_is_one_change():
    declared = {"args": ["a", "b"]}
    assert differences(declared, {"args": ["a"]}) == {"args": {"old": ["a"], "new": ["a", "b"]}}


def test_host_network_and_uris_convert_like_marathon():
    declared = {
        "container": {"type": "DOCKER", "docker": {"image": "i", "network": "HOST"}},
        "uris": ["http://x/y.tgz"],
        "ports": [0],
    }
    stored = {
        "container": {"type": "DOCKER", "docker": {"image": "i", "forcePullImage": False}},
        "networks": [{"mode": "host"}],
        "fetch": [{"uri": "http://x/y.tgz", "extract": True}],
        "portDefinitions": [{"port": 0, "protocol": "tcp"}],
    }
    assert differences(declared, stored) == {}


def test_canonical_id():
    assert marathon_definition.canonical_id("app/x/") == "/app/x"
    assert marathon_definition.canonical_id("//app//x") == "/app/x"


# Property: whatever Marathon makes of a definition (the stand-in's model of
# its conversions and defaults), comparing the definition with it finds nothing.
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
numbers = st.integers(min_value=1, max_value=512) | st.floats(min_value=0.01, max_value=64)
health_checks = st.fixed_dictionaries(
    {"protocol": st.sampled_from(["HTTP", "TCP"])},
    optional={
        "path": st.just("/healthcheck"),
        "gracePeriodSeconds": st.integers(1, 600),
        "intervalSeconds": st.integers(1, 60),
        "maxConsecutiveFailures": st.integers(0, 5),
    },
)
docker_containers = st.fixed_dictionaries(
    {
        "type": st.just("DOCKER"),
        "docker": st.fixed_dictionaries(
            {"image": st.just("registry.local/x:1"), "network": st.just("BRIDGE")},
            optional={
                "forcePullImage": st.booleans(),
                "portMappings": st.lists(
                    st.fixed_dictionaries({"containerPort": st.integers(1, 65535)}), max_size=2
                ),
            },
        ),
    }
)
definitions = st.fixed_dictionaries(
    {"id": st.just("app/x/"), "cmd": st.just("run")},
    optional={
        "instances": st.integers(0, 10),
        "cpus": numbers,
        "mem": numbers,
        "env": st.dictionaries(names.map(str.upper), names, max_size=3),
        "labels": st.dictionaries(names, names, max_size=3),
        "healthChecks": st.lists(health_checks, max_size=2),
        "upgradeStrategy": st.fixed_dictionaries(
            {}, optional={"minimumHealthCapacity": st.sampled_from([0, 0.5, 1])}
        ),
        "container": docker_containers,
    },
)


@given(definitions)
def test_what_marathon_stores_for_a_definition_has_no_differences(definition):
    stored = appdef.with_defaults(appdef.convert_deprecated({**definition, "id": "/app/x"}))
    assert differences(definition, stored) == {}


def test_a_port_left_to_marathon_equals_the_port_it_assigned():
    declared = {
        "id": "/web",
        "portDefinitions": [{"port": 0}],
        "container": {"portMappings": [{"containerPort": 80, "hostPort": 0, "servicePort": 0}]},
    }
    stored = {
        "id": "/web",
        "portDefinitions": [{"port": 10003, "protocol": "tcp"}],
        "container": {
            "portMappings": [{"containerPort": 80, "hostPort": 31007, "servicePort": 10004}]
        },
    }
    assert differences(declared, stored) == {}
    # The deprecated `ports` list converts to portDefinitions first.
    assert differences({"id": "/web", "ports": [0]}, stored) == {}


def test_a_fixed_port_or_a_zero_elsewhere_is_still_compared():
    stored = {"id": "/web", "portDefinitions": [{"port": 10003}], "instances": 2}
    assert differences({"id": "/web", "portDefinitions": [{"port": 10004}]}, stored) == {
        "portDefinitions[0].port": {"old": 10003, "new": 10004}
    }
    assert differences({"id": "/web", "instances": 0}, stored) == {
        "instances": {"old": 2, "new": 0}
    }


@given(st.lists(st.integers(1, 65535), min_size=1, max_size=4))
def test_ports_zero_match_any_assignment(assigned):
    declared = {"id": "/w", "portDefinitions": [{"port": 0} for _ in assigned]}
    stored = {"id": "/w", "portDefinitions": [{"port": port} for port in assigned]}
    assert differences(declared, stored) == {}
