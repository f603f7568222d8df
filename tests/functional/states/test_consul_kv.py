"""consul_kv states against the Consul stand-in, each in test mode and for
real. Outcomes are checked with raw HTTP on the stand-in."""

import pytest
import requests

from tests.fixtures.consul import read_kv, read_kv_tree

TOKEN = "st4te-t0ken"


@pytest.fixture
def consul_server(consul_module_server):
    """One stand-in per module (emptied per test): loaders take seconds to build."""
    return consul_module_server


@pytest.fixture
def consul_kv(consul_module_loaders, consul_server):
    return consul_module_loaders.states.consul_kv


def seed(server, tree, token=None):
    headers = {"X-Consul-Token": token} if token else {}
    for key, value in tree.items():
        requests.put(f"{server.url}/v1/kv/{key}", data=value.encode(), headers=headers, timeout=10)


# present ---------------------------------------------------------------------------


def test_present_test_mode_predicts_then_apply_then_unchanged(consul_kv, consul_server):
    key = "app/staging/test-server/GREETING"
    predicted = consul_kv.present(key, value="hello world", test=True)
    assert predicted.result is None
    assert predicted.changes == {"old": None, "new": "hello world"}
    assert "would be set" in predicted.comment
    assert read_kv(consul_server.url, key) is None

    applied = consul_kv.present(key, value="hello world")
    assert applied.result is True
    assert applied.changes == {"old": None, "new": "hello world"}
    assert read_kv(consul_server.url, key)["Value"] == "hello world"

    again = consul_kv.present(key, value="hello world")
    assert again.result is True and again.changes == {}
    assert consul_kv.present(key, value="hello world", test=True).changes == {}


def test_present_changes_a_different_value(consul_kv, consul_server):
    seed(consul_server, {"k": "old"})
    predicted = consul_kv.present("k", value="new", test=True)
    assert predicted.result is None and predicted.changes == {"old": "old", "new": "new"}
    assert read_kv(consul_server.url, "k")["Value"] == "old"
    applied = consul_kv.present("k", value="new")
    assert applied.result is True and applied.changes == {"old": "old", "new": "new"}
    assert read_kv(consul_server.url, "k")["Value"] == "new"


def test_present_json_value(consul_kv, consul_server):
    applied = consul_kv.present("limits", value={"cpu": 2}, json=True)
    assert applied.result is True
    assert read_kv(consul_server.url, "limits")["Value"] == '{"cpu":2}'
    assert consul_kv.present("limits", value={"cpu": 2}, json=True).changes == {}


@pytest.mark.parametrize("test_mode", [True, False])
def test_present_refuses_a_non_string_without_writing(consul_kv, consul_server, test_mode):
    result = consul_kv.present("k", value=8080, test=test_mode)
    assert result.result is False
    assert "must be a string" in result.comment
    assert result.changes == {}
    assert read_kv_tree(consul_server.url) == {}


@pytest.mark.parametrize("test_mode", [True, False])
def test_present_with_wrong_token_fails_without_the_token(
    consul_kv, consul_server_factory, test_mode
):
    server = consul_server_factory(token=TOKEN)
    wrong = {"url": server.url, "token": "not-the-token"}
    result = consul_kv.present("k", value="v", test=test_mode, **wrong)
    assert result.result is False
    assert "403" in result.comment and "not-the-token" not in str(result.raw)
    assert read_kv_tree(server.url, token=TOKEN) == {}


# absent ----------------------------------------------------------------------------


def test_absent_test_mode_then_apply_then_unchanged(consul_kv, consul_server):
    seed(consul_server, {"k": "v", "kx": "keep"})
    predicted = consul_kv.absent("k", test=True)
    assert predicted.result is None and predicted.changes == {"k": {"old": "v", "new": None}}
    assert read_kv(consul_server.url, "k") is not None
    applied = consul_kv.absent("k")
    assert applied.result is True and applied.changes == {"k": {"old": "v", "new": None}}
    assert read_kv_tree(consul_server.url) == {"kx": "keep"}
    again = consul_kv.absent("k")
    assert again.result is True and again.changes == {}


