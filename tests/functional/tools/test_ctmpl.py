"""tools/ctmpl, the consul-template renderer, driven as a binary against the
Consul stand-in. Data goes in through Consul's HTTP API (as registrator and
operators do); results are read from the files and streams the binary
writes.
"""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

from tests.conftest import REPO_ROOT, require_binary
from tests.fixtures.consul import deregister_service, register_service, set_check_status

CTMPL = REPO_ROOT / "tools" / "bin" / "ctmpl"
TOKEN = "ctmpl-functional-secret"
# Every wait in this file is bounded by this many seconds.
BOUND = 10

CATALOG_TEMPLATE = """\
{{- range services }}{{ .Name }} tags={{ join "," .Tags }}
{{- if .Tags.Contains "production" }} (production){{ end }}
{{ range service .Name }}  healthy {{ .ID }} {{ .Address }}:{{ .Port }}
{{ end }}{{ range service (print .Name "|any") }}  any {{ .ID }} {{ .Status }}
{{ end }}{{ range service (print .Name "|passing,warning") }}  usable {{ .ID }}
{{ end }}{{ end }}production web:{{ range service "production.web" }} {{ .ID }}{{ end }}
port of web-8080: {{ "web-8080" | regexReplaceAll "^[\\\\w-]+?(\\\\d*)$" "$1" }}
"""


@pytest.fixture(scope="session")
def ctmpl_binary():
    """Build (or confirm up to date) tools/bin/ctmpl, as `make tools` does."""
    require_binary("go")
    subprocess.run(
        ["make", "-s", "-C", str(REPO_ROOT / "tools" / "ctmpl")],
        check=True,
        timeout=300,
    )
    return str(CTMPL)


class Ctmpl:
    """Runs the binary; every process it starts is killed at teardown."""

    def __init__(self, binary, workdir):
        self.binary = binary
        self.workdir = workdir
        self.processes = []

    def argv(self, consul_url, *templates, extra=()):
        args = [self.binary, "-consul-addr", consul_url]
        for template in templates:
            args += ["-template", template]
        return [*args, *extra]

    def run(self, consul_url, *templates, extra=(), env=None):
        return subprocess.run(
            self.argv(consul_url, *templates, extra=extra),
            capture_output=True,
            text=True,
            timeout=BOUND,
            env=self.environment(env),
        )

    def start(self, consul_url, *templates, extra=(), env=None):
        stderr_path = self.workdir / f"stderr-{len(self.processes)}.log"
        with open(stderr_path, "w") as stderr:
            process = subprocess.Popen(
                self.argv(consul_url, *templates, extra=extra),
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=self.environment(env),
            )
        process.stderr_path = stderr_path
        self.processes.append(process)
        return process

    @staticmethod
    def environment(extra):
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONSUL_HTTP_")}
        env.update(extra or {})
        return env

    def stop_all(self):
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=BOUND)


@pytest.fixture
def ctmpl(ctmpl_binary, tmp_path):
    runner = Ctmpl(ctmpl_binary, tmp_path)
    try:
        yield runner
    finally:
        runner.stop_all()


def write_template(tmp_path, text, name="in.ctmpl"):
    source = tmp_path / name
    source.write_text(text)
    return source


def wait_until(condition, what):
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    pytest.fail(f"not within {BOUND}s: {what}")


def read_text(path):
    return path.read_text() if path.exists() else None


def put_key(consul_url, key, value, token=None):
    headers = {"X-Consul-Token": token} if token else {}
    response = requests.put(f"{consul_url}/v1/kv/{key}", data=value, headers=headers, timeout=5)
    response.raise_for_status()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def seed_catalog(url):
    listen_tags = ["production", "internal-listen-http-8080"]
    register_service(url, "web", 31001, listen_tags, service_id="web-1")
    register_service(url, "web", 31002, ["production"], service_id="web-2", status="critical")
    register_service(url, "web", 31003, ["production"], "127.0.0.3", "web-3", status="warning")
    register_service(url, "web", 31004, ["staging"], service_id="web-4")
    register_service(url, "api", 32001, ["staging", "balance-leastconn"], service_id="api-1")


