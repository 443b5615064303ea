# nicemu: `make demo` and `make test` do all the set-up on a fresh Debian machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
KIT := guest/build/kit.json
PYTEST_ARGS ?=

.PHONY: setup system venv guest demo test test-unit test-hoststack test-guest bench clean distclean

setup: system venv

system:
	@scripts/setup-system.sh
	@# The guest kit is built with 'apt-get download': the package lists must exist.
	@apt-cache show linux-image-amd64 >/dev/null 2>&1 || { \
		echo "setup: apt-get update (package lists are empty)"; \
		$$( [ "$$(id -u)" -eq 0 ] || echo sudo ) apt-get update -q; }

$(BIN)/nicemu: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "setup: installing nicemu and its Python dependencies into $(VENV)"
	@$(BIN)/pip install -q --disable-pip-version-check -e '.[test]'
	@touch $@

venv: $(BIN)/nicemu

$(KIT): guest/build.sh guest/init
	guest/build.sh

guest: system $(KIT)

demo: setup guest
	$(BIN)/nicemu demo

test: setup guest
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-unit: venv
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

test-hoststack: setup
	$(BIN)/python -m pytest tests/hoststack $(PYTEST_ARGS)

test-guest: setup guest
	$(BIN)/python -m pytest tests/guest $(PYTEST_ARGS)

# Benchmarks: a table on the terminal, the full report in bench/results/ (BENCH_ARGS=--quick for a short run).
BENCH_ARGS ?=
bench: venv
	$(BIN)/python -m bench.frame_rate --json bench/results/frame_rate.json $(BENCH_ARGS)

clean:
	rm -rf .pytest_cache build dist *.egg-info
	find . -name __pycache__ -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) guest/build
