# Ponos-py. Every target bootstraps what it needs into the project's own folders:
# .venv (PyPI), node_modules (npm: anvil, solcjs). Nothing is installed globally.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
PIP_STAMP   := $(VENV)/.installed
NODE_STAMP  := node_modules/.installed
PROTO_STAMP := ponos/proto/.generated
PROTOS      := $(shell find protos -name '*.proto')
PYTEST_ARGS ?=

.PHONY: all bootstrap protos contracts test lint demo bench crash-test clean help \
	docker-engine docker-engine-stop images compose-test

all: bootstrap

help:
	@echo "make demo   - bootstrap and run the demo (devnet, executors, aggregator, tasks)"
	@echo "make test   - bootstrap and run lint + the whole test suite"
	@echo "make bench  - run the benchmarks and update docs/benchmarks.md"
	@echo "make protos - regenerate ponos/proto from protos/ with grpcio-tools"
	@echo "make contracts - recompile contracts/src into contracts/artifacts (solcjs)"
	@echo "make crash-test - storage SIGKILL crash test, CRASH_CYCLES=500"
	@echo "make docker-engine      - start the project-local Docker engine (root, apt)"
	@echo "make docker-engine-stop - stop it"
	@echo "make images             - build ponos:dev and ponos-hello:dev offline on it"
	@echo "make compose-test       - docker-compose up, a task, down on a real engine, timed"

$(PIP_STAMP): pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

$(PROTO_STAMP): $(PIP_STAMP) $(PROTOS) tools/gen_protos.py
	$(PY) tools/gen_protos.py
	touch $@

protos: $(PROTO_STAMP)

bootstrap: $(PIP_STAMP) $(NODE_STAMP) $(PROTO_STAMP)

# The artifacts are committed (the devnet needs no compiler at run time); this rebuilds them
# byte-identically, and tests/devnet/test_build.py checks that they are up to date.
contracts: $(PIP_STAMP) $(NODE_STAMP)
	$(PY) tools/build_contracts.py

lint: bootstrap
	$(BIN)/ruff check ponos tests bench tools
	$(BIN)/ruff format --check ponos tests bench tools

test: bootstrap lint
	$(BIN)/pytest $(PYTEST_ARGS)

demo: bootstrap
	$(BIN)/ponos demo $(DEMO_ARGS)

# Benchmarks are never part of `make test`; BENCH=name selects one module of bench/.
bench: bootstrap
	$(PY) -m bench.run $(BENCH)

# SIGKILL crash test of the storage layer with many cycles (`make test` runs 30).
CRASH_CYCLES ?= 500
crash-test: bootstrap
	$(PY) -m tests.storage.crash --cycles $(CRASH_CYCLES)

clean:
	rm -rf $(VENV) node_modules ponos/proto build *.egg-info .pytest_cache .ruff_cache

# A project-local Docker engine (Debian's dockerd under .tools/, loopback only) and the
# offline image build: see the README's "Docker" section. Start and stop need only python3.
docker-engine:
	$(PYTHON) tools/docker_engine.py start

docker-engine-stop:
	$(PYTHON) tools/docker_engine.py stop

images: bootstrap
	$(PY) tools/docker_engine.py images

# docker-compose.yml on a real engine (DOCKER_HOST, else the project-local one) with the
# offline-built images: up, a task verified, grpcurl, down -v, with the time of each step.
# Skipped, with the reason, where no engine can be had. Also part of `make test`.
compose-test: bootstrap
	$(BIN)/pytest -s tests/compose/test_compose_engine.py $(PYTEST_ARGS)