def test_once_renders_catalog_tags_and_health(ctmpl, consul_server, tmp_path):
    seed_catalog(consul_server.url)
    source = write_template(tmp_path, CATALOG_TEMPLATE)
    destination = tmp_path / "out" / "haproxy.cfg"

    result = ctmpl.run(
        consul_server.url,
        f"{source}:{destination}",
        extra=["-once", "-create-dest-dirs", "-perms", "0640"],
    )

    assert result.returncode == 0, result.stderr
    assert destination.read_text() == (
        "api tags=balance-leastconn,staging\n"
        "  healthy api-1 127.0.0.1:32001\n"
        "  any api-1 passing\n"
        "  usable api-1\n"
        # Consul lists itself, as a real server does.
        "consul tags=\n"
        "  healthy consul 127.0.0.1:8300\n"
        "  any consul passing\n"
        "  usable consul\n"
        "web tags=internal-listen-http-8080,production,staging (production)\n"
        "  healthy web-1 127.0.0.1:31001\n"
        "  healthy web-4 127.0.0.1:31004\n"
        "  any web-1 passing\n"
        "  any web-2 critical\n"
        "  any web-3 warning\n"
        "  any web-4 passing\n"
        "  usable web-1\n"
        "  usable web-3\n"
        "  usable web-4\n"
        "production web: web-1\n"
        "port of web-8080: 8080\n"
    )
    assert destination.stat().st_mode & 0o777 == 0o640


def test_once_key_blocks_until_the_key_is_written(ctmpl, consul_server, tmp_path):
    source = write_template(tmp_path, 'maxconn {{ key "service/haproxy/maxconn" }}\n')
    destination = tmp_path / "haproxy.cfg"
    process = ctmpl.start(consul_server.url, f"{source}:{destination}", extra=["-once"])

    wait_until(
        lambda: "waits for kv.get(service/haproxy/maxconn)" in process.stderr_path.read_text(),
        "ctmpl says it waits for the key",
    )
    assert process.poll() is None
    assert not destination.exists()

    put_key(consul_server.url, "service/haproxy/maxconn", "2048")
    assert process.wait(timeout=BOUND) == 0, process.stderr_path.read_text()
    assert destination.read_text() == "maxconn 2048\n"


def test_key_or_default_never_blocks(ctmpl, consul_server, tmp_path):
    put_key(consul_server.url, "service/haproxy/timeout", "30s")
    source = write_template(
        tmp_path,
        '{{ keyOrDefault "service/haproxy/maxconn" "4096" }} '
        '{{ keyOrDefault "service/haproxy/timeout" "5s" }}\n',
    )
    destination = tmp_path / "out"

    started = time.monotonic()
    result = ctmpl.run(consul_server.url, f"{source}:{destination}", extra=["-once"])

    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 5
    assert destination.read_text() == "4096 30s\n"


def test_backup_keeps_the_previous_file_and_mode_is_kept(ctmpl, consul_server, tmp_path):
    source = write_template(tmp_path, 'maxconn {{ keyOrDefault "service/haproxy/maxconn" "1" }}\n')
    destination = tmp_path / "haproxy.cfg"
    destination.write_text("hand-written\n")
    destination.chmod(0o600)

    first = ctmpl.run(consul_server.url, f"{source}:{destination}", extra=["-once", "-backup"])
    put_key(consul_server.url, "service/haproxy/maxconn", "2")
    second = ctmpl.run(consul_server.url, f"{source}:{destination}", extra=["-once", "-backup"])

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert destination.read_text() == "maxconn 2\n"
    assert (tmp_path / "haproxy.cfg.bak").read_text() == "maxconn 1\n"
    assert destination.stat().st_mode & 0o777 == 0o600
    leftovers = [p.name for p in tmp_path.iterdir() if ".ctmpl-" in p.name]
    assert leftovers == []


def test_ls_and_tree_list_a_prefix(ctmpl, consul_server, tmp_path):
    entries = {"app/prod/web/A": "1", "app/prod/web/B": "2", "app/prod/web/sub/C": "3"}
    for key, value in entries.items():
        put_key(consul_server.url, key, value)
    source = write_template(
        tmp_path,
        '{{ range ls "app/prod/web" }}{{ .Key }}={{ .Value }} {{ end }}|'
        '{{ range tree "app/prod/web" }} {{ .Key }}={{ .Value }}{{ end }}\n',
    )
    destination = tmp_path / "out"

    result = ctmpl.run(consul_server.url, f"{source}:{destination}", extra=["-once"])

    assert result.returncode == 0, result.stderr
    assert destination.read_text() == "A=1 B=2 | A=1 B=2 sub/C=3\n"


