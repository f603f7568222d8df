"""consul execution module against the Consul stand-in, through Salt's loaders.

Results are checked out of band with raw HTTP on the stand-in
(tests/fixtures/consul.py helpers), never through the module itself.
"""

import logging
import socket
import ssl
import threading

import pytest
import requests
from salt.exceptions import CommandExecutionError, SaltInvocationError

from sandbox.consul import ConsulServer
from tests.certificates import self_signed_pem
from tests.fixtures.consul import read_kv, read_kv_tree, register_service, set_check_status

TOKEN = "s3cr3t-acl-token"


@pytest.fixture
def consul_server(consul_module_server):
    """One stand-in per module (emptied per test): loaders take seconds to build."""
    return consul_module_server


@pytest.fixture
def consul(consul_module_loaders, consul_server):
    return consul_module_loaders.modules.consul


def seed(server, tree):
    for key, value in tree.items():
        requests.put(f"{server.url}/v1/kv/{key}", data=value.encode(), timeout=10)


# kv_get / kv_set -----------------------------------------------------------------


def test_kv_set_stores_the_string_exactly(consul, consul_server):
    value = "hello world, \"quoted\" 'single' $HOME `id` naïve\nsecond line"
    assert consul.kv_set("app/staging/test-server/GREETING", value) is True
    assert read_kv(consul_server.url, "app/staging/test-server/GREETING")["Value"] == value
    assert consul.kv_get("app/staging/test-server/GREETING") == value


def test_kv_set_writes_only_when_different(consul, consul_server):
    assert consul.kv_set("k", "v") is True
    index = read_kv(consul_server.url, "k")["ModifyIndex"]
    assert consul.kv_set("k", "v") is False
    assert read_kv(consul_server.url, "k")["ModifyIndex"] == index
    assert consul.kv_set("k", "w", test=True) is True
    assert read_kv(consul_server.url, "k")["Value"] == "v"


def test_kv_get_missing_returns_default_and_empty_value_is_empty_string(consul, consul_server):
    assert consul.kv_get("missing") is None
    assert consul.kv_get("missing", default="fallback") == "fallback"
    seed(consul_server, {"empty": ""})
    assert consul.kv_get("empty") == ""


def test_values_that_are_not_utf8_are_named_shown_and_replaced(consul, consul_server):
    requests.put(f"{consul_server.url}/v1/kv/app/blob/B", data=b"\xff\x00ok", timeout=10)
    with pytest.raises(CommandExecutionError, match="'app/blob/B' is not UTF-8 text"):
        consul.kv_get("app/blob/B")
    assert consul.kv_get("app/blob/B", errors="backslashreplace") == "\\xff\x00ok"
    assert consul.kv_list("app/blob") == {"B": "\\xff\x00ok"}
    assert consul.kv_set("app/blob/B", "text") is True
    assert read_kv(consul_server.url, "app/blob/B")["Value"] == "text"
    with pytest.raises(SaltInvocationError, match="errors must be"):
        consul.kv_get("app/blob/B", errors="ignore")


def test_kv_set_refuses_structures_unless_json(consul, consul_server):
    with pytest.raises(SaltInvocationError, match="must be a string"):
        consul.kv_set("k", {"cpu": 2})
    assert read_kv(consul_server.url, "k") is None
    assert consul.kv_set("k", {"cpu": 2, "mem": [1]}, json=True) is True
    assert read_kv(consul_server.url, "k")["Value"] == '{"cpu":2,"mem":[1]}'
    assert consul.kv_get("k", json=True) == {"cpu": 2, "mem": [1]}
    assert consul.kv_set("k", {"mem": [1], "cpu": 2}, json=True) is False


def test_kv_set_keeps_flags_and_sets_them_when_given(consul, consul_server):
    consul.kv_set("k", "v", flags=7)
    assert read_kv(consul_server.url, "k")["Flags"] == 7
    consul.kv_set("k", "w")
    assert read_kv(consul_server.url, "k")["Flags"] == 7


def test_kv_set_cas(consul, consul_server):
    assert consul.kv_set("lock", "mine", cas=0) is True
    with pytest.raises(CommandExecutionError, match="CAS conflict"):
        consul.kv_set("lock", "theirs", cas=0)
    index = read_kv(consul_server.url, "lock")["ModifyIndex"]
    with pytest.raises(CommandExecutionError, match="CAS conflict"):
        consul.kv_set("lock", "theirs", cas=index + 5)
    assert read_kv(consul_server.url, "lock")["Value"] == "mine"
    assert consul.kv_set("lock", "next", cas=index) is True
    assert read_kv(consul_server.url, "lock")["Value"] == "next"


@pytest.mark.parametrize("key", ["/app/x", "app/../x", "app/x y"])
def test_bad_keys_are_refused_before_sending(consul, consul_server, key):
    with pytest.raises(SaltInvocationError, match="Consul key"):
        consul.kv_set(key, "v")
    assert read_kv_tree(consul_server.url) == {}


# kv_delete / kv_list -------------------------------------------------------------


