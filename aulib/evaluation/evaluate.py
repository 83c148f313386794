"""Evaluation of a trained run on held-out subjects: intensities, ICC/PCC/MAE per AU, and localisation error.

Writes into the run folder:

- ``predictions.csv``: one row per frame: subject, sequence, frame, and for each AU the true and predicted
  intensity, the peak of its heatmap (``peak_x_AU06``, ``peak_y_AU06`` in pixels of a 64×64 map) and the
  localisation error (distance from the peak to the nearest of the AU's centres, same unit). The centres come from
  the exact landmarks where the dataset has them (SynthAU draws the face from them, so they are where the AU
  shows), otherwise from the landmarks the crop was aligned with. Floats are written at full (float64) precision,
  so metrics recomputed from the file are the ones reported.
- ``metrics.csv`` and ``metrics.md``: per-AU ICC(3,1), PCC, MAE, number of frames and mean localisation error
  (``LocErr64``: frames where the AU is present, intensity ≥ 1; ``LocErr64_I2``: intensity ≥ 2), with a mean row.

Evaluation is subject-independent: it reads the held-out split of the dataset's specification
(:func:`aulib.data.splits.split_spec`: SynthAU ``test``, BP4D ``dev``, DISFA the run's held-out fold), whose
subjects the trainer never saw. It runs in fp32 on a CPU, whatever the CPU's flags.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from aulib.data.dataset import PreparedDataset
from aulib.data.splits import split_spec
from aulib.inference.model import AUModel
from aulib.io import atomic_write_csv, atomic_write_text
from aulib.method.align import FRAME_SIZE, scale_matrix, transform_points
from aulib.method.aus import au_label
from aulib.method.crops import resize_batch
from aulib.method.heatmaps import localisation_error, read_peaks
from aulib.method.metrics import metrics_table

REFERENCE_MAP_SIZE = 64  # localisation is reported in pixels of the paper's 64×64 maps, whatever the model


def markdown_table(table: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub-flavoured Markdown table (no extra dependency)."""
    header = [table.index.name or "", *map(str, table.columns)]
    rows = []
    for name, values in table.iterrows():
        cells = [str(int(v)) if column == "N" else f"{v:.{digits}f}" if isinstance(v, float) else str(v)
                 for column, v in values.items()]
        rows.append([str(name), *cells])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def run_data(run_dir: str | os.PathLike) -> str:
    """The prepared dataset a run was trained on (its ``config.json``)."""
    return json.loads((Path(run_dir) / "config.json").read_text())["data"]


def evaluation_split(run_dir: str | os.PathLike, data: str | os.PathLike | None = None) -> str:
    """The split a run is scored on: its dataset's specification (:func:`aulib.data.splits.split_spec`) for the
    run's fold: SynthAU ``test``, BP4D ``dev`` (FERA2015), DISFA the held-out fold.

    Raises:
        FileNotFoundError: naming the file when the prepared dataset's ``meta.json`` is missing.
    """
    config = json.loads((Path(run_dir) / "config.json").read_text())
    meta_path = Path(data or config["data"]) / "meta.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{meta_path} not found: give the prepared dataset with data= (--data)")
    return split_spec(json.loads(meta_path.read_text())["dataset"], config.get("fold")).evaluation


@torch.inference_mode()
def predict_frames(
    run_dir: str | os.PathLike, data: str | os.PathLike | None = None, split: str | list[str] | None = None,
    checkpoint: str = "best.pt", device: str = "auto", batch_size: int = 128, readout_window: float | None = None,
    precision: str = "auto",
) -> tuple[pd.DataFrame, tuple[int, ...]]:
    """Predict every frame of ``split`` (default: :func:`evaluation_split`); returns the per-frame table (see the
    module docstring) and the AUs. ``precision="auto"`` runs fp32 on a CPU whatever the CPU's flags, so the metrics
    do not depend on the machine kind (bf16 on CUDA); ``"bf16"`` or ``"fp32"`` ask for one.

    ``readout_window`` overrides the run's readout with the local one (the RQ5 readout ablation needs no retraining).
    """
    model = AUModel.from_run(run_dir, checkpoint=checkpoint, device=device, precision=precision)
    dataset = PreparedDataset(data or run_data(run_dir), split=split or evaluation_split(run_dir, data))
    if tuple(dataset.aus) != model.aus:
        raise ValueError(f"the run was trained on AUs {model.aus} but {dataset.path} has {tuple(dataset.aus)}")
    aus = model.aus
    predicted, peaks, errors = [], [], []
    for start in range(0, len(dataset), batch_size):
        raw = dataset.batch(list(range(start, min(start + batch_size, len(dataset)))))
        images, landmarks = resize_batch(raw["image"].to(model.device), raw["landmarks"].to(model.device),
                                         model.input_size)
        result = model.predict(images, landmarks, readout_window=readout_window)
        predicted.append(result.intensities.cpu())
        maps = result.maps
        if maps is not None:
            scale = REFERENCE_MAP_SIZE / maps.shape[-1]
            truth_points = landmarks
            if "exact_landmarks" in raw:  # where the AU really is, not where the tracker put it
                to_frame = scale_matrix(FRAME_SIZE, dataset.image_size)
                truth_points = torch.as_tensor(transform_points(raw["exact_landmarks"].numpy(), to_frame),
                                               dtype=torch.float32, device=model.device)
            peaks.append((read_peaks(maps)[1] * scale).cpu())
            errors.append((localisation_error(maps, truth_points.to(maps.device), aus) * scale).cpu())
    n, n_aus = len(dataset), len(aus)
    table = dataset.frames[["subject", "sequence", "frame"]].reset_index(drop=True)
    truth = dataset.labels_array()
    # float64 columns: pandas writes them with round-trip precision, so the CSV holds exactly what was scored.
    prediction = torch.cat(predicted).double().numpy() if predicted else np.zeros((0, n_aus))
    peak = torch.cat(peaks).double().numpy() if peaks else np.full((n, n_aus, 2), np.nan)
    error = torch.cat(errors).double().numpy() if errors else np.full((n, n_aus), np.nan)
    for a, au in enumerate(aus):
        label = au_label(au)
        table[f"true_{label}"] = truth[:, a]
        table[f"pred_{label}"] = prediction[:, a]
        table[f"peak_x_{label}"] = peak[:, a, 0]
        table[f"peak_y_{label}"] = peak[:, a, 1]
        table[f"loc_err_{label}"] = error[:, a]
    return table, aus


