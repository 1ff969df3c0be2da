# Everything runs in .venv, created on first use: `make demo` and `make test` need nothing else.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-test

.PHONY: demo test golden docs lint sz fuzz bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Write the gradient file of every sample with the CLI, then run one beside finite differences.
demo: $(STAMP)
	@grep -v '^#' samples/SAMPLES | while read target wrt; do \
		out=samples/generated/$$(basename $${target%%:*} .py)_grad.py; \
		$(BIN)/adjoint grad samples/$$target --wrt $$wrt -o $$out || exit 1; \
	done
	$(BIN)/python samples/demo.py

test: $(STAMP)
	$(BIN)/python -m pytest

# Regenerate the committed gradient files of the samples.
golden: $(STAMP)
	@grep -v '^#' samples/SAMPLES | while read target wrt; do \
		out=samples/generated/$$(basename $${target%%:*} .py)_grad.py; \
		$(BIN)/adjoint grad samples/$$target --wrt $$wrt -o $$out || exit 1; \
	done

# Regenerate docs/rules.md, the list of supported functions, from the rule table.
docs: $(STAMP)
	@mkdir -p docs
	$(BIN)/adjoint rules --markdown > docs/rules.md.tmp && mv docs/rules.md.tmp docs/rules.md

lint: $(STAMP)
	$(BIN)/ruff check src tests samples benchmarks

# Gradient/primal ratios against hand-written numpy, autograd, JAX and PyTorch, generation time
# and memory, printed as markdown. The peers are the optional `bench` extra (torch pinned: its
# CPU wheel). `make bench BENCH_ARGS=--quick` is a smoke run.
BENCH_STAMP := $(VENV)/.installed-bench
BENCH_ARGS ?=

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# A long random-program campaign (tests/fuzzing): FUZZ_PROGRAMS programs (default 3000), or
# FUZZ_SECONDS of them; prints each new kind of failure shrunk, then one line
# `fuzz: N programs checked, K wrong gradients, E errors, X escaped`. FUZZ_SEED picks the
# programs; FUZZ_AVOID=gate,gate steers around constructs (tests/fuzzing/generate.py GATES).
fuzz: $(STAMP)
	PYTHONPATH=tests $(BIN)/python -m fuzzing

# Lines of code per module (no blank lines, comments or docstring-only lines).
sz:
	@for f in src/adjoint/*.py; do \
		printf '%6d  %s\n' $$(grep -cvE '^\s*(#.*)?$$' $$f) $$f; \
	done | sort -n; \
	grep -hcvE '^\s*(#.*)?$$' src/adjoint/*.py | awk '{s+=$$1} END {printf "%6d  total\n", s}'

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .ruff_cache .hypothesis
