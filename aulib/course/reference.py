"""Reference runs: the models behind the course's figures and comparisons, trained by one command (``make weights``).

The student's Hourglass in notebook 03 trains live for a few CPU minutes. The course's other figures, and the
comparisons of the paper's research questions (RQ1 the light Hourglass against the next size, ``small``; RQ2 heatmaps
against direct regression, by ResNet-18 and by the same Hourglass with a pooled head; RQ3 landmark noise; RQ4 one
Hourglass against one per AU; RQ5 the target design and the readout), use *reference runs* trained for longer with
three seeds. Their provenance is kept beside them, and this module rebuilds all of it:

1. SynthAU at the course's default level with **seed** :data:`TRAIN_SEED`, all of its subjects for training (15 %
   of them for model selection): these people never appear in the course;
2. the course's own SynthAU set (``params/smoke.yaml``: seed 0), prepared as notebook 01 prepares it;
3. every run of :mod:`aulib.training.experiments` with seeds 0, 1, 2, trained with the smoke profile's recipe for
   :data:`EPOCHS` epochs, then evaluated and put through the landmark-noise study on the course set's test subjects;
4. into ``models/reference/`` (committed): ``comparison.csv`` (every run, seed and AU), each run's ``config.json``,
   ``training.csv``, ``metrics.csv`` and ``robustness.csv``, its per-frame ``predictions.csv.gz`` (so that two
   models can be compared paired by subject), the weights of the Hourglass, the ``small`` Hourglass and the
   per-AU Hourglasses (``best.pt`` without the optimiser, 1.2, 3.1 and 6.6 MB a seed; the other networks are too
   large to commit, so only their results are kept), ``london_readings.csv`` and ``london_variants.csv`` (the
   London photos read by the Hourglass, and by the ``small`` Hourglass and the local readout:
   :func:`build_london_variants`),
   ``paired.csv`` (each run with per-frame predictions, and ridge on the landmarks, minus the Hourglass of the same
   seed, with a paired bootstrap over test subjects: :func:`build_paired`) and ``provenance.json`` (command,
   versions, machine, data seeds and timings; a run added later keeps every earlier command's record, with its
   machine, under ``earlier``). ``aulib reference`` then puts the committed Hourglasses through RQ3's noise study
   (:mod:`aulib.course.noise_study`: ``noise_bands.csv``, ``noise_crossings.csv`` and ``noise_paired.csv``).

Every step resumes: a rerun skips finished data, runs and evaluations.

Example:
    >>> reference_model(seed=1).relative_to(REFERENCE_DIR).as_posix()
    'hourglass/seed1'
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch

import aulib
from aulib.course.provenance import earlier_records, kept_timings
from aulib.io import atomic_open, atomic_write_csv, atomic_write_json, read_json
from aulib.training.experiments import RUN_NAMES, run_config, train_or_load

ROOT = Path(__file__).resolve().parents[2]
REFERENCE_DIR = ROOT / "models" / "reference"  # SynthAU v2's, where `aulib reference` writes unless told otherwise
# The reference runs of the course's default data, SynthAU-3D on dlib's landmarks (aulib.course.variants): the
# model `aulib webcam` and `aulib benchmark real` read when given none.
COURSE_REFERENCE_DIR = ROOT / "models" / "reference-3d-dlib"
TRAIN_SEED = 1000  # the reference runs' own SynthAU people
SEEDS = (0, 1, 2)
EPOCHS = 8
LOCAL_WINDOW = 24.0  # the local readout's radius (aligned-frame pixels), as in notebook 04
# Until the Hourglass's ICC has fallen by more than half (RESULTS.md), in pixels of the 256-pixel SynthAU frames.
SIGMAS = (0, 2, 4, 6, 8, 10, 13, 16, 20, 25, 30, 40)
WEIGHTS_RUNS = ("hourglass", "hourglass-small", "per-au")  # runs whose weights are committed (1.2, 3.1 and 6.6 MB)
ANALYSIS_FILES = ("config.json", "training.csv", "metrics.csv", "robustness.csv")


def reference_model(reference_dir: str | os.PathLike = REFERENCE_DIR, seed: int = 0) -> Path:
    """The folder of the reference Hourglass of ``seed``: a run folder (``config.json``, ``best.pt``)."""
    return Path(reference_dir) / "hourglass" / f"seed{seed}"


def reference_runs_root(work: str | os.PathLike, renderer: str = "2d", detector: str | None = None) -> Path:
    """Where :func:`build_reference` keeps the full run folders (``seedK/RUN``, with checkpoints) under ``work``."""
    return Path(work) / ("runs-reference" + ("-3d" if renderer == "3d" else "") + (f"-{detector}" if detector else ""))


def cpu_flags() -> str:
    """The CPU's vector extensions that matter for speed here (``avx2``, ``avx512_bf16``; VNNI for int8), as ``lscpu``
    lists them."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return "unknown"
    flags = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_tile")
    return " ".join(flag for flag in flags if f" {flag}" in text) or "none"


