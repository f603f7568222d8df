#!/usr/bin/env python3
"""Validate, install and reload an HAProxy configuration without refusing connections.

One implementation serves two callers: Salt loads this file from ``_utils``
(the ``haproxy`` execution module calls ``safe_reload`` and friends through
``__utils__``), and the formula lays the same file down as the reload script
``mesos-haproxy-reload`` that consul-template and systemd run. It therefore
uses the standard library only.

A reload, in order, under an exclusive lock (concurrent reloads run one at a
time): remove DROP rules an earlier, killed run left behind; validate the
candidate with ``haproxy -c`` (an invalid one is refused with HAProxy's own
error text and nothing changes); install it atomically as the live config,
keeping the previous one as ``<config>.previous``; dump the server states so
health and drain states survive; reload by the chosen method; confirm the new
process is up. A reload that fails after the install puts the previous config
back, so the live file always matches what HAProxy serves.

Methods:
- ``seamless``: HAProxy runs master-worker (``-W``/``-Ws`` with ``-S`` master
  socket); the master CLI ``reload`` starts a new worker that receives the
  listening sockets from the old one, so no connection is refused.
- ``syn_drop``: HAProxy runs as a daemon; around ``haproxy -sf`` the script
  drops new SYNs to the bound ports with (IPv4) iptables, and the clients
  retransmit after 1 s: the article's method for setups that cannot do
  better. The rules carry the comment ``mesos-haproxy-reload`` and are
  removed in every outcome (error, timeout, SIGTERM/SIGINT); after a SIGKILL,
  the marker file ``<lock file>.syn-drop`` makes the next run of any method
  remove them first.
- ``plain``: ``haproxy -sf`` alone, no socket handover: connections arriving
  while the old process closes its listeners are reset. Shows the cost.
"""

import argparse
import contextlib
import fcntl
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

try:
    # Under Salt, failures are CommandExecutionErrors the execution module can
    # let through unchanged; the stand-alone script needs no Salt.
    from salt.exceptions import CommandExecutionError as _ErrorBase
except ImportError:
    _ErrorBase = RuntimeError

METHODS = ("seamless", "syn_drop", "plain")
RULE_COMMENT = "mesos-haproxy-reload"
BACKUP_SUFFIX = ".previous"
POLL_INTERVAL = 0.02
SOCKET_TIMEOUT = 5.0
# Binds that are not TCP ports (unix sockets, inherited fds, QUIC over UDP).
NON_TCP_BIND = re.compile(r"^(unix@|abns@|fd@|sockpair@|quic[46]?@|udp[46]?@|/)")


class ReloadError(_ErrorBase):
    """A reload that was refused or did not complete; the message says why."""


class InvalidConfigError(ReloadError):
    """``haproxy -c`` refused the configuration; the message is HAProxy's text."""


class LockTimeoutError(ReloadError):
    """Another reload held the lock for longer than the timeout."""


class InterruptedReloadError(ReloadError):
    """SIGTERM or SIGINT arrived during the reload."""


# --- running commands -------------------------------------------------------


class Deadline:
    """A point in time every wait of one reload is bounded by."""

    def __init__(self, seconds):
        self.seconds = float(seconds)
        self.end = time.monotonic() + self.seconds

    def remaining(self):
        return max(0.0, self.end - time.monotonic())

    def expired(self):
        return time.monotonic() >= self.end


def run_command(argv, timeout):
    """Run ``argv``; return (exit code, stdout + stderr text). Raise on timeout."""
    try:
        completed = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=max(timeout, 0.1),
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError as error:
        raise ReloadError(f"{argv[0]} is not installed: {error}") from error
    except subprocess.TimeoutExpired as error:
        raise ReloadError(f"{shlex.join(argv)} did not finish within {timeout:.1f}s") from error
    return completed.returncode, (completed.stdout + completed.stderr).strip()


# --- validating and installing the config -----------------------------------


