# Loopgate: `make run` (embedded, nothing to install) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install run distributed test bench fuzz translations lint system-packages

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

install: $(INSTALLED)

## run: everything in one process on the embedded default (SQLite + in-memory bus)
run: install
	$(BIN)/loopgate run

## distributed: each service under gunicorn with its worker, on local RabbitMQ + PostgreSQL,
## behind nginx as the gateway (deploy/nginx/; installed from Debian's packages when missing)
distributed: install
	@deploy/system-packages.sh nginx
	LOOPGATE_MODE=distributed $(BIN)/loopgate migrate
	PATH="$(CURDIR)/$(BIN):$$PATH" LOOPGATE_MODE=distributed $(BIN)/honcho --procfile Procfile --app-root . start

## system-packages: what the tests need from the OS (Debian: cairo, Chromium, nginx),
## installed when missing
system-packages:
	@deploy/system-packages.sh

## test: unit, contract, integration (RabbitMQ + PostgreSQL) and end-to-end tests; those
## that need neither RabbitMQ nor PostgreSQL in parallel (pytest-xdist), then the others one
## at a time (they share the distributed system's databases and queues: tests/conftest.py)
test: install system-packages
	$(BIN)/pytest -m "not integration" -n auto
	$(BIN)/pytest -m integration

## fuzz: schemathesis against each service's OpenAPI document on an embedded Loopgate
## (tests/fuzz; LOOPGATE_FUZZ_EXAMPLES cases per operation, default 150; LOOPGATE_FUZZ_SEED replays)
fuzz: install
	LOOPGATE_FUZZ=1 $(BIN)/pytest tests/fuzz -m fuzz

## bench: benchmarks that print figures (not timed tests), then one table of them all
## (bench/summary.py, saved as bench/results/summary.json)
bench: install
	$(BIN)/python bench/pipeline_latency.py
	$(BIN)/python bench/scan_rates.py
	$(BIN)/python bench/ticket_drop.py
	$(BIN)/python bench/ticketing_rates.py
	$(BIN)/python bench/idle_memory.py
	$(BIN)/python bench/summary.py

## translations: extract each service's texts and those of shared/templates (services/*/translations/babel.cfg), merge them
## into its zh_Hant_HK and zh_Hans_CN catalogues, and compile those (commit .po and .mo)
translations: install
	@for dir in services/*/translations; do \
		service=$${dir%/translations}; \
		$(BIN)/pybabel -q extract -F $$dir/babel.cfg -o $$dir/messages.pot $$service shared/templates || exit 1; \
		for locale in zh_Hant_HK zh_Hans_CN; do \
			if [ -f $$dir/$$locale/LC_MESSAGES/messages.po ]; then \
				$(BIN)/pybabel -q update -i $$dir/messages.pot -d $$dir -l $$locale || exit 1; \
			else \
				$(BIN)/pybabel -q init -i $$dir/messages.pot -d $$dir -l $$locale || exit 1; \
			fi; \
		done; \
		$(BIN)/pybabel -q compile -d $$dir || exit 1; \
	done

## lint: ruff, then the import contracts that hold the layers (pyproject.toml [tool.importlinter])
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
