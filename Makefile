# perp-cascades: `make run` sets up .venv (Python >= 3.12) and runs the default scenario; `make test` all the tests
# (what CI runs), `make test-fast` the quick tier (the tests not marked slow, under a minute); both spread the
# tests over every core (pytest-xdist, -n auto); `$(PY) -m pytest ...` alone runs them in one process.
# `make viz` serves the live page on http://127.0.0.1:8765 (VIZ_PORT=...); `make viz-results SWEEP=<folder>` opens
# a sweep's results page (http://127.0.0.1:8765/results).
# Finds a suitable interpreter: $(PYTHON) if given, else python3.13/python3.12 on the PATH,
# else pyenv's 3.12 (this project's dev machines ship python3 = 3.11 with 3.12.1 under pyenv).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python

PYTHON ?= $(shell for c in python3.12 python3.13 python3; do \
	  if command -v $$c >/dev/null 2>&1 && $$c -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then command -v $$c; exit 0; fi; done; \
	  if command -v pyenv >/dev/null 2>&1; then for v in $$(pyenv versions --bare | grep -E '^3\.1[2-9]' | sort -V); do \
	    p=$$(PYENV_VERSION=$$v pyenv which python3 2>/dev/null) && echo $$p && exit 0; done; fi)

.PHONY: venv test test-fast bench run clean viz viz-results

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: no Python >= 3.12 found (set PYTHON=/path/to/python3.12)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev,viz]'
	$(TEST_ENV) $(PY) -m venues.warm
	touch $@

venv: $(VENV)/.installed

# the tests keep their compiled bytecode (and pytest its rewritten test modules) in __pycache__ even where the shell
# sets PYTHONDONTWRITEBYTECODE (these machines do): without it every worker recompiles every module, ~6 s each run
TEST_ENV := env -u PYTHONDONTWRITEBYTECODE

test: venv
	$(TEST_ENV) $(PY) -m pytest -n auto --maxschedchunk 2

test-fast: venv
	$(TEST_ENV) $(PY) -m pytest -n auto --maxschedchunk 2 -m "not slow"

bench: venv
	$(PY) bench/run_bench.py
	$(PY) bench/orderbook_bench.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .hypothesis

run: venv
	$(PY) run.py

# the live page (viz.py) on 127.0.0.1 only; solara's telemetry, version check and start-up check are off (this
# network reaches no outside address), its front-end files come from the solara-assets package
VIZ_PORT ?= 8765
VIZ_ENV := SOLARA_TELEMETRY_MIXPANEL_ENABLE=false
viz: venv
	$(VIZ_ENV) $(VENV)/bin/solara run viz.py --host 127.0.0.1 --port $(VIZ_PORT) --production --no-open --no-check-version

viz-results: venv
	@test -n "$(SWEEP)" || { echo "error: SWEEP: name a sweep folder, e.g. make viz-results SWEEP=outputs/multirun/<date>/<time>"; exit 2; }
	@echo "results page: http://127.0.0.1:$(VIZ_PORT)/results"
	PERP_VIZ_SWEEP=$(SWEEP) $(VIZ_ENV) $(VENV)/bin/solara run viz.py --host 127.0.0.1 --port $(VIZ_PORT) --production --no-open --no-check-version