def check_config(path, haproxy="haproxy", timeout=30):
    """Return ``haproxy -c``'s output for a valid config; raise InvalidConfigError."""
    if not os.path.isfile(path):
        raise InvalidConfigError(f"{path}: no such file")
    code, output = run_command([haproxy, "-c", "-f", path], timeout)
    if code != 0:
        raise InvalidConfigError(f"haproxy -c refused {path}:\n{output}")
    return output


def write_atomically(path, data, mode):
    """Replace ``path`` with ``data`` so readers see the old or the new file, never half."""
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".haproxy-reload.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    directory_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_fd)
    finally:
        os.close(directory_fd)


def install_config(candidate, config):
    """Install ``candidate`` as ``config``; return the backup path (None if none)."""
    with open(candidate, "rb") as stream:
        new_data = stream.read()
    backup = None
    mode = 0o644
    if os.path.exists(config):
        mode = os.stat(config).st_mode & 0o7777
        backup = config + BACKUP_SUFFIX
        with open(config, "rb") as stream:
            write_atomically(backup, stream.read(), mode)
    write_atomically(config, new_data, mode)
    return backup


def restore_config(backup, config):
    """Put the previous config back after a reload that did not take it."""
    with open(backup, "rb") as stream:
        write_atomically(config, stream.read(), os.stat(backup).st_mode & 0o7777)


# --- reading the config -----------------------------------------------------


def config_lines(path):
    """(section keyword, stripped line) for each meaningful line of ``path``."""
    section = None
    with open(path, encoding="utf-8", errors="replace") as stream:
        for raw in stream:
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if not raw[0].isspace():
                section = line.split()[0]
            yield section, line


def global_setting(path, keyword):
    """Words after ``keyword`` in the global section (first match), or None."""
    for section, line in config_lines(path):
        words = line.split()
        if section == "global" and words[0] == keyword:
            return words[1:]
    return None


def stats_socket_path(path):
    """The first unix stats socket the config declares, or None."""
    for section, line in config_lines(path):
        words = line.split()
        if section == "global" and words[:2] == ["stats", "socket"] and len(words) > 2:
            address = words[2].removeprefix("unix@")
            if address.startswith("/"):
                return address
    return None


def server_state_file(path):
    """Absolute path of the global server-state file, or None."""
    words = global_setting(path, "server-state-file")
    if not words:
        return None
    base = global_setting(path, "server-state-base")
    if os.path.isabs(words[0]) or not base:
        return words[0]
    return os.path.join(base[0], words[0])


def ports_of_address(address):
    """TCP ports in one bind address such as ``:80``, ``1.2.3.4:80-81``, ``ipv6@:::443``."""
    if NON_TCP_BIND.match(address):
        return []
    port_text = address.rsplit(":", 1)[-1] if ":" in address else ""
    match = re.fullmatch(r"(\d+)(?:-(\d+))?", port_text)
    if not match:
        raise ReloadError(f"cannot tell the TCP port of bind address {address!r}; pass --ports")
    first = int(match.group(1))
    last = int(match.group(2) or first)
    if not 0 < first <= last <= 65535:
        raise ReloadError(f"bind address {address!r} has an invalid port range")
    return list(range(first, last + 1))


def bound_ports(path):
    """Sorted TCP ports every ``bind`` line of the config listens on."""
    ports = set()
    for _section, line in config_lines(path):
        words = line.split()
        if words[0] == "bind" and len(words) > 1:
            for address in words[1].split(","):
                ports.update(ports_of_address(address))
    return sorted(ports)


# --- talking to HAProxy -----------------------------------------------------


def runtime_command(socket_path, command, timeout=SOCKET_TIMEOUT):
    """Send one command to a stats or master socket and return the answer text."""
    deadline = Deadline(timeout)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(timeout)
        try:
            connection.connect(socket_path)
            connection.sendall(command.encode() + b"\n")
            connection.shutdown(socket.SHUT_WR)
            chunks = []
            while not deadline.expired():
                chunk = connection.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except OSError as error:
            raise ReloadError(
                f"HAProxy socket {socket_path}: {command!r} failed: {error}"
            ) from error
    return b"".join(chunks).decode(errors="replace")


