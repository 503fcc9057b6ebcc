# Every target creates the local virtual environment (.venv) and installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
# test processes (pytest-xdist); each test file runs in one of them, so its fixtures are built once
JOBS   ?= 2

.PHONY: dev demo test system-deps lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

dev: $(STAMP)  ## create .venv with audit (editable) and the test and lint tools
	@echo "ready: source $(VENV)/bin/activate"

demo: $(STAMP)  ## audit the shipped UCI Adult model; prints the bundle path and the outcome
	@$(BIN)/audit run samples/adult/audit.yaml; rc=$$?; \
	if [ $$rc -eq 1 ]; then echo "(exit 1: the policy failed the model - in CI this blocks the deployment)"; \
	elif [ $$rc -ne 0 ]; then exit $$rc; fi

system-deps:  ## Debian packages the tests start for real (PostgreSQL, Chromium + driver, poppler)
	@bash .ci/system-deps

test: $(STAMP) system-deps  ## the whole test suite (JOBS=2 processes; JOBS=1 for one)
	$(BIN)/pytest $(if $(filter 1,$(JOBS)),,-n $(JOBS) --dist loadfile)

lint: $(STAMP)  ## ruff (lint + format check) and mypy
	$(BIN)/ruff check audit tests benchmarks samples
	$(BIN)/ruff format --check audit tests benchmarks samples
	$(BIN)/mypy audit

bench: $(STAMP)  ## every benchmark: figures and ratios against fairlearn, shap, plain pyHanko ...
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) reports .audit .pytest_cache .mypy_cache .ruff_cache