def machine_description() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = ""
    if Path("/proc/cpuinfo").is_file():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    description = {"cpu": model or platform.processor(), "cpu_flags": cpu_flags(), "cores": os.cpu_count(),
                   "torch": torch.__version__, "python": platform.python_version(), "aulib": aulib.__version__}
    if torch.cuda.is_available():
        description["gpu"] = torch.cuda.get_device_name(0)
    return description


def prepare_sets(work: Path, course: dict[str, Any], progress: bool = True, renderer: str = "2d",
                 detector: str | None = None) -> tuple[Path, Path]:
    """Generate and prepare the reference runs' training set and the course's set (both resumable).

    ``renderer="3d"`` makes both sets with SynthAU-3D (``synthau3d-…``). A ``detector`` (``"dlib"``) aligns both with
    its landmarks, found in every frame as on BP4D, not the simulated tracker's (``…-prepared-dlib``; faceless frames
    are left out).

    Returns:
        ``(training prepared folder, course prepared folder)``.
    """
    from aulib.data.prepare import prepare
    from aulib.data.splits import assign_subject_splits
    from aulib.data.synthau import generate, read_labels

    size = {"subjects": int(course["SUBJECTS"]), "frames": int(course["FRAMES"]),
            "difficulty": course["DIFFICULTY"], "renderer": renderer}
    name = "synthau3d" if renderer == "3d" else "synthau"
    prepared = f"prepared-{detector}" if detector else "prepared"
    train_raw, train_prepared = work / f"{name}-reference", work / f"{name}-reference-{prepared}"
    generate(train_raw, seed=TRAIN_SEED, progress=progress, **size)
    names = read_labels(train_raw).subject.unique()
    everyone_trains = assign_subject_splits(names, test=0.0, val=0.15, seed=TRAIN_SEED)
    prepare("synthau", train_raw, train_prepared, splits=everyone_trains, progress=progress, detector=detector)
    course_raw, course_prepared = work / name, work / f"{name}-{prepared}"
    generate(course_raw, seed=int(course["SEED"]), progress=progress, **size)
    prepare("synthau", course_raw, course_prepared, progress=progress, detector=detector)
    return train_prepared, course_prepared


def write_gzip_csv(table: pd.DataFrame, path: Path) -> None:
    """Per-frame predictions to 4 decimals, gzipped without a time stamp (the same bytes on every rerun)."""
    with atomic_open(path, "wb") as handle:
        table.to_csv(handle, index=False, float_format="%.4f", compression={"method": "gzip", "mtime": 0})


def copy_run_results(run_dir: Path, target: Path, with_weights: bool = False,
                     files: Sequence[str] = ANALYSIS_FILES, work: str | os.PathLike | None = None) -> None:
    """A run folder's committed part: ``files``, the local readout's metrics and the gzipped per-frame predictions
    where the run has them, and the slim weights if asked; given the run's ``work`` folder, ``config.json`` names
    its folders as ``make weights`` does (:func:`aulib.training.runs.committed_config`)."""
    from aulib.training.runs import committed_config, slim_checkpoint

    target.mkdir(parents=True, exist_ok=True)
    for name in files:
        (target / name).write_bytes((run_dir / name).read_bytes())
    if work is not None and "config.json" in files:
        atomic_write_json(target / "config.json", committed_config(read_json(run_dir / "config.json"), work))
    if (run_dir / "metrics_local.csv").is_file():
        (target / "metrics_local.csv").write_bytes((run_dir / "metrics_local.csv").read_bytes())
    # Per-frame predictions (gzip: about a tenth of the size), so that comparisons can be paired by subject.
    for name in ("predictions.csv", "predictions_local.csv"):
        if (run_dir / name).is_file():
            write_gzip_csv(pd.read_csv(run_dir / name), target / f"{name}.gz")
    if with_weights:
        slim_checkpoint(run_dir / "best.pt", target / "best.pt")


