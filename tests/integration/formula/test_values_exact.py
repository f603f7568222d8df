"""Values reach Consul KV (mesos.config) and Marathon (mesos.apps) byte for
byte, however awkward: real ``salt-call state.apply`` over this tree, values
checked out of band with raw HTTP against the stand-ins.

Salt's ``json`` Jinja filter writes U+0085, U+2028 and U+2029 raw into the
SLS's YAML, which reads them as line breaks and folds them with the spaces
around them; other C1 controls and U+FFFE/U+FFFF stop YAML altogether."""

import json

from tests.fixtures.consul import read_kv_tree
from tests.functional.marathon_support import raw_app

AWKWARD = {
    "NEXT_LINE": "a \u0085 b",
    "LINE_SEPARATOR": "a \u2028 b",
    "PARAGRAPH_SEPARATOR": " \u2029 ",
    "ONLY_SEPARATORS": "\u2028\u2029\u0085",
    "C1_CONTROLS": "\x80 \x9f \x7f",
    "NONCHARACTERS": "\ufffe \uffff",
    "BYTE_ORDER_MARK": "\ufeff x",
    "EMOJI_AND_ACCENTS": "caf\u00e9 \U0001f600 \u4e2d\u6587",
    "NEWLINES_AND_SPACES": "  two\n  lines \r\n\t",
    "QUOTES": "'\"\\ # : - ?",
}


def test_mesos_config_writes_every_value_byte_for_byte(salt_call, consul_server):
    apps = {"web": {"config": AWKWARD, "environments": {"staging": {}}}}
    salt_call.set_pillar({"consul": {"url": consul_server.url}, "mesos": {"apps": apps}})

    first = salt_call.run("state.apply", "mesos.config")

    assert first.returncode == 0, first
    expected = {f"app/staging/web/{key}": value for key, value in AWKWARD.items()}
    assert read_kv_tree(consul_server.url) == expected
    again = salt_call.run("state.apply", "mesos.config")
    assert again.returncode == 0, again
    assert [state["changes"] for state in again.data.values()] == [{}]


def test_mesos_apps_fills_placeholders_byte_for_byte(salt_call, marathon_server, tmp_path):
    labels = {key: f"${key.lower()}" for key in AWKWARD}
    template = tmp_path / "awkward.json"
    template.write_text(
        json.dumps(
            {
                "id": "/app/$environment/awkward",
                "cmd": "sleep 1000",
                "cpus": 0.01,
                "mem": 16,
                "instances": "$instances",
                "labels": labels,
            }
        ).replace('"$instances"', "$instances")
    )
    values = {key.lower(): value for key, value in AWKWARD.items()}
    apps = {"awkward": {"template": str(template), "values": values, "environments": {"qa": {}}}}
    pillar = {
        "marathon": {"urls": [marathon_server.url], "poll_interval": 0.05},
        "mesos": {"deploy": {"timeout": 20}, "apps": apps},
    }
    salt_call.set_pillar(pillar)

    first = salt_call.run("state.apply", "mesos.apps")

    assert first.returncode == 0, first
    assert raw_app(marathon_server, "/app/qa/awkward")["labels"] == AWKWARD
    again = salt_call.run("state.apply", "mesos.apps")
    assert again.returncode == 0, again
    assert [state["changes"] for state in again.data.values()] == [{}]