def test_absent_recurse_stays_inside_the_directory(consul_kv, consul_server):
    seed(consul_server, {"app/a": "1", "app/a/X": "2", "app/a/sub/Y": "3", "app/ab/Z": "keep"})
    predicted = consul_kv.absent("app/a", recurse=True, test=True)
    assert predicted.result is None
    assert set(predicted.changes) == {"app/a", "app/a/X", "app/a/sub/Y"}
    assert len(read_kv_tree(consul_server.url)) == 4
    applied = consul_kv.absent("app/a", recurse=True)
    assert applied.result is True and set(applied.changes) == set(predicted.changes)
    assert read_kv_tree(consul_server.url) == {"app/ab/Z": "keep"}
    assert consul_kv.absent("app/a", recurse=True).changes == {}


# tree ------------------------------------------------------------------------------


def test_tree_test_mode_predicts_exactly_then_apply_then_unchanged(consul_kv, consul_server):
    seed(consul_server, {"app/s/web/OLD": "x", "app/s/web/SAME": "1", "app/s/web/CHG": "a"})
    seed(consul_server, {"app/s/webx/NEIGHBOUR": "n"})
    values = {"SAME": "1", "CHG": "b", "NEW": "hello world"}
    expected = {
        "CHG": {"old": "a", "new": "b"},
        "NEW": {"old": None, "new": "hello world"},
        "OLD": {"old": "x", "new": None},
    }
    before = read_kv_tree(consul_server.url)

    predicted = consul_kv.tree("app/s/web", values=values, test=True)
    assert predicted.result is None
    assert predicted.changes == expected
    assert "added NEW" in predicted.comment and "removed OLD" in predicted.comment
    assert read_kv_tree(consul_server.url) == before

    applied = consul_kv.tree("app/s/web", values=values)
    assert applied.result is True
    assert applied.changes == expected
    assert read_kv_tree(consul_server.url) == {
        "app/s/web/SAME": "1",
        "app/s/web/CHG": "b",
        "app/s/web/NEW": "hello world",
        "app/s/webx/NEIGHBOUR": "n",
    }

    again = consul_kv.tree("app/s/web", values=values)
    assert again.result is True and again.changes == {}
    assert consul_kv.tree("app/s/web", values=values, test=True).changes == {}


@pytest.mark.parametrize("test_mode", [True, False])
def test_tree_without_prune_keeps_extra_keys(consul_kv, consul_server, test_mode):
    seed(consul_server, {"p/EXTRA": "x"})
    result = consul_kv.tree("p", values={"NEW": "n"}, prune=False, test=test_mode)
    assert result.changes == {"NEW": {"old": None, "new": "n"}}
    expected = {"p/EXTRA": "x"} if test_mode else {"p/EXTRA": "x", "p/NEW": "n"}
    assert read_kv_tree(consul_server.url) == expected


@pytest.mark.parametrize("test_mode", [True, False])
def test_tree_with_a_bad_value_fails_and_writes_nothing(consul_kv, consul_server, test_mode):
    seed(consul_server, {"p/OLD": "x"})
    values = {"GOOD": "1", "HUGE": "x" * (512 * 1024 + 1)}
    result = consul_kv.tree("p", values=values, test=test_mode)
    assert result.result is False
    assert "over Consul's" in result.comment and result.changes == {}
    assert read_kv_tree(consul_server.url) == {"p/OLD": "x"}


@pytest.mark.parametrize("test_mode", [True, False])
def test_tree_against_unreachable_consul_fails(consul_kv, consul_server_factory, test_mode):
    server = consul_server_factory()
    url = server.url
    server.stop()
    result = consul_kv.tree("p", values={"A": "1"}, url=url, test=test_mode)
    assert result.result is False and "unreachable" in result.comment


# hide_values -------------------------------------------------------------------------


@pytest.mark.parametrize("test_mode", [True, False])
def test_tree_hides_the_values_of_secret_keys(consul_kv, consul_server, test_mode):
    seed(consul_server, {"p/DB_PASSWORD": "old-s3cret"})
    values = {"DB_PASSWORD": "new-s3cret", "GREETING": "hi"}
    result = consul_kv.tree("p", values=values, hide_values=["DB_PASSWORD"], test=test_mode)
    assert result.changes == {
        "DB_PASSWORD": {"old": "<hidden>", "new": "<hidden>"},
        "GREETING": {"old": None, "new": "hi"},
    }
    assert "s3cret" not in str(result.raw)
    expected = "old-s3cret" if test_mode else "new-s3cret"
    assert read_kv(consul_server.url, "p/DB_PASSWORD")["Value"] == expected