def comparison_long(reference_dir: str | os.PathLike = REFERENCE_DIR) -> pd.DataFrame:
    """Every reference run, seed and AU: ``run, seed, AU, ICC, PCC, MAE, LocErr64, LocErr64_I2`` (from the files)."""
    rows = []
    for metrics_path in sorted(Path(reference_dir).glob("*/seed*/metrics*.csv")):
        run = metrics_path.parent.parent.name + ("-local" if metrics_path.stem.endswith("_local") else "")
        table = pd.read_csv(metrics_path, index_col=0)
        table = table.rename_axis("AU").reset_index().assign(run=run, seed=int(metrics_path.parent.name[4:]))
        rows.append(table)
    if not rows:
        raise FileNotFoundError(f"no reference results in {reference_dir}: run `make weights`")
    return pd.concat(rows, ignore_index=True)


def seed_summary(long: pd.DataFrame, metric: str = "ICC") -> pd.DataFrame:
    """Mean and standard deviation over seeds of ``metric`` per run and AU (rows: runs; columns: AU × stat)."""
    summary = long.groupby(["run", "AU"])[metric].agg(["mean", "std", "count"]).unstack("AU")
    order = [name for name in (*RUN_NAMES, "hourglass-local") if name in summary.index]
    return summary.loc[order]


