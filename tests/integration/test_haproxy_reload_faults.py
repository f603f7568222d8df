"""Fault tests for the reload script and ``haproxy.safe_reload`` (root, real HAProxy).

Everything runs inside network namespaces the tests create: HAProxy, the
reload script or ``salt-call --local`` (via ``ip netns exec``), the iptables
rules and the client load, so the host's firewall is never touched. Outcomes
are checked out of band: ``iptables -S`` in the namespace, the files on disk,
HAProxy's pid file / master CLI, and requests through HAProxy.
"""

import itertools
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from sandbox.haproxy_process import RELOAD_SCRIPT, answer_config
from tests.conftest import SALT_BIN
from tests.fixtures.haproxy import LoadRunner, haproxy_pillar, http_get

METHODS = ("seamless", "syn_drop", "plain")


def run_reload(namespace, instance, candidate=None, extra=(), timeout=60):
    argv = [sys.executable, str(RELOAD_SCRIPT), *instance.reload_argv(candidate, extra=extra)]
    return namespace.run([*argv, "--json"], timeout=timeout)


def start_reload(namespace, instance, candidate=None, extra=()):
    argv = [sys.executable, str(RELOAD_SCRIPT), *instance.reload_argv(candidate, extra=extra)]
    return namespace.popen(
        [*argv, "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def drop_rules(namespace):
    """DROP rules in the namespace's INPUT chain, read with iptables itself."""
    listing = namespace.run(["iptables", "-w", "5", "-S", "INPUT"])
    assert listing.returncode == 0, listing.stderr
    return [line for line in listing.stdout.splitlines() if "-j DROP" in line]


def wait_for_drop_rule(namespace, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if drop_rules(namespace):
            return drop_rules(namespace)
        time.sleep(0.02)
    raise AssertionError("the reload never inserted its DROP rule")


def serving_pids(instance):
    """Master's current workers (seamless) or the pid file's processes (daemon)."""
    if instance.master_worker:
        text = instance.master_cli("show proc").split("# old workers")[0]
        return sorted(
            int(line.split()[0]) for line in text.splitlines() if line.split()[1:2] == ["worker"]
        )
    return sorted(int(word) for word in instance.pid_file.read_text().split())


def write_candidate(tmp_path, instance, body, extra=""):
    candidate = tmp_path / f"candidate-{body}.cfg"
    candidate.write_text(answer_config(instance.directory, instance.method, body=body, extra=extra))
    return candidate


@pytest.fixture
def port_blocker(netns):
    """A plain listener on 127.0.0.1:9090 in the namespace (no SO_REUSEPORT, so binds fail)."""
    code = (
        "import socket, time\n"
        "listener = socket.socket()\n"
        "listener.bind(('127.0.0.1', 9090))\n"
        "listener.listen()\n"
        "print('listening', flush=True)\n"
        "time.sleep(120)\n"
    )
    blocker = netns.popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert blocker.stdout.readline().strip() == "listening"
        yield blocker
    finally:
        blocker.kill()
        blocker.wait(10)


@pytest.mark.parametrize("method", METHODS)
def test_invalid_candidate_is_refused_and_requests_keep_succeeding(
    method, netns, make_haproxy, tmp_path
):
    instance = make_haproxy(netns, method=method)
    live = instance.config.read_text()
    pids = serving_pids(instance)
    candidate = tmp_path / "candidate.cfg"
    candidate.write_text(live + "frontend broken\n    bind 127.0.0.1:8081\n    use_backend gone\n")

    with LoadRunner(netns, 8080) as load:
        assert load.wait_for_successes(20)
        result = run_reload(netns, instance, candidate)
        before = load.successes
        assert load.wait_for_successes(before + 20)

    assert result.returncode == 3, result
    assert "unable to find required use_backend: 'gone'" in result.stderr
    assert instance.config.read_text() == live
    assert serving_pids(instance) == pids
    assert load.failures == []
    assert load.bodies == {"ok"}
    assert drop_rules(netns) == []


@pytest.mark.parametrize("method", METHODS)
def test_failed_reload_restores_the_config_leaves_no_rule_and_next_reload_works(
    method, netns, make_haproxy, port_blocker, tmp_path
):
    instance = make_haproxy(netns, method=method)
    live = instance.config.read_text()
    pids = serving_pids(instance)
    # Valid for haproxy -c, but the new process cannot bind a port already taken.
    clashing = write_candidate(
        tmp_path,
        instance,
        "clash",
        extra="frontend clash\n    bind 127.0.0.1:9090\n    http-request return status 200\n",
    )

    failed = run_reload(netns, instance, clashing)

    assert failed.returncode == 1, failed
    assert "reload failed" in failed.stderr
    assert drop_rules(netns) == []
    assert instance.config.read_text() == live
    assert serving_pids(instance) == pids
    assert http_get(netns, 8080) == (200, "ok")

    fixed = run_reload(netns, instance, write_candidate(tmp_path, instance, "fixed"))

    assert fixed.returncode == 0, fixed
    assert http_get(netns, 8080) == (200, "fixed")
    assert drop_rules(netns) == []


def test_sigkilled_syn_drop_reload_leaves_its_rule_to_the_next_run(netns, make_haproxy, tmp_path):
    instance = make_haproxy(netns, method="syn_drop")
    candidate = write_candidate(tmp_path, instance, "second")
    reload = start_reload(netns, instance, candidate, extra=("--settle-delay", "30"))
    try:
        rules = wait_for_drop_rule(netns)
        reload.send_signal(signal.SIGKILL)
        reload.wait(10)
    finally:
        if reload.poll() is None:
            reload.kill()
            reload.wait(10)
        reload.stdout.close()
        reload.stderr.close()
    assert rules == drop_rules(netns)  # a SIGKILL leaves no chance to clean up
    assert "--dport 8080" in rules[0]
    assert "mesos-haproxy-reload" in rules[0]

    # The next run, even by another method, finds the killed run's marker and cleans up.
    result = run_reload(netns, instance, candidate, extra=("--method", "plain"))

    assert result.returncode == 0, result
    assert json.loads(result.stdout)["stale_rules_removed"] == 1
    assert drop_rules(netns) == []
    assert http_get(netns, 8080) == (200, "second")


def stop_reload(reload, sig=signal.SIGKILL):
    try:
        reload.send_signal(sig)
        return reload.communicate(timeout=15)
    finally:
        if reload.poll() is None:
            reload.kill()
            reload.communicate(timeout=10)


def test_a_killed_runs_rule_is_removed_by_a_run_with_another_lock(netns, make_haproxy, tmp_path):
    instance = make_haproxy(netns, method="syn_drop")
    candidate = write_candidate(tmp_path, instance, "second")
    killed = start_reload(netns, instance, candidate, extra=("--settle-delay", "30"))
    rules = wait_for_drop_rule(netns)
    stop_reload(killed)
    assert drop_rules(netns) == rules
    assert f"pid={killed.pid} " in rules[0]

    # A plain run, e.g. from a shell, with a lock of its own.
    other_lock = str(tmp_path / "other.lock")
    result = run_reload(
        netns, instance, candidate, extra=("--method", "plain", "--lock-file", other_lock)
    )

    assert result.returncode == 0, result
    assert json.loads(result.stdout)["stale_rules_removed"] == 1
    assert drop_rules(netns) == []
    assert http_get(netns, 8080) == (200, "second")


def test_syn_drop_runs_with_different_locks_keep_each_others_rules(netns, make_haproxy, tmp_path):
    instance = make_haproxy(netns, method="syn_drop", port=8080)
    first = start_reload(netns, instance, extra=("--settle-delay", "30", "--ports", "8081"))
    try:
        first_rules = wait_for_drop_rule(netns)
        other_lock = ("--lock-file", str(tmp_path / "other.lock"))
        second = run_reload(netns, instance, extra=("--settle-delay", "0.05", *other_lock))

        assert second.returncode == 0, second
        assert json.loads(second.stdout)["stale_rules_removed"] == 0
        # The first run is still going: its rule stays, the second's is gone.
        assert drop_rules(netns) == first_rules
        assert "--dport 8081" in first_rules[0]
    finally:
        _stdout, stderr = stop_reload(first, signal.SIGTERM)
    assert "interrupted by signal SIGTERM" in stderr
    assert drop_rules(netns) == []


def test_the_bytes_checked_are_the_bytes_installed(netns, make_haproxy, tmp_path):
    instance = make_haproxy(netns)
    candidate = write_candidate(tmp_path, instance, "checked")
    rewritten = write_candidate(tmp_path, instance, "rewritten")
    # An haproxy that, once its check passed, sees the candidate rewritten (as a
    # new render by consul-template would): what gets installed must not change.
    haproxy = tmp_path / "haproxy-then-rewrite"
    haproxy.write_text(
        "#!/bin/sh\n"
        'haproxy "$@" || exit $?\n'
        f'if [ "$1" = -c ]; then cp {rewritten} {candidate}; fi\n'
    )
    haproxy.chmod(0o755)

    result = run_reload(netns, instance, candidate, extra=("--haproxy", str(haproxy)))

    assert result.returncode == 0, result
    assert "rewritten" in candidate.read_text()  # the rewrite did happen
    assert http_get(netns, 8080) == (200, "checked")
    assert "string checked" in instance.config.read_text()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_during_syn_drop_removes_the_rule_and_keeps_the_old_config(
    sig, netns, make_haproxy, tmp_path
):
    instance = make_haproxy(netns, method="syn_drop")
    live = instance.config.read_text()
    pids = serving_pids(instance)
    candidate = write_candidate(tmp_path, instance, "second")
    reload = start_reload(netns, instance, candidate, extra=("--settle-delay", "30"))
    wait_for_drop_rule(netns)
    reload.send_signal(sig)
    _stdout, stderr = reload.communicate(timeout=15)

    assert reload.returncode == 1
    assert f"interrupted by signal {sig.name}" in stderr
    assert drop_rules(netns) == []
    assert instance.config.read_text() == live
    assert serving_pids(instance) == pids
    assert http_get(netns, 8080) == (200, "ok")


def test_syn_drop_timeout_removes_the_rule(netns, make_haproxy, tmp_path):
    instance = make_haproxy(netns, method="syn_drop")
    live = instance.config.read_text()
    candidate = write_candidate(tmp_path, instance, "second")

    result = run_reload(
        netns, instance, candidate, extra=("--settle-delay", "5", "--timeout", "0.5")
    )

    assert result.returncode == 1, result
    assert "timeout" in result.stderr
    assert drop_rules(netns) == []
    assert instance.config.read_text() == live
    assert http_get(netns, 8080) == (200, "ok")


def start_salt_call_reload(namespace, salt_call, candidate):
    return namespace.popen(
        salt_call_command(salt_call, "haproxy.safe_reload", f"candidate={candidate}"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def reload_result(stdout, through_salt):
    result = json.loads(stdout)
    return result["local"] if through_salt else result


@pytest.mark.parametrize(
    ("method", "through_salt"),
    [("syn_drop", False), ("seamless", True)],
    ids=["syn_drop-script", "seamless-salt-call"],
)
def test_ten_concurrent_reloads_run_one_at_a_time(
    method, through_salt, netns, make_haproxy, salt_call, tmp_path
):
    instance = make_haproxy(netns, method=method)
    salt_call.set_pillar(haproxy_pillar(instance, syn_drop={"settle_delay": 0.05}))
    candidates = [write_candidate(tmp_path, instance, f"v{index}") for index in range(10)]

    with LoadRunner(netns, 8080) as load:
        assert load.wait_for_successes(10)
        reloads = [
            start_salt_call_reload(netns, salt_call, candidate)
            if through_salt
            else start_reload(netns, instance, candidate, extra=("--settle-delay", "0.05"))
            for candidate in candidates
        ]
        outputs = [reload.communicate(timeout=180) for reload in reloads]
        assert load.wait_for_successes(load.successes + 10)

    assert [reload.returncode for reload in reloads] == [0] * 10, outputs
    results = sorted(
        (reload_result(stdout, through_salt) for stdout, _ in outputs),
        key=lambda result: result["locked_at"],
    )
    for earlier, later in itertools.pairwise(results):
        # Serialised: each run took the lock after the previous released it, and
        # replaced exactly the process the previous one started.
        assert later["locked_at"] >= earlier["unlocked_at"]
        assert set(later["workers"]["old"]) >= set(earlier["workers"]["new"])
    last_body = os.path.basename(results[-1]["candidate"]).removeprefix("candidate-")[:-4]
    assert http_get(netns, 8080) == (200, last_body)
    assert drop_rules(netns) == []
    assert load.failures == []
    if method == "seamless":
        assert "10 [failed: 0]" in instance.master_cli("show proc")


def salt_call_command(salt_call, *arguments):
    return [
        str(SALT_BIN / "salt-call"),
        "--local",
        f"--config-dir={salt_call.config_dir}",
        "--out=json",
        "--retcode-passthrough",
        "--log-level=quiet",
        *arguments,
    ]


def salt_call_in(namespace, salt_call, *arguments, timeout=120):
    return namespace.run(salt_call_command(salt_call, *arguments), timeout=timeout)


def test_salt_call_safe_reload_inside_the_namespace(netns, make_haproxy, salt_call, tmp_path):
    instance = make_haproxy(netns, method="syn_drop")
    salt_call.set_pillar(haproxy_pillar(instance, syn_drop={"settle_delay": 0.05}))
    live = instance.config.read_text()
    broken = tmp_path / "broken.cfg"
    broken.write_text("global\n    no-such-keyword\n")

    refused = salt_call_in(netns, salt_call, "haproxy.safe_reload", f"candidate={broken}")

    assert refused.returncode != 0
    assert "unknown keyword 'no-such-keyword'" in refused.stdout + refused.stderr
    assert instance.config.read_text() == live

    candidate = write_candidate(tmp_path, instance, "viasalt")
    done = salt_call_in(netns, salt_call, "haproxy.safe_reload", f"candidate={candidate}")

    assert done.returncode == 0, done
    result = json.loads(done.stdout)["local"]
    assert result["method"] == "syn_drop"
    assert result["ports"] == [8080]
    assert http_get(netns, 8080) == (200, "viasalt")
    assert drop_rules(netns) == []
