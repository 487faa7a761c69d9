# The two quick-start commands of README.md: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export OMP_NUM_THREADS := 1
export MKL_NUM_THREADS := 1

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.stamp-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e . 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -c "import qnetrl" && touch $@

$(VENV)/.stamp-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev,ray,tensorboard]' 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -c "import qnetrl, pytest, hypothesis, tensorboard" && touch $@ $(VENV)/.stamp-run

demo: $(VENV)/.stamp-run
	$(BIN)/qnetrl demo

test: $(VENV)/.stamp-dev
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
