"""RQ3 with intervals: the landmark-noise curve in inter-ocular distances, with a bootstrap band over test subjects.

:func:`aulib.evaluation.robustness.robustness` scores a model at a grid of noise levels, once. Two questions it
cannot answer: would the curve move with other test people, and where *between* two grid points does it leave its
plateau or halve? Read on a grid alone, a curve that crosses half its clean ICC by 0.0025 at 30 px "breaks at
30 px", and one that misses by 0.0025 "breaks at 40 px".

This module answers both:

- :func:`noise_predictions` predicts every test frame at every σ for several runs (the seeds of one model), so that
  the scores can be recomputed on any resample of subjects without predicting again;
- :func:`crossing` interpolates where a curve first falls to a fraction of its clean value;
- :func:`noise_bands` draws whole test subjects with replacement, averages the seeds' mean ICC(3,1) at each σ,
  and gives the curve a 95% band, and the σ where it falls to 90% (the end of the plateau) and to 50% (the break)
  intervals of their own;
- :func:`noise_difference` compares two models on the same frames and noise, paired by test subject: the
  difference of their curves at every σ and of their crossings, each with an interval and the course's wording.

The noise is the robustness study's: isotropic Gaussian, added to the original landmarks before alignment, drawn
from one seed for every σ (the same directions, scaled), so neighbouring σ differ by the noise's size alone. With
``unit="iod"`` its σ is a fraction of each face's own inter-ocular distance, the unit that compares faces of other
sizes (the paper's "about 13 px" is in pixels of BP4D's frames).

Example:
    >>> sigmas = np.array([0.0, 0.1, 0.2, 0.3])
    >>> crossing(sigmas, np.array([0.8, 0.76, 0.5, 0.3]), 0.5)  # half of 0.8 is 0.4: between 0.2 and 0.3
    0.25
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from aulib.evaluation.paired import verdict
from aulib.method.bootstrap import Interval, bootstrap
from aulib.method.metrics import icc

__all__ = ["FRACTIONS", "NoisePredictions", "crossing", "noise_bands", "noise_difference", "noise_predictions"]

FRACTIONS = {"plateau ends": 0.9, "breaks": 0.5}  # of the clean ICC, as in plateau_and_break
CROSSING_WORDS = {"better": "later", "worse": "earlier"}  # the course's verdict, said of a crossing
# A resample that never crosses inside the grid: a large finite stand-in for infinity, because percentiles
# interpolate between neighbours and inf - inf is NaN; it becomes inf again in the table.
BEYOND = 1e12


class NoisePredictions:
    """Every test frame's intensities at every σ for several runs, with the truth and the frames' subjects.

    Attributes:
        sigmas: ``(S,)`` noise levels in ``unit``.
        unit: ``"iod"`` or ``"px"``.
        runs: ``R`` run names (e.g. the seeds of one model).
        truth: ``(N, A)`` true intensities.
        predicted: ``(R, S, N, A)`` predicted intensities.
        subjects: ``(N,)`` each frame's subject.
        mean_iod: the test faces' mean inter-ocular distance in original-image pixels.
    """

    def __init__(self, sigmas: np.ndarray, unit: str, runs: Sequence[str], truth: np.ndarray, predicted: np.ndarray,
                 subjects: np.ndarray, mean_iod: float) -> None:
        if predicted.shape[:2] != (len(runs), len(sigmas)) or predicted.shape[2:] != truth.shape:
            raise ValueError(f"predicted has shape {predicted.shape}; expected ({len(runs)}, {len(sigmas)}, "
                             f"{', '.join(map(str, truth.shape))}) for {len(runs)} runs and {len(sigmas)} σ")
        if len(subjects) != len(truth):
            raise ValueError(f"{len(subjects)} subjects for {len(truth)} frames")
        if len(sigmas) < 2 or sigmas[0] != 0 or np.any(np.diff(sigmas) <= 0):
            raise ValueError(f"σ must rise from 0 over at least two levels; got {list(sigmas)}")
        if unit not in ("iod", "px"):
            raise ValueError(f"unit must be 'iod' or 'px'; got {unit!r}")
        if not mean_iod > 0:
            raise ValueError(f"mean_iod must be a positive number of pixels; got {mean_iod!r}")
        self.sigmas, self.unit, self.runs = np.asarray(sigmas, float), unit, list(runs)
        self.truth, self.predicted, self.subjects, self.mean_iod = truth, predicted, np.asarray(subjects), mean_iod


def noise_predictions(run_dirs: Sequence[str | os.PathLike], data: str | os.PathLike, sigmas: Sequence[float],
                      unit: str = "iod", seed: int = 0, device: str = "cpu", precision: str = "fp32",
                      progress: bool = True) -> NoisePredictions:
    """Predict every held-out frame of ``data`` at every σ, for each run (fp32 on the CPU by default).

    Args:
        run_dirs: trained runs scored on the same frames (the seeds of one model, say); their folder names name
            them in the tables.
        data: the prepared dataset; its evaluation split is used
            (:func:`aulib.evaluation.evaluate.evaluation_split` of the first run).
        sigmas: noise levels, rising from 0.
        unit: ``"iod"`` (fractions of each face's inter-ocular distance) or ``"px"``.
        seed: the noise's seed, the same for every run and σ.
        device, precision: as in :class:`aulib.inference.model.AUModel`.
        progress: a tqdm bar over runs × σ.
    """
    from aulib.data.dataset import PreparedDataset
    from aulib.evaluation.evaluate import evaluation_split
    from aulib.evaluation.robustness import predict_with_noise
    from aulib.inference.model import AUModel
    from aulib.method.align import inter_ocular_distance

    if not run_dirs:
        raise ValueError("no run to put through the noise study")
    dataset = PreparedDataset(data, split=evaluation_split(run_dirs[0], data))
    predicted = []
    with tqdm(total=len(run_dirs) * len(sigmas), desc="noise bands", unit="σ", disable=not progress) as bar:
        for run_dir in run_dirs:
            model = AUModel.from_run(run_dir, device=device, precision=precision)
            levels = []
            for sigma in sigmas:
                levels.append(predict_with_noise(model, dataset, float(sigma), unit, seed))
                bar.update()
            predicted.append(np.stack(levels))
    mean_iod = float(inter_ocular_distance(dataset.landmarks_original_array().astype(np.float64)).mean())
    return NoisePredictions(np.asarray(sigmas, float), unit, [Path(r).name for r in run_dirs],
                            dataset.labels_array().astype(np.float64), np.stack(predicted),
                            dataset.frames["subject"].astype(str).to_numpy(), mean_iod)


def crossing(sigmas: np.ndarray, curve: np.ndarray, fraction: float) -> float:
    """The σ at which ``curve`` first falls to ``fraction`` × its value at σ = 0, interpolated linearly between
    the two grid points around it; NaN when it never does, or when the clean value is not above 0."""
    curve = np.asarray(curve, float)
    if not curve[0] > 0:
        return float("nan")
    target = fraction * curve[0]
    below = np.flatnonzero(curve <= target)
    if not len(below):
        return float("nan")
    i = int(below[0])  # i >= 1: the clean value is above the target
    s0, s1, v0, v1 = sigmas[i - 1], sigmas[i], curve[i - 1], curve[i]
    return float(s0 + (target - v0) * (s1 - s0) / (v1 - v0))


def _resampled_curves(noise: NoisePredictions) -> tuple[list[str], Callable[[np.ndarray], np.ndarray]]:
    """The sorted subject names, and a function from an index array of subjects (with repeats) to every run's mean
    ICC(3,1) over AUs at every σ, ``(runs, σ)``, on every frame of the drawn subjects."""
    names = sorted(set(noise.subjects))
    frames_of = [np.flatnonzero(noise.subjects == name) for name in names]
    runs, levels, _, aus = noise.predicted.shape
    # One ICC call per resample: every (run, σ, AU) is a column of its own beside a copy of the truth.
    predicted = noise.predicted.transpose(2, 0, 1, 3).reshape(len(noise.truth), runs * levels * aus)
    truth = np.tile(noise.truth, runs * levels)

    def per_run_curves(idx: np.ndarray) -> np.ndarray:
        frames = np.concatenate([frames_of[i] for i in idx])
        scores = icc(truth[frames], predicted[frames]).reshape(runs, levels, aus)
        return np.nanmean(scores, axis=2)

    return names, per_run_curves


def noise_bands(noise: NoisePredictions, *, n_boot: int = 1000, level: float = 0.95,
                seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The runs' mean-ICC curve with a bootstrap band over test subjects, and where it leaves its plateau and breaks.

    Each resample draws whole subjects (every frame of a drawn subject, as often as it is drawn); on it each run's
    mean ICC(3,1) over AUs is recomputed at every σ, the runs are averaged, and :func:`crossing` finds where the
    averaged curve falls to each of :data:`FRACTIONS` of its clean value.

    Returns:
        ``(bands, crossings)``. ``bands``: one row per σ with ``sigma`` (in the unit), ``sigma_iod``, ``sigma_px``,
        ``ICC`` (runs averaged, all subjects), ``low``, ``high`` and one ``ICC <run>`` column per run.
        ``crossings``: one row per fraction with ``what``, ``fraction``, ``sigma_iod``, ``low``, ``high``,
        ``low_px``, ``high_px`` (at the mean inter-ocular distance), ``subjects`` and ``runs``. A resample whose
        curve never falls that far inside the grid counts as crossing at infinity, so an interval open at the top
        reads ``high = inf`` (extend the grid) rather than leaving those resamples out.
    """
    names, per_run_curves = _resampled_curves(noise)
    runs, levels = noise.predicted.shape[:2]

    def statistic(idx: np.ndarray) -> np.ndarray:
        curve = per_run_curves(idx).mean(axis=0)
        found = [crossing(noise.sigmas, curve, f) for f in FRACTIONS.values()]
        return np.concatenate([curve, [BEYOND if np.isnan(c) and curve[0] > 0 else c for c in found]])

    interval = bootstrap(statistic, len(names), n_boot=n_boot, level=level, seed=seed)
    to_iod = 1.0 if noise.unit == "iod" else 1.0 / noise.mean_iod
    bands = pd.DataFrame({"sigma": noise.sigmas, "sigma_iod": noise.sigmas * to_iod,
                          "sigma_px": noise.sigmas * to_iod * noise.mean_iod, "ICC": interval.estimate[:levels],
                          "low": interval.low[:levels], "high": interval.high[:levels]})
    for name, curve in zip(noise.runs, per_run_curves(np.arange(len(names))), strict=True):
        bands[f"ICC {name}"] = curve
    rows = []
    for j, (what, fraction) in enumerate(FRACTIONS.items()):
        # A crossing lies inside the grid; a percentile that interpolates between one and a BEYOND resample lands
        # far past the grid's end (e.g. 0.3 + 0.525 × 1e12): the bound is then open, not that number.
        estimate, low, high = (np.inf if v[levels + j] > noise.sigmas.max() else float(v[levels + j]) * to_iod
                               for v in interval[:3])
        rows.append({"what": what, "fraction": fraction, "sigma_iod": estimate, "low": low, "high": high,
                     "sigma_px": estimate * noise.mean_iod, "low_px": low * noise.mean_iod,
                     "high_px": high * noise.mean_iod, "subjects": len(names), "runs": runs})
    return bands, pd.DataFrame(rows)


def noise_difference(reference: NoisePredictions, other: NoisePredictions, *, n_boot: int = 1000,
                     level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """``other`` − ``reference`` under landmark noise, paired by test subject: their seed-averaged mean-ICC curves
    at every σ, and the σ where each leaves its plateau and breaks (:data:`FRACTIONS`).

    Both must be the same study (the same frames, truth, subjects and σ grid, so the same noise): each resample
    draws whole subjects once and scores both models on them, so that the people who are hard for both cancel out
    of the difference. The wording follows :func:`aulib.evaluation.paired.verdict`'s rule: ``"level"`` when the
    interval covers 0; else ``"better"``/``"worse"`` for the ICC, ``"later"``/``"earlier"`` for a crossing (a
    later crossing is the more robust model). Resamples where a curve does not cross inside the grid are left out
    of that crossing's interval; ``resamples`` says how many were kept.

    Args:
        reference, other: :func:`noise_predictions` of the two models (each its own seeds).
        n_boot, level, seed: as in :func:`aulib.method.bootstrap.bootstrap`.

    Returns:
        One row per σ (``what`` = ``"ICC"``, ``sigma_iod`` its σ) and one per crossing (``what`` = ``"plateau ends"``
        or ``"breaks"``, in IOD): ``reference``, ``other``, ``difference``, ``low``, ``high``, ``verdict``,
        ``resamples``, ``subjects``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> truth = rng.uniform(0, 5, (40, 1))
        >>> sigmas, errors = np.array([0.0, 0.2, 0.4]), rng.normal(size=(1, 1, 40, 1))
        >>> def study(growth):  # the same errors, growing with σ by ``growth``
        ...     predicted = truth + errors * (0.2 + growth * sigmas[None, :, None, None])
        ...     return NoisePredictions(sigmas, "iod", ["seed0"], truth, predicted, np.arange(40) // 4, 80.0)
        >>> table = noise_difference(study(8.0), study(2.0), n_boot=200)
        >>> table.set_index("what").loc["ICC", "verdict"].tolist()  # equal at σ = 0, better under noise
        ['level', 'better', 'better']
    """
    if not np.array_equal(reference.sigmas, other.sigmas) or reference.unit != other.unit:
        raise ValueError(f"the two studies have other σ grids: {list(reference.sigmas)} {reference.unit} against "
                         f"{list(other.sigmas)} {other.unit}")
    if not (np.array_equal(reference.truth, other.truth) and np.array_equal(reference.subjects, other.subjects)):
        raise ValueError("the two studies score other frames (their truth or subjects differ): pair models only on "
                         "the same prepared data")
    names, reference_curves = _resampled_curves(reference)
    _, other_curves = _resampled_curves(other)
    levels = len(reference.sigmas)

    def sides(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        curves = [reference_curves(idx).mean(axis=0), other_curves(idx).mean(axis=0)]
        found = [[crossing(reference.sigmas, curve, f) for f in FRACTIONS.values()] for curve in curves]
        return tuple(np.concatenate([curve, cross]) for curve, cross in zip(curves, found, strict=True))

    calls: list[tuple[np.ndarray, np.ndarray]] = []  # both sides of every call: the first is on every subject

    def statistic(idx: np.ndarray) -> np.ndarray:
        calls.append(sides(idx))
        return calls[-1][1] - calls[-1][0]

    interval = bootstrap(statistic, len(names), n_boot=n_boot, level=level, seed=seed)
    (first, second), resampled = calls[0], calls[1:]
    kept = np.sum([np.isfinite(b - a) for a, b in resampled], axis=0)  # a crossing outside the grid is NaN
    to_iod = 1.0 if reference.unit == "iod" else 1.0 / reference.mean_iod
    rows = []
    for j in range(levels + len(FRACTIONS)):
        is_icc = j < levels
        scale = 1.0 if is_icc else to_iod
        estimate, low, high = (float(v[j]) * scale for v in interval[:3])
        word = ("not crossed inside the grid" if np.isnan(estimate) else
                verdict(Interval(estimate, low, high, len(names), level)))
        if not is_icc:  # a later crossing is the more robust model
            word = CROSSING_WORDS.get(word, word)
        rows.append({"what": "ICC" if is_icc else list(FRACTIONS)[j - levels],
                     "sigma_iod": float(reference.sigmas[j]) * to_iod if is_icc else np.nan,
                     "reference": float(first[j]) * scale, "other": float(second[j]) * scale,
                     "difference": estimate, "low": low, "high": high, "verdict": word,
                     "resamples": int(kept[j]), "subjects": len(names)})
    return pd.DataFrame(rows)
