# Bicameral: every target creates .venv when missing and installs what it needs.
# Re-running with nothing changed costs seconds: installs are keyed on pyproject.toml by stamp
# files, and pip keeps its wheel cache (llama-cpp-python builds from source once, ~11 min on
# 2 cores, then installs from ~/.cache/pip in seconds). Never add --no-cache-dir here.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
PYTEST_ARGS ?=
# llama.cpp is built portable (AVX2/FMA, no AVX-512/AMX): the native build (llama-cpp-python's
# default) crashed on the first multi-token prompt on our AMX-capable CI VMs, and the portable
# build runs SmolLM2-135M at ~52 tokens/s on 2 cores. To try another build, change CMAKE_ARGS
# and clear pip's cached wheel first (pip keys it on the version, not on CMAKE_ARGS):
#   .venv/bin/pip cache remove llama_cpp_python
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF

.PHONY: demo test lint bench bench-coding eval clean help browser

help:
	@echo "make demo   - run the coding-assistant example on the embedded model"
	@echo "make test   - lint, then the whole test suite (unit, integration, e2e)"
	@echo "make lint   - ruff and mypy (strict on orchestrator, agents, tools)"
	@echo "make bench  - benchmarks; figures printed and saved in benchmarks/results/"
	@echo "make bench-coding - coding corpus (fetched once): localisation recall, oracle check"
	@echo "make eval   - evaluation harness on a few MATH-500 items with the embedded model"
	@echo "make browser - install Chromium and its driver (apt) for the UI's browser tests"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel

# One stamp per set of extras, rebuilt when pyproject.toml changes.
$(VENV)/.stamp-%: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e ".[$(subst +,$(comma),$*)]"
	@touch $@

comma := ,

demo: $(VENV)/.stamp-local
	$(BIN)/python examples/coding_assistant/run_demo.py

lint: $(VENV)/.stamp-dev+local+eval
	$(BIN)/ruff check orchestrator agents tools tests examples benchmarks
	$(BIN)/ruff format --check orchestrator agents tools tests examples benchmarks
	$(BIN)/mypy orchestrator agents tools

test: lint browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.stamp-dev+local+bench
	$(BIN)/python -m benchmarks.run_all

bench-coding: $(VENV)/.stamp-dev+local+bench
	$(BIN)/python -m benchmarks.coding_corpus.fetch
	$(BIN)/python -m benchmarks.coding_localisation --mode workflow
	$(BIN)/python -m benchmarks.coding_localisation --mode agent \
		--out benchmarks/results/coding_localisation_agent.json

eval: $(VENV)/.stamp-local+eval
	$(BIN)/bicameral eval --dataset math500 --path tests/fixtures/datasets/math500.jsonl --limit 5 \
		--pipeline examples/math_solver.yaml --out eval-results

# The UI's browser tests drive the distribution's Chromium with Selenium (no browser download).
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then \
		echo "chromium and chromedriver present"; \
	else \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium chromium-driver; \
	fi

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
