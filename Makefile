# The README's two commands: `make demo` and `make test` (lint, then the tests). Each builds .venv from
# requirements.lock first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DIR ?= data
DEMO_DAY ?= $(shell date -u -d yesterday +%F)
PYTEST_ARGS ?=

.PHONY: demo test test-fast lint lock browser clean

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/segmint generate --customers 5000 --days 365 --end $(DEMO_DAY) --seed 42 --out $(DEMO_DIR)
	$(VENV)/bin/segmint run nightly --config $(DEMO_DIR)/segmint.toml --as-of $(DEMO_DAY)

# Browser tests need Debian's chromium; install it when missing (root or sudo), else say how.
browser:
	@command -v chromium >/dev/null || { \
	  echo "chromium is missing: installing Debian's chromium for the browser tests (apt-get install chromium)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get install -y -qq chromium >/dev/null 2>&1 || { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; } \
	  || echo "could not install chromium; run 'sudo apt-get install chromium' and re-run make test"; }

# Lint first: CI runs only `make test`, so a lint error fails it before the tests start.
test: $(STAMP) lint browser
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest -n 2 -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Re-resolve the dependencies and rewrite the lock file (needs the package registry).
lock:
	rm -rf .lock-venv && python3 -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -e '.[dev]'
	.lock-venv/bin/pip freeze --exclude-editable | grep -v '^segmint' > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
