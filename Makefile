# perp-cascades: `make run` sets up .venv (Python >= 3.12) and runs the default scenario; `make test` all the tests
# (what CI runs), `make test-fast` the quick tier (the tests not marked slow, under a minute); both spread the
# tests over every core (pytest-xdist, -n auto); `$(PY) -m pytest ...` alone runs them in one process.
# Finds a suitable interpreter: $(PYTHON) if given, else python3.13/python3.12 on the PATH,
# else pyenv's 3.12 (this project's dev machines ship python3 = 3.11 with 3.12.1 under pyenv).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python

PYTHON ?= $(shell for c in python3.12 python3.13 python3; do \
	  if command -v $$c >/dev/null 2>&1 && $$c -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then command -v $$c; exit 0; fi; done; \
	  if command -v pyenv >/dev/null 2>&1; then for v in $$(pyenv versions --bare | grep -E '^3\.1[2-9]' | sort -V); do \
	    p=$$(PYENV_VERSION=$$v pyenv which python3 2>/dev/null) && echo $$p && exit 0; done; fi)

.PHONY: venv test test-fast bench run clean

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: no Python >= 3.12 found (set PYTHON=/path/to/python3.12)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

test: venv
	$(PY) -m pytest -n auto

test-fast: venv
	$(PY) -m pytest -n auto -m "not slow"

bench: venv
	$(PY) bench/run_bench.py
	$(PY) bench/orderbook_bench.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .hypothesis

run: venv
	$(PY) run.py
