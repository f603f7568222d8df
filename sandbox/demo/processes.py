"""Processes the demo starts, each with its log file, stopped in reverse
order of start (so the registrator stops before Marathon, HAProxy after
consul-template), always, also after an error or Ctrl-C."""

import contextlib
import os
import signal
import subprocess
import time


class ProcessError(RuntimeError):
    """A process the demo needs did not start or died; the message has its log's end."""


class Processes:
    def __init__(self, log_dir):
        self.log_dir = log_dir
        os.makedirs(log_dir, exist_ok=True)
        self._started = []  # (name, Popen), oldest first

    def start(self, name, argv, env=None, cwd=None):
        log_path = os.path.join(self.log_dir, f"{name}.log")
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                cwd=cwd,
                # Its own session: Ctrl-C reaches the demo, which stops
                # everything in order, not every child at once.
                start_new_session=True,
            )
        self._started.append((name, process))
        return process

    def log_tail(self, name, lines=15):
        path = os.path.join(self.log_dir, f"{name}.log")
        with contextlib.suppress(OSError), open(path, errors="replace") as log:
            return "".join(log.readlines()[-lines:])
        return ""

    def check_alive(self):
        """Raise ProcessError naming the first process that exited."""
        for name, process in self._started:
            if process.poll() is not None:
                raise ProcessError(
                    f"{name} exited with status {process.returncode}:\n{self.log_tail(name)}"
                )

    def wait_until(self, condition, what, timeout):
        """Poll ``condition`` until truthy; ProcessError on timeout or a death."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            with contextlib.suppress(OSError):
                result = condition()
                if result:
                    return result
            if time.monotonic() >= deadline:
                raise ProcessError(f"{what}: not reached within {timeout:.0f}s")
            time.sleep(0.1)

    def stop_all(self, timeout=10.0):
        """SIGTERM each (newest first), SIGKILL what outlives ``timeout``;
        returns the names of processes that needed SIGKILL."""
        killed = []
        while self._started:
            name, process = self._started.pop()
            if process.poll() is not None:
                continue
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait(5)
                killed.append(name)
            # Whatever it left in its session goes too.
            _signal_group(process, signal.SIGKILL)
        return killed


def _signal_group(process, signum):
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)
