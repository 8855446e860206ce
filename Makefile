# uniware-dlt: everything runs from a local virtualenv that `make` creates on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python pipelines/run.py --demo

test: $(STAMP)
	$(BIN)/ruff check uniware_source pipelines tests benchmarks
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check uniware_source pipelines tests benchmarks
	$(BIN)/ruff format --check uniware_source pipelines tests benchmarks
	$(BIN)/mypy uniware_source pipelines

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_targets.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.duckdb
