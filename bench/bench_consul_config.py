"""Time ``salt-call state.apply mesos.config`` for 10, 100 and 500 apps.

    .venv/bin/python bench/bench_consul_config.py [--sizes 10,100,500] [--keys 10]

Each app has --keys shared settings and runs in production and staging
(staging overrides one key), so every size writes apps x 2 prefixes. Against
a fresh Consul stand-in, through ``salt-call --local`` over this tree:

- "test=True": predicting the changes (reads only),
- "first apply": every prefix written (one transaction per prefix),
- "no-op apply": the second run, which must report zero changes,
- "one key changed": one app's shared value edited in pillar.

Wall-clock seconds of the whole salt-call (about 1 s of it is Salt starting),
after one warm-up call per size.
Prints a Markdown table.
"""

import argparse
import json
import pathlib
import sys
import tempfile
import time

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from sandbox.consul import ConsulServer  # noqa: E402
from tests.conftest import SaltCallLocal  # noqa: E402


def apps_pillar(count, keys, edited=False):
    apps = {}
    for number in range(count):
        config = {f"SETTING_{k}": f"value {k} of app {number}" for k in range(keys)}
        if edited and number == 0:
            config["SETTING_0"] = "edited"
        apps[f"app-{number:04}"] = {
            "config": config,
            "environments": {"production": {}, "staging": {"config": {"SETTING_0": "staging"}}},
        }
    return {"mesos": {"apps": apps}}


def timed_apply(salt_call, url, *extra):
    pillar = "pillar=" + json.dumps({"consul": {"url": url}})
    started = time.monotonic()
    result = salt_call.run("state.apply", "mesos.config", pillar, *extra, timeout=1800)
    elapsed = time.monotonic() - started
    if result.returncode != 0 or not isinstance(result.data, dict):
        raise SystemExit(f"state.apply failed: {result!r}"[:2000])
    changed = sum(1 for state in result.data.values() if state["changes"])
    return elapsed, changed


def bench_size(count, keys):
    with tempfile.TemporaryDirectory() as scratch, ConsulServer() as server:
        salt_call = SaltCallLocal(pathlib.Path(scratch))
        salt_call.set_pillar(apps_pillar(count, keys))
        salt_call.run("test.ping")  # warm caches so the first row is not penalised
        predict, predicted = timed_apply(salt_call, server.url, "test=True")
        first, written = timed_apply(salt_call, server.url)
        noop, unchanged = timed_apply(salt_call, server.url)
        if unchanged:
            raise SystemExit(f"second apply reported {unchanged} changed states")
        salt_call.set_pillar(apps_pillar(count, keys, edited=True))
        edit, edited = timed_apply(salt_call, server.url)
        return {
            "apps": count,
            "prefixes": count * 2,
            "keys": count * 2 * keys,
            "test=True": predict,
            "first apply": first,
            "no-op apply": noop,
            "one key changed": edit,
            "states changed (first/edit)": f"{written}/{edited}",
            "predicted": predicted,
        }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10,100,500")
    parser.add_argument("--keys", type=int, default=10)
    args = parser.parse_args()
    rows = [bench_size(int(size), args.keys) for size in args.sizes.split(",")]
    columns = ["apps", "prefixes", "keys", "test=True", "first apply", "no-op apply"]
    columns += ["one key changed", "states changed (first/edit)"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        cells = [f"{row[c]:.2f} s" if isinstance(row[c], float) else str(row[c]) for c in columns]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
