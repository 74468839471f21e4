# Two commands: `make run` (demo on SQLite at http://127.0.0.1:8000) and `make test`.
PYTHON ?= python3
UV := $(PYTHON) -m uv
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install lint format bench clean

install:
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	@$(UV) sync --frozen --quiet

run: install
	$(UV) run seba demo
	SEBA_WORKER_IN_PROCESS=true $(UV) run seba serve --host $(HOST) --port $(PORT)

test: install
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run pytest

lint: install
	$(UV) run ruff check .
	$(UV) run ruff format --check .

format: install
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

bench: install
	$(UV) run python bench/availability.py

clean:
	rm -rf var .pytest_cache .ruff_cache .hypothesis
