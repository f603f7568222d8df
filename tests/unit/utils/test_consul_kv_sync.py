"""The KV rules and sync planning in _utils/consul_kv_sync.py (pure functions)."""

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from salt.exceptions import SaltInvocationError

from tests.unit.utils.loaded import load_util

rules = load_util("consul_kv_sync")


def entry(key, value, index=7):
    return {"Key": key, "Value": value.encode(), "ModifyIndex": index, "Flags": 0}


@pytest.mark.parametrize("key", ["app/staging/web/GREETING", "a", "a-b_c,d.e/f/"])
def test_valid_keys_pass(key):
    assert rules.validate_key(key) == key


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("/app/x", "must not begin with '/'"),
        ("app/../etc", "must not contain '..'"),
        ("app/x y", "may only hold"),
        ("app/ünï", "may only hold"),
        ("", "non-empty string"),
        (42, "non-empty string"),
    ],
)
def test_invalid_keys_name_the_problem(key, reason):
    with pytest.raises(SaltInvocationError, match=reason):
        rules.validate_key(key)


def test_prefix_becomes_a_directory():
    assert rules.normalize_prefix("app/a") == "app/a/"
    assert rules.normalize_prefix("app/a///") == "app/a/"
    for bad in ("", "/", None):
        with pytest.raises(SaltInvocationError, match="must name a directory"):
            rules.normalize_prefix(bad)


def test_strings_are_stored_exactly():
    value = "naïve \"quoted\" 'x' $HOME `id`\n"
    assert rules.encode_value(value, "k") == value.encode("utf-8")


@pytest.mark.parametrize("value", [{"a": 1}, [1, 2], 4, 1.10, True, None])
def test_non_strings_are_refused_without_json(value):
    with pytest.raises(SaltInvocationError, match=r"must be a string.*json=True"):
        rules.encode_value(value, "k")


def test_json_values_are_canonical():
    assert rules.encode_value({"b": 1, "a": [True]}, "k", as_json=True) == b'{"a":[true],"b":1}'


def test_values_over_512_kib_are_refused():
    assert len(rules.encode_value("x" * 512 * 1024, "k")) == 512 * 1024
    with pytest.raises(SaltInvocationError, match="524289 bytes, over"):
        rules.encode_value("x" * (512 * 1024 + 1), "k")


def test_plan_sync_writes_what_differs_and_prunes_only_with_prune():
    current = [entry("p/same", "1"), entry("p/old", "x", 9), entry("p/changed", "a", 11)]
    desired = {"p/same": b"1", "p/changed": b"b", "p/new": b"n"}
    changes = rules.plan_sync(current, desired, prune=True, prefix="p/")
    assert rules.describe(changes, "p/") == {
        "changed": {"old": "a", "new": "b"},
        "new": {"old": None, "new": "n"},
        "old": {"old": "x", "new": None},
    }
    assert {c.key: c.modify_index for c in changes} == {"p/changed": 11, "p/new": 0, "p/old": 9}
    kept = rules.plan_sync(current, desired, prune=False, prefix="p/")
    assert [c.key for c in kept] == ["p/changed", "p/new"]


def test_plan_sync_leaves_the_folder_marker_alone():
    assert rules.plan_sync([entry("p/", "")], {}, prune=True, prefix="p/") == []


def test_transaction_operations_are_check_and_set():
    write, delete = rules.Change("k", None, b"v"), rules.Change("d", b"x", None, 5)
    assert rules.transaction_operation(write)["KV"] == {
        "Verb": "cas",
        "Key": "k",
        "Value": base64.b64encode(b"v").decode(),
        "Index": 0,
    }
    assert rules.transaction_operation(delete)["KV"] == {
        "Verb": "delete-cas",
        "Key": "d",
        "Index": 5,
    }


def test_small_change_sets_are_one_transaction():
    changes = [rules.Change(f"k{n}", None, b"v") for n in range(64)]
    batches, singles = rules.plan_batches(changes)
    assert len(batches) == 1 and singles == []


def test_large_change_sets_split_writes_before_deletes():
    deletes = [rules.Change(f"d{n}", b"x", None, 3) for n in range(10)]
    writes = [rules.Change(f"w{n}", None, b"v") for n in range(100)]
    batches, singles = rules.plan_batches(deletes + writes)
    assert [len(batch) for batch in batches] == [64, 46]
    order = [change.key for batch in batches for change, _ in batch]
    assert order[:100] == [change.key for change in writes]
    assert singles == []


