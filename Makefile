# Two commands run everything: `make run` and `make test`. Each creates .venv first if needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The published page's county boundaries (us-atlas) and TopoJSON decoder, from npm.
VENDOR := ice287g/publish/vendor
VENDOR_STAMP := $(VENDOR)/node_modules/.installed

.PHONY: run backfill test bench lint contracts serve clean-venv

$(STAMP): pyproject.toml $(VENDOR_STAMP)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install -q uv
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -e '.[dev]'
	touch $(STAMP)

$(VENDOR_STAMP): $(VENDOR)/package.json $(VENDOR)/package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: install Node.js and npm (Debian: apt-get install -y npm)"; exit 1; }
	cd $(VENDOR) && npm ci --no-audit --no-fund --silent
	touch $@

CORPUS ?= ../shared/ice-corpus/files

# The main job: one refresh from ICE's page (Prefect flow, temporary local API).
run: $(STAMP)
	$(BIN)/ice287g refresh

# Load the archive of 2025 workbooks (../shared) into ./data.
backfill: $(STAMP)
	$(BIN)/ice287g backfill "$(CORPUS)"

# Two workers per core (pytest-xdist), each test file on one worker, the files in the order
# tests/conftest.py gives them (dearest first). Many tests wait on a subprocess or a local
# server (Prefect, chromium, the replay server) part of the time: a second worker per core
# uses that time. Measured back to back on 2 cores (2026-11-30, four runs, a loaded machine:
# load 4-14): 4 workers 176 and 170 s of CPU, 233 and 211 s wall; 3 workers 163 and 171 s of
# CPU, 255 and 274 s wall; the same CPU within noise, so 4 (their waits overlap).
TEST_WORKERS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 1) * 2 )))
# Compiled modules and pytest's rewritten test files are kept in __pycache__ (git-ignored)
# even where the environment sets PYTHONDONTWRITEBYTECODE: without them every worker, and
# every command a test starts, compiles the project and all test files again (collection
# 2.8 s of CPU per worker instead of 1.2 s).
test: $(STAMP)
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

bench: $(STAMP)
	$(BIN)/python -m bench

serve: $(STAMP)
	$(BIN)/ice287g serve

lint: $(STAMP) contracts
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# The import contracts of pyproject.toml: stages depend only downward (import-linter).
contracts: $(STAMP)
	$(BIN)/lint-imports

clean-venv:
	rm -rf $(VENV)