def parse_show_proc(text):
    """Master CLI ``show proc`` -> master pid, reload counters, current and old workers."""
    state = {"master": None, "reloads": 0, "failed": 0, "workers": [], "old_workers": []}
    section = "workers"
    for line in text.splitlines():
        if line.startswith("# old workers"):
            section = "old_workers"
        elif line.startswith("# programs"):
            section = None
        elif line.startswith("# workers"):
            section = "workers"
        match = re.match(r"^(\d+)\s+(\S+)\s+(\d+)(?:\s+\[failed:\s*(\d+)\])?", line)
        if not match:
            continue
        pid, kind = int(match.group(1)), match.group(2)
        if kind == "master":
            state["master"] = pid
            state["reloads"] = int(match.group(3))
            state["failed"] = int(match.group(4) or 0)
        elif kind == "worker" and section:
            state[section].append(pid)
    if state["master"] is None:
        raise ReloadError(f"unexpected answer to 'show proc': {text.strip()[:200]!r}")
    return state


def show_proc(master_socket, timeout=SOCKET_TIMEOUT):
    return parse_show_proc(runtime_command(master_socket, "show proc", timeout))


def dump_server_state(stats_socket, state_file):
    """Save server states so the next process starts from them (server-state-file)."""
    answer = runtime_command(stats_socket, "show servers state")
    if not answer.strip():
        raise ReloadError(f"empty 'show servers state' answer from {stats_socket}")
    os.makedirs(os.path.dirname(state_file) or ".", exist_ok=True)
    write_atomically(state_file, answer.encode(), 0o600)


def process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_pid_file(pid_file):
    """PIDs in an HAProxy pid file that belong to running processes."""
    try:
        with open(pid_file, encoding="ascii") as stream:
            pids = [int(word) for word in stream.read().split() if word.isdigit()]
    except FileNotFoundError:
        return []
    return [pid for pid in pids if process_alive(pid)]


# --- reload methods ---------------------------------------------------------


def reload_master_worker(master_socket, deadline):
    """Reload through the master CLI and wait for the new worker to answer."""
    try:
        before = show_proc(master_socket)
    except ReloadError as error:
        raise ReloadError(
            f"{error} (is HAProxy running master-worker with -S {master_socket}?)"
        ) from error
    with contextlib.suppress(ReloadError):
        # The master re-executes itself and drops this connection; 2.6 prints nothing.
        runtime_command(master_socket, "reload")
    while not deadline.expired():
        try:
            after = show_proc(master_socket, timeout=min(SOCKET_TIMEOUT, deadline.remaining()))
        except ReloadError:
            time.sleep(POLL_INTERVAL)  # the master socket is back after the re-exec
            continue
        if after["failed"] > before["failed"]:
            raise ReloadError(
                "HAProxy could not load the new config (see its log); "
                f"the old workers {before['workers']} keep serving"
            )
        new_workers = [pid for pid in after["workers"] if pid not in before["workers"]]
        if after["reloads"] > before["reloads"] and new_workers:
            confirm_worker_answers(master_socket, new_workers[0], deadline)
            return {"old": before["workers"], "new": new_workers}
        time.sleep(POLL_INTERVAL)
    raise ReloadError(f"no new HAProxy worker within the timeout ({deadline.seconds:.1f}s)")


def confirm_worker_answers(master_socket, pid, deadline):
    """The new worker's own CLI (through the master) answers with its pid."""
    while not deadline.expired():
        with contextlib.suppress(ReloadError):
            answer = runtime_command(master_socket, f"@!{pid} show info")
            if re.search(rf"^Pid: {pid}$", answer, re.MULTILINE):
                return
        time.sleep(POLL_INTERVAL)
    raise ReloadError(f"new HAProxy worker {pid} did not answer within the timeout")


