"""Paired comparisons of two models on the same held-out subjects: the difference of mean ICC, with an interval.

Two models scored on the same 30 test people are not two independent samples: a person whose smiles are easy is
easy for both. The paired bootstrap draws whole *subjects* (every frame of a drawn subject, on both sides),
recomputes both models' mean ICC(3,1) on the draw, and takes the middle 95% of the differences
(:func:`aulib.method.bootstrap.bootstrap`). The course words every comparison by one rule, :func:`verdict`:
**level** when the interval covers 0, **better** or **worse** when it does not.

The inputs are per-frame prediction tables, as :func:`aulib.evaluation.evaluate.evaluate` writes them
(``predictions.csv``: ``subject, sequence, frame``, then ``true_AU06 … pred_AU06 …``); the reference runs keep them
gzipped (``models/reference/<run>/seed<k>/predictions.csv.gz``).

Example:
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.uniform(0, 5, size=(60, 2))
    >>> frames = pd.DataFrame({"subject": np.repeat([f"S{i}" for i in range(6)], 10), "sequence": "T1",
    ...                        "frame": np.tile(np.arange(10), 6)})
    >>> def table(noise):
    ...     predicted = np.clip(truth + rng.normal(0, noise, truth.shape), 0, 5)
    ...     return frames.assign(true_AU06=truth[:, 0], true_AU12=truth[:, 1],
    ...                          pred_AU06=predicted[:, 0], pred_AU12=predicted[:, 1])
    >>> interval = icc_difference(table(2.0), table(0.1), n_boot=200)
    >>> verdict(interval), bool(interval.low > 0.3)
    ('better', True)
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from aulib.method.bootstrap import Interval, bootstrap
from aulib.method.metrics import icc

__all__ = ["KEYS", "icc_difference", "mean_icc", "read_predictions", "verdict"]

KEYS = ["subject", "sequence", "frame"]  # one frame of one subject's task


def read_predictions(path: str | os.PathLike) -> pd.DataFrame:
    """A per-frame prediction table (``.csv`` or ``.csv.gz``), subjects and sequences read as text.

    Raises:
        ValueError: when a key or a true/predicted column pair is missing (the message names the file).
    """
    table = pd.read_csv(path, dtype={"subject": str, "sequence": str})
    missing = [key for key in KEYS if key not in table.columns]
    if missing or not _au_labels(table):
        raise ValueError(f"{path}: not a prediction table (need {KEYS} and true_AU…/pred_AU… columns; "
                         f"missing {missing or 'the AU columns'})")
    return table


def _au_labels(table: pd.DataFrame) -> list[str]:
    labels = [c.removeprefix("true_") for c in table.columns if c.startswith("true_")]
    return [label for label in labels if f"pred_{label}" in table.columns]


def mean_icc(table: pd.DataFrame, labels: list[str] | None = None) -> float:
    """Mean over AUs of ICC(3,1) between the true and predicted columns (AUs where it is undefined are left out,
    as in :func:`aulib.method.metrics.metrics_table`)."""
    labels = labels or _au_labels(table)
    return _mean_icc(table[[f"true_{x}" for x in labels]].to_numpy(float),
                     table[[f"pred_{x}" for x in labels]].to_numpy(float))


def _mean_icc(truth: np.ndarray, predicted: np.ndarray) -> float:
    per_au = icc(truth, predicted)
    finite = np.isfinite(per_au)
    return float(per_au[finite].mean()) if finite.any() else float("nan")


def icc_difference(first: pd.DataFrame, second: pd.DataFrame, *, n_boot: int = 2000, level: float = 0.95,
                   seed: int = 0) -> Interval:
    """Mean ICC of ``second`` minus that of ``first``, with a paired bootstrap over subjects.

    Args:
        first, second: per-frame prediction tables of the same frames (matched on ``subject, sequence, frame``;
            their order does not matter).
        n_boot, level, seed: as in :func:`aulib.method.bootstrap.bootstrap`.

    Returns:
        An :class:`~aulib.method.bootstrap.Interval` of the difference; ``n`` is the number of subjects.

    Raises:
        ValueError: when the tables hold different frames or different AUs (the message says how many differ).
    """
    labels = _au_labels(first)
    if labels != _au_labels(second):
        raise ValueError(f"the two tables score different AUs: {labels} against {_au_labels(second)}")
    columns = KEYS + [f"true_{x}" for x in labels] + [f"pred_{x}" for x in labels]
    merged = first[columns].merge(second[columns], on=KEYS, how="outer", suffixes=("", "_2"), indicator=True)
    unmatched = int((merged["_merge"] != "both").sum())
    if unmatched:
        raise ValueError(f"the two tables must hold the same frames: {unmatched} of {len(merged)} appear in only one "
                         f"(first {len(first)} frames, second {len(second)})")
    if not np.allclose(merged[[f"true_{x}" for x in labels]].to_numpy(float),
                       merged[[f"true_{x}_2" for x in labels]].to_numpy(float), equal_nan=True):
        raise ValueError("the two tables give different true intensities for the same frames: not the same test set")
    # Arrays once, not tables in every resample: the bootstrap only indexes rows.
    truth = merged[[f"true_{x}" for x in labels]].to_numpy(float)
    one = merged[[f"pred_{x}" for x in labels]].to_numpy(float)
    two = merged[[f"pred_{x}_2" for x in labels]].to_numpy(float)
    subjects, codes = np.unique(merged["subject"].to_numpy(), return_inverse=True)
    rows_of = [np.flatnonzero(codes == i) for i in range(len(subjects))]

    def difference(drawn: np.ndarray) -> float:
        rows = np.concatenate([rows_of[i] for i in drawn])  # every frame of each drawn subject, on both sides
        return _mean_icc(truth[rows], two[rows]) - _mean_icc(truth[rows], one[rows])

    return bootstrap(difference, len(subjects), n_boot=n_boot, level=level, seed=seed)


def verdict(interval: Interval) -> str:
    """The course's one wording rule: ``"level"`` when the interval covers 0, else ``"better"`` (above 0) or
    ``"worse"`` (below), for the second model against the first."""
    if interval.low <= 0 <= interval.high:
        return "level"
    return "better" if interval.low > 0 else "worse"

