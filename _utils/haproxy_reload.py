#!/usr/bin/python3 -IS
"""Validate, install and reload an HAProxy configuration without refusing connections.

One implementation serves two callers: Salt loads this file from ``_utils``
(the ``haproxy`` execution module calls ``safe_reload`` and friends through
``__utils__``), and the formula lays the same file down as the reload script
``mesos-haproxy-reload`` that consul-template and systemd run. It therefore
uses the standard library only.

A reload, in order, under an exclusive lock (``/run/haproxy/reload.lock`` by
default, the formula's too, so concurrent reloads run one at a time): remove
DROP rules an earlier, killed run left behind; read the candidate once into a
staged file next to the config and validate that file with ``haproxy -c`` (an
invalid one is refused with HAProxy's verdict and nothing changes); make sure
the running HAProxy answers (master socket or pid file); rename the staged
file over the live config, keeping the previous one as ``<config>.previous``;
dump the server states so health and drain states survive; reload by the
chosen method; confirm the new process is up. A reload that fails after the
install puts the previous config back (and ``.previous`` as it was), so the
live file always matches what HAProxy serves.

Methods:
- ``seamless``: HAProxy runs master-worker (``-W``/``-Ws`` with ``-S`` master
  socket); the master CLI ``reload`` starts a new worker that receives the
  listening sockets from the old one, so no connection is refused.
- ``syn_drop``: HAProxy runs as a daemon; around ``haproxy -sf`` the script
  drops new SYNs to the bound ports with (IPv4) iptables, and the clients
  retransmit after 1 s: the article's method for setups that cannot do
  better. Each rule's comment names the run that inserted it
  (``mesos-haproxy-reload pid=<pid> start=<process start time>``); a run
  removes its own rules in every outcome (error, timeout, SIGTERM/SIGINT).
  After a SIGKILL, the next run of any method, whatever lock it uses,
  removes the rules whose run is gone: syn_drop runs always look, the
  others when a marker in ``/run/mesos-haproxy-reload`` says a syn_drop run
  in this network namespace died. Rules of a run that is still going are
  left alone.
- ``plain``: ``haproxy -sf`` alone, no socket handover: connections arriving
  while the old process closes its listeners are reset. Shows the cost.
"""

import argparse
import contextlib
import fcntl
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time

# Under Salt (which has imported salt.exceptions before loading this file),
# failures are CommandExecutionErrors the execution module lets through
# unchanged. The stand-alone script never imports Salt: on a minion host that
# import alone costs more CPU than the whole reload.
if "salt.exceptions" in sys.modules:
    _ErrorBase = sys.modules["salt.exceptions"].CommandExecutionError
else:
    _ErrorBase = RuntimeError

METHODS = ("seamless", "syn_drop", "plain")
# The formula's lock too (mesos:haproxy:lock_file), so runs from a shell and
# consul-template's wait for each other.
DEFAULT_LOCK_FILE = "/run/haproxy/reload.lock"
RULE_COMMENT = "mesos-haproxy-reload"
# Markers of syn_drop runs in progress: a marker whose run died tells the next
# run of any method to look for that run's rules.
MARKER_DIR = "/run/mesos-haproxy-reload"
BACKUP_SUFFIX = ".previous"
STAGED_PREFIX = ".haproxy-reload."
# haproxy -c messages shown at most; the rest are counted.
MAX_REPORTED_LINES = 40
# A file whose first directive opens none of these is not an HAProxy config:
# its content is never quoted back.
SECTION_KEYWORDS = frozenset(
    [
        "global",
        "defaults",
        "frontend",
        "backend",
        "listen",
        "resolvers",
        "peers",
        "userlist",
        "mailers",
        "program",
        "http-errors",
        "ring",
        "cache",
        "log-forward",
        "fcgi-app",
    ]
)
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
    """Return HAProxy's verdict on a valid config; raise InvalidConfigError.

    ``path`` may be any file, e.g. a candidate that is a symlink to a secret:
    its bytes are read once into a private copy, HAProxy checks that copy,
    and the verdict quotes nothing that is not HAProxy configuration (see
    ``reported_verdict``).
    """
    if not os.path.isfile(path):
        raise InvalidConfigError(f"{path}: no such file")
    with open(path, "rb") as stream:
        content = stream.read()
    private = write_staged(os.environ.get("TMPDIR") or "/tmp", content, 0o600)
    try:
        return check_staged(private, content, haproxy, timeout, shown_as=path)
    finally:
        discard(private)


