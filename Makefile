# Two entry points for a fresh machine: `make demo` and `make test`.
# Each creates the virtual environment and installs the pinned dependencies when missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint format bench clean

$(BIN)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

demo: $(BIN)/.installed
	$(BIN)/latepay demo

# One test process per core; a file's tests stay in one process, which builds the file's
# fixtures (trained models, running servers) once.
test: $(BIN)/.installed lint
	$(BIN)/pytest -n auto --dist loadfile

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache .ruff_cache