@pytest.mark.parametrize("test_mode", [True, False])
def test_present_hides_its_value(consul_kv, consul_server, test_mode):
    result = consul_kv.present("p/TOKEN", value="s3cret", hide_values=True, test=test_mode)
    assert result.changes == {"old": None, "new": "<hidden>"}
    assert "s3cret" not in str(result.raw)


@pytest.mark.parametrize("test_mode", [True, False])
def test_absent_hides_deleted_values(consul_kv, consul_server, test_mode):
    seed(consul_server, {"p/PW": "s3cret"})
    result = consul_kv.absent("p", recurse=True, hide_values=True, test=test_mode)
    assert result.changes == {"p/PW": {"old": "<hidden>", "new": None}}
    assert "s3cret" not in str(result.raw)
    assert read_kv_tree(consul_server.url) == ({"p/PW": "s3cret"} if test_mode else {})


# Keys holding bytes that are not UTF-8 (written by another tool) -----------------


def seed_bytes(server, key, data):
    response = requests.put(f"{server.url}/v1/kv/{key}", data=data, timeout=10)
    assert response.json() is True


def raw_bytes(server, key):
    response = requests.get(f"{server.url}/v1/kv/{key}", params={"raw": "1"}, timeout=10)
    return None if response.status_code == 404 else response.content


def test_present_repairs_a_key_holding_bytes_that_are_not_utf8(consul_kv, consul_server):
    key = "app/staging/web/GREETING"
    seed_bytes(consul_server, key, b"\xff\xfe hi")
    predicted = consul_kv.present(key, value="hello", test=True)
    assert predicted.result is None, predicted.comment
    assert predicted.changes == {"old": "\\xff\\xfe hi", "new": "hello"}
    assert raw_bytes(consul_server, key) == b"\xff\xfe hi"

    applied = consul_kv.present(key, value="hello")
    assert applied.result is True, applied.comment
    assert applied.changes == {"old": "\\xff\\xfe hi", "new": "hello"}
    assert raw_bytes(consul_server, key) == b"hello"
    assert consul_kv.present(key, value="hello").changes == {}


@pytest.mark.parametrize("recurse", [False, True])
def test_absent_deletes_keys_holding_bytes_that_are_not_utf8(consul_kv, consul_server, recurse):
    seed_bytes(consul_server, "app/old", b"\x80")
    seed_bytes(consul_server, "app/old/BLOB", b"\x00\xff")
    predicted = consul_kv.absent("app/old", recurse=recurse, test=True)
    assert predicted.result is None, predicted.comment
    expected = {"app/old": {"old": "\\x80", "new": None}}
    if recurse:
        expected["app/old/BLOB"] = {"old": "\x00\\xff", "new": None}
    assert predicted.changes == expected

    deleted = consul_kv.absent("app/old", recurse=recurse)
    assert deleted.result is True, deleted.comment
    assert deleted.changes == expected
    assert raw_bytes(consul_server, "app/old") is None
    assert (raw_bytes(consul_server, "app/old/BLOB") is None) is recurse
    assert consul_kv.absent("app/old", recurse=recurse).changes == {}


def test_tree_replaces_and_prunes_values_that_are_not_utf8(consul_kv, consul_server):
    seed_bytes(consul_server, "app/staging/web/A", b"\xfe")
    seed_bytes(consul_server, "app/staging/web/GONE", b"\xff")
    predicted = consul_kv.tree("app/staging/web", values={"A": "text"}, test=True)
    assert predicted.result is None, predicted.comment
    assert predicted.changes == {
        "A": {"old": "\\xfe", "new": "text"},
        "GONE": {"old": "\\xff", "new": None},
    }
    applied = consul_kv.tree("app/staging/web", values={"A": "text"})
    assert applied.result is True, applied.comment
    assert raw_bytes(consul_server, "app/staging/web/A") == b"text"
    assert raw_bytes(consul_server, "app/staging/web/GONE") is None