def build_reference(
    *,
    work: str | os.PathLike = "data",
    out: str | os.PathLike = REFERENCE_DIR,
    seeds: Sequence[int] = SEEDS,
    runs: Sequence[str] = RUN_NAMES,
    epochs: int = EPOCHS,
    device: str = "auto",
    command: str = "make weights",
    course: dict[str, Any] | None = None,
    sigmas: Sequence[float] = SIGMAS,
    progress: bool = True,
    renderer: str = "2d",
    detector: str | None = None,
    precision: str = "auto",
) -> pd.DataFrame:
    """Train, evaluate and export every reference run (see the module docstring); returns the long table.

    Args:
        work: folder for the data sets and the full run folders (checkpoints with optimiser state).
        out: the committed reference folder.
        seeds: training seeds.
        runs: names of :mod:`aulib.training.experiments`.
        epochs: training epochs of every run (the same budget for all).
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        command: the command line recorded in the provenance.
        course: the course set's ``SUBJECTS``, ``FRAMES``, ``DIFFICULTY`` and ``SEED`` (default: notebook 01's
            parameters in ``params/smoke.yaml``; the reference set has the same size).
        sigmas: landmark-noise levels of the robustness study (pixels).
        progress: progress bars.
        renderer: ``"2d"`` (SynthAU v2, the default) or ``"3d"`` (SynthAU-3D, `RENDERER=3d`; give it its own ``out``).
        detector: a real tracker's landmarks in both sets (``"dlib"``: :func:`prepare_sets`); give it its own ``out``.
        precision: the runs' training precision (:class:`aulib.training.config.TrainConfig`'s; ``"auto"`` is bf16
            on CUDA and on CPUs with native bf16): ``"fp32"`` adds a seed on such a machine to runs trained in fp32.
    """
    from aulib.course.pipeline import load_params, notebook_parameters
    from aulib.evaluation.evaluate import evaluate
    from aulib.evaluation.robustness import robustness

    work, out = Path(work), Path(out)
    if course is None:
        course = notebook_parameters(load_params("smoke"), "01_data_preparation")
    started = time.perf_counter()
    train_prepared, course_prepared = prepare_sets(work, course, progress, renderer, detector)
    runs_root = reference_runs_root(work, renderer, detector)
    # A run added later (``--runs hourglass-direct``) keeps the earlier runs' provenance beside its own.
    earlier = json.loads((out / "provenance.json").read_text()) if (out / "provenance.json").is_file() else {}
    timings: dict[str, float] = {}
    for seed in seeds:
        for name in runs:
            config = run_config(name, "smoke", data=train_prepared, runs_dir=runs_root / f"seed{seed}",
                                epochs=epochs, seed=seed, device=device, precision=precision)
            run_dir = Path(config.out)
            began = time.perf_counter()
            finished_before = (run_dir / "robustness.csv").is_file()
            history = train_or_load(config, progress=progress)
            if not finished_before:
                evaluate(run_dir, data=course_prepared, device=device)
                if name == "hourglass":
                    evaluate(run_dir, data=course_prepared, device=device, readout_window=LOCAL_WINDOW,
                             suffix="_local")
                robustness(run_dir, data=course_prepared, sigmas=sigmas, seed=int(course["SEED"]), model_name=name,
                           device=device, progress=progress)
            keys = (f"{name}/seed{seed}", f"{name}/seed{seed} training images/s")
            if not finished_before:
                timings[keys[0]] = round(time.perf_counter() - began, 1)
                timings[keys[1]] = round(float(history.train_images_per_s.median()), 1)
            else:  # loading a finished run times nothing: keep what its own run measured, if it was recorded
                timings.update({k: earlier["seconds"][k] for k in keys if k in earlier.get("seconds", {})})
            copy_run_results(run_dir, out / name / f"seed{seed}", with_weights=name in WEIGHTS_RUNS, work=work)
    long = comparison_long(out)
    atomic_write_csv(out / "comparison.csv", long, index=False)
    # The paired table and the London variants cover every committed Hourglass, not only this command's seeds: a run
    # added for one seed (``--runs hourglass-small --seeds 0``) must not drop the other seeds' rows.
    trained = [s for s in seeds if (reference_model(out, s) / "best.pt").is_file()]
    every_trained = [s for s in sorted({*seeds, *SEEDS}) if (reference_model(out, s) / "best.pt").is_file()]
    if trained and "hourglass" in runs:  # the London readings come from the Hourglass's weights
        build_london_readings(out, trained, progress=progress)
    if every_trained:
        if {"hourglass", "hourglass-small"} & set(runs):
            build_london_variants(out, every_trained, progress=progress)
        build_paired(out, course_prepared, every_trained)
    earlier_runs = [r for r in earlier.get("recipe", {}).get("runs", []) if r not in runs]
    kept = kept_timings(earlier, runs, seeds)
    timings = {**kept, **timings}
    note = earlier.get("seconds_note", "")  # "run/seedK: why that timing is what it is", kept with the timing
    atomic_write_json(out / "provenance.json", {
        "command": command,
        "earlier": earlier_records(earlier) if earlier_runs or kept else [],
        "what": "reference runs of the aulib course on SynthAU (not BP4D): see aulib/course/reference.py",
        "renderer": renderer,
        "landmarks": detector or "the sets' simulated tracker",
        "train_set": {"seed": TRAIN_SEED, "subjects": int(course["SUBJECTS"]), "frames": int(course["FRAMES"]),
                      "difficulty": course["DIFFICULTY"], "splits": "train/val only (val 15%)"},
        "evaluation_set": {"seed": int(course["SEED"]), "subjects": int(course["SUBJECTS"]),
                           "frames": int(course["FRAMES"]), "difficulty": course["DIFFICULTY"], "split": "test"},
        "recipe": {"profile": "smoke", "epochs": epochs, "seeds": list(seeds), "precision": precision,
                   "runs": [*earlier_runs, *runs],
                   "seeds_by_run": {run: sorted(int(d.name[4:]) for d in (out / run).glob("seed*"))
                                    for run in [*earlier_runs, *runs]},
                   "local_window": LOCAL_WINDOW, "sigmas_px": list(sigmas)},
        "machine": machine_description(),
        "seconds": timings,
        "total_seconds": round(time.perf_counter() - started, 1),
        "date": time.strftime("%Y-%m-%d"),
        **({"seconds_note": note} if note.split(":")[0] in timings else {}),
    })
    return long


LONDON_READINGS = "london_readings.csv"
PAIRED = "paired.csv"


