"""The checks of the exercises that run the method's experiments: a short controlled training experiment (notebook
03), and for the landmark-noise study (notebook 05) the noise's scale on each face and reading intensities out of
maps predicted under noise. :mod:`aulib.course.exercises` re-exports them, so a notebook calls every check as
``check.<name>``.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from aulib.course.feedback import ExerciseFeedback, as_array, call_student, passed

if TYPE_CHECKING:
    from aulib.data.dataset import PreparedDataset
    from aulib.inference.model import AUModel
    from aulib.training.config import TrainConfig

# What a controlled experiment may change: one field of the recipe, or one option of the targets or augmentation.
EXPERIMENT_FIELDS = ("foreground_weight", "loss", "lr", "weight_decay", "batch_size")
EXPERIMENT_OPTIONS = ("heatmap", "augment")


def _changed_config(control: TrainConfig, name: str, value: Any, out: Path) -> TrainConfig:
    """The control's configuration with the one change, or feedback naming what is wrong with it."""
    from aulib.method.heatmaps import HeatmapConfig
    from aulib.training.augment import AugmentConfig

    group, _, option = name.partition(".")
    if group in EXPERIMENT_OPTIONS and option:
        fields = {f.name for f in dataclasses.fields(HeatmapConfig if group == "heatmap" else AugmentConfig)}
        if option not in fields:
            raise ExerciseFeedback(f"{group} has no option {option!r}; its options: {sorted(fields)}.")
        current = {**getattr(control, group)}
        if current.get(option, getattr(HeatmapConfig() if group == "heatmap" else AugmentConfig(), option)) == value:
            raise ExerciseFeedback(f"{name} is already {value!r} in the recipe: change it to another value.")
        changed = dataclasses.replace(control, **{group: {**current, option: value}}, out=str(out))
    elif name in EXPERIMENT_FIELDS:
        if getattr(control, name) == value:
            raise ExerciseFeedback(f"{name} is already {value!r} in the recipe: change it to another value.")
        changed = dataclasses.replace(control, **{name: value}, out=str(out))
    else:
        raise ExerciseFeedback(f"{name!r} is not a setting this experiment can change: use one of "
                               f"{list(EXPERIMENT_FIELDS)}, or 'heatmap.<option>' / 'augment.<option>'.")
    return changed


def _validation_table(run: Path, config: TrainConfig) -> pd.DataFrame:
    """Per-frame true and predicted intensities of the run's validation subjects (fp32 on the CPU), by the weights
    after its last step (``last.pt``): ``best.pt`` was chosen on these very subjects."""
    from aulib.data.dataset import PreparedDataset
    from aulib.inference.model import AUModel
    from aulib.training.config import split_validation
    from aulib.training.trainer import predict_intensities

    _, validation = split_validation(PreparedDataset(config.data), config)
    dataset = PreparedDataset(config.data, subjects=validation)
    model = AUModel.from_run(run, checkpoint="last.pt", device="cpu", precision="fp32")
    predicted = predict_intensities(model, dataset)
    table = dataset.frames[["subject", "sequence", "frame"]].astype({"subject": str, "sequence": str})
    for j, label in enumerate(dataset.au_labels):
        table[f"true_{label}"] = dataset.labels_array()[:, j]
        table[f"pred_{label}"] = predicted[:, j]
    return table.reset_index(drop=True)


