"""Reloads under load: what each reload method costs the clients.

In a network namespace this benchmark creates (and always removes), a real
HAProxy answers every request itself (``http-request return``), so HAProxy,
not a backend, is measured. Client processes inside the namespace open a new
TCP connection per request. First a baseline without reloads, then for each
method the same load while the reload code (``_utils/haproxy_reload.py``,
the one the script and the execution module run) reloads HAProxy every
``--interval`` seconds, ``--reloads`` times. Prints a Markdown table: reloads,
requests, failed requests, p50/p99/max latency and throughput relative to
the baseline, and how it compares with HAProxy's own reload (``reload`` on
the master CLI, measured in the same run). Then a CPU profile of one reload
(``reload_profile.py``): HAProxy's own, and the script's by part.

    make bench-reload                     # as root
    .venv/bin/python bench/bench_reload.py --reloads 50 --clients 2   # quicker
"""

import argparse
import array
import collections
import contextlib
import importlib.util
import multiprocessing
import os
import pathlib
import socket
import sys
import tempfile
import threading
import time

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.reload_profile import profile, profile_table  # noqa: E402
from sandbox.haproxy_process import HAProxyInstance  # noqa: E402
from sandbox.netns import NetworkNamespace  # noqa: E402

PORT = 8080
# HAProxy's own master-worker reload, the floor the wrapper's cost is measured against.
NATIVE = "haproxy"
LABELS = {NATIVE: "HAProxy's own reload (master CLI `reload`)"}
REQUEST = b"GET / HTTP/1.0\r\nHost: bench\r\n\r\n"
# Long enough that dropped SYNs (retransmitted after 1, 3, 7, 15 s) show as
# latency rather than as failures; Linux itself gives a connect ~2 minutes.
CLIENT_TIMEOUT = 30.0


