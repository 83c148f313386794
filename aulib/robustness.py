"""The paper's robustness study: ICC as Gaussian noise is added to the landmarks before alignment.

For every σ of a grid, each test frame's original-image landmarks get isotropic Gaussian noise (pixels of the
original image, or a fraction of the inter-ocular distance), the face is re-aligned from the noisy landmarks, and the
model predicts again. The result is a tidy table (model, σ, AU, ICC, MAE) and a figure of ICC against σ.

The prepared format keeps the aligned 256×256 crops, not the original images, so the noisy alignment is applied to
the stored crop: the new crop is ``warp(crop, M_noisy ∘ M⁻¹)``, where ``M`` is the stored image → crop transform.
Inside the stored crop this equals warping the original image; parts of the new crop that fall outside the stored
crop come out black (a few pixels at the borders for σ up to 20 px).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from tqdm.auto import tqdm

from aulib.align import (
    FRAME_SIZE,
    add_landmark_noise,
    alignment_matrix,
    compose_affine,
    inter_ocular_distance,
    invert_affine,
    scale_matrix,
    transform_points,
    warp_affine,
)
from aulib.aus import au_label
from aulib.data.dataset import PreparedDataset
from aulib.io import atomic_write_csv
from aulib.metrics import icc, mae
from aulib.plots import save_figure
from aulib.train import load_run

DEFAULT_SIGMAS = (0, 2, 4, 6, 8, 10, 13, 16, 20)


@torch.inference_mode()
def predict_with_noise(trainer, dataset: PreparedDataset, sigma: float, unit: str, seed: int,
                       batch_size: int = 128) -> np.ndarray:
    """Intensities ``(n, A)`` after re-aligning every frame from landmarks with noise of ``sigma``."""
    original = dataset.landmarks_original_array().astype(np.float64)
    transforms = dataset.transforms_array()
    noisy = add_landmark_noise(original, sigma, unit=unit, seed=seed) if sigma > 0 else original
    method = dataset.meta["alignment"]["method"]
    noisy_matrices = alignment_matrix(noisy, method=method, size=FRAME_SIZE)  # image -> noisy crop (256 frame)
    crop_to_noisy = compose_affine(noisy_matrices, invert_affine(transforms))
    to_input = compose_affine(scale_matrix(trainer.input_size, FRAME_SIZE), crop_to_noisy)
    aligned_noisy = transform_points(noisy, noisy_matrices)
    outputs = []
    for start in range(0, len(dataset), batch_size):
        rows = list(range(start, min(start + batch_size, len(dataset))))
        images = dataset.batch(rows)["image"].to(trainer.device)
        images = warp_affine(images, torch.as_tensor(to_input[rows]), trainer.input_size).float() / 255
        landmarks = torch.as_tensor(aligned_noisy[rows], dtype=torch.float32, device=trainer.device)
        outputs.append(trainer.predict(images, landmarks)[0].cpu())
    return torch.cat(outputs).numpy()


def robustness(
    run_dir: str | os.PathLike, data: str | os.PathLike | None = None, sigmas: Sequence[float] = DEFAULT_SIGMAS,
    unit: str = "px", split: str = "test", seed: int = 0, model_name: str | None = None, device: str = "auto",
    progress: bool = True,
) -> pd.DataFrame:
    """Run the noise study for one run; writes ``robustness.csv`` in the run folder and returns the table.

    Args:
        run_dir: a trained run.
        data: prepared dataset (default: the run's).
        sigmas: noise levels, in pixels of the original image (``unit="px"``) or fractions of the inter-ocular
            distance (``unit="iod"``).
        unit: ``"px"`` or ``"iod"``.
        split: the held-out split.
        seed: noise seed (the same noise for every model, so curves are comparable).
        model_name: the name in the table (default: the run folder's name).
        device: where to run the model.

    Returns:
        Tidy table: ``model, sigma, unit, sigma_iod, AU, ICC, MAE`` (``AU == "Mean"`` rows average the AUs).
    """
    trainer = load_run(run_dir, device=device)
    dataset = PreparedDataset(data or trainer.config.data, split=split)
    truth = dataset.labels_array()
    mean_iod = float(inter_ocular_distance(dataset.landmarks_original_array().astype(np.float64)).mean())
    name = model_name or Path(run_dir).name
    rows = []
    for sigma in tqdm(list(sigmas), desc=f"robustness {name}", unit="σ", disable=not progress):
        predicted = predict_with_noise(trainer, dataset, float(sigma), unit, seed)
        scores, errors = icc(truth, predicted), mae(truth, predicted)
        sigma_iod = float(sigma) if unit == "iod" else float(sigma) / mean_iod
        for au, score, error in zip(trainer.aus, scores, errors, strict=True):
            rows.append({"model": name, "sigma": float(sigma), "unit": unit, "sigma_iod": sigma_iod,
                         "AU": au_label(au), "ICC": float(score), "MAE": float(error)})
        rows.append({"model": name, "sigma": float(sigma), "unit": unit, "sigma_iod": sigma_iod, "AU": "Mean",
                     "ICC": float(np.nanmean(scores)), "MAE": float(np.nanmean(errors))})
    table = pd.DataFrame(rows)
    atomic_write_csv(Path(run_dir) / "robustness.csv", table, index=False)
    return table


def robustness_figure(table: pd.DataFrame) -> plt.Figure:
    """Mean ICC against σ for each model (left) and per AU (right)."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    means = table[table.AU == "Mean"]
    sns.lineplot(data=means, x="sigma", y="ICC", hue="model", marker="o", ax=left)
    unit = table.unit.iloc[0] if len(table) else "px"
    left.set(xlabel=f"landmark noise σ ({'pixels' if unit == 'px' else 'fraction of IOD'})",
             ylabel="mean ICC(3,1)", title="Robustness to landmark noise")
    per_au = table[table.AU != "Mean"]
    sns.lineplot(data=per_au, x="sigma", y="ICC", hue="AU", style="model", marker="o", ax=right)
    right.set(xlabel=left.get_xlabel(), ylabel="ICC(3,1)", title="Per AU")
    figure.tight_layout()
    return figure


def save_robustness_figure(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    figure = robustness_figure(table)
    try:
        return save_figure(figure, path)
    finally:
        plt.close(figure)