def controlled_experiment(function: Callable[[], tuple[str, Any]], config: TrainConfig,
                          folder: str | os.PathLike, steps: int = 120, progress: bool = True) -> pd.DataFrame:
    """Exercise 3.4: ``function() -> (setting, value)``, the one change of a controlled training experiment.

    Trains two Hourglasses for ``steps`` optimiser steps (the learning rate decays over those steps) from the same
    seed, the same data order and the same initial weights: the **control** (``config``, the live run's recipe) and
    the **changed** run (``config`` with the student's one change). Both are scored after their last step on the
    run's validation subjects, and the change is judged by the course's rule: the paired bootstrap over subjects of
    the difference of mean ICC (:mod:`aulib.evaluation.paired`), "level" when its 95% interval covers 0. Both runs
    resume, so running the cell again trains nothing.

    Returns:
        the result, also written to ``folder/experiment.csv``: one row per run (``run, setting, value, steps,
        mean_icc``) then the difference (``difference, low, high, subjects, verdict`` on the changed run's row;
        with a single validation subject there is no interval: ``low`` and ``high`` are NaN and the verdict is
        "no interval"). Each run's folder keeps its per-frame ``validation_predictions.csv``.
    """
    from aulib.evaluation.paired import icc_difference, mean_icc, verdict
    from aulib.io import atomic_write_csv
    from aulib.training.experiments import train_or_load

    choice = call_student("controlled_experiment", function)
    if not (isinstance(choice, tuple) and len(choice) == 2 and isinstance(choice[0], str)):
        raise ExerciseFeedback("Return one change as a pair: (setting, value), e.g. (\"lr\", 1e-3).")
    name, value = choice
    folder = Path(folder)
    control = dataclasses.replace(config, out=str(folder / "control"), max_steps=steps, epochs=max(config.epochs, 1))
    changed = _changed_config(control, name, value, folder / f"{name}={value}")
    rows = []
    tables = {}
    for label, run_config in (("control", control), ("changed", changed)):
        began = time.perf_counter()
        try:
            train_or_load(run_config, progress=progress)
        except (ValueError, TypeError, KeyError) as error:
            if label == "control":  # the course's own recipe failed: not the student's change, so say so
                raise ExerciseFeedback(f"The control run (the live run's recipe, before any change) cannot train: "
                                       f"{error}") from None
            raise ExerciseFeedback(f"The changed run cannot train with {name} = {value!r}: {error}") from None
        tables[label] = _validation_table(Path(run_config.out), run_config)
        atomic_write_csv(Path(run_config.out) / "validation_predictions.csv", tables[label], index=False)
        print(f"{label}: {Path(run_config.out).name}, {steps} steps (or loaded) in {time.perf_counter() - began:.0f} s")
        rows.append({"run": label, "setting": name if label == "changed" else "(recipe)",
                     "value": str(value) if label == "changed" else "", "steps": steps})
    rows[0]["mean_icc"], rows[1]["mean_icc"] = mean_icc(tables["control"]), mean_icc(tables["changed"])
    difference = rows[1]["mean_icc"] - rows[0]["mean_icc"]
    subjects = tables["control"]["subject"].nunique()
    if subjects >= 2:
        interval = icc_difference(tables["control"], tables["changed"], n_boot=2000)
        low, high, word = interval.low, interval.high, verdict(interval)
        said = f"[{low:+.3f}, {high:+.3f}] over {subjects} validation subjects: {word}"
    else:  # a tiny data set: one validation person gives no interval, and so no verdict
        low, high, word = float("nan"), float("nan"), "no interval"
        said = "with no interval: one validation subject cannot be resampled"
    rows[1].update({"difference": difference, "low": low, "high": high, "subjects": subjects, "verdict": word})
    result = pd.DataFrame(rows)
    atomic_write_csv(folder / "experiment.csv", result, index=False)
    print(f"{name} = {value!r}: mean validation ICC {rows[1]['mean_icc']:.3f} against {rows[0]['mean_icc']:.3f}; "
          f"difference {difference:+.3f} {said}.")
    passed("the experiment ran; now interpret it below")
    return result