def test_kv_delete_single_and_missing(consul, consul_server):
    seed(consul_server, {"a": "1", "b": "2"})
    assert consul.kv_delete("a") is True
    assert consul.kv_delete("a") is False
    assert read_kv_tree(consul_server.url) == {"b": "2"}


def test_kv_delete_cas_conflict_keeps_the_key(consul, consul_server):
    seed(consul_server, {"a": "1"})
    index = read_kv(consul_server.url, "a")["ModifyIndex"]
    with pytest.raises(CommandExecutionError, match="CAS conflict"):
        consul.kv_delete("a", cas=index + 1)
    assert read_kv_tree(consul_server.url) == {"a": "1"}


def test_kv_delete_recurse_respects_the_directory_boundary(consul, consul_server):
    seed(consul_server, {"app/a": "own", "app/a/x": "1", "app/a/y/z": "2", "app/ab": "keep"})
    assert consul.kv_delete("app/a", recurse=True) is True
    assert read_kv_tree(consul_server.url) == {"app/ab": "keep"}
    assert consul.kv_delete("app/a", recurse=True) is False


def test_kv_list_returns_relative_keys_under_the_directory(consul, consul_server):
    seed(consul_server, {"app/a/X": "1", "app/a/sub/Y": "2", "app/ab/Z": "3"})
    assert consul.kv_list("app/a") == {"X": "1", "sub/Y": "2"}
    assert consul.kv_list("app/none") == {}


# kv_sync -------------------------------------------------------------------------


def test_kv_sync_makes_the_prefix_hold_exactly_the_mapping(consul, consul_server):
    seed(consul_server, {"app/a/SAME": "1", "app/a/OLD": "x", "app/a/CHANGED": "a"})
    seed(consul_server, {"app/ab/NEIGHBOUR": "n", "app/a": "marker-sibling"})
    desired = {"SAME": "1", "CHANGED": "b", "NEW": "n"}
    changes = consul.kv_sync("app/a", desired)
    assert changes == {
        "CHANGED": {"old": "a", "new": "b"},
        "NEW": {"old": None, "new": "n"},
        "OLD": {"old": "x", "new": None},
    }
    tree = read_kv_tree(consul_server.url)
    assert tree == {
        "app/a/SAME": "1",
        "app/a/CHANGED": "b",
        "app/a/NEW": "n",
        "app/ab/NEIGHBOUR": "n",
        "app/a": "marker-sibling",
    }
    assert consul.kv_sync("app/a", desired) == {}


def test_kv_sync_writes_in_one_transaction(consul, consul_server):
    seed(consul_server, {"p/OLD": "x"})
    consul.kv_sync("p", {f"K{n}": str(n) for n in range(20)})
    response = requests.get(f"{consul_server.url}/v1/kv/p/", params={"recurse": ""}, timeout=10)
    indexes = {entry["ModifyIndex"] for entry in response.json()}
    # One raft entry for all writes: the same ModifyIndex on every key.
    assert len(indexes) == 1
    assert len(response.json()) == 20


def test_kv_sync_test_mode_writes_nothing(consul, consul_server):
    seed(consul_server, {"p/OLD": "x"})
    assert consul.kv_sync("p", {"NEW": "n"}, test=True) == {
        "NEW": {"old": None, "new": "n"},
        "OLD": {"old": "x", "new": None},
    }
    assert read_kv_tree(consul_server.url) == {"p/OLD": "x"}


def test_kv_sync_without_prune_keeps_extra_keys(consul, consul_server):
    seed(consul_server, {"p/OLD": "x"})
    assert consul.kv_sync("p", {"NEW": "n"}, prune=False) == {"NEW": {"old": None, "new": "n"}}
    assert read_kv_tree(consul_server.url) == {"p/OLD": "x", "p/NEW": "n"}


def test_kv_sync_large_change_sets_are_split_but_complete(consul, consul_server):
    seed(consul_server, {f"p/OLD{n}": "x" for n in range(10)})
    desired = {f"K{n:03}": "v" * 10 for n in range(150)}
    assert len(consul.kv_sync("p", desired)) == 160
    assert read_kv_tree(consul_server.url, "p/") == {f"p/{k}": v for k, v in desired.items()}


def test_kv_sync_writes_values_too_large_for_a_transaction_on_their_own(consul, consul_server):
    big = "b" * (450 * 1024)  # over the transaction body limit once base64-encoded
    assert set(consul.kv_sync("p", {"BIG": big, "SMALL": "s"})) == {"BIG", "SMALL"}
    assert read_kv_tree(consul_server.url, "p/") == {"p/BIG": big, "p/SMALL": "s"}
    assert consul.kv_sync("p", {"BIG": big, "SMALL": "s"}) == {}


def test_kv_sync_refuses_a_bad_value_and_writes_nothing(consul, consul_server):
    seed(consul_server, {"p/OLD": "x"})
    with pytest.raises(SaltInvocationError, match="'p/PORT' must be a string"):
        consul.kv_sync("p", {"GOOD": "1", "PORT": 8080})
    assert read_kv_tree(consul_server.url) == {"p/OLD": "x"}


