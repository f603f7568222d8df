"""Where the CPU of one reload goes, without load: the wrapper's parts and HAProxy's.

Measured in CPU time (user + system), which other work on the machine
disturbs far less than wall-clock throughput:

- HAProxy's process tree (master, workers, reaped workers through the
  master's children times) around HAProxy's own reload and around the
  script's;
- the script as consul-template runs it (a new ``python3`` process), its
  ``haproxy -c`` child included;
- ``haproxy -c`` alone, and ``python3`` starting the script (through its
  ``#!`` line) and stopping at once at a missing config;
- the master-CLI requests one confirmation makes (``show proc`` polls and the
  new worker's ``show info``).

Used by bench_reload.py; ``python3 bench/reload_profile.py`` runs it alone.
"""

import contextlib
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from sandbox.haproxy_process import RELOAD_SCRIPT, HAProxyInstance  # noqa: E402
from sandbox.netns import NetworkNamespace  # noqa: E402

TICK = 1.0 / os.sysconf("SC_CLK_TCK")


def process_cpu(pid, children=False):
    """CPU seconds of ``pid`` (plus the children it reaped, when asked)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stream:
            fields = stream.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    # Fields 14-17 (utime, stime, cutime, cstime) are 12-15 after the name.
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks * TICK


def haproxy_tree_cpu(proxy):
    """CPU seconds of the master, its live workers and every worker it reaped."""
    workers = [pid for pid in proxy.daemon_pids() if pid != proxy.master.pid]
    return process_cpu(proxy.master.pid, children=True) + sum(map(process_cpu, workers))


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wait_for_one_worker(proxy, timeout=10):
    """Until the master lists one worker and no old one: the reload is over."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            answer = proxy.master_cli("show proc")
        except OSError:
            answer = ""
        kinds = [line.split()[1] for line in answer.splitlines() if line[:1].isdigit()]
        if "# old workers" not in answer and kinds.count("worker") == 1:
            return
        time.sleep(0.05)
    raise RuntimeError("the reload did not finish")


def measured(action, proxy):
    """(child-process CPU, HAProxy tree CPU) one ``action`` costs, in seconds."""
    wait_for_one_worker(proxy)
    tree_before, children_before = haproxy_tree_cpu(proxy), children_cpu()
    action()
    wait_for_one_worker(proxy)
    time.sleep(0.05)  # the old worker's exit reaches the master's children times
    return children_cpu() - children_before, haproxy_tree_cpu(proxy) - tree_before


def native_reload(proxy):
    with contextlib.suppress(OSError):
        # The master re-executes itself and may drop the connection.
        proxy.master_cli("reload")


def script_argv(proxy, extra=()):
    """The script run as consul-template and systemd run it: through its ``#!`` line."""
    return [str(RELOAD_SCRIPT), *proxy.reload_argv(), *extra]


def count_master_requests(proxy):
    """Master-CLI requests one in-process seamless reload makes."""
    spec_path = REPO_ROOT / "_utils" / "haproxy_reload.py"
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('r', {str(spec_path)!r})\n"
        "r = importlib.util.module_from_spec(spec); spec.loader.exec_module(r)\n"
        "calls = []\n"
        "original = r.runtime_command\n"
        "def counted(path, command, *a, **k):\n"
        "    calls.append(command.split()[0])\n"
        "    return original(path, command, *a, **k)\n"
        "r.runtime_command = counted\n"
        "r.main(sys.argv[1:])\n"
        "print(len(calls), calls.count('show'), calls.count('reload'))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code, *script_argv(proxy)[1:]],
        capture_output=True,
        text=True,
        check=True,
    )
    total, shows, reloads = (int(word) for word in completed.stdout.split()[-3:])
    return total, shows, reloads


def profile(namespace, reloads=20):
    """Rows (component, CPU ms per reload) for HAProxy's own reload and the script's."""
    with tempfile.TemporaryDirectory(prefix="happrof-", dir="/tmp") as directory:
        proxy = HAProxyInstance(namespace, directory, method="seamless").start()
        try:
            samples = {"native": [], "script": [], "check": [], "startup": []}
            for _ in range(reloads):
                samples["native"].append(measured(lambda: native_reload(proxy), proxy)[1])
                # The script talks to HAProxy over unix sockets only: no namespace needed.
                samples["script"].append(
                    measured(
                        lambda: subprocess.run(script_argv(proxy), check=True, capture_output=True),
                        proxy,
                    )
                )
                before = children_cpu()
                subprocess.run(["haproxy", "-c", "-q", "-f", str(proxy.config)], check=True)
                samples["check"].append(children_cpu() - before)
                before = children_cpu()
                # Starts, parses its arguments, takes the lock and stops at the missing file.
                missing = ["--config", f"{directory}/missing.cfg", "--lock-file", f"{directory}/l"]
                subprocess.run(script_argv(proxy, missing), capture_output=True, check=False)
                samples["startup"].append(children_cpu() - before)
            requests = count_master_requests(proxy)
        finally:
            proxy.stop()
    return profile_rows(samples, requests)


def profile_rows(samples, requests):
    def mean_ms(values):
        return statistics.fmean(values) * 1000

    native = mean_ms(samples["native"])
    script_process = mean_ms([child for child, _tree in samples["script"]])
    script_tree = mean_ms([tree for _child, tree in samples["script"]])
    check, startup = mean_ms(samples["check"]), mean_ms(samples["startup"])
    total = script_process + script_tree
    return [
        ("HAProxy's own reload: master re-exec, new worker, old worker's exit", native),
        ("seamless through the script, in all", total),
        ("- HAProxy's process tree (the reload itself plus answering the polls)", script_tree),
        ("- the script's process, `haproxy -c` included", script_process),
        ("  - `haproxy -c` alone", check),
        ("  - `python3` starting the script (its `#!` line) and stopping at once", startup),
        ("  - the rest: lock, staging, confirmation", script_process - check - startup),
        (
            f"master-CLI requests per reload: {requests[0]} "
            f"({requests[1]} `show`, {requests[2]} `reload`)",
            None,
        ),
    ]


def profile_table(rows, reloads):
    lines = [
        f"CPU per reload (user + system, mean of {reloads} reloads without load):",
        "",
        "| part | CPU ms per reload |",
        "| --- | ---: |",
    ]
    for label, value in rows:
        lines.append(f"| {label} | {'' if value is None else f'{value:.1f}'} |")
    return "\n".join(lines)


def main():
    reloads = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    with NetworkNamespace() as namespace:
        print(profile_table(profile(namespace, reloads), reloads))


if __name__ == "__main__":
    main()
