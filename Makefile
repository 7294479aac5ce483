# Task file behind the README: `make demo` and `make test` on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
BASE := $(VENV)/.installed
# Tests need the dev tools and, for the model and SKAB tests, TensorFlow
# (the `train` extra); the agent itself needs neither.
STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint bench hil clean install-service

$(BASE): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP): $(BASE)
	$(BIN)/python -m pip install --quiet -e '.[dev,train]'
	touch $@

# The main job on its embedded default: the simulated plant, one hour of
# agent time as fast as the machine allows, then what the store holds.
demo: $(BASE)
	$(BIN)/edgetwin run --speed max --duration 1h --state-dir ./demo-state
	$(BIN)/edgetwin status --state-dir ./demo-state

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m mypy agent drivers models

bench: $(BASE)
	$(BIN)/edgetwin bench

hil: $(STAMP)
	$(BIN)/python -m pytest -q hil

clean:
	rm -rf $(VENV) demo-state build *.egg-info .pytest_cache .ruff_cache

# On the board, as root: the system user, /etc/edgetwin and the unit.
install-service:
	systemd/install.sh
