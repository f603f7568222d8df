# Every target runs inside .venv; `make venv` builds it from pinned versions.
PYTHON_BOOTSTRAP ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: system-packages venv test lint unit functional integration bench bench-templates bench-reload bench-marathon bench-consul-config tools clean

# Debian packages the tests need (haproxy, iptables, golang-go, ...); needs root.
system-packages:
	bash .ci/install-system-packages

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt constraints.txt
	$(PYTHON_BOOTSTRAP) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt -c constraints.txt
	touch $@

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: venv tools lint
	$(MAKE) -C tools/ctmpl test
	$(PY) -m pytest $(PYTEST_ARGS) tests

unit: venv
	$(PY) -m pytest $(PYTEST_ARGS) tests/unit

functional: venv tools
	$(PY) -m pytest $(PYTEST_ARGS) tests/functional

integration: venv tools
	$(PY) -m pytest $(PYTEST_ARGS) tests/integration

# Go helpers (the consul-template renderer); built with Debian's golang-go.
tools:
	$(MAKE) -C tools/ctmpl

bench: bench-templates bench-reload bench-marathon bench-consul-config

bench-templates: venv tools
	$(PY) bench/bench_templates.py

bench-reload: venv
	$(PY) bench/bench_reload.py

bench-marathon: venv
	$(PY) bench/bench_marathon_apps.py

bench-consul-config: venv
	$(PY) bench/bench_consul_config.py

clean:
	rm -rf .salt-root .pytest_cache .ruff_cache

# The whole platform on this machine (as root, in a network namespace of its
# own): stand-ins, registrator, the formula via salt-call, consul-template
# and HAProxy, deploys, and changes under load; see the README's first command.
.PHONY: demo
demo: venv tools
	$(PY) -m sandbox demo
