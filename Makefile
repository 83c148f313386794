# aulib: the README's commands. Every target creates .venv and installs what it needs first.
#   make test        install (CPU torch first, then aulib with its dev tools) and run the test suite
#   make lint        ruff
#   make bench       the benchmark scripts in benchmarks/
#   make figures     regenerate the README's figures
#   make reproduce   the main job: run every course notebook with papermill (PROFILE=smoke on a CPU, full on a GPU;
#                    RENDERER=3d on SynthAU-3D; RENDERER=3d DETECTOR=dlib on it with dlib's landmarks)
#   make student     the student release of the notebooks (solutions stubbed by nbgrader) in student/
#   make book        the instructor's book in build/book/_build/html (runs make reproduce first if needed)
#   make student-book the students' book in build/student-book/_build/html: the student release run end to end
#                    (every exercise unsolved), no solution, no instructor guide
#   make weights     retrain the reference runs in models/reference (7 models × 3 seeds, several hours on 2 CPU cores;
#                    SEEDS="0" for one seed)
PYTHON ?= python3
VENV ?= .venv
# The CPU wheel of torch 2.13.0; on a GPU machine pass e.g. TORCH_SPEC="torch==2.13.0" with a CUDA index.
TORCH_SPEC ?= torch==2.13.0
PROFILE ?= smoke
CONSTRAINTS ?= constraints.txt
PY := $(VENV)/bin/python
STAMP := $(VENV)/.aulib-installed

.PHONY: install test lint bench figures reproduce weights student book student-book clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first, so that no dependency pulls in a different (multi-GB CUDA) build.
	$(PY) -m pip install --disable-pip-version-check -q "$(TORCH_SPEC)"
	# the versions the test suite last passed with (constraints.txt; CONSTRAINTS= to resolve afresh)
	$(PY) -m pip install --disable-pip-version-check -q $(if $(CONSTRAINTS),-c $(CONSTRAINTS)) -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	MPLBACKEND=agg $(PY) -m pytest --durations=25

lint: $(STAMP)
	$(VENV)/bin/ruff check aulib tests benchmarks book tools

bench: $(STAMP)
	$(PY) benchmarks/bench_heatmaps.py
	$(PY) benchmarks/bench_synthau.py
	$(PY) benchmarks/bench_prepare.py
	$(PY) benchmarks/bench_predict.py
	$(PY) benchmarks/bench_webcam.py
	$(PY) benchmarks/bench_agreement.py

figures: $(STAMP)
	MPLBACKEND=agg $(VENV)/bin/aulib figures

student: $(STAMP)
	$(VENV)/bin/aulib release --out student

# RENDERER=3d runs the course on SynthAU-3D, in folders of its own (data/synthau3d, runs/smoke-synthau3d,
# figures/synthau3d, notebooks/executed/smoke-synthau3d) with its own reference runs (models/reference-3d). Unset,
# the params file's RENDERER decides (2d in both). DETECTOR=dlib beside RENDERER=3d prepares the same frames with
# dlib's landmarks instead of the simulated tracker's (data/synthau3d-prepared-dlib, runs/smoke-synthau3d-dlib,
# figures/synthau3d-dlib, ...) and compares with the reference runs trained on them (models/reference-3d-dlib).
RENDERER ?=
DETECTOR ?=
ON_3D := $(filter 3d,$(RENDERER))
ON_DETECTOR := $(if $(ON_3D),$(if $(DETECTOR),-$(DETECTOR)))
# Where `make reproduce` leaves the executed copies and the figures (the params file's FIG_DIR, SynthAU-3D's beside).
EXECUTED := notebooks/executed/$(PROFILE)$(if $(ON_3D),-synthau3d)$(ON_DETECTOR)
BOOK_FIGURES := figures$(if $(filter full,$(PROFILE)),/full)$(if $(ON_3D),/synthau3d)$(ON_DETECTOR)

book: $(STAMP)
	test -f $(EXECUTED)/06_real_faces.ipynb || $(MAKE) reproduce PROFILE=$(PROFILE)
	MPLBACKEND=agg $(VENV)/bin/aulib book --executed $(EXECUTED) --figures $(BOOK_FIGURES)

student-book: $(STAMP)
	$(VENV)/bin/aulib release --out student
	MPLBACKEND=agg $(VENV)/bin/aulib run-notebooks --profile $(PROFILE) --notebooks student --allow-unsolved
	MPLBACKEND=agg $(VENV)/bin/aulib book --student --executed student/executed/$(PROFILE) --figures student/figures

SEEDS ?= 0 1 2
weights: $(STAMP)
	MPLBACKEND=agg $(VENV)/bin/aulib reference --seeds $(SEEDS)

reproduce: $(STAMP)
	MPLBACKEND=agg $(VENV)/bin/aulib run-notebooks --profile $(PROFILE) $(if $(RENDERER),--set RENDERER=$(RENDERER)) \
		$(if $(DETECTOR),--set DETECTOR=$(DETECTOR))
	MPLBACKEND=agg $(VENV)/bin/aulib figures

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