def metrics_from_predictions(table: pd.DataFrame, aus: tuple[int, ...]) -> pd.DataFrame:
    """Per-AU ICC, PCC, MAE, N and mean localisation error (where the AU is present), with a mean row."""
    labels = [au_label(a) for a in aus]
    truth = table[[f"true_{label}" for label in labels]].to_numpy(float)
    prediction = table[[f"pred_{label}" for label in labels]].to_numpy(float)
    metrics = metrics_table(truth, prediction, aus)
    errors = table[[f"loc_err_{label}" for label in labels]].to_numpy(float)
    for column, least in (("LocErr64", 1), ("LocErr64_I2", 2)):
        present = (truth >= least) & np.isfinite(errors)  # direct regression has no maps, so no errors
        per_au = np.array([errors[present[:, a], a].mean() if present[:, a].any() else np.nan
                           for a in range(len(aus))])
        metrics[column] = [*per_au, np.nanmean(per_au) if np.isfinite(per_au).any() else np.nan]
    return metrics


def evaluate(
    run_dir: str | os.PathLike, data: str | os.PathLike | None = None, split: str | list[str] | None = None,
    checkpoint: str = "best.pt", device: str = "auto", readout_window: float | None = None, suffix: str = "",
    out: str | os.PathLike | None = None, precision: str = "auto",
) -> pd.DataFrame:
    """Evaluate a run: writes ``predictions.csv``, ``metrics.csv`` and ``metrics.md`` and returns the metrics.

    ``suffix`` names a variant's files (``metrics_local.csv`` …), e.g. for the local-readout ablation; ``out`` is
    where they go (default: the run folder; give another for a run that must stay as it is, such as a shipped
    reference run).
    """
    table, aus = predict_frames(run_dir, data, split, checkpoint, device, readout_window=readout_window,
                                precision=precision)
    metrics = metrics_from_predictions(table, aus)
    out = Path(out) if out is not None else Path(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_csv(out / f"predictions{suffix}.csv", table, index=False)
    atomic_write_csv(out / f"metrics{suffix}.csv", metrics, index=True)
    atomic_write_text(out / f"metrics{suffix}.md", markdown_table(metrics))
    return metrics


def fold_runs(root: str | os.PathLike) -> list[Path]:
    """The runs of a cross-validation (``ROOT/fold0``, ``ROOT/fold1``, …, as ``aulib train --fold all`` writes them)."""
    return sorted(p for p in Path(root).glob("fold[0-9]*") if (p / "config.json").is_file())


def evaluate_folds(root: str | os.PathLike, data: str | os.PathLike | None = None, checkpoint: str = "best.pt",
                   device: str = "auto", precision: str = "auto") -> pd.DataFrame:
    """Evaluate every fold's run on its own held-out fold, and their mean: DISFA's 3-fold protocol.

    Writes each fold's files (:func:`evaluate`) and, in ``root``, ``folds.csv`` (every fold and AU) and
    ``metrics.csv`` / ``metrics.md`` (the mean over folds of each AU's metrics, as papers report DISFA).

    Raises:
        FileNotFoundError: when ``root`` holds no fold runs.
    """
    runs = fold_runs(root)
    if not runs:
        raise FileNotFoundError(f"{root} holds no fold runs (fold0/, fold1/, …): train with `aulib train --fold all`")
    tables = {run.name: evaluate(run, data=data, checkpoint=checkpoint, device=device, precision=precision)
              for run in runs}
    long = pd.concat(tables, names=["fold", "AU"]).reset_index()
    mean = long.groupby("AU", sort=False).mean(numeric_only=True)
    mean["N"] = long.groupby("AU", sort=False)["N"].sum()
    root = Path(root)
    atomic_write_csv(root / "folds.csv", long, index=False)
    atomic_write_csv(root / "metrics.csv", mean, index=True)
    atomic_write_text(root / "metrics.md", markdown_table(mean))
    return mean