def reload_daemon(haproxy, config, pid_file, deadline):
    """``haproxy -D -sf <old pids>``: a new process binds, then the old ones finish."""
    old = read_pid_file(pid_file)
    if not old:
        raise ReloadError(f"no running HAProxy in pid file {pid_file}")
    argv = [haproxy, "-D", "-p", pid_file, "-f", config, "-sf", *map(str, old)]
    code, output = run_command(argv, deadline.remaining())
    if code != 0:
        raise ReloadError(f"{shlex.join(argv)} failed (exit {code}):\n{output}")
    new = [pid for pid in read_pid_file(pid_file) if pid not in old]
    if not new:
        raise ReloadError(f"no new HAProxy process in {pid_file} after the reload")
    return {"old": old, "new": new}


# --- iptables SYN drop ------------------------------------------------------


def marked_rules(iptables, timeout):
    """``iptables -S INPUT`` lines carrying our comment, as argument lists."""
    code, output = run_command([iptables, "-w", "5", "-S", "INPUT"], timeout)
    if code != 0:
        raise ReloadError(f"{iptables} -S INPUT failed: {output}")
    return [
        shlex.split(line)
        for line in output.splitlines()
        if line.startswith("-A INPUT") and RULE_COMMENT in shlex.split(line)
    ]


def remove_marked_rules(iptables, timeout=10):
    """Delete every DROP rule a reload inserted; return how many were removed."""
    rules = marked_rules(iptables, timeout)
    for rule in rules:
        argv = [iptables, "-w", "5", "-D", *rule[1:]]
        code, output = run_command(argv, timeout)
        if code != 0:
            raise ReloadError(f"could not remove {shlex.join(rule)}: {output}")
    return len(rules)


def insert_drop_rules(iptables, ports, timeout=10):
    for port in ports:
        argv = [iptables, "-w", "5", "-I", "INPUT", "-p", "tcp", "--dport", str(port)]
        argv += ["--syn", "-m", "comment", "--comment", RULE_COMMENT, "-j", "DROP"]
        code, output = run_command(argv, timeout)
        if code != 0:
            raise ReloadError(f"could not insert the SYN-drop rule for port {port}: {output}")


def rules_marker(lock_file):
    """Exists while DROP rules may be in place; left behind only by a killed run."""
    return lock_file + ".syn-drop"


@contextlib.contextmanager
def syn_dropped(iptables, ports, settle_delay, deadline, marker):
    """Drop new SYNs to ``ports`` for the duration of the block, whatever happens."""
    try:
        # Written first, so a run killed at any point tells the next one to clean up.
        with open(marker, "w", encoding="ascii") as stream:
            stream.write(f"{os.getpid()}\n")
        insert_drop_rules(iptables, ports)
        # Let connections the old process already accepted settle before it stops.
        time.sleep(min(settle_delay, deadline.remaining()))
        if deadline.expired():
            raise ReloadError(f"timeout ({deadline.seconds:.1f}s) reached before reloading")
        yield
    finally:
        with signals_blocked():
            remove_marked_rules(iptables)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(marker)


# --- signals and the lock ---------------------------------------------------


@contextlib.contextmanager
def signals_blocked():
    """Defer SIGTERM/SIGINT while cleaning up so a second signal cannot cut it short."""
    signals = {signal.SIGTERM, signal.SIGINT}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def raise_interrupted(signum, _frame):
    raise InterruptedReloadError(f"reload interrupted by signal {signal.Signals(signum).name}")


