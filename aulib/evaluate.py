"""Evaluation of a trained run on held-out subjects: intensities, ICC/PCC/MAE per AU, and localisation error.

Writes into the run folder:

- ``predictions.csv``: one row per frame: subject, sequence, frame, and for each AU the true and predicted
  intensity, the peak of its heatmap (``peak_x_AU06``, ``peak_y_AU06`` in pixels of a 64×64 map) and the
  localisation error (distance from the peak to the nearest of the AU's centres, same unit).
- ``metrics.csv`` and ``metrics.md``: per-AU ICC(3,1), PCC, MAE, number of frames and mean localisation error
  (frames where the AU is present, intensity ≥ 1), with a mean row.

Evaluation is subject-independent: it reads one split of the prepared dataset (``test`` by default), whose
subjects the trainer never saw.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from aulib.augment import resize_batch
from aulib.aus import au_label
from aulib.data.dataset import PreparedDataset
from aulib.heatmaps import localisation_error, read_peaks
from aulib.io import atomic_write_csv, atomic_write_text
from aulib.metrics import au_table
from aulib.train import load_run

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


@torch.inference_mode()
def predict_frames(
    run_dir: str | os.PathLike, data: str | os.PathLike | None = None, split: str | list[str] = "test",
    checkpoint: str = "best.pt", device: str = "auto", batch_size: int = 128, readout_window: float | None = None,
) -> tuple[pd.DataFrame, tuple[int, ...]]:
    """Predict every frame of ``split``; returns the per-frame table (see the module docstring) and the AUs.

    ``readout_window`` overrides the run's readout with the local one (the RQ5 readout ablation needs no retraining).
    """
    trainer = load_run(run_dir, checkpoint, device)
    dataset = PreparedDataset(data or trainer.config.data, split=split)
    if tuple(dataset.aus) != trainer.aus:
        raise ValueError(f"the run was trained on AUs {trainer.aus} but {dataset.path} has {tuple(dataset.aus)}")
    aus = trainer.aus
    predicted, peaks, errors = [], [], []
    for start in range(0, len(dataset), batch_size):
        raw = dataset.batch(list(range(start, min(start + batch_size, len(dataset)))))
        images, landmarks = resize_batch(raw["image"].to(trainer.device), raw["landmarks"].to(trainer.device),
                                         trainer.input_size)
        intensities, maps = trainer.predict(images, landmarks, readout_window)
        predicted.append(intensities.cpu())
        if maps is not None:
            scale = REFERENCE_MAP_SIZE / maps.shape[-1]
            peaks.append((read_peaks(maps)[1] * scale).cpu())
            errors.append((localisation_error(maps, landmarks, aus) * scale).cpu())
    n, n_aus = len(dataset), len(aus)
    table = dataset.frames[["subject", "sequence", "frame"]].reset_index(drop=True)
    truth = dataset.labels_array()
    prediction = torch.cat(predicted).numpy() if predicted else np.zeros((0, n_aus))
    peak = torch.cat(peaks).numpy() if peaks else np.full((n, n_aus, 2), np.nan)
    error = torch.cat(errors).numpy() if errors else np.full((n, n_aus), np.nan)
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
    metrics = au_table(truth, prediction, aus)
    errors = table[[f"loc_err_{label}" for label in labels]].to_numpy(float)
    present = truth >= 1
    with np.errstate(invalid="ignore"):
        per_au = np.array([np.nanmean(errors[present[:, a], a]) if present[:, a].any() else np.nan
                           for a in range(len(aus))])
    metrics["LocErr64"] = [*per_au, np.nanmean(per_au) if np.isfinite(per_au).any() else np.nan]
    return metrics


def evaluate(
    run_dir: str | os.PathLike, data: str | os.PathLike | None = None, split: str | list[str] = "test",
    checkpoint: str = "best.pt", device: str = "auto", readout_window: float | None = None, suffix: str = "",
) -> pd.DataFrame:
    """Evaluate a run: writes ``predictions.csv``, ``metrics.csv`` and ``metrics.md`` and returns the metrics.

    ``suffix`` names a variant's files (``metrics_local.csv`` …), e.g. for the local-readout ablation.
    """
    table, aus = predict_frames(run_dir, data, split, checkpoint, device, readout_window=readout_window)
    metrics = metrics_from_predictions(table, aus)
    run_dir = Path(run_dir)
    atomic_write_csv(run_dir / f"predictions{suffix}.csv", table, index=False)
    atomic_write_csv(run_dir / f"metrics{suffix}.csv", metrics, index=True)
    atomic_write_text(run_dir / f"metrics{suffix}.md", markdown_table(metrics))
    return metrics
