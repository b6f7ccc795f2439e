# Two commands on a fresh machine:
#   make demo   # the whole pipeline on the cpu preset (ENCODER=vjepa2 by default)
#   make test   # the test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TASK ?= reacher-easy
ENCODER ?= vjepa2
PRESET ?= cpu
SEED ?= 0

.PHONY: demo test bench lint format clean-venv

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

demo: $(VENV)/.installed
	$(PY) train_robots/run_pipeline.py --task $(TASK) --encoder $(ENCODER) --preset $(PRESET) --seed $(SEED)

test: $(VENV)/.installed
	# The smoke models are tiny: one thread each avoids oversubscribing a small machine.
	OMP_NUM_THREADS=1 $(PY) -m pytest -q tests

bench: $(VENV)/.installed
	$(PY) train_robots/bench.py

lint: $(VENV)/.installed
	$(PY) -m ruff check train_robots tests
	$(PY) -m ruff format --check train_robots tests

format: $(VENV)/.installed
	$(PY) -m ruff format train_robots tests
	$(PY) -m ruff check --fix train_robots tests
