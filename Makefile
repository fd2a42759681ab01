# Rollout Desk: `make run` starts the product on embedded defaults, `make test` runs lint + tests.
# Only python3 (3.11+), make and git are needed; everything else is installed into .venv from
# the exact pins in requirements/*.lock.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run demo-canary reset-demo test chaos lint format lock install install-dev clean bench bench-env

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("Rollout Desk needs Python 3.11+, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# A stamp per lock file, so a changed lock reinstalls and an unchanged one costs nothing.
$(VENV)/.base-installed: requirements/base.lock | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/base.lock
	touch $@

$(VENV)/.dev-installed: requirements/dev.lock | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/dev.lock
	touch $@ $(VENV)/.base-installed

install: $(VENV)/.base-installed
install-dev: $(VENV)/.dev-installed

run: install
	DEBUG=$${DEBUG:-true} SIMULATOR_ENABLED=$${SIMULATOR_ENABLED:-true} PROVIDER_ALLOWED_HOSTS=$${PROVIDER_ALLOWED_HOSTS:-127.0.0.1} ROLLOUT_PORT=$(PORT) $(BIN)/python manage.py demo

# In a second terminal while `make run` runs: the canary demo (README, "The canary demo").
demo-canary: install
	DEBUG=$${DEBUG:-true} SIMULATOR_ENABLED=$${SIMULATOR_ENABLED:-true} ROLLOUT_PORT=$(PORT) $(BIN)/python manage.py demo_canary $(DEMO_ARGS)

# Start the demo over: the embedded database, broker folder and beat schedule (stop `make run` first).
reset-demo:
	rm -rf var

test: install-dev lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The chaos tier: workers SIGKILLed, the broker stopped or silent, the database cut, provider
# faults (README, "Operating it"). Needs PostgreSQL and Redis, as CI has them.
chaos: install-dev
	$(BIN)/python -m pytest -m chaos $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	DEBUG=true $(BIN)/mypy

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Re-resolve the locks after changing pyproject.toml (needs network access to the package index).
lock: install-dev
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml -q --universal --python-version 3.11 -o requirements/base.lock
	$(BIN)/uv pip compile pyproject.toml -q --universal --python-version 3.11 --group dev -o requirements/dev.lock

clean:
	rm -rf $(VENV) var staticfiles

# Benchmarks (not part of the tests): ratios measured in one run, one table. See bench/README.md.
# BENCH_ARGS='--quick --only bench_guardrails,bench_assignment' for a smoke run.
bench-env:
	test -x bench/.venv/bin/litellm || (python3 -m venv bench/.venv && bench/.venv/bin/pip install --quiet 'litellm[proxy]' growthbook)

bench: install-dev
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)