@pytest.mark.parametrize("prefix", ["", "/"])
def test_kv_sync_refuses_the_whole_store(consul, prefix):
    with pytest.raises(SaltInvocationError, match="must name a directory"):
        consul.kv_sync(prefix, {})


# Connection: token, reachability, timeouts, TLS --------------------------------------


def test_token_from_pillar_goes_in_the_header(make_loaders, consul_server_factory):
    server = consul_server_factory(token=TOKEN)
    consul = make_loaders(pillar={"consul": {"url": server.url, "token": TOKEN}}).modules.consul
    assert consul.kv_set("k", "v") is True
    assert read_kv(server.url, "k", token=TOKEN)["Value"] == "v"


def test_per_call_arguments_override_pillar(make_loaders, consul_server_factory):
    server = consul_server_factory(token=TOKEN)
    consul = make_loaders(pillar={"consul": {"url": "http://127.0.0.1:1"}}).modules.consul
    assert consul.kv_set("k", "v", url=server.url, token=TOKEN) is True
    assert read_kv(server.url, "k", token=TOKEN)["Value"] == "v"


def test_wrong_token_is_a_clear_error_without_the_token(
    make_loaders, consul_server_factory, caplog
):
    server = consul_server_factory(token=TOKEN)
    wrong = "wr0ng-t0ken-value"
    consul = make_loaders(pillar={"consul": {"url": server.url, "token": wrong}}).modules.consul
    caplog.clear()  # Salt's own pillar rendering logs the test pillar at debug level
    with caplog.at_level(logging.DEBUG), pytest.raises(CommandExecutionError) as raised:
        consul.kv_sync("p", {"A": "1"})
    assert "403 permission denied" in str(raised.value)
    assert wrong not in str(raised.value) and wrong not in caplog.text
    assert read_kv_tree(server.url, token=TOKEN) == {}


def test_unreachable_consul_is_named(consul, consul_server_factory):
    server = consul_server_factory()
    url = server.url
    server.stop()
    with pytest.raises(CommandExecutionError, match=f"Consul at {url} is unreachable"):
        consul.kv_get("k", url=url)


def test_every_call_has_a_timeout(make_loaders):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts connections, never answers
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        pillar = {"consul": {"url": url, "timeout": 0.3}}
        consul = make_loaders(pillar=pillar).modules.consul
        with pytest.raises(CommandExecutionError, match=r"unreachable.*Timeout"):
            consul.kv_set("k", "v")
    finally:
        silent.close()


def test_no_url_anywhere_is_an_invocation_error(make_loaders):
    consul = make_loaders(pillar={}).modules.consul
    with pytest.raises(SaltInvocationError, match="No Consul URL"):
        consul.kv_get("k")


@pytest.fixture
def tls_consul(tmp_path):
    """The stand-in behind TLS with a self-signed certificate for 127.0.0.1."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    certificate_pem, key_pem = self_signed_pem()
    cert.write_bytes(certificate_pem)
    key.write_bytes(key_pem)
    server = ConsulServer()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.port}", cert
    finally:
        server.state.close()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_tls_is_verified_by_default(consul, make_loaders, tls_consul):
    url, cert = tls_consul
    with pytest.raises(CommandExecutionError, match=r"unreachable.*SSLError"):
        consul.kv_set("k", "v", url=url)
    trusted = make_loaders(pillar={"consul": {"url": url, "verify": str(cert)}}).modules.consul
    assert trusted.kv_set("k", "v") is True
    assert trusted.kv_get("k") == "v"


# Services --------------------------------------------------------------------------


def test_services_lists_catalog_names_and_tags(consul, consul_server):
    register_service(consul_server.url, "web", 8001, tags=["production"], service_id="web-1")
    register_service(consul_server.url, "web", 8002, tags=["staging"], service_id="web-2")
    assert consul.services() == {"consul": [], "web": ["production", "staging"]}


def test_service_instances_passing_only_by_default(consul, consul_server):
    register_service(consul_server.url, "web", 8001, tags=["production"], service_id="web-1")
    register_service(consul_server.url, "web", 8002, service_id="web-2", address="")
    register_service(consul_server.url, "web", 8003, service_id="web-3", status="critical")
    instances = consul.service_instances("web")
    assert [(i["id"], i["address"], i["port"], i["status"]) for i in instances] == [
        ("web-1", "127.0.0.1", 8001, "passing"),
        ("web-2", "127.0.0.1", 8002, "passing"),
    ]
    set_check_status(consul_server.url, "service:web-1", "warning")
    everything = consul.service_instances("web", passing_only=False)
    assert {i["id"]: i["status"] for i in everything} == {
        "web-1": "warning",
        "web-2": "passing",
        "web-3": "critical",
    }
    assert [i["id"] for i in consul.service_instances("web", tag="production")] == []
    assert consul.service_instances("unknown") == []