@contextlib.contextmanager
def signals_raise_interrupted():
    """Turn SIGTERM/SIGINT into an exception so ``finally`` blocks run."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may install handlers; its owner handles signals
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    for sig in previous:
        signal.signal(sig, raise_interrupted)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def reload_lock(lock_file, deadline):
    """Hold an exclusive flock on ``lock_file``; yield the seconds spent waiting."""
    os.makedirs(os.path.dirname(os.path.abspath(lock_file)), exist_ok=True)
    descriptor = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    started = time.monotonic()
    try:
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline.expired():
                    raise LockTimeoutError(
                        f"another reload held {lock_file} for more than {deadline.seconds:.1f}s"
                    ) from None
                time.sleep(POLL_INTERVAL)
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
        yield time.monotonic() - started
    finally:
        os.close(descriptor)  # closing releases the flock


# --- the reload -------------------------------------------------------------


def check_arguments(method, master_socket, pid_file, timeout, settle_delay):
    if method not in METHODS:
        raise ReloadError(f"unknown reload method {method!r}; use one of {', '.join(METHODS)}")
    if method == "seamless" and not master_socket:
        raise ReloadError("the seamless method needs the master socket (haproxy -S)")
    if method in ("syn_drop", "plain") and not pid_file:
        raise ReloadError(f"the {method} method needs the pid file (haproxy -p)")
    if not float(timeout) > 0:
        raise ReloadError(f"timeout must be a positive number of seconds, not {timeout!r}")
    if float(settle_delay) < 0:
        raise ReloadError(f"settle delay must not be negative, not {settle_delay!r}")


def check_process_model(method, path):
    """Refuse a daemon-style reload of a master-worker config: -sf would replace the master."""
    if method != "seamless" and global_setting(path, "master-worker") is not None:
        raise ReloadError(
            f"{path} runs HAProxy master-worker: reload it with the seamless method, not {method}"
        )


def remove_stale_rules(method, iptables, marker):
    """Remove DROP rules a killed syn_drop run left behind; return how many.

    syn_drop always looks; other methods only when the marker says a run was
    killed, so a seamless reload never needs iptables.
    """
    if method != "syn_drop" and not os.path.exists(marker):
        return 0
    removed = remove_marked_rules(iptables)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(marker)
    return removed


def guarded_ports(ports, *configs):
    """The ports to drop SYNs on: the given ones, else every port either config binds."""
    if ports:
        return sorted({int(port) for port in ports})
    found = set()
    for path in configs:
        if path and os.path.exists(path):
            found.update(bound_ports(path))
    if not found:
        raise ReloadError("the config binds no TCP port to protect; pass --ports")
    return sorted(found)


def save_server_state(running_config, new_config, warnings):
    """Dump server states where the new process will read them, if both sides are set up."""
    state_file = server_state_file(new_config)
    stats_socket = stats_socket_path(running_config)
    if not state_file or not stats_socket:
        return None
    try:
        dump_server_state(stats_socket, state_file)
    except (ReloadError, OSError) as error:
        # Losing drain/health states is worse than stale ones, but not worth a failed reload.
        warnings.append(f"server states not saved, servers restart from the config: {error}")
        return None
    return state_file


def reload_by_method(method, *, haproxy, config, master_socket, pid_file, deadline, syn_drop):
    if method == "seamless":
        return reload_master_worker(master_socket, deadline)
    if method == "plain":
        return reload_daemon(haproxy, config, pid_file, deadline)
    with syn_dropped(
        syn_drop["iptables"],
        syn_drop["ports"],
        syn_drop["settle_delay"],
        deadline,
        syn_drop["marker"],
    ):
        return reload_daemon(haproxy, config, pid_file, deadline)


def safe_reload(
    config,
    candidate=None,
    method="seamless",
    haproxy="haproxy",
    master_socket=None,
    pid_file=None,
    lock_file=None,
    timeout=30,
    settle_delay=0.2,
    ports=None,
    iptables="iptables",
):
    """Validate, install and reload; return what happened. See the module docstring."""
    check_arguments(method, master_socket, pid_file, timeout, settle_delay)
    deadline = Deadline(timeout)
    lock_file = lock_file or config + ".reload.lock"
    warnings = []
    with signals_raise_interrupted(), reload_lock(lock_file, deadline) as lock_wait:
        locked_at = time.time()
        stale_rules = remove_stale_rules(method, iptables, rules_marker(lock_file))
        check_output = check_config(candidate or config, haproxy, deadline.remaining())
        check_process_model(method, candidate or config)
        syn_drop = None
        if method == "syn_drop":
            syn_drop = {
                "iptables": iptables,
                "ports": guarded_ports(ports, config, candidate),
                "settle_delay": float(settle_delay),
                "marker": rules_marker(lock_file),
            }
        backup = install_config(candidate, config) if candidate else None
        try:
            save_server_state(backup or config, config, warnings)
            reload_started = time.monotonic()
            workers = reload_by_method(
                method,
                haproxy=haproxy,
                config=config,
                master_socket=master_socket,
                pid_file=pid_file,
                deadline=deadline,
                syn_drop=syn_drop,
            )
            duration = time.monotonic() - reload_started
        except BaseException:
            if backup:
                with signals_blocked():
                    restore_config(backup, config)
            raise
        return {
            "method": method,
            "config": config,
            "candidate": candidate,
            "installed": candidate is not None,
            "backup": backup,
            "check": check_output,
            "workers": workers,
            "ports": syn_drop["ports"] if syn_drop else [],
            "duration": round(duration, 4),
            "lock_wait": round(lock_wait, 4),
            "stale_rules_removed": stale_rules,
            "warnings": warnings,
            "locked_at": locked_at,
            "unlocked_at": time.time(),
        }


# --- the command line (mesos-haproxy-reload) --------------------------------


def port_list(text):
    try:
        ports = [int(word) for word in text.split(",") if word.strip()]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a comma-separated port list: {text!r}") from error
    if not ports or not all(0 < port <= 65535 for port in ports):
        raise argparse.ArgumentTypeError(f"ports must be between 1 and 65535: {text!r}")
    return ports


def argument_parser():
    parser = argparse.ArgumentParser(
        prog="mesos-haproxy-reload",
        description="Validate an HAProxy config, install it and reload without refusing "
        "connections. An invalid candidate is refused and the running HAProxy keeps serving.",
    )
    parser.add_argument("--candidate", help="newly rendered config to validate and install")
    parser.add_argument("--config", default="/etc/haproxy/haproxy.cfg", help="live config")
    parser.add_argument("--method", choices=METHODS, default="seamless")
    parser.add_argument("--haproxy", default="haproxy", help="HAProxy binary")
    parser.add_argument("--master-socket", help="master CLI socket (seamless)")
    parser.add_argument("--pid-file", help="pid file (syn_drop, plain)")
    parser.add_argument("--lock-file", help="default: <config>.reload.lock")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds for lock + reload")
    parser.add_argument("--settle-delay", type=float, default=0.2, help="syn_drop: seconds")
    parser.add_argument("--ports", type=port_list, help="syn_drop: e.g. 80,443 (default: binds)")
    parser.add_argument("--iptables", default="iptables", help="iptables binary")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def main(argv=None):
    """Run one reload; exit 0 on success, 3 for an invalid config, 1 for other failures."""
    arguments = argument_parser().parse_args(argv)
    try:
        result = safe_reload(
            arguments.config,
            candidate=arguments.candidate,
            method=arguments.method,
            haproxy=arguments.haproxy,
            master_socket=arguments.master_socket,
            pid_file=arguments.pid_file,
            lock_file=arguments.lock_file,
            timeout=arguments.timeout,
            settle_delay=arguments.settle_delay,
            ports=arguments.ports,
            iptables=arguments.iptables,
        )
    except InvalidConfigError as error:
        print(
            f"mesos-haproxy-reload: config refused, HAProxy keeps serving: {error}", file=sys.stderr
        )
        return 3
    except (ReloadError, OSError) as error:
        print(f"mesos-haproxy-reload: reload failed: {error}", file=sys.stderr)
        return 1
    for warning in result["warnings"]:
        print(f"mesos-haproxy-reload: warning: {warning}", file=sys.stderr)
    if arguments.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print(
            f"reloaded {result['config']} by {result['method']} in {result['duration']:.3f}s; "
            f"new process {result['workers']['new']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
