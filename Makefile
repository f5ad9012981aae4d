# Loopgate: `make run` (embedded, nothing to install) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install run distributed test bench lint system-packages

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

install: $(INSTALLED)

## run: everything in one process on the embedded default (SQLite + in-memory bus)
run: install
	$(BIN)/loopgate run

## distributed: each service under gunicorn with its worker, on local RabbitMQ + PostgreSQL
distributed: install
	LOOPGATE_MODE=distributed $(BIN)/loopgate migrate
	PATH="$(CURDIR)/$(BIN):$$PATH" LOOPGATE_MODE=distributed $(BIN)/honcho --procfile Procfile --app-root . start

## system-packages: what the tests need from the OS (Debian), installed when missing
system-packages:
	@deploy/system-packages.sh

## test: unit, contract, integration (RabbitMQ + PostgreSQL) and end-to-end tests
test: install system-packages
	$(BIN)/pytest

## bench: benchmarks that print figures (not timed tests)
bench: install
	$(BIN)/python bench/pipeline_latency.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
