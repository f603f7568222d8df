"""Conformance of the Consul stand-in's KV and transaction API with
docs/api-notes.md, driven by py-consul and by raw HTTP."""

import base64
import http.client
import threading
import time

import consul
import pytest
import requests

from tests.fixtures.consul import read_kv, read_kv_tree

TIMEOUT = 10


@pytest.fixture
def client(consul_server):
    return consul.Consul(host="127.0.0.1", port=consul_server.port)


def get(server, path, **params):
    return requests.get(f"{server.url}{path}", params=params, timeout=TIMEOUT)


def put(server, path, data=b"", **params):
    return requests.put(f"{server.url}{path}", data=data, params=params, timeout=TIMEOUT)


def assert_read_headers(response):
    assert int(response.headers["X-Consul-Index"]) >= 1
    assert response.headers["X-Consul-KnownLeader"] == "true"
    assert response.headers["X-Consul-LastContact"].isdigit()


def raw_request(server, method, path):
    """Send ``path`` as is (requests would fold ``..`` away)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    try:
        connection.request(method, path, body=b"v")
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_put_then_get_returns_one_entry_with_base64_value(consul_server, client):
    assert client.kv.put("app/staging/web/GREETING", "hello world") is True
    response = get(consul_server, "/v1/kv/app/staging/web/GREETING")
    assert response.status_code == 200
    assert_read_headers(response)
    (entry,) = response.json()
    assert set(entry) == {"LockIndex", "Key", "Flags", "Value", "CreateIndex", "ModifyIndex"}
    assert base64.b64decode(entry["Value"]) == b"hello world"
    assert entry["Flags"] == 0
    assert response.headers["X-Consul-Index"] == str(entry["ModifyIndex"])
    index, data = client.kv.get("app/staging/web/GREETING")
    assert data["Value"] == b"hello world" and index == str(entry["ModifyIndex"])


def test_missing_key_is_404_with_headers_and_py_consul_returns_none(consul_server, client):
    response = get(consul_server, "/v1/kv/nothing/here")
    assert response.status_code == 404
    assert response.content == b""
    assert_read_headers(response)
    assert client.kv.get("nothing/here")[1] is None


def test_empty_value_reads_as_null(consul_server):
    assert put(consul_server, "/v1/kv/empty").json() is True
    assert get(consul_server, "/v1/kv/empty").json()[0]["Value"] is None


def test_empty_key_without_recurse_is_400(consul_server):
    assert get(consul_server, "/v1/kv/").status_code == 400


def test_update_keeps_create_index_and_identical_write_keeps_modify_index(consul_server):
    put(consul_server, "/v1/kv/k", b"one")
    first = read_kv(consul_server.url, "k")
    put(consul_server, "/v1/kv/k", b"two")
    second = read_kv(consul_server.url, "k")
    assert second["CreateIndex"] == first["CreateIndex"]
    assert second["ModifyIndex"] > first["ModifyIndex"]
    put(consul_server, "/v1/kv/k", b"two")
    assert read_kv(consul_server.url, "k")["ModifyIndex"] == second["ModifyIndex"]


def test_flags_are_stored_and_reset_when_omitted(consul_server):
    put(consul_server, "/v1/kv/k", b"v", flags="42")
    assert read_kv(consul_server.url, "k")["Flags"] == 42
    put(consul_server, "/v1/kv/k", b"v")
    assert read_kv(consul_server.url, "k")["Flags"] == 0
    assert put(consul_server, "/v1/kv/k", b"v", flags="x").status_code == 400


def test_raw_returns_the_bytes(consul_server):
    value = "naïve \"quoted\" $HOME 'x'\n".encode()
    put(consul_server, "/v1/kv/raw/key", value)
    assert get(consul_server, "/v1/kv/raw/key", raw="").content == value


def test_recurse_lists_entries_sorted_and_counts_by_presence(consul_server, client):
    for key in ("web/b", "web/a", "web/sub/c", "webx"):
        client.kv.put(key, key)
    response = get(consul_server, "/v1/kv/web/", recurse="false")
    assert [entry["Key"] for entry in response.json()] == ["web/a", "web/b", "web/sub/c"]
    assert response.headers["X-Consul-Index"] == str(
        max(entry["ModifyIndex"] for entry in response.json())
    )
    assert get(consul_server, "/v1/kv/none/", recurse="").status_code == 404


def test_keys_with_separator_cut_after_the_first_separator(consul_server, client):
    for key in ("web/a", "web/sub/c", "web/sub/d", "webx"):
        client.kv.put(key, "v")
    assert get(consul_server, "/v1/kv/web/", keys="", separator="/").json() == [
        "web/a",
        "web/sub/",
    ]
    assert client.kv.get("web", keys=True)[1] == ["web/a", "web/sub/c", "web/sub/d", "webx"]
    assert get(consul_server, "/v1/kv/nothing/", keys="").status_code == 404


def test_keys_on_empty_store_with_empty_prefix_is_empty_list(consul_server):
    response = get(consul_server, "/v1/kv/", keys="")
    assert response.status_code == 200 and response.json() == []


def test_cas_zero_writes_only_if_absent_and_cas_n_only_on_matching_index(consul_server, client):
    assert client.kv.put("k", "first", cas=0) is True
    assert client.kv.put("k", "second", cas=0) is False
    index = read_kv(consul_server.url, "k")["ModifyIndex"]
    assert client.kv.put("k", "stale", cas=index + 100) is False
    assert client.kv.put("k", "second", cas=index) is True
    assert read_kv(consul_server.url, "k")["Value"] == "second"


def test_conflicting_cas_and_acquire_is_400(consul_server):
    assert put(consul_server, "/v1/kv/k", b"v", cas="0", acquire="s").status_code == 400


def test_value_over_512_kib_is_413_and_not_stored(consul_server):
    assert put(consul_server, "/v1/kv/big", b"x" * (512 * 1024)).status_code == 200
    response = put(consul_server, "/v1/kv/big2", b"x" * (512 * 1024 + 1))
    assert response.status_code == 413
    assert read_kv(consul_server.url, "big2") is None


@pytest.mark.parametrize(
    "path", ["/v1/kv//leading", "/v1/kv/a/../b", "/v1/kv/a/%2E%2E/b", "/v1/kv/sp%20ace"]
)
def test_invalid_keys_are_400(consul_server, path):
    status, _ = raw_request(consul_server, "PUT", path)
    assert status == 400
    assert read_kv_tree(consul_server.url) == {}


def test_delete_single_recurse_and_cas(consul_server, client):
    for key in ("app/a", "app/ab", "app/a/x", "other"):
        client.kv.put(key, "v")
    assert client.kv.delete("missing") is True
    client.kv.delete("app/a/", recurse=True)
    assert sorted(read_kv_tree(consul_server.url)) == ["app/a", "app/ab", "other"]
    index = read_kv(consul_server.url, "other")["ModifyIndex"]
    assert client.kv.delete("other", cas=index + 1) is False
    assert client.kv.delete("other", cas=index) is True
    assert sorted(read_kv_tree(consul_server.url)) == ["app/a", "app/ab"]
    response = requests.delete(
        f"{consul_server.url}/v1/kv/app", params={"recurse": "", "cas": "1"}, timeout=TIMEOUT
    )
    assert response.status_code == 400


def test_deletion_moves_the_listing_index(consul_server, client):
    client.kv.put("tree/a", "1")
    client.kv.put("tree/b", "2")
    before = int(get(consul_server, "/v1/kv/tree/", recurse="").headers["X-Consul-Index"])
    client.kv.delete("tree/b")
    after = int(get(consul_server, "/v1/kv/tree/", recurse="").headers["X-Consul-Index"])
    assert after > before


def test_bad_index_and_wait_are_400(consul_server):
    assert get(consul_server, "/v1/kv/k", index="abc").text == "Invalid index"
    assert get(consul_server, "/v1/kv/k", index="1", wait="soon").text == "Invalid wait time"


def test_blocking_get_returns_as_soon_as_the_key_changes(consul_server, client):
    client.kv.put("watched", "1")
    index, _ = client.kv.get("watched")
    timer = threading.Timer(0.3, client.kv.put, args=("watched", "2"))
    started = time.monotonic()
    timer.start()
    try:
        new_index, data = client.kv.get("watched", index=index, wait="20s")
    finally:
        timer.cancel()
    assert data["Value"] == b"2"
    assert int(new_index) > int(index)
    assert time.monotonic() - started < 5


def test_blocking_get_times_out_with_the_unchanged_index(consul_server, client):
    client.kv.put("quiet", "1")
    index, _ = client.kv.get("quiet")
    started = time.monotonic()
    new_index, data = client.kv.get("quiet", index=index, wait="300ms")
    elapsed = time.monotonic() - started
    assert new_index == index and data["Value"] == b"1"
    # wait plus at most wait/16 of jitter, with slack for a busy machine
    assert 0.3 <= elapsed < 2.5


def test_blocking_recurse_wakes_on_deletion_under_the_prefix(consul_server, client):
    client.kv.put("dir/a", "1")
    client.kv.put("dir/b", "2")
    index, _ = client.kv.get("dir/", recurse=True)
    timer = threading.Timer(0.2, client.kv.delete, args=("dir/b",))
    timer.start()
    try:
        new_index, data = client.kv.get("dir/", recurse=True, index=index, wait="20s")
    finally:
        timer.cancel()
    assert [entry["Key"] for entry in data] == ["dir/a"]
    assert int(new_index) > int(index)


def txn(server, operations, headers=None):
    return requests.put(
        f"{server.url}/v1/txn", json=operations, headers=headers or {}, timeout=TIMEOUT
    )


def kv_op(verb, key, value=None, **fields):
    op = {"Verb": verb, "Key": key, **fields}
    if value is not None:
        op["Value"] = base64.b64encode(value.encode()).decode()
    return {"KV": op}


def test_txn_applies_all_operations(consul_server, client):
    client.kv.put("t/old", "x")
    response = txn(
        consul_server,
        [kv_op("set", "t/a", "1"), kv_op("set", "t/b", "2"), kv_op("delete", "t/old")],
    )
    assert response.status_code == 200
    body = response.json()
    assert body["Errors"] is None
    assert [result["KV"]["Key"] for result in body["Results"]] == ["t/a", "t/b"]
    assert read_kv_tree(consul_server.url, "t/") == {"t/a": "1", "t/b": "2"}


def test_txn_rolls_back_everything_on_a_failed_operation(consul_server, client):
    client.kv.put("t/a", "keep")
    stale = read_kv(consul_server.url, "t/a")["ModifyIndex"] + 10
    response = txn(
        consul_server,
        [kv_op("set", "t/b", "new"), kv_op("cas", "t/a", "lost", Index=stale)],
    )
    assert response.status_code == 409
    body = response.json()
    assert body["Results"] is None and body["Errors"][0]["OpIndex"] == 1
    assert read_kv_tree(consul_server.url, "t/") == {"t/a": "keep"}


def test_txn_over_64_operations_is_413_and_nothing_written(consul_server):
    operations = [kv_op("set", f"many/{n}", "v") for n in range(65)]
    assert txn(consul_server, operations).status_code == 413
    assert read_kv_tree(consul_server.url) == {}
    assert txn(consul_server, operations[:64]).status_code == 200
    assert len(read_kv_tree(consul_server.url)) == 64


def test_txn_get_returns_values(consul_server, client):
    client.kv.put("t/a", "1")
    body = txn(consul_server, [kv_op("get", "t/a")]).json()
    assert base64.b64decode(body["Results"][0]["KV"]["Value"]) == b"1"


@pytest.mark.parametrize(
    "header",
    [
        {"X-Consul-Token": "secret"},
        {"Authorization": "Bearer secret"},
    ],
)
def test_acl_token_in_header_or_bearer_is_accepted(consul_server_factory, header):
    server = consul_server_factory(token="secret")
    response = requests.put(f"{server.url}/v1/kv/k", data=b"v", headers=header, timeout=TIMEOUT)
    assert response.status_code == 200
    assert read_kv(server.url, "k", token="secret")["Value"] == "v"


def test_acl_token_in_query_is_accepted(consul_server_factory):
    server = consul_server_factory(token="secret")
    assert put(server, "/v1/kv/k", b"v", token="secret").status_code == 200


@pytest.mark.parametrize("header", [{}, {"X-Consul-Token": "wrong"}])
def test_missing_or_wrong_token_is_403_and_nothing_written(consul_server_factory, header):
    server = consul_server_factory(token="secret")
    response = requests.put(f"{server.url}/v1/kv/k", data=b"v", headers=header, timeout=TIMEOUT)
    assert response.status_code == 403
    assert requests.get(f"{server.url}/v1/kv/k", timeout=TIMEOUT).status_code == 403
    assert txn(server, [kv_op("set", "k", "v")], headers=header).status_code == 403
    assert read_kv_tree(server.url, token="secret") == {}


def test_py_consul_with_wrong_token_raises_permission_denied(consul_server_factory):
    server = consul_server_factory(token="secret")
    client = consul.Consul(host="127.0.0.1", port=server.port, token="wrong")
    with pytest.raises(consul.ACLPermissionDenied):
        client.kv.get("k")


def test_reset_makes_the_index_go_backwards_like_a_snapshot_restore(consul_server, client):
    for n in range(5):
        client.kv.put("k", str(n))
    index, _ = client.kv.get("k")
    consul_server.reset()
    client.kv.put("k", "restored")
    new_index, data = client.kv.get("k", index=index, wait="200ms")
    assert int(new_index) < int(index)
    assert data["Value"] == b"restored"
