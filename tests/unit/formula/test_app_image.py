"""The app image pattern (salt/mesos/files/test-server.Dockerfile) read as
Docker reads it: ENTRYPOINT in exec form naming entrypoint.sh, curl and jq
installed, every copied file present and executable, and Marathon's args
in the Docker service template naming what the image holds."""

import json
import os
import re

from tests.runtime_support import FILES

DOCKERFILE = FILES / "test-server.Dockerfile"
TEMPLATE = FILES.parent / "services" / "test-server.json"


def instructions():
    """(INSTRUCTION, arguments) with continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def test_entrypoint_is_exec_form_and_names_entrypoint_sh():
    [entrypoint] = [arguments for name, arguments in instructions() if name == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["/usr/bin/entrypoint.sh"]


def test_curl_and_jq_are_installed():
    runs = " ".join(arguments for name, arguments in instructions() if name == "RUN")
    install = re.search(r"apt-get install ([^&]*)", runs).group(1).split()
    assert {"curl", "jq"} <= set(install)


def test_copied_files_exist_and_are_executable():
    copies = [arguments.split() for name, arguments in instructions() if name == "COPY"]
    sources = [source for words in copies for source in words[:-1]]
    assert sorted(sources) == ["entrypoint.sh", "service-wrapper.sh", "test-server.py"]
    for source in sources:
        assert os.access(FILES / source, os.X_OK), source


def test_the_docker_template_runs_what_the_image_holds():
    text = re.sub(r"\$\w+", "0", TEMPLATE.read_text())
    args = json.loads(text)["args"]
    assert args[0] == "service-wrapper.sh"  # on PATH: /usr/bin
    assert args[4:6] == ["python3", "/app/test-server.py"]
