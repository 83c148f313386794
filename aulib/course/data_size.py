"""A regime where the comparisons may differ: the training-set size.

With all 102 of the reference set's training subjects, the Hourglass's heatmaps and the same encoder with a pooled
regression head (RQ2's capacity-matched baseline) score alike on SynthAU (``models/reference-controls/paired.csv``:
level on two seeds of three). Heatmap regression gives the network a target at every pixel, so it may need fewer
people to learn; or the pooled head may do as well with less. This module measures it, whichever way it comes out:
both networks trained on the first 10 and 30 training subjects (sorted by name, so the smaller set is inside the
larger), everything else as the full-size runs.

- **The same number of updates.** A run on fewer subjects takes more passes, so that each run makes the full-size
  run's 1,224 steps with the same cosine schedule: the regime changes the data, not the optimisation
  (``max_steps``; the last pass is cut short).
- **fp32** on SynthAU v2, as the full-size runs it is compared with: the Hourglass's fp32 control
  (``models/reference-controls/hourglass-fp32``) and the pooled head (``models/reference/hourglass-direct``), both
  trained in fp32 by the same recipe on all training subjects.
- Validation (model selection) keeps its 18 subjects; every run is scored on the course set's 30 test subjects, and
  the pooled head is paired with the Hourglass of the same size and seed
  (:func:`aulib.evaluation.paired.icc_difference`; worded by :func:`aulib.evaluation.paired.verdict`).
- **Geometry alone at every size**: ridge on the aligned tracked landmarks
  (:func:`aulib.evaluation.geometry.ridge_fitted_on`) fitted on exactly the networks' training people of that size,
  paired with the Hourglass. Whether the Hourglass's lead over geometry grows with the number of people tells
  whether more data would make the appearance count (the SynthAU-3D issue's rule that geometry alone must not
  solve the data set).
- **SynthAU-3D's twin** (``renderer="3d"``, ``aulib reference --data-size --renderer 3d``): the same sizes and
  recipe on the SynthAU-3D sets, paired with the committed SynthAU-3D runs (``models/reference-3d``: the Hourglass and
  the pooled head on all training people) and trained in their precision (``auto``: bf16 on a CPU with AVX-512
  BF16, as they were), into ``models/reference-3d-data-size/``.
- **On dlib's landmarks** (``detector="dlib"``, ``aulib reference --data-size --renderer 3d --detector dlib``): the
  SynthAU-3D sets prepared with dlib's landmarks, paired with the runs trained on them
  (``models/reference-3d-dlib``) and, like them, trained in fp32, into ``models/reference-3d-dlib-data-size/``; its
  ``provenance.json`` names the landmarks, so that only a course prepared with dlib shows it.

Written to ``models/reference-data-size/`` (committed): ``<run>/subjects<n>/seed<k>/`` (``config.json``,
``training.csv``, ``metrics.csv``, ``predictions.csv.gz``), ``paired.csv`` (every size, the full one included) and
``provenance.json``. ``aulib reference --data-size`` rebuilds it (18 to 27 minutes a run on 2 AVX2 cores, 90 a
seed); a command for some sizes or seeds keeps the others' rows.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from aulib.course.controls import CONTROL_RUN, CONTROLS_DIR, RESULT_FILES
from aulib.course.reference import (
    EPOCHS,
    REFERENCE_DIR,
    ROOT,
    copy_run_results,
    machine_description,
    prepare_sets,
)
from aulib.io import atomic_write_csv, atomic_write_json
from aulib.training.experiments import run_config, train_or_load

DATA_SIZE_DIR = ROOT / "models" / "reference-data-size"
DATA_SIZE_3D_DIR = ROOT / "models" / "reference-3d-data-size"
REFERENCE_3D_DIR = ROOT / "models" / "reference-3d"
SUBJECTS = (10, 30)
RUNS = ("hourglass", "hourglass-direct")
RUN_LABELS = {"hourglass": "Hourglass", "hourglass-direct": "pooled head"}
# The precision of the committed full-size runs that each renderer's regime is paired with (on a detector's
# landmarks: DETECTOR_PRECISION, as models/reference-3d-dlib was trained).
PRECISION = {"2d": "fp32", "3d": "auto"}
DETECTOR_PRECISION = "fp32"


def regime_folders(renderer: str = "2d", detector: str | None = None) -> tuple[Path, Path]:
    """(the regime's committed folder, the committed full-size runs' folder) of a renderer and landmarks.

    Example:
        >>> [folder.name for folder in regime_folders("3d", "dlib")]
        ['reference-3d-dlib-data-size', 'reference-3d-dlib']
    """
    if detector is not None:
        if renderer != "3d":
            raise ValueError(f"the regime on {detector}'s landmarks is SynthAU-3D's: give renderer='3d', not "
                             f"{renderer!r}")
        return ROOT / "models" / f"reference-3d-{detector}-data-size", ROOT / "models" / f"reference-3d-{detector}"
    return (DATA_SIZE_3D_DIR, REFERENCE_3D_DIR) if renderer == "3d" else (DATA_SIZE_DIR, REFERENCE_DIR)


def full_size_runs(seed: int, reference_dir: Path = REFERENCE_DIR, controls_dir: Path = CONTROLS_DIR,
                   renderer: str = "2d") -> dict[str, Path]:
    """The committed runs on every training subject that the regime's smaller runs are compared with: on SynthAU
    v2 the fp32 ones (the Hourglass's fp32 control and the pooled head), on SynthAU-3D the reference runs
    themselves (``reference_dir`` is then ``models/reference-3d``)."""
    if renderer == "3d":
        return {name: reference_dir / name / f"seed{seed}" for name in RUNS}
    return {"hourglass": controls_dir / CONTROL_RUN / f"seed{seed}",
            "hourglass-direct": reference_dir / "hourglass-direct" / f"seed{seed}"}


def _precision_used(precision: str) -> str:
    """What ``precision`` trains in on this machine's CPU (``"auto"`` is bf16 only with native bf16)."""
    import torch

    from aulib.inference.precision import autocast_dtype

    return "bf16" if autocast_dtype(precision, torch.device("cpu")) == torch.bfloat16 else "fp32"


def training_subjects(config: Any) -> list[str]:
    """The training subjects of a config (validation ones excluded), as :class:`aulib.training.trainer.Trainer`
    takes them."""
    from aulib.data.dataset import PreparedDataset
    from aulib.training.config import split_validation

    return split_validation(PreparedDataset(config.data), config)[0]


def training_size(config: Any) -> tuple[int, int, int]:
    """(training subjects, training frames, steps per epoch) of a config, as
    :class:`aulib.training.trainer.Trainer` counts them."""
    from aulib.data.dataset import PreparedDataset

    train = training_subjects(config)
    frames = len(PreparedDataset(config.data, subjects=train))
    return len(train), frames, max(1, frames // config.batch_size)


def build_data_size_regime(*, work: str | os.PathLike = "data", out: str | os.PathLike | None = None,
                           subjects: Sequence[int] = SUBJECTS, seeds: Sequence[int] = (0,),
                           epochs: int = EPOCHS, n_boot: int = 2000, course: dict[str, Any] | None = None,
                           reference_dir: str | os.PathLike | None = None,
                           controls_dir: str | os.PathLike = CONTROLS_DIR, renderer: str = "2d",
                           detector: str | None = None, command: str = "aulib reference --data-size",
                           progress: bool = True) -> pd.DataFrame:
    """Train both networks on fewer subjects and pair them, and geometry alone with the Hourglass (module
    docstring).

    Args:
        work: the folder of the reference data sets and run folders (``aulib reference --work``).
        out: the committed regime folder (default: :func:`regime_folders`'s: :data:`DATA_SIZE_DIR`,
            :data:`DATA_SIZE_3D_DIR` for SynthAU-3D, ``models/reference-3d-dlib-data-size`` on dlib's landmarks).
        subjects: training-set sizes (subjects) to train; the full size comes from the committed runs.
        seeds: training seeds.
        epochs: the full-size recipe's epochs, which fix the number of updates of every run.
        n_boot: bootstrap resamples over test subjects.
        course: the course set's ``SUBJECTS``, ``FRAMES``, ``DIFFICULTY`` and ``SEED`` (default: notebook 01's).
        reference_dir, controls_dir: the committed full-size runs (:func:`full_size_runs`; ``reference_dir``'s
            default is the renderer's reference folder).
        renderer: ``"2d"`` (SynthAU v2) or ``"3d"`` (SynthAU-3D's twin: its sets, runs and precision).
        detector: ``"dlib"``: the SynthAU-3D sets prepared with its landmarks, and the runs trained on them.
        command: the command line recorded in the provenance.
        progress: progress bars.

    Returns:
        ``paired.csv``: one row per size and seed, ``train_subjects, train_frames, seed, steps, test_subjects,
        hourglass_icc, pooled_icc, difference, low, high, verdict`` (``difference`` = pooled head − Hourglass), then
        ``ridge_icc, over_ridge, over_ridge_low, over_ridge_high, over_ridge_verdict`` (``over_ridge`` = Hourglass −
        ridge fitted on the same training people; the verdict is the Hourglass's).
    """
    from aulib.course.pipeline import load_params, notebook_parameters
    from aulib.evaluation.evaluate import evaluate
    from aulib.evaluation.geometry import ridge_fitted_on
    from aulib.evaluation.paired import icc_difference, mean_icc, read_predictions, verdict

    if renderer not in PRECISION:
        raise ValueError(f"renderer must be one of {sorted(PRECISION)}; got {renderer!r}")
    three_d = renderer == "3d"
    work = Path(work)
    default_out, default_reference = regime_folders(renderer, detector)
    out = Path(out) if out is not None else default_out
    reference_dir = Path(reference_dir) if reference_dir is not None else default_reference
    precision = DETECTOR_PRECISION if detector else PRECISION[renderer]
    if course is None:
        course = notebook_parameters(load_params("smoke"), "01_data_preparation")
    train_prepared, course_prepared = prepare_sets(work, course, progress, renderer, detector)
    earlier = json.loads((out / "provenance.json").read_text()) if (out / "provenance.json").is_file() else {}
    timings = dict(earlier.get("seconds", {}))  # a run trained now replaces its own entries below
    trained_now: list[str] = []
    # (subjects, frames, steps per epoch) of each size; both networks share the recipe's batch size
    size_of = {n: training_size(run_config("hourglass", "smoke", data=train_prepared, runs_dir=work,
                                           train_subjects=n)) for n in {*subjects, None}}
    full_subjects, full_frames, full_steps_per_epoch = size_of[None]
    steps = full_steps_per_epoch * epochs
    for seed in seeds:
        for n in subjects:
            per_epoch = size_of[n][2]
            for name in RUNS:
                config = run_config(name, "smoke", data=train_prepared,
                                    runs_dir=work / (f"runs-data-size{'-3d' if three_d else ''}"
                                                     f"{f'-{detector}' if detector else ''}") / f"subjects{n}"
                                    / f"seed{seed}", epochs=math.ceil(steps / per_epoch), max_steps=steps,
                                    seed=seed, device="cpu", precision=precision, train_subjects=n)
                run_dir = Path(config.out)
                began = time.perf_counter()
                finished_before = (run_dir / "predictions.csv").is_file()
                history = train_or_load(config, progress=progress)
                key = f"{name}/subjects{n}/seed{seed}"
                if not finished_before:
                    evaluate(run_dir, data=course_prepared, device="cpu", precision="fp32")
                    timings[key] = round(time.perf_counter() - began, 1)
                    trained_now.append(key)
                    timings[f"{key} training images/s"] = round(float(history.train_images_per_s.median()), 1)
                copy_run_results(run_dir, out / name / f"subjects{n}" / f"seed{seed}", files=RESULT_FILES,
                                 work=work)

    # Every committed size and seed, not only this command's: a command for one size keeps the others' rows.
    rows, ridges = [], {}
    trained_sizes = sorted(int(folder.name.removeprefix("subjects")) for folder in out.glob("hourglass/subjects*"))
    trained_seeds = {int(folder.name.removeprefix("seed")) for folder in out.glob("hourglass/subjects*/seed*")}
    for seed in sorted({*seeds, *trained_seeds}):
        sizes = {n: {name: out / name / f"subjects{n}" / f"seed{seed}" for name in RUNS} for n in trained_sizes}
        sizes[full_subjects] = full_size_runs(seed, reference_dir, Path(controls_dir), renderer)
        for n, paths in sorted(sizes.items()):
            if not all((path / "predictions.csv.gz").is_file() for path in paths.values()):
                continue  # this size was not trained for this seed
            for path in paths.values():  # a full-size run of another recipe would compare unlike with unlike
                made = int(pd.read_csv(path / "training.csv").step.iloc[-1]) if (path / "training.csv").is_file() \
                    else None
                if made is not None and made != steps:
                    raise ValueError(f"{path / 'training.csv'}: {made} updates, not the {steps} of this regime's "
                                     f"recipe ({epochs} epochs over {full_subjects} subjects)")
            hourglass = read_predictions(paths["hourglass"] / "predictions.csv.gz")
            pooled = read_predictions(paths["hourglass-direct"] / "predictions.csv.gz")
            interval = icc_difference(hourglass, pooled, n_boot=n_boot, seed=seed)
            if n not in size_of:  # a size committed by an earlier command
                size_of[n] = training_size(run_config("hourglass", "smoke", data=train_prepared, runs_dir=work,
                                                      train_subjects=n))
            frames = full_frames if n == full_subjects else size_of[n][1]
            # geometry alone on exactly these training people (the validation split is the set's own, so they
            # do not depend on the seed; keyed by the list all the same)
            people = tuple(training_subjects(run_config("hourglass", "smoke", data=train_prepared, runs_dir=work,
                                                        seed=seed, train_subjects=None if n == full_subjects
                                                        else n)))
            if people not in ridges:
                ridges[people] = ridge_fitted_on(train_prepared, people, course_prepared)
            over_ridge = icc_difference(ridges[people], hourglass, n_boot=n_boot, seed=seed)
            rows.append({"train_subjects": n, "train_frames": frames, "seed": seed, "steps": steps,
                         "test_subjects": interval.n, "hourglass_icc": mean_icc(hourglass),
                         "pooled_icc": mean_icc(pooled), "difference": interval.estimate, "low": interval.low,
                         "high": interval.high, "verdict": verdict(interval),
                         "ridge_icc": mean_icc(ridges[people]), "over_ridge": over_ridge.estimate,
                         "over_ridge_low": over_ridge.low, "over_ridge_high": over_ridge.high,
                         "over_ridge_verdict": verdict(over_ridge)})
    paired = pd.DataFrame(rows)
    atomic_write_csv(out / "paired.csv", paired, index=False)
    atomic_write_json(out / "provenance.json", {
        "command": command, "what": "the training-set-size regime: see aulib/course/data_size.py",
        # the precision this machine trains in, where this command trained; else what the earlier record says
        "renderer": renderer, "landmarks": detector or "the sets' simulated tracker", "precision": precision,
        "precision_used": _precision_used(precision) if trained_now else earlier.get("precision_used", precision),
        "trained_by_this_command": trained_now,
        "earlier": [*earlier.get("earlier", []), *([{k: earlier[k] for k in ("command", "machine", "date")
                                                    if k in earlier}] if earlier else [])],
        "subjects": sorted(int(n) for n in paired.train_subjects.unique()), "seeds": sorted(int(s) for s in
                                                                                            paired.seed.unique()),
        "steps": steps, "machine": machine_description(), "seconds": timings, "date": time.strftime("%Y-%m-%d")})
    return paired