def _read(function: Callable, maps: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    result = call_student("read_out_under_noise", function, maps.clone())
    if not isinstance(result, tuple) or len(result) != 2:
        raise ExerciseFeedback("Return two things: (intensities (B, A), peaks (B, A, 2)).")
    batch, n_maps = maps.shape[:2]
    return (as_array(result[0], (batch, n_maps), "The intensities"),
            as_array(result[1], (batch, n_maps, 2), "The peaks"))


def _hand_maps() -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """Three 6-wide, 4-high maps whose readouts are known by hand: a bump of 3.2 at x = 5, y = 1; a bump of 7 (above
    the scale) at x = 0, y = 3; and a map below zero everywhere, highest at x = 2, y = 2."""
    maps = torch.zeros(1, 3, 4, 6)
    maps[0, 0, 1, 5], maps[0, 0, 1, 4] = 3.2, 1.0
    maps[0, 1, 3, 0], maps[0, 1, 2, 0] = 7.0, 2.0
    maps[0, 2] = -1.0
    maps[0, 2, 2, 2] = -0.25
    return maps, np.array([[3.2, 5.0, 0.0]]), np.array([[[5, 1], [0, 3], [2, 2]]], dtype=float)


@torch.inference_mode()
def read_out_under_noise(function: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]], model: AUModel,
                         dataset: PreparedDataset, rows: Sequence[int], sigmas: Sequence[float], unit: str = "px",
                         seed: int = 0, au: int = 12) -> bool:
    """Exercise 5.3: ``function(maps (B, A, H, W)) -> (intensities (B, A), peaks (B, A, 2))``: the paper's readout,
    each map's maximum clamped to [0, 5], and where it is, as ``(x, y)`` integer map pixels.

    Checked on hand-made maps (6 wide, 4 high, so that x and y cannot be swapped unseen), then on the model's maps of
    the test faces ``rows`` re-aligned from landmarks with noise of each σ, against the paper's readout
    (:func:`aulib.method.heatmaps.read_intensities`, global); prints
    how AU ``au``'s readout and peak move with the noise.
    """
    from aulib.evaluation.robustness import noisy_inputs
    from aulib.method.heatmaps import read_intensities, read_peaks

    maps, intensities, peaks = _hand_maps()
    got_intensities, got_peaks = _read(function, maps)
    if np.allclose(got_peaks, peaks[..., ::-1]):
        raise ExerciseFeedback("Your peaks are (y, x); give them as (x, y): column first, then row.")
    if not np.allclose(got_peaks, peaks):
        raise ExerciseFeedback(f"On hand-made maps your peaks are {got_peaks[0].tolist()}, not {peaks[0].tolist()}. "
                               "The peak is the arg-max of the map, as (x, y) map pixels.")
    if np.isclose(got_intensities[0, 1], 7.0):
        raise ExerciseFeedback("A map whose maximum is 7 should read 5: clamp the readout to [0, 5].")
    if np.isclose(got_intensities[0, 2], -0.25):
        raise ExerciseFeedback("A map below zero everywhere should read 0: clamp the readout to [0, 5].")
    if not np.allclose(got_intensities, intensities, atol=1e-6):
        raise ExerciseFeedback(f"On hand-made maps you read {got_intensities[0].round(3).tolist()}, not "
                               f"{intensities[0].tolist()}: the readout is each map's maximum, clamped to [0, 5].")
    index = list(model.aus).index(au)
    rows = list(dict.fromkeys(int(row) for row in rows))  # the strong and the weak face can be one face
    rows_out = []
    for sigma in sigmas:
        for chunk, images, landmarks in noisy_inputs(model, dataset, float(sigma), unit, seed, rows=rows):
            prediction = model.predict(images, landmarks)
            got_intensities, got_peaks = _read(function, prediction.maps.float().cpu())
            expected = read_intensities(prediction.maps.float().cpu()).numpy()  # the paper's global readout
            if not np.allclose(got_intensities, expected, atol=1e-4):
                raise ExerciseFeedback(f"On the model's maps at σ = {sigma:g} you read "
                                       f"{got_intensities.round(3).tolist()}; the model reads "
                                       f"{expected.round(3).tolist()}.")
            _, integer_peaks = read_peaks(prediction.maps.float().cpu(), subpixel=False)
            if not np.allclose(got_peaks, integer_peaks.numpy()):
                raise ExerciseFeedback(f"On the model's maps at σ = {sigma:g} your peaks are not the arg-max.")
            rows_out += [{"face": row, "sigma": float(sigma), f"AU{au:02d} readout": float(got_intensities[i, index]),
                          "peak x": got_peaks[i, index, 0], "peak y": got_peaks[i, index, 1]}
                         for i, row in enumerate(chunk)]
    table = pd.DataFrame(rows_out)
    clean = table[table.sigma == table.sigma.min()].set_index("face")[["peak x", "peak y"]]
    shift = table[["peak x", "peak y"]].to_numpy() - clean.loc[table.face].to_numpy()
    table["peak moved (map px)"] = np.hypot(shift[:, 0], shift[:, 1])
    print(table.drop(columns=["peak x", "peak y"]).round(2).to_string(index=False))
    return passed(f"your readout is the model's on {len(rows)} faces at {len(sigmas)} noise levels")