def build_paired(reference_dir: str | os.PathLike = REFERENCE_DIR, course_prepared: str | os.PathLike =
                 ROOT / "data" / "synthau-prepared", seeds: Sequence[int] = SEEDS, *, n_boot: int = 2000,
                 ) -> pd.DataFrame:
    """Every reference run with per-frame predictions, and ridge on the landmarks, against the Hourglass of the same
    seed, paired by test subject (:func:`aulib.evaluation.paired.icc_difference`); written to ``paired.csv``.

    The Hourglass's predictions are recomputed from its committed weights where they are missing (the first reference
    runs kept none), in fp32 on the CPU, and checked against its committed ``metrics.csv``.

    Returns:
        one row per run and seed: ``run, seed, subjects, frames, hourglass_icc, run_icc, difference`` (run minus the
        Hourglass), ``low, high, verdict`` (:func:`aulib.evaluation.paired.verdict`).
    """
    import tempfile

    import numpy as np

    from aulib.evaluation.evaluate import evaluate
    from aulib.evaluation.geometry import geometry_predictions
    from aulib.evaluation.paired import icc_difference, mean_icc, read_predictions, verdict

    reference_dir = Path(reference_dir)
    for seed in seeds:
        folder = reference_model(reference_dir, seed)
        if (folder / "predictions.csv.gz").is_file():
            continue
        with tempfile.TemporaryDirectory() as scratch:
            metrics = evaluate(folder, data=course_prepared, device="cpu", precision="fp32", out=scratch)
            committed = pd.read_csv(folder / "metrics.csv", index_col=0)
            # Another CPU's fp32 kernels round differently (the committed metrics may come from an AVX-512 machine):
            # measured up to 4e-4 ICC. Another course set moves them by far more.
            if not np.allclose(metrics.ICC.to_numpy(), committed.ICC.to_numpy(), atol=2e-3, equal_nan=True):
                raise ValueError(f"{folder}: its weights score {metrics.ICC.round(4).tolist()} on {course_prepared}, "
                                 f"not the committed {committed.ICC.round(4).tolist()}: another course set?")
            write_gzip_csv(pd.read_csv(Path(scratch) / "predictions.csv"), folder / "predictions.csv.gz")
    ridge = geometry_predictions(course_prepared)
    rows = []
    for seed in seeds:
        hourglass = read_predictions(reference_model(reference_dir, seed) / "predictions.csv.gz")
        hourglass_icc = mean_icc(hourglass)
        others = {path.parent.parent.name: read_predictions(path)
                  for path in sorted(reference_dir.glob(f"*/seed{seed}/predictions.csv.gz"))
                  if path.parent.parent.name != "hourglass"}
        others["ridge on landmarks"] = ridge
        for run, table in others.items():
            interval = icc_difference(hourglass, table, n_boot=n_boot, seed=seed)
            rows.append({"run": run, "seed": seed, "subjects": interval.n, "frames": len(table),
                         "hourglass_icc": hourglass_icc, "run_icc": mean_icc(table),
                         "difference": interval.estimate, "low": interval.low, "high": interval.high,
                         "verdict": verdict(interval)})
    paired = pd.DataFrame(rows)
    atomic_write_csv(reference_dir / PAIRED, paired, index=False)
    return paired


def reference_model_name(seed: int) -> str:
    """How tables name the reference Hourglass of ``seed``."""
    return f"reference Hourglass, seed {seed}"


def build_london_readings(reference_dir: str | os.PathLike = REFERENCE_DIR, seeds: Sequence[int] = SEEDS, *,
                          progress: bool = True) -> pd.DataFrame:
    """Every reference Hourglass read on all 204 London photos (:func:`aulib.predict.benchmark.read_london`), written
    to ``london_readings.csv`` in the reference folder (committed): notebook 06 computes one seed itself and takes
    the others from this table. fp32 on the CPU, so the table does not depend on the machine's vector extensions.
    """
    from aulib.predict.benchmark import read_london

    if not seeds:
        raise ValueError("no reference seed to read: train the reference Hourglass first (make weights)")
    models = {reference_model_name(seed): reference_model(reference_dir, seed) for seed in seeds}
    readings = read_london(models, device="cpu", precision="fp32", progress=progress)
    readings.insert(1, "seed", readings["model"].map({reference_model_name(s): s for s in seeds}))
    path = Path(reference_dir) / LONDON_READINGS
    if path.is_file():  # other seeds' readings stay (make weights SEEDS="0" refreshes seed 0 only)
        kept = pd.read_csv(path, dtype={"face_id": str})
        readings = pd.concat([kept[~kept.seed.isin(seeds)], readings]).sort_values("seed", kind="stable")
    atomic_write_csv(path, readings, index=False)
    return readings


