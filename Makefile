# Two commands run everything: `make run` and `make test`. Each creates .venv first if needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run backfill test bench lint serve clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install -q uv
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -e '.[dev]'
	touch $(STAMP)

CORPUS ?= ../shared/ice-corpus/files

# The main job: one refresh from ICE's page (Prefect flow, temporary local API).
run: $(STAMP)
	$(BIN)/ice287g refresh

# Load the archive of 2025 workbooks (../shared) into ./data.
backfill: $(STAMP)
	$(BIN)/ice287g backfill "$(CORPUS)"

# Both cores: one worker per core, each test file on one worker (pytest-xdist).
test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --dist loadfile

bench: $(STAMP)
	$(BIN)/python -m ice287g.bench

serve: $(STAMP)
	$(BIN)/ice287g serve

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean-venv:
	rm -rf $(VENV)