def check_staged(staged, content, haproxy, timeout, shown_as):
    """``haproxy -c`` on ``staged`` (whose bytes are ``content``), named ``shown_as``."""
    code, output = run_command([haproxy, "-c", "-f", staged], timeout)
    verdict = reported_verdict(output, content).replace(staged, shown_as)
    if code != 0:
        raise InvalidConfigError(f"haproxy -c refused {shown_as}:\n{verdict}")
    return verdict


def looks_like_haproxy_config(text):
    """True when the first directive opens an HAProxy section (or there is none)."""
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            return line.split()[0] in SECTION_KEYWORDS
    return True


def reported_verdict(output, content):
    """HAProxy's ALERT/WARNING lines, quoting only words of an HAProxy config.

    HAProxy quotes the offending text in its messages: a line of the file it
    was given, or of a file the config loads (ACL and map files). A quoted
    fragment is kept when every word of it is a word of the checked file and
    that file is an HAProxy config; anything else shows as ``'<not shown>'``.
    """
    text = content.decode("utf-8", errors="replace")
    words = set(text.split()) if looks_like_haproxy_config(text) else set()

    def shown(match):
        fragment = match.group(1)
        if fragment and all(word in words for word in fragment.split()):
            return match.group(0)
        return "'<not shown>'"

    lines = [
        re.sub(r"'([^']*)'", shown, line)
        for line in output.splitlines()
        if line.strip() and not line.lstrip().startswith("[NOTICE]")
    ]
    if len(lines) > MAX_REPORTED_LINES:
        hidden = len(lines) - MAX_REPORTED_LINES
        lines = [*lines[:MAX_REPORTED_LINES], f"... and {hidden} more lines"]
    return "\n".join(lines)


def fsync_directory(directory):
    directory_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_fd)
    finally:
        os.close(directory_fd)


def create_hidden_file(directory):
    """A new file ``directory/.haproxy-reload.<random>``, opened for writing: (fd, path).

    Like tempfile.mkstemp, without importing tempfile (and random): the
    script starts once per reload, and imports are most of its start-up.
    """
    for _attempt in range(100):
        path = os.path.join(directory, STAGED_PREFIX + os.urandom(6).hex())
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), path
        except FileExistsError:
            continue
    raise ReloadError(f"could not create a staging file in {directory}")


def write_staged(directory, data, mode):
    """Write ``data`` to a new hidden file in ``directory``; return its path."""
    handle, staged = create_hidden_file(directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(staged, mode)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staged)
        raise
    return staged


def write_atomically(path, data, mode):
    """Replace ``path`` with ``data`` so readers see the old or the new file, never half."""
    directory = os.path.dirname(os.path.abspath(path))
    os.replace(write_staged(directory, data, mode), path)
    fsync_directory(directory)


def stage_candidate(candidate, config):
    """Copy the candidate's bytes, read once, next to ``config``; return the staged path.

    The staged file is what ``haproxy -c`` checks and what is renamed over
    the live config, so a candidate rewritten in between changes neither.
    It gets the live config's mode.
    """
    with open(candidate, "rb") as stream:
        data = stream.read()
    mode = os.stat(config).st_mode & 0o7777 if os.path.exists(config) else 0o644
    return write_staged(os.path.dirname(os.path.abspath(config)), data, mode)


def discard(path):
    if path:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


class Installation:
    """The staged candidate renamed over the live config, undone unless committed.

    The live config's inode is kept under a hidden name (a hard link), so a
    rollback renames it back: the exact old bytes and mode. Only a committed
    installation becomes ``<config>.previous``; a rolled back one leaves
    ``.previous`` as it was.
    """

    def __init__(self, staged, config):
        self.config = config
        self.kept = None
        directory = os.path.dirname(os.path.abspath(config))
        if os.path.exists(config):
            self.kept = os.path.join(directory, f"{STAGED_PREFIX}kept.{os.getpid()}")
            discard(self.kept)
            os.link(config, self.kept)
        os.replace(staged, config)
        fsync_directory(directory)

    def commit(self):
        """Return the backup path (None for a first install)."""
        if self.kept is None:
            return None
        backup = self.config + BACKUP_SUFFIX
        os.replace(self.kept, backup)
        return backup

    def roll_back(self):
        if self.kept is None:
            return  # a first install has nothing to go back to
        os.replace(self.kept, self.config)
        fsync_directory(os.path.dirname(os.path.abspath(self.config)))


