"""Render and validate the HAProxy templates for 10, 100 and 1000 services.

    .venv/bin/python bench/bench_templates.py [--sizes 10,100,1000] [--repeat 3]

For each size: every service registered in the Consul stand-in with one
production and one staging instance and an internal-listen-http tag; Salt
lays the internal role's template down once; then, median of --repeat runs:

- render: `tools/bin/ctmpl -once`, answered by a replay in front of the
  stand-in that sends the stand-in's own responses, fetched once each, from
  memory (the stand-in answers in Python, tens of milliseconds per health
  query at 2000 instances, which real Consul does not; the first render,
  which goes through to the stand-in, is reported as "render via stand-in"),
- `haproxy -c` of the result, and the config's size,
- reload: a real HAProxy (master-worker) in a network namespace this
  script creates and removes, serving that render; the reload
  script (_utils/haproxy_reload.py, what consul-template runs) validates,
  installs and reloads it; "reload" is the time until the new worker is up,
  "reload command" the whole command.

Prints a Markdown table. Needs root (network namespace), haproxy, `make tools`.
"""

import argparse
import asyncio
import json
import pathlib
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse

import requests

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from sandbox.consul import ConsulServer  # noqa: E402
from sandbox.haproxy_process import HAProxyInstance  # noqa: E402
from sandbox.netns import NetworkNamespace  # noqa: E402
from tests.conftest import SaltCallLocal  # noqa: E402
from tests.loadbalancer_support import (  # noqa: E402
    haproxy_check,
    lay_down_templates,
    render,
    scratch_pillar,
)

RELOAD_SCRIPT = REPO_ROOT / "_utils" / "haproxy_reload.py"
# Query parameters that make a request blocking or stale, not a different one.
VOLATILE_PARAMETERS = {"index", "wait", "stale", "consistent"}


class ReplayConsul:
    """Answers GETs with the stand-in's own responses, fetched once each.

    An asyncio loop in a thread writing prepared bytes, so the render time
    measures ctmpl and the templates, not Python's HTTP server.
    """

    def __init__(self, upstream):
        self.upstream = upstream
        self.cache = {}
        # Same request text -> same bytes, without parsing the query again.
        self.by_target = {}
        self.loop = asyncio.new_event_loop()
        self.server = None
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        future = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self.serve, "127.0.0.1", 0), self.loop
        )
        self.server = future.result(timeout=10)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc_info):
        asyncio.run_coroutine_threadsafe(self.shutdown(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    async def shutdown(self):
        self.server.close()
        connections = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in connections:
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)

    def fetch(self, target):
        """The stand-in's full answer to ``target``, as bytes ready to send."""
        path, _, query = target.partition("?")
        pairs = [
            pair
            for pair in urllib.parse.parse_qsl(query, keep_blank_values=True)
            if pair[0] not in VOLATILE_PARAMETERS
        ]
        key = (path, tuple(sorted(pairs)))
        if key not in self.cache:
            upstream = requests.get(self.upstream + path, params=pairs, timeout=120)
            head = [f"HTTP/1.1 {upstream.status_code} {upstream.reason}"]
            head += [
                f"{name}: {value}"
                for name, value in upstream.headers.items()
                if name.lower().startswith("x-consul-") or name.lower() == "content-type"
            ]
            head.append(f"Content-Length: {len(upstream.content)}")
            self.cache[key] = ("\r\n".join(head) + "\r\n\r\n").encode() + upstream.content
        return self.cache[key]

    async def serve(self, reader, writer):
        try:
            while True:
                request = await reader.readuntil(b"\r\n\r\n")
                target = request.split(b" ", 2)[1].decode()
                answer = self.by_target.get(target)
                if answer is None:
                    answer = await self.loop.run_in_executor(None, self.fetch, target)
                    self.by_target[target] = answer
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.CancelledError, ConnectionError):
            # Client gone, or the replay shutting down: the connection just ends.
            pass
        finally:
            writer.close()


def ignore_client_gone(request, client_address):
    """ctmpl -once exits without reading late answers: broken pipes are expected."""


