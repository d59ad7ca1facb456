# Every target uses the virtual environment at .venv, installed from uv.lock.
SHELL := /bin/bash
PYTHON ?= python3.11
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv
export UV_PYTHON_DOWNLOADS := never

.PHONY: install demo test lint format airflow-dags clean

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

## Run the test suite (unit, warehouse on DuckDB and PostgreSQL, SFTP, Airflow end to end).
test: install
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf var .pytest_cache .ruff_cache