# --- reading the config -----------------------------------------------------


def config_words(line):
    """The words of one config line, quotes and backslashes resolved as HAProxy does.

    HAProxy takes ``'...'`` literally and ``"..."`` with backslash escapes,
    and ``#`` outside quotes starts a comment. A line whose quotes do not
    close gives its plain whitespace-separated words.
    """
    lexer = shlex.shlex(line, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        return list(lexer)
    except ValueError:
        return line.split("#", 1)[0].split()


def config_lines(path):
    """(section keyword, words) for each meaningful line of ``path``."""
    section = None
    with open(path, encoding="utf-8", errors="replace") as stream:
        for raw in stream:
            words = config_words(raw)
            if not words:
                continue
            if not raw[0].isspace():
                section = words[0]
            yield section, words


def global_setting(path, keyword):
    """Words after ``keyword`` in the global section (first match), or None."""
    for section, words in config_lines(path):
        if section == "global" and words[0] == keyword:
            return words[1:]
    return None


def stats_socket_path(path):
    """The first unix stats socket the config declares, or None."""
    for section, words in config_lines(path):
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
    for _section, words in config_lines(path):
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


def running_haproxy(method, master_socket, pid_file):
    """What runs now: the master's ``show proc`` (seamless) or the pid file's live pids.

    Asked before anything is installed, so a run against an HAProxy that
    does not answer changes nothing.
    """
    if method == "seamless":
        try:
            return show_proc(master_socket)
        except ReloadError as error:
            raise ReloadError(
                f"{error} (is HAProxy running master-worker with -S {master_socket}?)"
            ) from error
    old = read_pid_file(pid_file)
    if not old:
        raise ReloadError(f"no running HAProxy in pid file {pid_file}")
    return old


def reload_master_worker(master_socket, before, deadline):
    """Reload through the master CLI and wait for the new worker to answer."""
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


def reload_daemon(haproxy, config, pid_file, old, deadline):
    """``haproxy -D -sf <old pids>``: a new process binds, then the old ones finish."""
    argv = [haproxy, "-D", "-p", pid_file, "-f", config, "-sf", *map(str, old)]
    code, output = run_command(argv, deadline.remaining())
    if code != 0:
        raise ReloadError(f"{shlex.join(argv)} failed (exit {code}):\n{output}")
    new = [pid for pid in read_pid_file(pid_file) if pid not in old]
    if not new:
        raise ReloadError(f"no new HAProxy process in {pid_file} after the reload")
    return {"old": old, "new": new}


# --- iptables SYN drop ------------------------------------------------------


def process_start_time(pid):
    """Start time of ``pid`` in clock ticks since boot (None when it is gone).

    With the pid it names one process for good: a pid reused later has
    another start time.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stream:
            stat = stream.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # Field 22; the command name (field 2) may contain spaces and parentheses.
    return int(stat.rsplit(")", 1)[1].split()[19])


def run_identity(pid=None):
    """``pid=<pid> start=<start time>`` of this (or another) process."""
    pid = pid or os.getpid()
    return f"pid={pid} start={process_start_time(pid)}"


def rule_comment():
    """The comment on this run's rules: the marker word plus who inserted them."""
    return f"{RULE_COMMENT} {run_identity()}"


def owner_is_running(comment):
    """True when the run named in a rule's comment is still going.

    A rule without an owner (an older version's) counts as left behind.
    """
    match = re.fullmatch(rf"{RULE_COMMENT} pid=(\d+) start=(\d+)", comment)
    if not match:
        return False
    return process_start_time(int(match.group(1))) == int(match.group(2))


def marked_rules(iptables, timeout):
    """(argument list, comment) of each ``iptables -S INPUT`` rule carrying our mark."""
    code, output = run_command([iptables, "-w", "5", "-S", "INPUT"], timeout)
    if code != 0:
        raise ReloadError(f"{iptables} -S INPUT failed: {output}")
    rules = []
    for line in output.splitlines():
        if not line.startswith("-A INPUT"):
            continue
        words = shlex.split(line)
        comment = words[words.index("--comment") + 1] if "--comment" in words[:-1] else ""
        if comment.split(" ", 1)[0] == RULE_COMMENT:
            rules.append((words, comment))
    return rules


def delete_rules(iptables, rules, timeout):
    for words, _comment in rules:
        code, output = run_command([iptables, "-w", "5", "-D", *words[1:]], timeout)
        if code != 0:
            raise ReloadError(f"could not remove {shlex.join(words)}: {output}")
    return len(rules)


def remove_own_rules(iptables, timeout=10):
    """Delete the DROP rules this run inserted; return how many."""
    own = rule_comment()
    rules = [rule for rule in marked_rules(iptables, timeout) if rule[1] == own]
    return delete_rules(iptables, rules, timeout)


def remove_orphaned_rules(iptables, timeout=10):
    """Delete DROP rules whose run is gone, whatever lock it held; return how many."""
    rules = [rule for rule in marked_rules(iptables, timeout) if not owner_is_running(rule[1])]
    return delete_rules(iptables, rules, timeout)


def insert_drop_rules(iptables, ports, timeout=10):
    comment = rule_comment()
    for port in ports:
        argv = [iptables, "-w", "5", "-I", "INPUT", "-p", "tcp", "--dport", str(port)]
        argv += ["--syn", "-m", "comment", "--comment", comment, "-j", "DROP"]
        code, output = run_command(argv, timeout)
        if code != 0:
            raise ReloadError(f"could not insert the SYN-drop rule for port {port}: {output}")


def network_namespace_id():
    """Inode of this process's network namespace: iptables rules belong to it."""
    try:
        return os.stat("/proc/self/ns/net").st_ino
    except OSError:
        return 0


def run_marker(marker_dir, pid=None):
    """The marker path of a syn_drop run (this one by default)."""
    identity = run_identity(pid).replace("pid=", "").replace(" start=", ".")
    return os.path.join(marker_dir, f"syn-drop.{network_namespace_id()}.{identity}")


def orphaned_markers(marker_dir):
    """Markers, in this network namespace, of syn_drop runs that are gone."""
    prefix = f"syn-drop.{network_namespace_id()}."
    try:
        names = os.listdir(marker_dir)
    except FileNotFoundError:
        return []
    orphaned = []
    for name in names:
        match = re.fullmatch(r"(\d+)\.(\d+)", name.removeprefix(prefix))
        if not name.startswith(prefix) or not match:
            continue
        if process_start_time(int(match.group(1))) != int(match.group(2)):
            orphaned.append(os.path.join(marker_dir, name))
    return orphaned


@contextlib.contextmanager
def syn_dropped(iptables, ports, settle_delay, deadline, marker_dir):
    """Drop new SYNs to ``ports`` for the duration of the block, whatever happens."""
    marker = run_marker(marker_dir)
    try:
        # Written first, so a run killed at any point tells the next one to clean up.
        os.makedirs(marker_dir, mode=0o700, exist_ok=True)
        with open(marker, "w", encoding="ascii"):
            pass
        insert_drop_rules(iptables, ports)
        # Let connections the old process already accepted settle before it stops.
        time.sleep(min(settle_delay, deadline.remaining()))
        if deadline.expired():
            raise ReloadError(f"timeout ({deadline.seconds:.1f}s) reached before reloading")
        yield
    finally:
        with signals_blocked():
            remove_own_rules(iptables)
            discard(marker)


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
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for sig in previous:
            signal.signal(sig, raise_interrupted)
    except ValueError:
        # Only the main thread may install handlers; its owner handles signals.
        previous = {}
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


def check_process_model(method, path, shown_as=None):
    """Refuse a daemon-style reload of a master-worker config: -sf would replace the master."""
    if method != "seamless" and global_setting(path, "master-worker") is not None:
        raise ReloadError(
            f"{shown_as or path} runs HAProxy master-worker: "
            f"reload it with the seamless method, not {method}"
        )


def remove_stale_rules(method, iptables, marker_dir=MARKER_DIR):
    """Remove DROP rules a killed syn_drop run left behind; return how many.

    syn_drop always looks; other methods only when a killed run's marker is
    there, so a seamless reload never needs iptables otherwise.
    """
    markers = orphaned_markers(marker_dir)
    if method != "syn_drop" and not markers:
        return 0
    removed = remove_orphaned_rules(iptables)
    for marker in markers:
        discard(marker)
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


def reload_by_method(method, running, *, haproxy, config, master_socket, pid_file, **options):
    """Reload by ``method``; ``running`` is what ``running_haproxy`` found."""
    deadline = options["deadline"]
    if method == "seamless":
        return reload_master_worker(master_socket, running, deadline)
    if method == "plain":
        return reload_daemon(haproxy, config, pid_file, running, deadline)
    syn_drop = options["syn_drop"]
    with syn_dropped(
        syn_drop["iptables"],
        syn_drop["ports"],
        syn_drop["settle_delay"],
        deadline,
        syn_drop["marker_dir"],
    ):
        return reload_daemon(haproxy, config, pid_file, running, deadline)


def same_content(first, second):
    if not os.path.exists(second):
        return False
    with open(first, "rb") as one, open(second, "rb") as other:
        return one.read() == other.read()


def prepare(method, config, candidate, options):
    """Stage, check and look at the running HAProxy: everything before the install.

    Returns (staged path or None, haproxy -c verdict, running HAProxy, syn_drop
    settings). A staged file identical to the live config is dropped: the run
    reloads, but installs nothing and keeps ``.previous`` as it is.
    """
    staged = stage_candidate(candidate, config) if candidate else None
    try:
        checked = staged or config
        timeout = options["deadline"].remaining()
        if staged:
            with open(staged, "rb") as stream:
                content = stream.read()
            verdict = check_staged(staged, content, options["haproxy"], timeout, candidate)
        else:
            verdict = check_config(config, options["haproxy"], timeout)
        check_process_model(method, checked, shown_as=candidate)
        syn_drop = None
        if method == "syn_drop":
            syn_drop = {
                "iptables": options["iptables"],
                "ports": guarded_ports(options["ports"], config, checked),
                "settle_delay": float(options["settle_delay"]),
                "marker_dir": options["marker_dir"],
            }
        running = running_haproxy(method, options["master_socket"], options["pid_file"])
        if staged and same_content(staged, config):
            discard(staged)
            staged = None
    except BaseException:
        discard(staged)
        raise
    return staged, verdict, running, syn_drop


def safe_reload(
    config,
    candidate=None,
    method="seamless",
    haproxy="haproxy",
    master_socket=None,
    pid_file=None,
    lock_file=DEFAULT_LOCK_FILE,
    timeout=30,
    settle_delay=0.2,
    ports=None,
    iptables="iptables",
    marker_dir=MARKER_DIR,
):
    """Validate, install and reload; return what happened. See the module docstring."""
    check_arguments(method, master_socket, pid_file, timeout, settle_delay)
    deadline = Deadline(timeout)
    lock_file = lock_file or DEFAULT_LOCK_FILE
    options = {
        "haproxy": haproxy,
        "master_socket": master_socket,
        "pid_file": pid_file,
        "deadline": deadline,
        "iptables": iptables,
        "ports": ports,
        "settle_delay": settle_delay,
        "marker_dir": marker_dir,
    }
    warnings = []
    with signals_raise_interrupted(), reload_lock(lock_file, deadline) as lock_wait:
        locked_at = time.time()
        stale_rules = remove_stale_rules(method, iptables, marker_dir)
        staged, check_output, running, syn_drop = prepare(method, config, candidate, options)
        installation = None
        try:
            if staged:
                installation = Installation(staged, config)
            running_config = installation.kept if installation and installation.kept else config
            save_server_state(running_config, config, warnings)
            reload_started = time.monotonic()
            workers = reload_by_method(method, running, config=config, syn_drop=syn_drop, **options)
            duration = time.monotonic() - reload_started
        except BaseException:
            if installation:
                with signals_blocked():
                    installation.roll_back()
            if not installation:
                discard(staged)
            raise
        with signals_blocked():
            backup = installation.commit() if installation else None
        return {
            "method": method,
            "config": config,
            "candidate": candidate,
            "installed": installation is not None,
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
    parser.add_argument(
        "--lock-file",
        default=DEFAULT_LOCK_FILE,
        help=f"serialises reloads (default: {DEFAULT_LOCK_FILE}, the formula's)",
    )
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
        # Imported here, only for --json: imports are most of the start-up.
        import json

        print(json.dumps(result, sort_keys=True))
    else:
        print(
            f"reloaded {result['config']} by {result['method']} in {result['duration']:.3f}s; "
            f"new process {result['workers']['new']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
