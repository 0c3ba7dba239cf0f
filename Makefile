# Two commands run everything: `make run` and `make test`. Each creates .venv first if needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench lint serve clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install -q uv
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -e '.[dev]'
	touch $(STAMP)

CORPUS ?= ../shared/ice-corpus/files

run: $(STAMP)
	@if [ -d "$(CORPUS)" ]; then $(BIN)/ice287g backfill "$(CORPUS)"; \
	else echo "no archive at $(CORPUS): nothing to backfill"; fi

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m ice287g.bench

serve: $(STAMP)
	$(BIN)/ice287g serve

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean-venv:
	rm -rf $(VENV)