def pixel_sigmas(function: Callable[[float, np.ndarray], np.ndarray], landmarks: np.ndarray,
                 sigma_iod: float = 0.17) -> bool:
    """Exercise 5.2: ``function(sigma_iod, landmarks) -> (frames,)``: the noise's standard deviation in pixels that
    each face gets in the study in inter-ocular distances, from its own 68 landmarks ``(frames, 68, 2)`` (0-based
    iBUG indices: the outer eye corners are 36 and 45).

    The truth is σ times each face's distance between landmarks 36 and 45
    (:func:`aulib.method.align.inter_ocular_distance`, the scale :func:`aulib.method.align.add_landmark_noise`
    uses with ``unit="iod"``).
    """
    from aulib.method.align import inter_ocular_distance

    landmarks = np.asarray(landmarks, dtype=np.float64)
    iod = inter_ocular_distance(landmarks)
    expected = sigma_iod * iod
    got = np.asarray(call_student("pixel_sigmas", function, sigma_iod, landmarks.copy()), dtype=np.float64)
    if got.shape == expected.shape and np.allclose(got, expected, rtol=1e-6):
        paper = 13.0 / iod
        return passed(f"σ = {sigma_iod:g} IOD is {got.min():.1f}–{got.max():.1f} px on these {len(got):,} frames "
                      f"(IOD {iod.min():.0f}–{iod.max():.0f} px). Read the other way, the paper's fixed 13 px would "
                      f"be {paper.min():.3f}–{paper.max():.3f} IOD here: one σ in pixels is a different relative "
                      "error on every face, which is why the study above is in IOD.")
    if got.ndim == 0 or got.size == 1:
        raise ExerciseFeedback(f"You return one number ({float(got.ravel()[0]):.3g}); the study gives every face its "
                               f"own σ: return one value per frame, shape ({len(expected)},).")
    if got.shape != expected.shape:
        raise ExerciseFeedback(f"Return one σ per frame, shape ({len(expected)},); got shape {got.shape}.")
    mistakes = {(37, 46): "You used landmarks 37 and 46: the iBUG numbering is 1-based on paper, but these arrays "
                          "are 0-based, so the outer eye corners are 36 and 45.",
                (39, 42): "Landmarks 39 and 42 are the inner eye corners; the inter-ocular distance runs between the "
                          "outer ones, 36 and 45."}
    for (a, b), message in mistakes.items():
        distance = np.linalg.norm(landmarks[:, b] - landmarks[:, a], axis=-1)
        if np.allclose(got, sigma_iod * distance, rtol=1e-6):
            raise ExerciseFeedback(message)
    if np.allclose(got * iod, sigma_iod, rtol=1e-6):
        raise ExerciseFeedback("You divided σ by the inter-ocular distance; σ in IOD is a fraction of it, so "
                               "multiply.")
    raise ExerciseFeedback(f"For σ = {sigma_iod:g} IOD the first frame's σ is {expected[0]:.2f} px; you give "
                           f"{got[0]:.2f}. Multiply σ by each frame's distance between landmarks 36 and 45.")
