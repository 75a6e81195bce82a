# See README.md. `make run` serves the site with a worker; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
REQ := requirements
PORT ?= 8000
# The fast lane: no browser, no real worker or server processes, no model fitting.
FAST := not slow and not fits_model

.PHONY: install install-training install-dev run test test-fast lint format worker bench clean

install: $(VENV)/.installed-base              # the site, the worker and the DICOM node (LiteRT, no TensorFlow)
install-training: $(VENV)/.installed-training  # + TensorFlow, scikit-learn: retrain, evaluate, bench/
install-dev: $(VENV)/.installed-dev            # + test tools and linters: the whole suite

# One stamp per level, remade (pip install) whenever a pinned file it rests on changes.
$(VENV)/.installed-training: $(REQ)/base.txt
$(VENV)/.installed-dev: $(REQ)/base.txt $(REQ)/training.txt
$(VENV)/.installed-%: $(REQ)/%.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r $(REQ)/$*.txt
	touch $@

run: install
	PORT=$(PORT) $(PY) scripts/run.py

test: install-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: install-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -m "$(FAST)" $(PYTEST_ARGS)

lint: install-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install-dev
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

worker: install
	$(PY) -m celery -A fracture_site worker --loglevel=INFO --concurrency=1

bench: install-training
	$(PY) bench/latency.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
