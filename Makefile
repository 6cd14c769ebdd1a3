# The two front-door commands: `make run` (set-up + the default workflow) and `make test` (set-up + suite).
VENV ?= .venv
PY := $(VENV)/bin/python
CORES ?= 8
GPUS ?= 2
SNAKEMAKE := $(VENV)/bin/snakemake
STAMP := $(VENV)/.admix-installed

.PHONY: run test lint bench setup clean-results

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	# The target comes first: --resources takes every word after it, a target included.
	$(SNAKEMAKE) all --cores $(CORES) --resources gpu=$(GPUS)

test: $(STAMP) lint
	$(VENV)/bin/pytest -q tests

lint: $(STAMP)
	$(VENV)/bin/ruff check admixlib workflow_scripts tests benchmarks
	$(VENV)/bin/ruff format --check admixlib workflow_scripts tests benchmarks
	$(VENV)/bin/snakefmt --check Snakefile rules
	$(SNAKEMAKE) --lint --cores 1

clean-results:
	rm -rf results logs checkpoints .snakemake
