# salesdw — two commands on a fresh clone: `make run` (the demo, end to end) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

DATA_DIR ?= $(CURDIR)/data
export SALESDW_DATA_DIR := $(DATA_DIR)
# Imports are twice as fast with bytecode; this machine sets PYTHONDONTWRITEBYTECODE.
export UV_COMPILE_BYTECODE := 1
export GX_ANALYTICS_ENABLED := false
export DAGSTER_DISABLE_TELEMETRY := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

# uv from PATH, else a private copy bootstrapped with pip (CI starts with Python and make only).
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.uv/bin/uv)
VENV := $(CURDIR)/.venv
STAMP := $(VENV)/.synced

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(CURDIR)/.uv/bin/uv:
	python3 -m venv $(CURDIR)/.uv
	$(CURDIR)/.uv/bin/pip install --quiet --disable-pip-version-check 'uv>=0.9,<1'

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode
	$(VENV)/bin/python -c "from orchestration.dbt_manifest import ensure_manifest; ensure_manifest()"
	touch $(STAMP)

setup: $(STAMP)  ## create .venv from uv.lock (exact pins) and parse the dbt project

run: $(STAMP)  ## the demo: generate scale-1 exports, ingest, build, check, publish, report
	$(VENV)/bin/salesdw demo --scale $(or $(SCALE),1)

# --no-loadscope-reorder: the files in the order tests/conftest.py gives them (longest first), which
# xdist would otherwise sort by their number of tests (loadfile schedules through loadscope's code)
test: $(STAMP)  ## the whole test suite (but the Spark tests: make test-spark)
	$(VENV)/bin/pytest -n 2 --dist loadfile --no-loadscope-reorder -q -m "not spark"

# sqlfluff (most of the time) runs beside the quick checks; lint fails if either side does
lint: $(STAMP)  ## the static checks CI runs before the tests (CONTRIBUTING.md): layers, ruff, SQL, YAML
	$(VENV)/bin/sqlfluff lint dbt_project/models --processes 2 & sql=$$!; \
	( set -e; \
	  $(VENV)/bin/lint-imports --no-cache --no-logo; \
	  $(VENV)/bin/ruff check --no-cache .; \
	  $(VENV)/bin/python tests/check_import_ctes.py; \
	  $(VENV)/bin/yamllint --strict .; \
	  $(VENV)/bin/ruff format --no-cache --check . ); quick=$$?; \
	wait $$sql && exit $$quick

snapshots: $(STAMP)  ## rewrite the reviewed snapshots (tests/snapshots) after an intended change
	SALESDW_UPDATE_SNAPSHOTS=1 $(VENV)/bin/pytest -q -n 0 tests/test_definitions.py -k snapshot

# The optional `spark` group lives in its own environment: with pyspark installed, GX's import of
# pyspark.sql.connect exits pytest-xdist workers (it takes them for a doctest run), so .venv stays without it.
SPARK_VENV := $(CURDIR)/.venv-spark

test-spark: | $(UV)  ## the Spark parity tests, in .venv-spark (the optional `spark` group: pyspark, dbt-spark)
	UV_PROJECT_ENVIRONMENT=$(SPARK_VENV) $(UV) sync --frozen --compile-bytecode --group dev --group spark
	$(SPARK_VENV)/bin/python -c "from orchestration.dbt_manifest import ensure_manifest; ensure_manifest()"
	$(SPARK_VENV)/bin/pytest -q -m spark

dev: $(STAMP)  ## the Dagster UI on http://127.0.0.1:3000 for the same definitions
	$(VENV)/bin/python -m orchestration.instance_config $(DATA_DIR)/dagster
	DAGSTER_HOME=$(DATA_DIR)/dagster $(VENV)/bin/dagster dev -m orchestration.definitions -h 127.0.0.1 -p 3000

# three alternating rounds of each full run and floor, medians compared: one of each is at the
# mercy of this VM's drift (bench/run.py); bench-large runs each once (scale 500 is ~10 min a run)
bench: $(STAMP)  ## benchmarks at scales 1, 10, 50, medians of 3 (not part of make test)
	$(VENV)/bin/python -m bench.run --scales 1 10 50 --repeat 3

bench-large: $(STAMP)  ## benchmarks at scales 1, 10, 50 and 500, one run each
	$(VENV)/bin/python -m bench.run --scales 1 10 50 500

# dbt source freshness first, into the same target: the docs site shows each raw source's freshness
# (sources.json) beside the exposures; a stale source is reported, and the docs are written anyway.
docs: $(STAMP)  ## dbt docs (offline) into data/dbt_docs, with source freshness and exposures
	cd dbt_project && SALESDW_BUILD_WAREHOUSE=$(DATA_DIR)/warehouse/build.duckdb $(VENV)/bin/dbt source freshness --profiles-dir . --target-path $(DATA_DIR)/dbt_docs || echo "some raw source is stale (see above)"
	cd dbt_project && SALESDW_BUILD_WAREHOUSE=$(DATA_DIR)/warehouse/build.duckdb $(VENV)/bin/dbt docs generate --profiles-dir . --target-path $(DATA_DIR)/dbt_docs

clean:  ## remove the data directory (landing, raw zone, warehouses, reports, Dagster storage)
	rm -rf $(DATA_DIR) dbt_project/target dbt_project/logs

.PHONY: help setup run test lint snapshots test-spark dev bench bench-large docs clean
