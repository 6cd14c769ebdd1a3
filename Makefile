# The two front-door commands: `make run` (set-up + the default workflow) and `make test` (set-up + suite).
VENV ?= .venv
PY := $(VENV)/bin/python
CORES ?= 8
GPUS ?= 2
SNAKEMAKE := $(VENV)/bin/snakemake
STAMP := $(VENV)/.admix-installed

.PHONY: run test test-paper test-slurm lint bench gpu-check setup clean-results

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	# The target comes first: --resources takes every word after it, a target included.
	# --rerun-incomplete: after Snakemake itself was killed, its half-written outputs are redone (training resumes).
	# --scheduler greedy: the default ILP scheduler's solver takes CPU from the jobs (docs/speed.md).
	$(SNAKEMAKE) all --rerun-incomplete --scheduler greedy --cores $(CORES) --resources gpu=$(GPUS)

test: $(STAMP) lint
	$(VENV)/bin/pytest -q -m "not slurm and not paper" tests

# config/celeba.yaml and config/mnist.yaml end to end on fake data from a 127.0.0.1 server (about 10
# minutes; run by .ci/run).
test-paper: $(STAMP)
	$(VENV)/bin/pytest -q -m paper tests

# The workflow on a one-node localhost SLURM cluster (installs slurm-wlm and munge: needs root and apt).
test-slurm: $(STAMP)
	$(PY) -m pip install --quiet -e '.[slurm]'
	$(VENV)/bin/pytest -q -m slurm tests

lint: $(STAMP)
	$(VENV)/bin/ruff check admixlib workflow_scripts tests benchmarks
	$(VENV)/bin/ruff format --check admixlib workflow_scripts tests benchmarks
	$(VENV)/bin/snakefmt --check Snakefile rules
	$(SNAKEMAKE) --lint --cores 1

# Ratios measured in one run per script; each writes results/benchmarks/*.csv. The inversion and
# default-run benchmarks read the outputs of `make run`.
bench: $(STAMP)
	$(PY) benchmarks/advmix_step.py --steps 60
	$(PY) benchmarks/generator.py
	$(PY) benchmarks/scaling.py
	$(PY) benchmarks/inversion.py --dataset faces
	$(PY) benchmarks/default_run.py

# The GPU path on this machine's cards (5-8 minutes): CUDA tests, bf16 step times, determinism, card
# slots, the test config on CUDA; writes results/benchmarks/gpu_check.json. Exits 2 without CUDA.
gpu-check: $(STAMP)
	$(PY) benchmarks/gpu_check.py

clean-results:
	rm -rf results logs checkpoints .snakemake
