# di-ops: the two set-up commands are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test venv lint typecheck bench clean cluster cluster-down

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

venv: $(STAMP)

## Run Airflow on the embedded default (SQLite + LocalExecutor) with the demo fleet loaded.
demo: $(STAMP)
	bash include/demo/launch.sh

# Long CPU-bound runs (the simulated month, the 2,000-example fuzzers) run without coverage tracing,
# which about doubles their time; everything else runs with it. Exit 5 (no test selected, e.g. a
# PYTEST_ARGS -k that matches none of them) is not a failure of the second run.
UNTRACED := tests/simulation tests/integrations/test_backup_store_hostile.py tests/pipelines/cop/test_intake_fuzz.py \
	tests/pipelines/retention/test_invariant.py

## The whole test suite, with branch coverage of the rules library.
test: $(STAMP)
	$(VENV)/bin/python -m pytest --cov=plugins/di_ops --cov-branch --cov-report=term \
		--cov-fail-under=0 --durations=15 $(addprefix --ignore=,$(UNTRACED)) $(PYTEST_ARGS)
	$(VENV)/bin/python -m coverage report --include='plugins/di_ops/rules/*' --fail-under=95
	$(VENV)/bin/python -m pytest --durations=5 $(UNTRACED) $(PYTEST_ARGS) || [ $$? -eq 5 ]

lint: $(STAMP)
	$(VENV)/bin/ruff check dags plugins include tests benchmarks
	$(VENV)/bin/ruff format --check dags plugins include tests benchmarks

typecheck: $(STAMP)
	$(VENV)/bin/mypy --strict plugins/di_ops/rules

bench: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(VENV)/bin/python $$b || exit 1; done

clean:
	rm -rf .airflow .data .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov

## The docker-compose topology as local processes (CeleryExecutor, PostgreSQL, Redis, 2 workers).
cluster: $(STAMP)
	bash include/cluster/up.sh

cluster-down:
	bash include/cluster/down.sh
