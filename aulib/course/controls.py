"""A control for the reference comparisons: the training precision, which differs between reference runs.

``precision="auto"`` trains in bf16 on a CPU with native bf16 (AVX-512 BF16) and in fp32 on one without (AVX2 only):
bf16 emulated on AVX2 costs seconds per image. The first reference runs (the Hourglass, per-AU, ResNet-18,
fixed-extent, L2) were trained on an AVX-512 BF16 machine, so in bf16; runs added later on AVX2 machines (the pooled
head, the ``small`` Hourglass) in fp32 (``models/reference/provenance.json`` keeps every command's machine). A paired
difference between a bf16 run and an fp32 run then mixes the question asked (a pooled head, a larger network) with
the precision of training.

The control measures that precision effect and removes it: the reference Hourglass retrained **in fp32** with the
same data, recipe and seed (so the same initial weights and batches), scored on the same test subjects, and
compared paired by test subject (:func:`aulib.evaluation.paired.icc_difference`) with

- its bf16 twin, the committed reference Hourglass (the precision, and the code changed since that run: the bf16
  control below separates the two), and
- every committed reference run trained in fp32 that has per-frame predictions for that seed (the question at
  equal precision).

A second control, **in bf16** (``precision="bf16"``, only on a CPU with native bf16), retrains the reference
Hourglass with the same data, recipe, seed and precision as the committed one, but with today's code on today's
machine. Paired with the committed Hourglass it measures how far a rerun drifts (code changed since the reference
runs, another CPU's bf16 kernels); paired with the fp32 control it gives the precision alone at equal code; and the
reference runs trained in bf16 that keep per-frame predictions (:data:`TRAINED_IN`) are paired with it at equal
precision. Each control is paired only with the runs of its own precision.

Written to ``models/reference-controls/`` (committed): ``hourglass-fp32/seed<k>/`` and ``hourglass-bf16/seed<k>/``
(``config.json``, ``training.csv``, ``metrics.csv``, ``predictions.csv.gz``), ``paired.csv`` (a ``control`` column
says which) and ``provenance.json`` (fp32) or ``provenance-bf16.json``. ``aulib reference --precision-control``
(about 16 minutes a seed on 2 AVX2 cores) rebuilds the fp32 control, ``--precision-control --control-precision
bf16`` the bf16 one (on a CPU with native bf16); a command for some seeds (``--seeds 1``) keeps the other seeds'
rows, the other control's rows, and their timings and machine.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from aulib.course.reference import (
    EPOCHS,
    REFERENCE_DIR,
    ROOT,
    copy_run_results,
    machine_description,
    prepare_sets,
    reference_model,
)
from aulib.io import atomic_write_csv, atomic_write_json
from aulib.training.experiments import run_config, train_or_load

CONTROLS_DIR = ROOT / "models" / "reference-controls"
CONTROL_RUN = "hourglass-fp32"
CONTROL_RUNS = {"fp32": CONTROL_RUN, "bf16": "hourglass-bf16"}  # by training precision
PROVENANCE = {"fp32": "provenance.json", "bf16": "provenance-bf16.json"}  # each control's machine differs
# The committed reference runs by the precision they trained in (``models/reference/provenance.json``: the AVX-512
# BF16 machines trained in bf16, the AVX2 ones in fp32). Each control is paired only with the runs of its own
# precision, so that a row compares the question and nothing else.
TRAINED_IN = {"fp32": ("hourglass-direct", "hourglass-small"), "bf16": ("per-au", "resnet18", "fixed-extent", "l2")}
PRECISION_ALONE = "Hourglass fp32 − Hourglass bf16 retrained (the precision alone, at equal code)"  # a bf16 row
# the fp32 control's first row
AGAINST_REFERENCE = "Hourglass fp32 − Hourglass bf16 (the committed reference: the precision and the code since)"
RESULT_FILES = ("config.json", "training.csv", "metrics.csv")  # and the predictions (no noise study here)


def build_precision_control(*, work: str | os.PathLike = "data", out: str | os.PathLike = CONTROLS_DIR,
                            reference_dir: str | os.PathLike = REFERENCE_DIR, seeds: Sequence[int] = (0,),
                            epochs: int = EPOCHS, n_boot: int = 2000, course: dict[str, Any] | None = None,
                            command: str = "aulib reference --precision-control", progress: bool = True,
                            precision: str = "fp32") -> pd.DataFrame:
    """Train a control of the reference Hourglass (fp32, or bf16 as the reference) and pair it with the reference runs
    (module docstring).

    Args:
        work: the folder of the reference data sets and run folders (``aulib reference --work``).
        out: the committed control folder.
        reference_dir: the committed reference runs.
        seeds: training seeds (each needs the reference Hourglass of that seed).
        epochs: the reference recipe's epochs.
        n_boot: bootstrap resamples over test subjects.
        course: the course set's ``SUBJECTS``, ``FRAMES``, ``DIFFICULTY`` and ``SEED`` (default: notebook 01's, as
            :func:`aulib.course.reference.build_reference` uses).
        command: the command line recorded in the provenance.
        progress: progress bars.
        precision: ``"fp32"`` or ``"bf16"`` (the reference runs' own precision; a CPU without native bf16 is refused,
            where it would be emulated at seconds per image).

    Returns:
        ``paired.csv``: one row per control, seed and comparison, ``control, comparison, seed, subjects, base_icc,
        other_icc, difference, low, high, verdict`` (``difference`` = other − base).

    Raises:
        ValueError: naming the precision if it is neither, or bf16 on a CPU without native bf16.
    """
    from aulib.course.pipeline import load_params, notebook_parameters
    from aulib.evaluation.evaluate import evaluate
    from aulib.evaluation.paired import icc_difference, mean_icc, read_predictions, verdict

    if precision not in CONTROL_RUNS:
        raise ValueError(f"precision={precision!r}: the controls train in {' or '.join(CONTROL_RUNS)}")
    if precision == "bf16":
        from aulib.inference.precision import cpu_supports_bf16

        if not cpu_supports_bf16():  # emulated, seconds per image: the control would take a day, and time nothing
            raise ValueError("the bf16 control trains as the reference runs did, in native bf16: this CPU has none "
                             f"(no AVX-512 BF16 or AMX; torch's CPU capability is "
                             f"{torch.backends.cpu.get_cpu_capability()}): run it on such a CPU")
    control_run = CONTROL_RUNS[precision]
    work, out, reference_dir = Path(work), Path(out), Path(reference_dir)
    if course is None:
        course = notebook_parameters(load_params("smoke"), "01_data_preparation")
    train_prepared, course_prepared = prepare_sets(work, course, progress)
    # A seed added later (``--seeds 1``) keeps the earlier seeds' rows and timings: each seed is its own experiment.
    provenance = out / PROVENANCE[precision]
    earlier = json.loads(provenance.read_text()) if provenance.is_file() else {}
    kept = pd.read_csv(out / "paired.csv") if (out / "paired.csv").is_file() else pd.DataFrame()
    if len(kept):  # the first tables had only the fp32 control, without the column
        kept.insert(0, "control", kept.pop("control") if "control" in kept else "fp32")
        # this control's rows of these seeds, and the two controls' comparison, which is recomputed below
        kept = kept[~(kept.seed.isin(seeds) & ((kept.control == precision) | (kept.comparison == PRECISION_ALONE)))]
    rows = []
    timings = dict(earlier.get("seconds", {}))  # a seed trained now replaces its own entries below
    for seed in seeds:
        bf16 = reference_model(reference_dir, seed) / "predictions.csv.gz"
        if not bf16.is_file():
            raise FileNotFoundError(f"{bf16} is missing: the control pairs with the committed reference Hourglass "
                                    f"of seed {seed} (aulib reference --paired-only writes its predictions)")
        config = run_config("hourglass", "smoke", data=train_prepared, runs_dir=work / f"runs-control-{precision}" /
                            f"seed{seed}", epochs=epochs, seed=seed, device="cpu", precision=precision)
        run_dir = Path(config.out)
        began = time.perf_counter()
        finished_before = (run_dir / "predictions.csv").is_file()
        history = train_or_load(config, progress=progress)
        if not finished_before:
            evaluate(run_dir, data=course_prepared, device="cpu", precision="fp32")
            timings[f"seed{seed}"] = round(time.perf_counter() - began, 1)
            timings[f"seed{seed} training images/s"] = round(float(history.train_images_per_s.median()), 1)
        target = out / control_run / f"seed{seed}"
        copy_run_results(run_dir, target, files=RESULT_FILES, work=work)

        control = read_predictions(target / "predictions.csv.gz")
        if precision == "fp32":
            pairs = {AGAINST_REFERENCE: (read_predictions(bf16), control)}
            base_name = "Hourglass fp32"
        else:
            pairs = {"Hourglass bf16 retrained − Hourglass bf16 (the same recipe, seed and precision, today's code)":
                     (read_predictions(bf16), control)}
            base_name = "Hourglass bf16 retrained"
        for run in TRAINED_IN[precision]:
            path = reference_dir / run / f"seed{seed}" / "predictions.csv.gz"
            if path.is_file():
                pairs[f"{run} − {base_name}"] = (control, read_predictions(path))
        # The two controls against each other, whichever was trained last (a rerun of either refreshes it).
        both = {name: out / run / f"seed{seed}" / "predictions.csv.gz" for name, run in CONTROL_RUNS.items()}
        if all(path.is_file() for path in both.values()):
            pairs[PRECISION_ALONE] = (read_predictions(both["bf16"]), read_predictions(both["fp32"]))
        for comparison, (base, other) in pairs.items():
            interval = icc_difference(base, other, n_boot=n_boot, seed=seed)
            owner = "bf16" if comparison == PRECISION_ALONE else precision
            rows.append({"control": owner, "comparison": comparison, "seed": seed, "subjects": interval.n,
                         "base_icc": mean_icc(base), "other_icc": mean_icc(other), "difference": interval.estimate,
                         "low": interval.low, "high": interval.high, "verdict": verdict(interval)})
    paired = pd.concat([table for table in (kept, pd.DataFrame(rows)) if len(table)], ignore_index=True)
    order = paired.control.map({name: k for k, name in enumerate(CONTROL_RUNS)})  # fp32's rows first, as before
    paired = paired.assign(order=order).sort_values(["order", "seed"], kind="stable", ignore_index=True)
    paired = paired.drop(columns="order")
    atomic_write_csv(out / "paired.csv", paired, index=False)
    earlier_commands = list(earlier.get("earlier", []))
    if set(earlier.get("seeds", [])) - set(seeds):  # that command's seeds stay in the tables: keep its machine
        earlier_commands.append({k: earlier[k] for k in ("command", "seeds", "machine", "date") if k in earlier})
    atomic_write_json(provenance, {
        "command": command, "what": f"the reference Hourglass retrained in {precision}: see aulib/course/controls.py",
        "earlier": earlier_commands, "seeds": sorted(int(s) for s in paired[paired.control == precision].seed.unique()),
        "epochs": epochs,
        "machine": machine_description(), "seconds": timings, "date": time.strftime("%Y-%m-%d")})
    return paired