def test_watch_rerenders_and_runs_the_command(ctmpl, consul_server, tmp_path):
    register_service(consul_server.url, "web", 31001, ["production"], service_id="web-1")
    source = write_template(
        tmp_path, '{{ range service "production.web" }}server {{ .ID }} {{ .Port }}\n{{ end }}'
    )
    destination = tmp_path / "haproxy.cfg"
    reloads = tmp_path / "reloads"
    command = f"cat {destination} >> {reloads}; echo --- >> {reloads}"
    process = ctmpl.start(consul_server.url, f"{source}:{destination}:{command}")

    wait_until(lambda: read_text(reloads) == "server web-1 31001\n---\n", "first render and reload")

    register_service(consul_server.url, "web", 31002, ["production"], service_id="web-2")
    second = "server web-1 31001\nserver web-2 31002\n"
    wait_until(lambda: read_text(reloads) == f"server web-1 31001\n---\n{second}---\n", "re-render")
    assert destination.read_text() == second

    # A failing health check takes the instance out, as HAProxy must see it.
    set_check_status(consul_server.url, "service:web-1", "critical")
    wait_until(lambda: read_text(destination) == "server web-2 31002\n", "unhealthy dropped")
    deregister_service(consul_server.url, "web-2")
    wait_until(lambda: read_text(destination) == "", "deregistered dropped")

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=BOUND) == 0
    assert read_text(reloads).count("---") == 4


def test_watch_reports_a_failing_command_and_keeps_going(ctmpl, consul_server, tmp_path):
    source = write_template(tmp_path, '{{ keyOrDefault "service/haproxy/maxconn" "4096" }}\n')
    destination = tmp_path / "out"
    process = ctmpl.start(consul_server.url, f"{source}:{destination}:exit 3")

    wait_until(lambda: read_text(destination) == "4096\n", "first render")
    put_key(consul_server.url, "service/haproxy/maxconn", "100")
    wait_until(lambda: read_text(destination) == "100\n", "render after the failed command")
    failure = 'command "exit 3" failed: exit status 3'
    wait_until(
        lambda: process.stderr_path.read_text().count(failure) == 2, "both failures reported"
    )
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=BOUND) == 0


def test_sighup_rereads_the_template(ctmpl, consul_server, tmp_path):
    put_key(consul_server.url, "service/haproxy/maxconn", "100")
    source = write_template(tmp_path, 'maxconn {{ key "service/haproxy/maxconn" }}\n')
    destination = tmp_path / "out"
    process = ctmpl.start(consul_server.url, f"{source}:{destination}")
    wait_until(lambda: read_text(destination) == "maxconn 100\n", "first render")

    source.write_text('global maxconn {{ key "service/haproxy/maxconn" }}\n')
    process.send_signal(signal.SIGHUP)

    wait_until(lambda: read_text(destination) == "global maxconn 100\n", "render after SIGHUP")
    assert process.poll() is None
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=BOUND) == 0


