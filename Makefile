# Offload: make run · make test · make lint · make bench
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed

.PHONY: install run test test-db lint bench demo worker clean

install: $(STAMP) $(NPM_STAMP)

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstalls only when pyproject.toml changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Front-end packages from the npm registry, pinned by package-lock.json.
$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: install
	$(BIN)/offload migrate --no-input -v 0
	$(BIN)/offload demo
	$(BIN)/offload serve

demo: install
	$(BIN)/offload demo

worker: install
	$(BIN)/offload worker

# The whole suite on the embedded SQLite database, in parallel.
test: install
	$(BIN)/python -m pytest -n auto -q

# The database-touching tests, on DATABASE_URL (CI points it at PostgreSQL).
test-db: install
	$(BIN)/python -m pytest -n auto -q -m database

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports
	$(BIN)/offload makemigrations --check --dry-run

bench: install
	$(BIN)/offload bench

clean:
	rm -rf $(VENV) node_modules var
