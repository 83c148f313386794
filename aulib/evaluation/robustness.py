"""The paper's robustness study: ICC as Gaussian noise is added to the landmarks before alignment.

For every σ of a grid, each test frame's original-image landmarks get isotropic Gaussian noise (pixels of the
original image, or a fraction of the inter-ocular distance), the face is re-aligned from the noisy landmarks, and the
model predicts again. The result is a tidy table (model, σ, AU, ICC, MAE); :mod:`aulib.course.figures` draws it.

The prepared format keeps the aligned 256×256 crops, not the original images, so the noisy alignment is applied to
the stored crop: the new crop is ``warp(crop, M_noisy ∘ M⁻¹)``, where ``M`` is the stored image → crop transform.
Inside the stored crop this equals warping the original image; parts of the new crop that fall outside the stored
crop come out black (a few pixels at the borders for σ up to 20 px).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from aulib.data.dataset import PreparedDataset
from aulib.evaluation.evaluate import evaluation_split, run_data
from aulib.inference.model import AUModel
from aulib.io import atomic_write_csv
from aulib.method.align import (
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
from aulib.method.aus import au_label
from aulib.method.metrics import icc, mae

DEFAULT_SIGMAS = (0, 2, 4, 6, 8, 10, 13, 16, 20)
BATCH_SIZE = 128


def noisy_inputs(model: AUModel, dataset: PreparedDataset, sigma: float, unit: str, seed: int,
                 rows: Sequence[int] | None = None) -> Iterator[tuple[list[int], torch.Tensor, torch.Tensor]]:
    """Re-align frames from landmarks with noise of ``sigma``, in batches of ``(rows, images, landmarks)``.

    The noise is drawn for the whole dataset from ``seed`` (so a frame gets the same noise whichever rows are asked
    for); images are float ``(B, 3, S, S)`` in [0, 1] at the model's input size, landmarks are in the 256 frame.
    """
    original = dataset.landmarks_original_array().astype(np.float64)
    transforms = dataset.transforms_array()
    noisy = add_landmark_noise(original, sigma, unit=unit, seed=seed) if sigma > 0 else original
    method = dataset.meta["alignment"]["method"]
    noisy_matrices = alignment_matrix(noisy, method=method, size=FRAME_SIZE)  # image -> noisy crop (256 frame)
    crop_to_noisy = compose_affine(noisy_matrices, invert_affine(transforms))
    to_input = compose_affine(scale_matrix(model.input_size, FRAME_SIZE), crop_to_noisy)
    aligned_noisy = transform_points(noisy, noisy_matrices)
    rows = list(range(len(dataset))) if rows is None else list(rows)
    for start in range(0, len(rows), BATCH_SIZE):
        chunk = rows[start:start + BATCH_SIZE]
        images = dataset.batch(chunk)["image"].to(model.device)
        images = warp_affine(images, torch.as_tensor(to_input[chunk]), model.input_size).float() / 255
        yield chunk, images, torch.as_tensor(aligned_noisy[chunk], dtype=torch.float32, device=model.device)


@torch.inference_mode()
def predict_with_noise(model: AUModel, dataset: PreparedDataset, sigma: float, unit: str, seed: int) -> np.ndarray:
    """Intensities ``(n, A)`` after re-aligning every frame from landmarks with noise of ``sigma``."""
    outputs = [model.predict(images, landmarks).intensities.cpu()
               for _, images, landmarks in noisy_inputs(model, dataset, sigma, unit, seed)]
    return torch.cat(outputs).numpy()


def robustness(
    run_dir: str | os.PathLike, data: str | os.PathLike | None = None, sigmas: Sequence[float] = DEFAULT_SIGMAS,
    unit: str = "px", split: str | None = None, seed: int = 0, model_name: str | None = None, device: str = "auto",
    progress: bool = True, out: str | os.PathLike | None = None, precision: str = "auto",
) -> pd.DataFrame:
    """Run the noise study for one run; writes ``robustness.csv`` in the run folder (or ``out``) and returns it.

    Args:
        run_dir: a trained run.
        data: prepared dataset (default: the run's).
        sigmas: noise levels, in pixels of the original image (``unit="px"``) or fractions of the inter-ocular
            distance (``unit="iod"``).
        unit: ``"px"`` or ``"iod"``.
        split: the held-out split (default: the dataset's, :func:`aulib.evaluation.evaluate.evaluation_split`).
        seed: noise seed (the same noise for every model, so curves are comparable).
        model_name: the name in the table (default: the run folder's name).
        device: where to run the model.
        progress: a progress bar over σ.
        out: the folder for ``robustness.csv`` (default: the run folder).
        precision: ``"auto"`` (fp32 on any CPU, bf16 on CUDA), ``"bf16"`` or ``"fp32"``.

    Returns:
        Tidy table: ``model, sigma, unit, sigma_iod, AU, ICC, MAE`` (``AU == "Mean"`` rows average the AUs).
    """
    model = AUModel.from_run(run_dir, device=device, precision=precision)  # auto: fp32 on any CPU
    dataset = PreparedDataset(data or run_data(run_dir), split=split or evaluation_split(run_dir, data))
    truth = dataset.labels_array()
    mean_iod = float(inter_ocular_distance(dataset.landmarks_original_array().astype(np.float64)).mean())
    name = model_name or Path(run_dir).name
    rows = []
    for sigma in tqdm(list(sigmas), desc=f"robustness {name}", unit="σ", disable=not progress):
        predicted = predict_with_noise(model, dataset, float(sigma), unit, seed)
        scores, errors = icc(truth, predicted), mae(truth, predicted)
        sigma_iod = float(sigma) if unit == "iod" else float(sigma) / mean_iod
        for au, score, error in zip(model.aus, scores, errors, strict=True):
            rows.append({"model": name, "sigma": float(sigma), "unit": unit, "sigma_iod": sigma_iod,
                         "AU": au_label(au), "ICC": float(score), "MAE": float(error)})
        rows.append({"model": name, "sigma": float(sigma), "unit": unit, "sigma_iod": sigma_iod, "AU": "Mean",
                     "ICC": float(np.nanmean(scores)), "MAE": float(np.nanmean(errors))})
    table = pd.DataFrame(rows)
    out = Path(out) if out is not None else Path(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_csv(out / "robustness.csv", table, index=False)
    return table


def plateau_and_break(table: pd.DataFrame, model: str, plateau: float = 0.9, drop: float = 0.5) -> dict[str, float]:
    """Where a model's mean-ICC curve leaves its plateau and where it breaks.

    Args:
        table: :func:`robustness` rows (several seeds of a model are averaged per σ).
        model: the model's name in the table.
        plateau: the plateau ends at the last σ up to which the ICC stays at or above ``plateau`` × the clean ICC.
        drop: the curve breaks at the first σ whose ICC is at or below ``drop`` × the clean ICC.

    Returns:
        ``clean_icc``, ``plateau_end`` and ``break`` in the table's unit, their inter-ocular fractions
        (``plateau_end_iod``, ``break_iod``), and ``icc_at_break``; ``break`` is NaN when the grid never drops that
        far (extend the grid).

    Example:
        >>> rows = [{"model": "m", "AU": "Mean", "sigma": s, "sigma_iod": s / 80, "ICC": icc}
        ...         for s, icc in [(0, 0.8), (10, 0.78), (20, 0.6), (30, 0.35)]]
        >>> found = plateau_and_break(pd.DataFrame(rows), "m")
        >>> found["plateau_end"], found["break"]
        (10.0, 30.0)
    """
    means = table[(table.model == model) & (table.AU == "Mean")].groupby("sigma")[["ICC", "sigma_iod"]].mean()
    if means.empty or 0 not in means.index:
        raise ValueError(f"no clean (σ = 0) mean row for model {model!r} in the table")
    clean = float(means.loc[0, "ICC"])
    above = (means.ICC >= plateau * clean).to_numpy()
    last = int(np.argmin(above)) - 1 if not above.all() else len(above) - 1  # the last σ before the first drop
    broken = means[means.ICC <= drop * clean]
    sigma_break = float(broken.index[0]) if len(broken) else float("nan")
    return {
        "clean_icc": clean,
        "plateau_end": float(means.index[max(last, 0)]),
        "plateau_end_iod": float(means.sigma_iod.iloc[max(last, 0)]),
        "break": sigma_break,
        "break_iod": float(broken.sigma_iod.iloc[0]) if len(broken) else float("nan"),
        "icc_at_break": float(broken.ICC.iloc[0]) if len(broken) else float("nan"),
    }
