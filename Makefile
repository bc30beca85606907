# Two commands do all the set-up on a fresh Debian 12 machine, as root:
#   make run    Asterisk 22 + the IVR app + the demo flow, ready for a call to sip:100@127.0.0.1
#   make test   everything the tests need, then the whole suite, end-to-end included
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := debootstrap espeak-ng sox graphviz postgresql sip-tester tcpdump chromium chromium-driver
PYTEST_ARGS ?=
# The suite runs in parallel: each pytest-xdist worker has its own Asterisk instance on its own
# loopback address and its own app (tests/e2e/conftest.py), and a test module stays on one worker
# (--dist loadfile: a module's fixtures and its tests' order hold). The e2e tests mostly wait in
# real time, so three workers on two cores keep the whole suite well under 15 minutes.
TEST_WORKERS ?= 3
XDIST := -n $(TEST_WORKERS) --dist loadfile

.PHONY: run test deps venv prompts lint unit e2e asterisk-up asterisk-down clean

run: deps venv
	$(BIN)/ivr run

test: deps venv prompts lint
	$(BIN)/pytest -p no:cacheprovider -ra $(XDIST) $(PYTEST_ARGS)

# System packages, installed only when missing (needs root on Debian).
deps:
	@missing=""; \
	for pkg in $(APT_PACKAGES); do dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,dev]'
	touch $@

prompts: venv
	$(BIN)/ivr prompts build

lint: venv
	$(BIN)/ruff check ivr tests bench
	$(BIN)/mypy ivr bench

unit: venv prompts
	$(BIN)/pytest -p no:cacheprovider -ra $(XDIST) tests/unit

e2e: venv prompts
	$(BIN)/pytest -p no:cacheprovider -ra $(XDIST) tests/e2e

asterisk-up: venv
	$(BIN)/ivr asterisk up

asterisk-down: venv
	$(BIN)/ivr asterisk down

clean:
	rm -rf $(VENV) *.egg-info
