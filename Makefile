# The two commands of the README: `make figures` and `make test`. Both create .venv when missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SCALE ?= quick
NOTEBOOKS ?=
SEEDS ?= 1,2,3,4
DATASET2 ?= fashion-mnist
BUDGET_EPOCHS ?= 6
SWEEP_ARGS ?=
export SOURCE_DATE_EPOCH := 1700000000
export MPLBACKEND := agg
export PYTHONHASHSEED := 0

.PHONY: help env figures claims claims-dataset claims-budget claims-strong book test student checked-outputs unit benchmarks clean
.DEFAULT_GOAL := help

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --no-compile -e .
	@# byte-compile here, on every core (pip's own pass is serial: 80 s): with PYTHONDONTWRITEBYTECODE set, as
	@# on CI machines, Python never stores what it compiles, and every kernel, worker and Ray task would
	@# compile torch again (5-8 s each: +4.5 min of make test). Test suites are skipped; the few files
	@# meant for other Python versions fail to compile, as they do under pip, and are never imported.
	@$(PY) -m compileall -q -j 0 -x '/tests?/|/testing/_internal/' $$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') helpers > /dev/null || true
	@touch $@

env: $(STAMP)  ## Create .venv and install the pinned dependencies (done once)

figures: $(STAMP)  ## Run every notebook with papermill (SCALE=quick|paper, NOTEBOOKS=02) and write figures/
	$(PY) -m helpers.pipeline --scale $(SCALE) $(if $(NOTEBOOKS),--only $(NOTEBOOKS))

claims: $(STAMP)  ## Seeds 1-4 of the claim notebooks on Ray (after make figures; RAY_ADDRESS joins a cluster), then 08
	$(PY) -m helpers.pipeline.sweep --scale $(SCALE) --seeds $(SEEDS) $(if $(NOTEBOOKS),--notebooks $(NOTEBOOKS)) $(SWEEP_ARGS)
	$(PY) -m helpers.pipeline --scale $(SCALE) --only 08

claims-dataset: $(STAMP)  ## Every claim on the second dataset (DATASET2=fashion-mnist; seeds 0-2), then 08
	$(PY) -m helpers.pipeline.sweep --scale $(SCALE) --seeds 0,1,2 --datasets $(DATASET2) $(SWEEP_ARGS)
	$(PY) -m helpers.pipeline --scale $(SCALE) --only 08

claims-budget: $(STAMP)  ## The claims again at another classifier budget (BUDGET_EPOCHS=6; seeds 0-2, ~35 min), then 08
	$(PY) -m helpers.pipeline.sweep --scale $(SCALE) --seeds 0,1,2 --set classifier_epochs=$(BUDGET_EPOCHS) $(SWEEP_ARGS)
	$(PY) -m helpers.pipeline --scale $(SCALE) --only 08

claims-strong: $(STAMP)  ## The claims of 04, 06 and 07 against the strong attacker (prior + tuned attacks; seeds 0-2), then 08
	$(PY) -m helpers.pipeline.sweep --scale $(SCALE) --seeds 0,1,2 --notebooks 04 06 07 --set attacker=strong $(SWEEP_ARGS)
	$(PY) -m helpers.pipeline --scale $(SCALE) --only 08

book: $(STAMP)  ## Static HTML book of the notebooks as make figures left them (no re-execution): build/book/html/index.html
	$(PY) -m helpers.pipeline.book

# Two sessions, each on TEST_WORKERS pytest-xdist workers: the notebooks at smoke with nbval (one
# notebook file per worker at a time), then tests/, which reuse the notebooks' executed copies and
# cache (one $MIA_TEST_RUN id ties them to this run; conftest.py). Both always run; the exit status
# is the first failure's.
TEST_WORKERS ?= 2
test: $(STAMP)  ## Every notebook at smoke scale with nbval, then the unit tests (TEST_WORKERS=2 workers)
	@export MIA_SCALE=smoke MIA_FIGURES_DIR="$(CURDIR)/build/test-figures" MIA_TEST_RUN="$$(date +%s%N)-$$$$"; \
	status=0; \
	$(PY) -m pytest notebooks -n $(TEST_WORKERS) --dist loadfile --nbval-lax --nbval-current-env \
	  --nbval-cell-timeout=900 -p no:cacheprovider --durations=10 || status=$$?; \
	$(PY) -m pytest tests -n $(TEST_WORKERS) --dist loadgroup -p no:cacheprovider --durations=15 || \
	  { s=$$?; [ $$status -ne 0 ] || status=$$s; }; \
	exit $$status

student: $(STAMP)  ## Generate student/NN_*.ipynb from the exercises of the solution notebooks
	$(PY) -m helpers.course.assignments

checked-outputs: $(STAMP)  ## Refresh the stored outputs of cells tagged nbval-check-output
	$(PY) -m helpers.pipeline --store-checked-outputs $(if $(NOTEBOOKS),--only $(NOTEBOOKS))

unit: $(STAMP)  ## Unit tests only
	$(PY) -m pytest tests -p no:cacheprovider

benchmarks: $(STAMP)  ## Speed benchmarks in one run (BENCH="training attacks defenses notebooks"; notebooks: ~25 min); writes benchmarks/RESULTS.md
	$(PY) -m benchmarks.run $(BENCH)

clean:  ## Remove executed notebooks and caches (keeps .venv and figures/)
	rm -rf build data/cache