LONDON_VARIANTS = "london_variants.csv"


def variant_model_name(variant: str, seed: int) -> str:
    """How tables name a variant of the reference Hourglass (``"small"``, ``"local readout"``) of ``seed``."""
    return f"Hourglass, {variant}, seed {seed}"


def build_london_variants(reference_dir: str | os.PathLike = REFERENCE_DIR, seeds: Sequence[int] = SEEDS, *,
                          progress: bool = True) -> pd.DataFrame:
    """The London photos read by two variants of the reference Hourglass, where they can differ from it: the
    ``small`` Hourglass of the same seed (RQ1) and the Hourglass's own maps through the local readout (RQ5; on
    SynthAU's clean test faces it gives the global maximum's numbers). Written to ``london_variants.csv``; the
    Hourglass's own readings are :data:`LONDON_READINGS`. fp32 on the CPU."""
    import dataclasses

    from aulib.inference.model import AUModel
    from aulib.predict.benchmark import read_london

    reference_dir = Path(reference_dir)
    models: dict[str, Any] = {}
    for seed in seeds:
        small = reference_dir / "hourglass-small" / f"seed{seed}"
        if (small / "best.pt").is_file():
            models[variant_model_name("small", seed)] = small
        hourglass = AUModel.load(reference_model(reference_dir, seed), device="cpu", precision="fp32")
        models[variant_model_name("local readout", seed)] = dataclasses.replace(hourglass,
                                                                                 readout_window=LOCAL_WINDOW)
    readings = read_london(models, device="cpu", precision="fp32", progress=progress)
    atomic_write_csv(reference_dir / LONDON_VARIANTS, readings, index=False)
    return readings


def london_variant_differences(reference_dir: str | os.PathLike = REFERENCE_DIR, *, n_boot: int = 2000,
                               seed: int = 0) -> pd.DataFrame:
    """The committed London variants (``london_variants.csv``: the ``small`` Hourglass, RQ1; the local readout, RQ5)
    against the reference Hourglass of the same seed, on the London **test** people, paired by person
    (:func:`aulib.predict.benchmark.paired_model_difference`): what notebook 06 shows and RESULTS.md tabulates.

    Returns:
        ``paired_model_difference``'s rows with ``variant`` and ``seed`` (of the training) columns, for every variant
        and seed the file holds.

    Raises:
        FileNotFoundError: naming the missing file and the command that writes it.
    """
    from aulib.data.london import london_people
    from aulib.predict.benchmark import pair_table, paired_model_difference

    path = Path(reference_dir) / LONDON_VARIANTS
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `aulib reference --london-variants-only`")
    readings = pd.concat([london_readings(reference_dir), pd.read_csv(path, dtype={"face_id": str})],
                         ignore_index=True).drop(columns="seed", errors="ignore")
    pairs = pair_table(readings, london_people())
    pairs = pairs[pairs.split == "test"]
    rows = [paired_model_difference(pairs, reference_model_name(k), variant_model_name(variant, k), n_boot=n_boot,
                                    seed=seed).assign(variant=variant, seed=k)
            for variant in ("small", "local readout") for k in SEEDS
            if variant_model_name(variant, k) in set(pairs.model)]
    return pd.concat(rows, ignore_index=True)


def london_readings(reference_dir: str | os.PathLike = REFERENCE_DIR) -> pd.DataFrame:
    """The committed London readings of the reference Hourglasses (``make weights`` refreshes them)."""
    path = Path(reference_dir) / LONDON_READINGS
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `aulib reference --london-only` (or `make weights`)")
    return pd.read_csv(path, dtype={"face_id": str})