def start_consul_process(port):
    """The stand-in as its own process, so stopping it closes every
    connection the way a real Consul restart does."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "consul", "--port", str(port)],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    def answers():
        try:
            return requests.get(f"{url}/v1/status/leader", timeout=1).ok
        except requests.ConnectionError:
            return process.poll() is not None  # died: stop waiting, fail below

    wait_until(answers, f"consul stand-in on port {port}")
    assert process.poll() is None, "the consul stand-in exited"
    return process, url


def stop_process(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=BOUND)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=BOUND)


def test_watch_survives_a_consul_restart_with_a_lower_index(ctmpl, tmp_path):
    """A restarted (or snapshot-restored) Consul answers lower indexes: the
    views must ride out the outage, start over from index 0 and render the
    new data. Like real Consul, the new server holds a query for an index it
    has not reached until ?wait runs out, so the test shortens the wait."""
    port = free_port()
    consuls = []
    try:
        first, url = start_consul_process(port)
        consuls.append(first)
        for number in range(5):  # push the index of the first server up
            put_key(url, "service/haproxy/maxconn", str(100 + number))
        register_service(url, "web", 31001, ["production"], service_id="web-1")
        source = write_template(
            tmp_path,
            '{{ range service "production.web" }}{{ .ID }} {{ end }}'
            '{{ keyOrDefault "service/haproxy/maxconn" "default" }}\n',
        )
        destination = tmp_path / "out"
        process = ctmpl.start(url, f"{source}:{destination}", extra=["-blocking-wait", "2s"])
        wait_until(lambda: read_text(destination) == "web-1 104\n", "render from the first Consul")

        stop_process(first)
        second, _ = start_consul_process(port)
        consuls.append(second)
        register_service(url, "web", 31002, ["production"], service_id="web-2")

        wait_until(lambda: read_text(destination) == "web-2 default\n", "render after the restart")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=BOUND) == 0
    finally:
        for consul in consuls:
            stop_process(consul)


def test_acl_token_from_environment_and_clear_403(ctmpl, consul_server_factory, tmp_path):
    consul = consul_server_factory(token=TOKEN)
    source = write_template(tmp_path, "{{ range services }}{{ .Name }}{{ end }}\n")
    destination = tmp_path / "out"
    template = f"{source}:{destination}"

    denied = ctmpl.run(consul.url, template, extra=["-once"])
    assert denied.returncode == 1
    assert "403" in denied.stderr
    assert "CONSUL_HTTP_TOKEN" in denied.stderr
    assert not destination.exists()

    wrong = ctmpl.run(consul.url, template, extra=["-once", "-token", "wrong-" + TOKEN])
    assert wrong.returncode == 1
    assert "403" in wrong.stderr
    assert TOKEN not in wrong.stderr + wrong.stdout

    allowed = ctmpl.run(consul.url, template, extra=["-once"], env={"CONSUL_HTTP_TOKEN": TOKEN})
    assert allowed.returncode == 0, allowed.stderr
    assert destination.read_text() == "consul\n"
    assert TOKEN not in allowed.stderr + allowed.stdout


def test_consul_down_is_a_clear_error(ctmpl, tmp_path):
    port = free_port()
    source = write_template(tmp_path, "{{ range services }}{{ .Name }}{{ end }}\n")
    destination = tmp_path / "out"

    started = time.monotonic()
    result = ctmpl.run(f"http://127.0.0.1:{port}", f"{source}:{destination}", extra=["-once"])

    assert result.returncode == 1
    assert f"cannot reach 127.0.0.1:{port}" in result.stderr
    assert time.monotonic() - started < 5
    assert not destination.exists()


def test_unknown_function_names_it_and_the_line(ctmpl, consul_server, tmp_path):
    source = write_template(tmp_path, 'global\n  maxconn {{ keyOrDefalt "a" "1" }}\n')

    result = ctmpl.run(consul_server.url, f"{source}:{tmp_path / 'out'}", extra=["-once"])

    assert result.returncode == 1
    assert f"{source}:2" in result.stderr
    assert '"keyOrDefalt" not defined' in result.stderr


def test_dry_prints_instead_of_writing(ctmpl, consul_server, tmp_path):
    register_service(consul_server.url, "web", 31001, ["production"], service_id="web-1")
    source = write_template(tmp_path, '{{ range service "web" }}{{ .ID }}{{ end }}\n')
    destination = tmp_path / "out"

    result = ctmpl.run(consul_server.url, f"{source}:{destination}", extra=["-once", "-dry"])

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"> {destination}\nweb-1\n"
    assert not destination.exists()


def test_sigterm_while_waiting_for_a_key_exits_with_the_reason(ctmpl, consul_server, tmp_path):
    source = write_template(tmp_path, '{{ key "never/written" }}\n')
    process = ctmpl.start(consul_server.url, f"{source}:{tmp_path / 'out'}", extra=["-once"])
    wait_until(
        lambda: "waits for kv.get(never/written)" in process.stderr_path.read_text(),
        "waiting notice",
    )

    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=BOUND) == 1
    assert "interrupted while waiting for kv.get(never/written)" in process.stderr_path.read_text()


def test_usage_errors_exit_2(ctmpl):
    result = ctmpl.run("http://127.0.0.1:1", "only-a-source")
    assert result.returncode == 2
    assert "want source:destination" in result.stderr