def load_reload_code():
    path = REPO_ROOT / "_utils" / "haproxy_reload.py"
    spec = importlib.util.spec_from_file_location("haproxy_reload", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def one_request():
    """True when HAProxy answered 200 over a fresh connection."""
    with socket.create_connection(("127.0.0.1", PORT), timeout=CLIENT_TIMEOUT) as connection:
        connection.sendall(REQUEST)
        answer = b""
        for _ in range(100):
            chunk = connection.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.startswith(b"HTTP/1.1 200") or answer.startswith(b"HTTP/1.0 200")


def client(namespace_name, stop, hard_stop_at, rate, results):
    """One load process: requests until ``stop`` is set; sends back latencies and failures.

    With ``rate`` (requests/s) it paces itself and does not make up missed
    slots, so a stalled request costs throughput; with 0 it runs flat out.
    """
    NetworkNamespace(namespace_name).enter_current_thread()
    latencies = array.array("d")
    errors = collections.Counter()
    next_at = time.monotonic()
    while not stop.is_set() and time.monotonic() < hard_stop_at:
        if rate:
            next_at = max(next_at + 1.0 / rate, time.monotonic() - 1.0 / rate)
            time.sleep(max(0.0, next_at - time.monotonic()))
        started = time.perf_counter()
        try:
            succeeded = one_request()
        except OSError as error:
            errors[type(error).__name__] += 1
            continue
        if succeeded:
            latencies.append(time.perf_counter() - started)
        else:
            errors["non-200 answer"] += 1
    results.put((latencies.tobytes(), sum(errors.values()), dict(errors)))


def reload_function(reload_code, proxy, method, settle_delay):
    """One reload by ``method``; returns its duration in seconds.

    ``haproxy`` is HAProxy's own master-worker reload: ``reload`` on the
    master CLI, nothing validated, nothing waited for. The others go through
    the reload code (``safe_reload``) as the script and the module do.
    """
    if method == NATIVE:

        def native_reload():
            started = time.monotonic()
            with contextlib.suppress(reload_code.ReloadError):
                # The master re-executes itself and drops the connection.
                reload_code.runtime_command(str(proxy.master_socket), "reload")
            return time.monotonic() - started

        return native_reload

    def wrapped_reload():
        return reload_code.safe_reload(
            str(proxy.config),
            method=method,
            haproxy="haproxy",
            master_socket=str(proxy.master_socket),
            pid_file=str(proxy.pid_file),
            lock_file=str(proxy.lock_file),
            timeout=15,
            settle_delay=settle_delay,
        )["duration"]

    return wrapped_reload


def reloader(namespace, reload_once, options, report):
    """Reload every ``interval`` seconds (or back to back when a reload takes longer)."""
    namespace.enter_current_thread()
    deadline = time.monotonic() + options["max_seconds"]
    next_at = time.monotonic()
    durations = []
    try:
        while len(durations) < options["reloads"] and time.monotonic() < deadline:
            durations.append(reload_once())
            next_at += options["interval"]
            time.sleep(max(0.0, next_at - time.monotonic()))
    except Exception as error:  # reported in the table's notes, never hidden
        report["error"] = f"{type(error).__name__}: {error}"
    report["durations"] = durations


def run_phase(namespace, clients, rate, seconds=None, reload_job=None):
    """Run the load for ``seconds`` or until ``reload_job`` finishes; collect the numbers."""
    context = multiprocessing.get_context("fork")
    stop = context.Event()
    results = context.Queue()
    hard_stop_at = time.monotonic() + (seconds or 600) + 30
    processes = [
        context.Process(
            target=client, args=(namespace.name, stop, hard_stop_at, rate / clients, results)
        )
        for _ in range(clients)
    ]
    for process in processes:
        process.start()
    try:
        time.sleep(0.5)  # let every client reach its loop before measuring
        started = time.monotonic()
        if reload_job is None:
            time.sleep(seconds)
        else:
            reload_job.start()
            reload_job.join()
        elapsed = time.monotonic() - started
        stop.set()
        collected = [results.get(timeout=CLIENT_TIMEOUT + 30) for _ in processes]
    finally:
        stop.set()
        for process in processes:
            process.join(CLIENT_TIMEOUT + 5)
            if process.is_alive():
                process.kill()
                process.join()
    latencies = array.array("d")
    errors = collections.Counter()
    for raw, _failed, error_counts in collected:
        latencies.frombytes(raw)
        errors.update(error_counts)
    # The half second of warm-up is in the counts too: include it in the time.
    return sorted(latencies), errors, elapsed + 0.5


def percentile(sorted_values, fraction):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def summary(label, reloads, latencies, errors, elapsed, baseline_rate, note=""):
    rate = len(latencies) / elapsed
    return {
        "label": label,
        "reloads": reloads,
        "requests": len(latencies) + sum(errors.values()),
        "failed": sum(errors.values()),
        "p50": percentile(latencies, 0.50) * 1000,
        "p99": percentile(latencies, 0.99) * 1000,
        "max": (latencies[-1] if latencies else float("nan")) * 1000,
        "throughput": rate / baseline_rate if baseline_rate else 1.0,
        "rate": rate,
        "note": note or ", ".join(f"{name}: {count}" for name, count in errors.items()),
    }


def reload_notes(report, errors):
    durations = sorted(report.get("durations", []))
    notes = [report["error"]] if "error" in report else []
    if durations:
        notes.append(
            f"reload p50 {percentile(durations, 0.5) * 1000:.0f} ms, "
            f"max {durations[-1] * 1000:.0f} ms"
        )
    notes += [f"{name}: {count}" for name, count in errors.items()]
    return "; ".join(notes)


def measure_method(namespace, reload_code, method, settle_delay, arguments, rate):
    """Two rows for one method: its own baseline (same process model), then under reloads.

    The baseline runs just before the reloads on the same HAProxy, so other
    work on the machine affects both alike.
    """
    label = LABELS.get(method, method)
    if method == "syn_drop":
        label = f"syn_drop (settle {settle_delay:g} s)"
    process_model = "seamless" if method == NATIVE else method
    with tempfile.TemporaryDirectory(prefix="hapbench-", dir="/tmp") as directory:
        proxy = HAProxyInstance(namespace, directory, method=process_model, port=PORT).start()
        try:
            baseline = summary(
                f"{label}: no reloads",
                0,
                *run_phase(namespace, arguments.clients, rate, seconds=arguments.baseline_seconds),
                None,
            )
            report = {}
            options = {
                "reloads": arguments.reloads,
                "interval": arguments.interval,
                "max_seconds": arguments.max_seconds,
            }
            reload_once = reload_function(reload_code, proxy, method, settle_delay)
            job = threading.Thread(target=reloader, args=(namespace, reload_once, options, report))
            latencies, errors, elapsed = run_phase(
                namespace, arguments.clients, rate, reload_job=job
            )
        finally:
            proxy.stop()
    reloaded = summary(
        f"**{label}: reloads**",
        len(report.get("durations", [])),
        latencies,
        errors,
        elapsed,
        baseline["rate"],
        reload_notes(report, errors),
    )
    reloaded["method"] = method
    return [baseline, reloaded]


def measure_capacity(namespace, arguments):
    """Requests/s with the clients flat out and no reloads: sets the offered load."""
    with tempfile.TemporaryDirectory(prefix="hapbench-", dir="/tmp") as directory:
        proxy = HAProxyInstance(namespace, directory, method="seamless", port=PORT).start()
        try:
            phase = run_phase(namespace, arguments.clients, 0, seconds=arguments.baseline_seconds)
        finally:
            proxy.stop()
    return summary("capacity (flat out, no reloads)", 0, *phase, None)


def markdown_table(rows, arguments):
    offered = (
        "flat out"
        if arguments.load_fraction >= 1
        else f"paced at {arguments.load_fraction:.0%} of capacity"
    )
    lines = [
        f"Reload every {arguments.interval * 1000:.0f} ms (or back to back when a reload "
        f"takes longer) under load from {arguments.clients} client processes ({offered}), "
        "a new TCP connection per request (HAProxy 2.6, loopback, network namespace), "
        f"client timeout {CLIENT_TIMEOUT:g} s. Load average before/after: "
        f"{arguments.load_before:.1f}/{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.",
        "",
        "| method | reloads | requests | failed | p50 ms | p99 ms | max ms "
        "| throughput vs no reloads | vs HAProxy's own reload | notes |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    native = next((row for row in rows if row.get("method") == NATIVE and row["reloads"]), None)
    for row in rows:
        versus = ""
        if native and row["reloads"]:
            versus = f"{row['throughput'] / native['throughput']:.0%}"
        lines.append(
            f"| {row['label']} | {row['reloads']} | {row['requests']} | {row['failed']} "
            f"| {row['p50']:.2f} | {row['p99']:.2f} | {row['max']:.1f} "
            f"| {row['throughput']:.0%} ({row['rate']:.0f}/s) | {versus} | {row['note']} |"
        )
    return "\n".join(lines)


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=4, help="load processes")
    parser.add_argument("--interval", type=float, default=0.15, help="seconds between reloads")
    parser.add_argument("--reloads", type=int, default=200, help="reloads per method")
    parser.add_argument(
        "--baseline-seconds", type=float, default=8.0, help="each method's no-reload phase"
    )
    parser.add_argument("--max-seconds", type=float, default=180.0, help="cap per method")
    parser.add_argument(
        "--load-fraction",
        type=float,
        default=0.6,
        help="offered load as a fraction of the measured capacity (1: flat out, so reload "
        "CPU competes with the load generator on the same cores)",
    )
    parser.add_argument(
        "--methods",
        default=f"{NATIVE},seamless,syn_drop,plain",
        help=f"comma-separated: {NATIVE} (HAProxy's own reload), seamless, syn_drop, plain",
    )
    parser.add_argument(
        "--profile-reloads",
        type=int,
        default=20,
        help="reloads for the CPU profile of one reload (0: no profile)",
    )
    parser.add_argument(
        "--settle-delays",
        default="0.05,0.2",
        help="syn_drop settle delays to measure (the article used 0.2 s)",
    )
    return parser.parse_args(argv)


def main(argv=None):
    arguments = parse_arguments(argv)
    # Other work on the machine shows up as latency: print how busy it was.
    arguments.load_before = os.getloadavg()[0]
    reload_code = load_reload_code()
    rows = []
    with NetworkNamespace() as namespace:
        # Many short connections: widen the port range and reuse TIME_WAIT ports.
        namespace.run(["sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=1024 65000"])
        namespace.run(["sysctl", "-q", "-w", "net.ipv4.tcp_tw_reuse=1"])
        capacity = measure_capacity(namespace, arguments)
        rows.append(capacity)
        rate = capacity["rate"] * arguments.load_fraction if arguments.load_fraction < 1 else 0
        print(f"capacity: {capacity['rate']:.0f} requests/s", file=sys.stderr, flush=True)
        for method in arguments.methods.split(","):
            delays = [0.0]
            if method == "syn_drop":
                delays = [float(delay) for delay in arguments.settle_delays.split(",")]
            for delay in delays:
                rows += measure_method(namespace, reload_code, method, delay, arguments, rate)
                print(f"{rows[-1]['label']}: done", file=sys.stderr, flush=True)
        profile_rows = (
            profile(namespace, arguments.profile_reloads) if arguments.profile_reloads else []
        )
    print(markdown_table(rows, arguments))
    if profile_rows:
        print()
        print(profile_table(profile_rows, arguments.profile_reloads))
        print(f"\nLoad average after the profile: {os.getloadavg()[0]:.1f}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
