# Two commands for a newcomer: `make demo` (the main job, on the embedded sandbox) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint completions bench clean

$(BIN)/notifyctl: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/notifyctl
	$(BIN)/notifyctl tail --sandbox

test: $(BIN)/notifyctl lint
	$(BIN)/pytest -q

lint: $(BIN)/notifyctl
	$(BIN)/ruff check .
	$(BIN)/mypy --strict src

completions: $(BIN)/notifyctl
	$(BIN)/notifyctl completion bash > completions/notifyctl.bash
	$(BIN)/notifyctl completion zsh > completions/_notifyctl
	$(BIN)/notifyctl completion fish > completions/notifyctl.fish

bench: $(BIN)/notifyctl
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