def test_values_too_large_for_a_transaction_go_alone():
    big = rules.Change("big", None, b"x" * (450 * 1024))
    small = rules.Change("small", None, b"v")
    batches, singles = rules.plan_batches([big, small])
    assert singles == [big]
    assert [[c.key for c, _ in batch] for batch in batches] == [["small"]]


keys = st.text(alphabet="abc/", min_size=1, max_size=6).filter(lambda k: not k.startswith("/"))
values = st.text(max_size=20)


@settings(max_examples=200, deadline=None)
@given(
    current=st.dictionaries(keys, values, max_size=12),
    desired=st.dictionaries(keys, values, max_size=12),
    prune=st.booleans(),
)
def test_applying_the_plan_gives_the_desired_tree_and_never_leaves_the_prefix(
    current, desired, prune
):
    prefix = "app/a/"
    # Neighbours that share the prefix's text but not its directory.
    outside = {"app/ab": "x", "app/a": "y", "app/abc/d": "z"}
    store = {**outside, **{prefix + k: v for k, v in current.items()}}
    under = [entry(key, value) for key, value in store.items() if key.startswith(prefix)]
    wanted = {prefix + k: v.encode() for k, v in desired.items()}
    changes = rules.plan_sync(under, wanted, prune=prune, prefix=prefix)
    batches, singles = rules.plan_batches(changes)
    for batch in batches:
        assert len(batch) <= 64
        assert len(json.dumps([operation for _, operation in batch])) <= 512 * 1024
    for change in [c for batch in batches for c, _ in batch] + singles:
        assert change.key.startswith(prefix)
        if change.new is None:
            del store[change.key]
        else:
            store[change.key] = change.new.decode()
    for key, value in outside.items():
        assert store[key] == value
    result = {k[len(prefix) :]: v for k, v in store.items() if k.startswith(prefix)}
    if prune:
        assert result == desired
    else:
        assert result == {**current, **desired}


APPS = {
    "test-server": {
        "config": {"GREETING": "hello world", "LOG_LEVEL": "info"},
        "environments": {
            "production": {"instances": 4},
            "staging": {"instances": 1, "config": {"LOG_LEVEL": "debug"}},
        },
    }
}


def test_app_config_trees_merge_shared_and_environment_config():
    trees = rules.app_config_trees(APPS, ["production", "staging"])
    assert trees == [
        {
            "environment": "production",
            "app": "test-server",
            "prefix": "app/production/test-server/",
            "values": {"GREETING": "hello world", "LOG_LEVEL": "info"},
            "secret_keys": [],
        },
        {
            "environment": "staging",
            "app": "test-server",
            "prefix": "app/staging/test-server/",
            "values": {"GREETING": "hello world", "LOG_LEVEL": "debug"},
            "secret_keys": [],
        },
    ]


@pytest.mark.parametrize(
    ("apps", "message"),
    [
        ({"web": {"config": {"A": "1"}}}, "app 'web' has no environments"),
        ({"web": {"environments": {}}}, "app 'web' has no environments"),
        ({"web": {"config": {"LOG-LEVEL": "x"}, "environments": {"staging": {}}}}, "'LOG-LEVEL'"),
        ({"web": {"environments": {"staging": {"config": {"1X": "x"}}}}}, "not a valid env"),
        ({"web": {"environments": {"staging": {"config": {"PORT": 80}}}}}, "PORT must be a string"),
        ({"web": {"environments": {"prodution": {}}}}, "not in mesos:environments"),
        ({"../x": {"environments": {"staging": {}}}}, "app name '../x'"),
        ({"web": {"environments": {"staging": "yes"}}}, "must be a mapping"),
        ({"web": {"secret_keys": "PW", "environments": {"staging": {}}}}, "secret_keys must"),
    ],
)
def test_app_config_problems_are_named(apps, message):
    with pytest.raises(SaltInvocationError, match=message):
        rules.app_config_trees(apps, ["production", "staging"])


def test_every_problem_is_reported_together():
    apps = {
        **APPS,
        "broken": {"config": {"BAD KEY": "x"}},
        "other": {"environments": {"staging": {"config": {"N": 1}}}},
    }
    with pytest.raises(SaltInvocationError) as raised:
        rules.app_config_trees(apps, ["production", "staging"])
    text = str(raised.value)
    assert "'BAD KEY'" in text and "'broken' has no environments" in text
    assert "N must be a string" in text
    assert "test-server" not in text


def test_secret_keys_travel_with_every_environment():
    apps = {"web": {"secret_keys": ["PW", "PW"], "environments": {"staging": {}, "production": {}}}}
    trees = rules.app_config_trees(apps, ["production", "staging"])
    assert [tree["secret_keys"] for tree in trees] == [["PW"], ["PW"]]