def register_catalog(consul_url, count):
    session = requests.Session()
    for number in range(1, count + 1):
        name = f"service-{number}"
        for environment, offset in (("production", 20000), ("staging", 40000)):
            service_id = f"{name}-{environment}"
            definition = {
                "ID": service_id,
                "Name": name,
                # Ports 1001-2000: no production port is another's staging port.
                "Tags": [environment, f"internal-listen-http-{1000 + number}"],
                "Address": "127.0.0.1",
                "Port": offset + number,
                "Check": {"TTL": "10m"},
            }
            session.put(
                f"{consul_url}/v1/agent/service/register", json=definition, timeout=30
            ).raise_for_status()
            session.put(
                f"{consul_url}/v1/agent/check/pass/service:{service_id}", timeout=30
            ).raise_for_status()


def timed(function, *arguments):
    started = time.perf_counter()
    result = function(*arguments)
    return time.perf_counter() - started, result


def reload_times(namespace, root, config_text, candidate, repeat):
    """(median reload, median whole command) of the reload script in ``namespace``."""
    proxy = HAProxyInstance(namespace, root / "run/haproxy", config_text=config_text).start()
    reloads, commands = [], []
    try:
        for _ in range(repeat):
            argv = [sys.executable, str(RELOAD_SCRIPT), "--json"]
            argv += proxy.reload_argv(candidate=candidate)
            started = time.perf_counter()
            completed = namespace.run(argv, timeout=120)
            commands.append(time.perf_counter() - started)
            if completed.returncode != 0:
                raise RuntimeError(f"reload failed: {completed.stderr}")
            reloads.append(json.loads(completed.stdout)["duration"])
    finally:
        proxy.stop()
    return statistics.median(reloads), statistics.median(commands)


def measure(size, template, workdir, repeat):
    row = {"services": size}
    with ConsulServer() as consul:
        # Its late answers to an exited ctmpl are expected broken pipes too.
        consul.handle_error = ignore_client_gone
        row["register"] = timed(register_catalog, consul.url, size)[0]
        with ReplayConsul(consul.url) as replay:
            output = workdir / f"haproxy-{size}.cfg"
            row["render via stand-in"] = timed(render, replay.url, template, output)[0]
            renders = [timed(render, replay.url, template, output)[0] for _ in range(repeat)]
    row["render"] = statistics.median(renders)
    checks = []
    for _ in range(repeat):
        elapsed, (ok, text) = timed(haproxy_check, output)
        if not ok:
            raise RuntimeError(f"haproxy -c refused the {size}-service config: {text}")
        checks.append(elapsed)
    row["check"] = statistics.median(checks)
    config_text = output.read_text()
    row["bytes"] = len(config_text.encode())
    row["frontends"] = config_text.count("\nfrontend ")
    row["backends"] = config_text.count("\nbackend ")
    with NetworkNamespace() as namespace:
        candidate = workdir / f"candidate-{size}.cfg"
        shutil.copy(output, candidate)
        row["reload"], row["reload command"] = reload_times(
            namespace, workdir / "root", config_text, candidate, repeat
        )
    return row


def markdown(rows):
    lines = [
        "| services | frontends | backends | config size | ctmpl render | render via stand-in"
        " | haproxy -c | render + check | reload (new worker up) | reload command |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['services']} | {row['frontends']} | {row['backends']}"
            f" | {row['bytes'] / 1024:.0f} KiB | {row['render']:.3f} s"
            f" | {row['render via stand-in']:.2f} s | {row['check']:.3f} s"
            f" | {row['render'] + row['check']:.3f} s | {row['reload']:.3f} s"
            f" | {row['reload command']:.3f} s |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-templates-") as scratch:
        workdir = pathlib.Path(scratch)
        root = workdir / "root"
        pillar = scratch_pillar(root, role="internal")
        template = lay_down_templates(SaltCallLocal(workdir / "salt-call"), pillar, "internal")
        rows = []
        for size in sizes:
            rows.append(measure(size, template, workdir, arguments.repeat))
            print(f"measured {size} services", file=sys.stderr, flush=True)
    print(markdown(rows))
    largest = rows[-1]
    verdict = "met" if largest["render"] + largest["check"] <= 2 else "MISSED"
    print(f"\nTarget (render + check of {largest['services']} services within 2 s): {verdict}")


if __name__ == "__main__":
    main()
