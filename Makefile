# The two commands the README promises: `make run` (demo) and `make test` (the suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install install-test services lint messages clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(BIN)/.installed-test: $(BIN)/.installed pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed
install-test: $(BIN)/.installed-test

## Install, migrate, seed the demo and serve at http://$(HOST):$(PORT) (SQLite, in-process
## Celery, mail written to instance/mail/).
run: install
	$(BIN)/eventsys db upgrade
	$(BIN)/eventsys seed-demo
	$(BIN)/eventsys run --host $(HOST) --port $(PORT)

## Start PostgreSQL and Redis if they are down; install Chromium for browser tests if missing.
services:
	bash .ci/services

## Install and run the whole suite: SQLite always; PostgreSQL, Redis + Celery workers, SMTP
## and Chromium where the machine has them (CI=true makes them required).
## First the in-process tests, on two processes (each with a database of its own), then
## the tests that start servers, Celery workers and Chromium, one at a time.
TEST_PROCESSES ?= 2
test: install-test services
	$(BIN)/ruff check .
	$(BIN)/pytest -n $(TEST_PROCESSES) --dist loadfile --ignore=tests/browser --ignore=tests/workers
	$(BIN)/pytest tests/browser tests/workers

lint: install-test
	$(BIN)/ruff check .

## Extract user-facing strings for translators (messages.pot).
messages: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -o eventsys/translations/messages.pot .

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .hypothesis test-artifacts
