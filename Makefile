# The two set-up commands of the README: `make demo` and `make test`.
# Both create .venv and install what they need (pip; apt when root).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYS_STAMP := .cache/system-deps.ok
export IMX_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/imx_test

.PHONY: demo test test-fast bench deps system-deps postgres lint clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $(STAMP)

deps: $(STAMP) system-deps

# Real peers for interop tests: Orthanc, DCMTK, xmlsec1. Installed only when root;
# otherwise those tests skip with a reason.
system-deps:
	@bash scripts/system-deps

postgres:
	@bash scripts/ensure-postgres

test: deps postgres
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -x -m "not interop and not slow" $(PYTEST_ARGS)

demo: deps
	@bash scripts/demo

bench: deps
	$(BIN)/python -m bench.run_all

lint: $(STAMP)
	$(BIN)/python -m ruff check src tests || true

clean:
	rm -rf $(VENV) .cache var build *.egg-info
