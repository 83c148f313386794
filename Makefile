# aulib: the README's commands. Every target creates .venv and installs what it needs first.
#   make test        install (CPU torch first, then aulib with its dev tools) and run the test suite
#   make lint        ruff
#   make bench       the benchmark scripts in benchmarks/
#   make figures     regenerate the README's figures
#   make reproduce   the main job: run every course notebook with papermill (PROFILE=smoke on a CPU, full on a GPU)
#                    on SynthAU-3D aligned with dlib's landmarks; RENDERER=2d on SynthAU v2's drawn faces;
#                    DETECTOR=given on SynthAU-3D aligned with the simulated tracker's landmarks
#   make student     the student release of the notebooks (solutions stubbed by nbgrader) in student/
#   make book        the instructor's book in build/book/_build/html (runs make reproduce first if needed)
#   make student-book the students' book in build/student-book/_build/html: the student release run end to end
#                    (every exercise unsolved), no solution, no instructor guide
#   make weights     retrain the default's reference runs in models/reference-3d-dlib (7 models × 3 seeds in fp32,
#                    many hours on 2 CPU cores; SEEDS="0" for one seed; RENDERER=2d or DETECTOR=given for a variant's)
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
	$(VENV)/bin/ruff check aulib tests benchmarks book tools notebooks

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

# The course's data is SynthAU-3D aligned with dlib's landmarks (params/*.yaml). RENDERER=2d runs it on SynthAU v2
# (data/synthau, runs/smoke-synthau2d, figures/synthau2d, notebooks/executed/smoke-synthau2d, models/reference) and
# DETECTOR=given on SynthAU-3D aligned with the simulated tracker's landmarks (data/synthau3d-prepared,
# runs/smoke-synthau3d, figures/synthau3d, ..., models/reference-3d): aulib.course.variants.
RENDERER ?=
DETECTOR ?=
VARIANT := $(if $(filter 2d,$(RENDERER)),synthau2d,$(if $(filter given,$(DETECTOR)),synthau3d))
# Where `make reproduce` leaves the executed copies and the figures (the params file's FIG_DIR, a variant's beside).
EXECUTED := notebooks/executed/$(PROFILE)$(if $(VARIANT),-$(VARIANT))
BOOK_FIGURES := figures$(if $(filter full,$(PROFILE)),/full)$(if $(VARIANT),/$(VARIANT))

book: $(STAMP)
	test -f $(EXECUTED)/06_real_faces.ipynb || $(MAKE) reproduce PROFILE=$(PROFILE)
	MPLBACKEND=agg $(VENV)/bin/aulib book --executed $(EXECUTED) --figures $(BOOK_FIGURES)

student-book: $(STAMP)
	$(VENV)/bin/aulib release --out student
	MPLBACKEND=agg $(VENV)/bin/aulib run-notebooks --profile $(PROFILE) --notebooks student --allow-unsolved
	MPLBACKEND=agg $(VENV)/bin/aulib book --student --executed student/executed/$(PROFILE) --figures student/figures

SEEDS ?= 0 1 2
# The variant's committed runs: SynthAU v2's (models/reference), or SynthAU-3D's on the simulated tracker's landmarks
# (models/reference-3d) or on dlib's (models/reference-3d-dlib, the default, trained in fp32 like the committed ones).
WEIGHTS_ARGS := $(if $(filter 2d,$(RENDERER)),,--renderer 3d $(if $(filter given,$(DETECTOR)),--out \
	models/reference-3d,--detector dlib --precision fp32 --out models/reference-3d-dlib))
weights: $(STAMP)
	MPLBACKEND=agg $(VENV)/bin/aulib reference --seeds $(SEEDS) $(WEIGHTS_ARGS)

reproduce: $(STAMP)
	MPLBACKEND=agg $(VENV)/bin/aulib run-notebooks --profile $(PROFILE) $(if $(RENDERER),--set RENDERER=$(RENDERER)) \
		$(if $(DETECTOR),--set DETECTOR=$(DETECTOR))
	MPLBACKEND=agg $(VENV)/bin/aulib figures

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
