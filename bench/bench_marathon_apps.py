"""What deploying and re-applying apps through Marathon costs.

    .venv/bin/python bench/bench_marathon_apps.py [--sizes 1,10,50] [--repeat 3]

For each size N, against the Marathon stand-in (tick 0.05 s):

- ``state.apply mesos.apps`` with N apps (one environment, one instance each)
  through ``salt-call --local``: the first run creates and waits for every
  deployment; the second run finds nothing to change. Reported: wall time of
  each run and the HTTP requests the second run sent (one GET per app is the
  goal, no writes).
- the in-process cost of the pieces: rendering the article's test-server
  template (servicedef) and comparing it with what Marathon stores
  (marathon_definition), median per call over many calls.

Prints a Markdown table. Needs nothing but the venv.
"""

import argparse
import importlib.util
import pathlib
import statistics
import sys
import tempfile
import time

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from sandbox.marathon import MarathonServer, appdef  # noqa: E402
from tests.conftest import SaltCallLocal  # noqa: E402

TEMPLATE = """{
  "id": "/app/$environment/$name",
  "cmd": "serve --name $name",
  "cpus": 0.05,
  "mem": 32,
  "instances": $instances,
  "labels": {"version": "$tag"}
}
"""


def load_util(name):
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "_utils" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def apps_pillar(server_url, template_path, size):
    apps = {
        f"svc-{index:03d}": {
            "template": str(template_path),
            "tag": "v1",
            "values": {"name": f"svc-{index:03d}"},
            "environments": {"production": {"instances": 1}},
        }
        for index in range(size)
    }
    return {
        "marathon": {"urls": [server_url], "poll_interval": 0.05},
        "mesos": {"apps": apps, "deploy": {"timeout": 120}},
    }


def timed_apply(salt_call):
    started = time.perf_counter()
    result = salt_call.run("state.apply", "mesos.apps", timeout=1800)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"state.apply failed: {result}")
    changed = sum(1 for state in result.data.values() if state["changes"])
    return elapsed, changed


def measure_apply(size, workdir):
    workdir.mkdir(parents=True, exist_ok=True)
    template = workdir / "svc.json"
    template.write_text(TEMPLATE)
    server = MarathonServer(tick=0.05).start_in_thread()
    try:
        salt_call = SaltCallLocal(workdir / f"salt-{size}")
        salt_call.set_pillar(apps_pillar(server.url, template, size))
        first, created = timed_apply(salt_call)
        server.clear_requests()
        second, changed = timed_apply(salt_call)
        requests = server.requests
    finally:
        server.stop()
    writes = [request for request in requests if request[0] != "GET"]
    return {
        "first": first,
        "created": created,
        "second": second,
        "changed": changed,
        "gets": len(requests) - len(writes),
        "writes": len(writes),
    }


def median_seconds(function, calls):
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def measure_pieces():
    servicedef = load_util("servicedef")
    definition_diff = load_util("marathon_definition")
    text = (REPO_ROOT / "salt/mesos/services/test-server.json").read_text()
    values = {"tag": "v1", "environment": "production", "instances": 4}
    declared = servicedef.render(text, values)
    stored = appdef.with_defaults(appdef.convert_deprecated(declared))
    render = median_seconds(lambda: servicedef.render(text, values), 2000)
    compare = median_seconds(lambda: definition_diff.differences(declared, stored), 2000)
    assert definition_diff.differences(declared, stored) == {}
    return render, compare


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,50")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    print("| apps | first apply (s) | created | second apply (s) | changed | GETs | writes |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="bench-marathon-") as tmp:
        for size in sizes:
            runs = [
                measure_apply(size, pathlib.Path(tmp) / f"{size}-{run}")
                for run in range(args.repeat)
            ]
            row = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            print(
                f"| {size} | {row['first']:.1f} | {row['created']:.0f} | {row['second']:.1f} "
                f"| {row['changed']:.0f} | {row['gets']:.0f} | {row['writes']:.0f} |"
            )
    render, compare = measure_pieces()
    print()
    print("| piece | median per call |")
    print("|---|---:|")
    print(f"| servicedef.render (test-server template) | {render * 1e6:.0f} µs |")
    print(f"| marathon_definition.differences (test-server) | {compare * 1e6:.0f} µs |")


if __name__ == "__main__":
    main()
