"""The Consul connection and sync plan against the stand-in: a writer that
changes the prefix between our read and our transaction makes the whole
transaction roll back."""

import pytest
import requests

from tests.fixtures.consul import read_kv_tree
from tests.unit.utils.loaded import load_util

connection_util = load_util("consul_connection")
rules = load_util("consul_kv_sync")


def seed(server, tree):
    for key, value in tree.items():
        requests.put(f"{server.url}/v1/kv/{key}", data=value.encode(), timeout=10)


def test_concurrent_change_rolls_the_whole_transaction_back(consul_server):
    seed(consul_server, {"p/A": "1", "p/B": "2"})
    connection = connection_util.connect(consul_server.url)
    desired = rules.encode_mapping("p/", {"A": "10", "C": "30"})
    changes = rules.plan_sync(connection.kv_entries("p/"), desired, prune=True, prefix="p/")
    (batch,), singles = rules.plan_batches(changes)
    assert singles == []
    seed(consul_server, {"p/B": "changed meanwhile"})
    with pytest.raises(connection_util.ConsulTransactionRolledBack, match="index is stale"):
        connection.transaction([operation for _, operation in batch], "syncing 'p/'")
    assert read_kv_tree(consul_server.url) == {"p/A": "1", "p/B": "changed meanwhile"}


def test_transaction_carries_the_token_in_a_header(consul_server_factory):
    server = consul_server_factory(token="t0k")
    connection = connection_util.connect(server.url, token="t0k")
    operations = [rules.transaction_operation(rules.Change("k", None, b"v"))]
    connection.transaction(operations, "writing 'k'")
    assert read_kv_tree(server.url, token="t0k") == {"k": "v"}


def test_get_retries_until_consul_answers(consul_server_factory, monkeypatch):
    server = consul_server_factory()
    connection = connection_util.connect(server.url)
    calls = []
    real_send = connection.send

    def flaky_send(method, path, params, data):
        calls.append(method)
        if len(calls) == 1:
            raise requests.ConnectionError("connection reset")
        return real_send(method, path, params, data)

    monkeypatch.setattr(connection, "send", flaky_send)
    monkeypatch.setattr(connection_util, "BACKOFF_SECONDS", 0.01)
    assert connection.kv_entry("missing") is None
    assert calls == ["get", "get"]


def test_writes_are_not_retried(consul_server_factory):
    server = consul_server_factory()
    url = server.url
    server.stop()
    connection = connection_util.connect(url)
    with pytest.raises(connection_util.ConsulUnreachable, match="writing key 'k'"):
        connection.kv_put("k", b"v")
