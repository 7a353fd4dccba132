# Leadflow: `make run` serves the demo, `make test` runs lint and the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
# The benchmark drops and recreates this database when it loads; its name must start with bench_.
BENCH_PG_URL ?= postgres://postgres@127.0.0.1:5432/bench_leads
BENCH_LEADS ?= 1000000
BENCH_ARGS ?=
# The intake benchmark copies bench_leads (or loads) into this database; its name must start with bench_.
BENCH_INTAKE_PG_URL ?= postgres://postgres@127.0.0.1:5432/bench_intake
BENCH_INTAKE_ARGS ?=
export LEADFLOW_HOME ?= $(CURDIR)/var

.PHONY: run test test-sqlite test-postgres lint fuzz bench bench-intake bench-routing \
	bench-retirement bench-imports bench-normalize bench-background install clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

run: $(BIN)/.installed
	$(BIN)/leadflow migrate
	$(BIN)/leadflow demo --if-empty
	$(BIN)/leadflow serve --host 127.0.0.1 --port 8000

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	DJANGO_SETTINGS_MODULE=leadflow.settings_test $(BIN)/python -m django makemigrations --check --dry-run

test-sqlite: $(BIN)/.installed
	$(BIN)/pytest

test-postgres: $(BIN)/.installed
	DATABASE_URL=$(PG_URL) $(BIN)/pytest

test: lint test-sqlite test-postgres

# Schemathesis over /api/openapi.json as anonymous, agent, manager and admin, on both engines,
# with FUZZ_EXAMPLES examples per operation and generation mode (the suite runs 3).
FUZZ_EXAMPLES ?= 50

fuzz: $(BIN)/.installed
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -q tests/test_schema_fuzz.py
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) DATABASE_URL=$(PG_URL) $(BIN)/pytest -q tests/test_schema_fuzz.py

bench: $(BIN)/.installed
	$(BIN)/python bench/leads_api.py --database sqlite --leads $(BENCH_LEADS) $(BENCH_ARGS)
	$(BIN)/python bench/leads_api.py --database postgres --url $(BENCH_PG_URL) \
		--leads $(BENCH_LEADS) $(BENCH_ARGS)

bench-intake: $(BIN)/.installed
	$(BIN)/python bench/intake_http.py --database sqlite --leads $(BENCH_LEADS) $(BENCH_INTAKE_ARGS)
	$(BIN)/python bench/intake_http.py --database postgres --url $(BENCH_INTAKE_PG_URL) \
		--leads $(BENCH_LEADS) $(BENCH_INTAKE_ARGS)

# The routing benchmark recreates this database each run; its name must start with bench_.
BENCH_ROUTING_PG_URL ?= postgres://postgres@127.0.0.1:5432/bench_routing

bench-routing: $(BIN)/.installed
	$(BIN)/python bench/routing.py --database sqlite
	$(BIN)/python bench/routing.py --database postgres --url $(BENCH_ROUTING_PG_URL)

# The retirement benchmark keeps its loaded leads in <name>_base and copies them into this
# database for each run; its name must start with bench_.
BENCH_RETIREMENT_PG_URL ?= postgres://postgres@127.0.0.1:5432/bench_retirement
BENCH_RETIREMENT_ARGS ?=

bench-retirement: $(BIN)/.installed
	$(BIN)/python bench/retirement.py --database sqlite --leads $(BENCH_LEADS) \
		$(BENCH_RETIREMENT_ARGS)
	$(BIN)/python bench/retirement.py --database postgres --url $(BENCH_RETIREMENT_PG_URL) \
		--leads $(BENCH_LEADS) $(BENCH_RETIREMENT_ARGS)

# The imports benchmark keeps its loaded leads in <name>_base and copies them into this
# database for each run; its name must start with bench_.
BENCH_IMPORTS_PG_URL ?= postgres://postgres@127.0.0.1:5432/bench_imports
BENCH_IMPORT_ROWS ?= 1000000
BENCH_IMPORTS_ARGS ?=

bench-imports: $(BIN)/.installed
	$(BIN)/python bench/imports.py --database sqlite --leads $(BENCH_LEADS) \
		--rows $(BENCH_IMPORT_ROWS) $(BENCH_IMPORTS_ARGS)
	$(BIN)/python bench/imports.py --database postgres --url $(BENCH_IMPORTS_PG_URL) \
		--leads $(BENCH_LEADS) --rows $(BENCH_IMPORT_ROWS) $(BENCH_IMPORTS_ARGS)

# Background work under pressure: the possible-duplicate check at a million leads, and users'
# writes, exports, sweeps and a killed consumer during a big import (see bench/background.py).
# The database keeps its loaded leads in <name>_base; its name must start with bench_.
BENCH_BACKGROUND_PG_URL ?= postgres://postgres@127.0.0.1:5432/bench_background
BENCH_BACKGROUND_ARGS ?=

bench-background: $(BIN)/.installed
	$(BIN)/python bench/background.py --database sqlite --leads $(BENCH_LEADS) \
		--rows $(BENCH_IMPORT_ROWS) $(BENCH_BACKGROUND_ARGS)
	$(BIN)/python bench/background.py --database postgres --url $(BENCH_BACKGROUND_PG_URL) \
		--leads $(BENCH_LEADS) --rows $(BENCH_IMPORT_ROWS) $(BENCH_BACKGROUND_ARGS)
	$(BIN)/python bench/background.py --database postgres --url $(BENCH_BACKGROUND_PG_URL) \
		--leads $(BENCH_LEADS) --rows $(BENCH_IMPORT_ROWS) --redis --modes pressure \
		$(BENCH_BACKGROUND_ARGS)

# E-mail and phone normalization: the libraries against the fast paths (CPU per call).
bench-normalize: $(BIN)/.installed
	$(BIN)/python bench/normalize.py

clean:
	rm -rf $(VENV) var
