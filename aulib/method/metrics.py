"""Evaluation metrics for Action Unit (AU) intensity estimation.

The headline metric of Sanchez-Lozano et al. (BMVC 2018), like most AU-intensity
work on BP4D / DISFA, is the intra-class correlation ICC(3,1) of Shrout & Fleiss
(1979): ground truth and prediction are treated as ``k = 2`` "judges" who each rate
the same ``N`` "targets" (video frames), and we ask how *consistently* they rank the
frames. Pearson correlation (PCC) and mean absolute error (MAE) are reported next to it.

All metrics work column-wise on ``(N, A)`` arrays (one column per AU) and are fully
vectorised: invalid entries are handled with boolean masks and masked sums, never by
looping over AUs or frames. An entry ``(n, a)`` is *invalid*, and ignored, when

* the user ``mask`` is ``False`` there, or
* ``y_true`` is NaN there (e.g. BP4D's "9 = not codeable", which the dataset readers turn into NaN), or
* ``y_pred`` is NaN there.

Each AU column therefore uses its own set of valid frames, and columns may end up
with different frame counts.

Undefined values are returned as NaN, never as a warning or an exception:

* ICC(3,1): fewer than 2 valid frames, or *every* judge constant over the valid frames
  (then both the between-target and the error mean squares are zero and ICC is 0/0).
  If only one judge is constant (e.g. an AU that never fires in a test subject while the
  model still predicts some intensity) ICC(3,1) is well defined and equals 0 — the same
  value ``pingouin.intraclass_corr`` gives.
* PCC: fewer than 2 valid frames, or either column constant (zero variance).
* MAE: no valid frame at all (MAE of a single frame is well defined).

References:
    P. E. Shrout and J. L. Fleiss, "Intraclass correlations: uses in assessing rater
    reliability", Psychological Bulletin 86(2):420-428, 1979.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

__all__ = [
    "TwoWayAnova",
    "icc",
    "icc_31",
    "mae",
    "metrics_table",
    "pcc",
    "two_way_anova",
]


# --------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------
def _as_float_array(x: object, name: str) -> np.ndarray:
    """Convert ``x`` to a float64 array, refusing non-numeric data with a clear message."""
    arr = np.asarray(x)
    if arr.dtype.kind in "biuf":
        return arr.astype(np.float64, copy=False)
    if arr.dtype.kind == "O":
        # Object arrays appear e.g. from lists containing ``None``; accept them when every
        # element converts to float (None -> NaN, i.e. "missing").
        try:
            return arr.astype(np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"{name} must be numeric, got an object array that does not convert to float ({err})"
            ) from err
    raise TypeError(f"{name} must be numeric (bool, int or float), got dtype {arr.dtype}")


def _as_bool_mask(mask: object, name: str = "mask") -> np.ndarray:
    """Convert ``mask`` to a boolean array; integers are accepted only if they are 0/1."""
    arr = np.asarray(mask)
    if arr.dtype.kind == "b":
        return arr
    # A float or arbitrary-integer "mask" is more likely a bug (e.g. a weight array or the
    # raw label array passed by mistake) than a mask, so refuse it rather than cast it.
    if arr.dtype.kind in "iu" and np.isin(arr, (0, 1)).all():
        return arr.astype(bool)
    raise TypeError(f"{name} must be boolean (True = valid), got dtype {arr.dtype}")


def _prepare(
    y_true: object, y_pred: object, mask: object | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate inputs and build the per-entry validity mask.

    Returns:
        ``(t, p, valid)``, all of shape ``(N, A)``; ``t`` and ``p`` are float64 with the
        invalid entries replaced by 0 so that NaNs or garbage codes (9, 1e6, ...) under the
        mask can never leak into a sum; ``valid`` is boolean.
    """
    t = _as_float_array(y_true, "y_true")
    p = _as_float_array(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(
            f"y_true and y_pred must have the same shape, got y_true {t.shape} and y_pred {p.shape}"
        )
    if t.ndim == 1:  # a single AU given as a flat vector
        t, p = t[:, None], p[:, None]
    elif t.ndim != 2:
        raise ValueError(f"y_true and y_pred must have shape (N, A) or (N,), got {t.shape}")

    valid = ~(np.isnan(t) | np.isnan(p))
    if mask is not None:
        m = _as_bool_mask(mask)
        if m.ndim == 1 and m.shape[0] == t.shape[0]:
            m = m[:, None]  # one flag per frame (e.g. "face detected"), shared by all AUs
        elif m.shape != t.shape:
            raise ValueError(
                f"mask must have the same shape as y_true {t.shape} (or be a per-frame "
                f"vector of shape ({t.shape[0]},)), got mask {m.shape}"
            )
        valid = valid & m

    t = np.where(valid, t, 0.0)
    p = np.where(valid, p, 0.0)
    return t, p, valid


def _is_constant(x: np.ndarray, valid: np.ndarray, axis: int = 0) -> np.ndarray:
    """True where all valid entries of ``x`` along ``axis`` are identical.

    Exact max == min comparison, rather than "variance < eps": a variance computed from
    floating-point deviations of a constant column is ~1e-33 rather than 0, and dividing by it
    would give garbage instead of NaN.
    """
    hi = np.where(valid, x, -np.inf).max(axis=axis, initial=-np.inf)
    lo = np.where(valid, x, np.inf).min(axis=axis, initial=np.inf)
    return hi == lo


# --------------------------------------------------------------------------------------
# ICC(3,1) via the two-way ANOVA of Shrout & Fleiss (1979)
# --------------------------------------------------------------------------------------
class TwoWayAnova(NamedTuple):
    """Two-way ANOVA table of an ``N targets × k judges`` rating matrix (one value per column).

    Every field has the trailing shape of the ratings (``()`` for a single ``(N, k)`` matrix).
    Names follow Shrout & Fleiss (1979), Table 1. The identity
    ``ss_total = ss_targets + ss_judges + ss_error`` holds up to rounding.
    """

    n: np.ndarray  # number of valid targets
    k: int  # number of judges
    ss_targets: np.ndarray  # between-targets sum of squares
    ss_judges: np.ndarray  # between-judges sum of squares
    ss_error: np.ndarray  # residual (targets × judges interaction) sum of squares
    ss_total: np.ndarray
    bms: np.ndarray  # between-targets mean square, ss_targets / (n - 1)
    jms: np.ndarray  # between-judges mean square, ss_judges / (k - 1)
    ems: np.ndarray  # residual mean square, ss_error / ((n - 1)(k - 1))


def _ratings_and_valid(ratings: object, mask: object | None) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``(N, k, *rest)`` ratings; return them zero-filled where invalid, and the
    ``(N, *rest)`` mask of valid targets."""
    x = _as_float_array(ratings, "ratings")
    if x.ndim < 2:
        raise ValueError(f"ratings must have shape (N, k, ...), got {x.shape}")
    if x.shape[1] < 2:
        raise ValueError(f"ratings need at least k=2 judges along axis 1, got shape {x.shape}")

    # The two-way decomposition needs complete rows: a target with any NaN rating is dropped.
    valid = ~np.isnan(x).any(axis=1)
    if mask is not None:
        m = _as_bool_mask(mask)
        expected = (x.shape[0], *x.shape[2:])
        if m.shape != expected:
            raise ValueError(
                f"mask must have shape {expected} for ratings of shape {x.shape}, got mask {m.shape}"
            )
        valid = valid & m
    # Zero-fill so NaNs or garbage codes in dropped targets cannot leak into any sum.
    return np.where(valid[:, None], x, 0.0), valid


def _two_way_anova(x: np.ndarray, valid: np.ndarray) -> TwoWayAnova:
    """ANOVA core on cleaned ratings ``x`` (N, k, *rest) and target mask ``valid`` (N, *rest)."""
    k = x.shape[1]
    w = valid[:, None]  # (N, 1, *rest), broadcasts over judges
    n = valid.sum(axis=0)  # valid targets per column
    with np.errstate(divide="ignore", invalid="ignore"):
        # The three kinds of mean of the N × k table (over valid targets only).
        grand_mean = x.sum(axis=(0, 1)) / (n * k)  # (*rest)
        target_means = x.mean(axis=1)  # (N, *rest): each frame's mean over judges
        judge_means = x.sum(axis=0) / n  # (k, *rest): each judge's mean over frames

        # Sums of squares, each a masked sum of squared deviations.
        # Between targets: how much frames differ from each other (the "signal").
        ss_targets = k * (valid * (target_means - grand_mean) ** 2).sum(axis=0)
        # Between judges: systematic offsets between judges (e.g. a biased predictor).
        ss_judges = n * ((judge_means - grand_mean) ** 2).sum(axis=0)
        # Residual: what is left after removing target and judge effects, i.e. disagreement in
        # *ranking*. Computed directly (not as total - targets - judges) so that it stays >= 0,
        # and exactly 0 for perfect consistency, instead of suffering cancellation error.
        residual = x - target_means[:, None] - judge_means[None] + grand_mean
        ss_error = (w * residual**2).sum(axis=(0, 1))
        ss_total = (w * (x - grand_mean) ** 2).sum(axis=(0, 1))

        # Mean squares = sum of squares / degrees of freedom (NaN where df = 0).
        df_targets = n - 1
        df_judges = k - 1
        df_error = (n - 1) * (k - 1)
        bms = np.where(df_targets > 0, ss_targets / df_targets, np.nan)
        jms = np.where(n > 0, ss_judges / df_judges, np.nan)
        ems = np.where(df_error > 0, ss_error / df_error, np.nan)

    # ``[()]`` turns 0-d arrays into numpy scalars and leaves real arrays alone.
    return TwoWayAnova(
        n=n[()],
        k=k,
        ss_targets=ss_targets[()],
        ss_judges=ss_judges[()],
        ss_error=ss_error[()],
        ss_total=ss_total[()],
        bms=bms[()],
        jms=jms[()],
        ems=ems[()],
    )


def two_way_anova(ratings: object, mask: object | None = None) -> TwoWayAnova:
    """Two-way (targets × judges) ANOVA without replication, vectorised over trailing dimensions.

    Args:
        ratings: array-like of shape ``(N, k, *rest)``: ``N`` targets, each rated by the same
            ``k`` judges; ``*rest`` are independent problems (e.g. AUs) solved in parallel.
        mask: optional boolean array of shape ``(N, *rest)``; ``False`` drops a target.
            A target is also dropped (for that trailing column) if any of its ``k`` ratings is
            NaN, because the two-way decomposition needs complete rows.

    Returns:
        :class:`TwoWayAnova`; fields have shape ``rest``. Mean squares are NaN where their
        degrees of freedom are zero (fewer than 2 valid targets).

    Shape:
        - ratings: :math:`(N, k, *)`
        - mask: :math:`(N, *)`
        - output fields: :math:`(*)`

    Example:
        >>> x = np.array([[1., 3.], [2., 5.], [6., 7.]])  # 3 targets, 2 judges
        >>> a = two_way_anova(x)
        >>> float(a.ss_targets), float(a.ss_judges), float(a.ss_error), float(a.ss_total)
        (21.0, 6.0, 1.0, 28.0)
        >>> float(a.bms), float(a.jms), float(a.ems)  # df = n-1, k-1, (n-1)(k-1) = 2, 1, 2
        (10.5, 6.0, 0.5)
    """
    return _two_way_anova(*_ratings_and_valid(ratings, mask))


def icc_31(ratings: object, mask: object | None = None) -> np.ndarray:
    """ICC(3,1) of Shrout & Fleiss (1979) for ``k`` judges, vectorised over trailing dimensions.

    ICC(3,1) is the two-way *mixed*, *consistency*, *single-rater* intra-class correlation:

    .. math::

        \\mathrm{ICC}(3,1) = \\frac{BMS - EMS}{BMS + (k - 1)\\,EMS}

    where BMS is the between-targets and EMS the residual mean square of the two-way ANOVA
    (:func:`two_way_anova`). Judge (column) effects are removed before comparing, so a
    constant offset of one judge does not lower the score, while a change of scale does.

    Args:
        ratings: array-like of shape ``(N, k, *rest)``: ``N`` targets rated by ``k`` judges.
        mask: optional boolean array of shape ``(N, *rest)``, ``True`` = use this target.
            Targets with a NaN rating are dropped as well.

    Returns:
        ICC(3,1) with shape ``rest`` (a numpy scalar for a single ``(N, k)`` matrix).
        NaN where fewer than 2 targets are valid, or where every judge is constant (0/0).

    Shape:
        - ratings: :math:`(N, k, *)`
        - mask: :math:`(N, *)`
        - output: :math:`(*)`

    Example:
        Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges.

        >>> ratings = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8],
        ...                     [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])
        >>> round(float(icc_31(ratings)), 2)
        0.71
    """
    x, valid = _ratings_and_valid(ratings, mask)
    anova = _two_way_anova(x, valid)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = (anova.bms - anova.ems) / (anova.bms + (anova.k - 1) * anova.ems)
    # BMS + (k-1)·EMS is exactly zero only if every judge is constant; test that directly,
    # because rounding can leave a ~1e-33 denominator that would turn 0/0 into garbage.
    all_judges_constant = _is_constant(x, valid[:, None], axis=0).all(axis=0)
    value = np.where(all_judges_constant | (anova.n < 2), np.nan, value)
    return value[()]


def icc(y_true: object, y_pred: object, mask: object | None = None) -> np.ndarray:
    """ICC(3,1) between ground truth and prediction, per AU column.

    Ground truth and prediction are the ``k = 2`` judges, frames are the targets
    (see :func:`icc_31`).

    Args:
        y_true: ground-truth intensities, shape ``(N, A)`` or ``(N,)`` (then ``A = 1``).
            NaN entries are ignored.
        y_pred: predicted intensities, same shape. NaN entries are ignored.
        mask: optional boolean array, ``True`` = valid; shape ``(N, A)`` (or ``(N,)``,
            one flag per frame).

    Returns:
        float64 array of shape ``(A,)``. NaN for a column with fewer than 2 valid frames or
        with both ``y_true`` and ``y_pred`` constant over its valid frames.

    Raises:
        ValueError: shapes of ``y_true``, ``y_pred`` or ``mask`` do not match.
        TypeError: non-numeric input or non-boolean mask.

    Example:
        >>> y_true = np.array([0., 1., 2., 3., 4.])
        >>> np.round(icc(y_true, y_true + 1.0), 6)  # an offset is not penalised
        array([1.])
        >>> np.round(icc(y_true, 2.0 * y_true), 2)  # a change of scale is
        array([0.8])
    """
    t, p, valid = _prepare(y_true, y_pred, mask)
    return np.asarray(icc_31(np.stack([t, p], axis=1), mask=valid), dtype=np.float64)


# --------------------------------------------------------------------------------------
# PCC and MAE
# --------------------------------------------------------------------------------------
def pcc(y_true: object, y_pred: object, mask: object | None = None) -> np.ndarray:
    """Pearson correlation coefficient per AU column, over each column's valid frames.

    Args:
        y_true: ground-truth intensities, shape ``(N, A)`` or ``(N,)``; NaN = invalid.
        y_pred: predicted intensities, same shape; NaN = invalid.
        mask: optional boolean array, ``True`` = valid; shape ``(N, A)`` or ``(N,)``.

    Returns:
        float64 array of shape ``(A,)``. NaN for a column with fewer than 2 valid frames or
        where ``y_true`` or ``y_pred`` is constant (correlation is undefined at zero variance).

    Example:
        >>> y_true = np.array([[0., 1.], [1., 1.], [2., 1.]])
        >>> pcc(y_true, 3.0 * y_true + 1.0)  # second column is constant
        array([ 1., nan])
    """
    t, p, valid = _prepare(y_true, y_pred, mask)
    n = valid.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Masked means, then masked centred sums (t and p are already 0 where invalid).
        dt = np.where(valid, t - t.sum(axis=0) / n, 0.0)
        dp = np.where(valid, p - p.sum(axis=0) / n, 0.0)
        r = (dt * dp).sum(axis=0) / np.sqrt((dt**2).sum(axis=0) * (dp**2).sum(axis=0))
    undefined = (n < 2) | _is_constant(t, valid) | _is_constant(p, valid)
    # Rounding can push |r| a hair above 1 for perfectly (anti-)correlated data.
    return np.where(undefined, np.nan, np.clip(r, -1.0, 1.0))


def mae(y_true: object, y_pred: object, mask: object | None = None) -> np.ndarray:
    """Mean absolute error per AU column, over each column's valid frames.

    Args:
        y_true: ground-truth intensities, shape ``(N, A)`` or ``(N,)``; NaN = invalid.
        y_pred: predicted intensities, same shape; NaN = invalid.
        mask: optional boolean array, ``True`` = valid; shape ``(N, A)`` or ``(N,)``.

    Returns:
        float64 array of shape ``(A,)``; NaN for a column without any valid frame.

    Example:
        >>> mae([[0., 1.], [2., 3.]], [[1., 1.], [2., 0.]])
        array([0.5, 1.5])
    """
    t, p, valid = _prepare(y_true, y_pred, mask)
    n = valid.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.abs(t - p).sum(axis=0) / n  # invalid entries are 0 - 0
    return np.where(n > 0, out, np.nan)


# --------------------------------------------------------------------------------------
# Summary table
# --------------------------------------------------------------------------------------
def _au_label(au: object) -> str:
    """``6``, ``"6"``, ``"AU6"`` and ``"AU06"`` all become ``"AU06"``; other strings pass through."""
    if isinstance(au, (int, np.integer)) and not isinstance(au, bool):
        return f"AU{int(au):02d}"
    s = str(au).strip()
    digits = s[2:] if s.upper().startswith("AU") else s
    return f"AU{int(digits):02d}" if digits.isdigit() else s


def metrics_table(
    y_true: object, y_pred: object, aus: Sequence[int | str], mask: object | None = None
) -> pd.DataFrame:
    """Per-AU ICC, PCC, MAE and number of valid frames, plus their mean over AUs.

    Args:
        y_true: ground-truth intensities, shape ``(N, A)`` or ``(N,)``; NaN = invalid.
        y_pred: predicted intensities, same shape; NaN = invalid.
        aus: ``A`` AU identifiers, e.g. ``[6, 10, 12, 14, 17]`` or ``["AU06", ...]``.
        mask: optional boolean array, ``True`` = valid; shape ``(N, A)`` or ``(N,)``.

    Returns:
        DataFrame with index ``["AU06", ..., "Mean"]`` (name ``"AU"``) and columns
        ``ICC, PCC, MAE, N``. The ``Mean`` row averages the metrics over AUs, skipping NaN
        (NaN if all are NaN); its ``N`` is the total number of valid (frame, AU) entries.

    Raises:
        ValueError: ``len(aus) != A``, or inconsistent shapes.

    Example:
        >>> y = np.array([[0., 1.], [1., 2.], [2., 4.], [3., 3.]])
        >>> metrics_table(y, y + 0.5, aus=[6, 12]).round(3)  # doctest: +NORMALIZE_WHITESPACE
              ICC  PCC  MAE  N
        AU
        AU06  1.0  1.0  0.5  4
        AU12  1.0  1.0  0.5  4
        Mean  1.0  1.0  0.5  8
    """
    t, p, valid = _prepare(y_true, y_pred, mask)
    aus = list(aus)
    if len(aus) != t.shape[1]:
        raise ValueError(
            f"got {len(aus)} AU labels for {t.shape[1]} AU columns (y_true shape {np.shape(y_true)})"
        )
    labels = [_au_label(a) for a in aus]

    # t, p are already cleaned and valid is the full mask, so pass it on unchanged.
    metrics = {"ICC": icc(t, p, valid), "PCC": pcc(t, p, valid), "MAE": mae(t, p, valid)}
    table = pd.DataFrame(metrics, index=pd.Index(labels, name="AU"))
    table["N"] = valid.sum(axis=0).astype(np.int64)

    # np.nanmean warns on all-NaN input, so average the finite values by hand.
    means = {}
    for name, values in metrics.items():
        finite = np.isfinite(values)
        means[name] = values[finite].mean() if finite.any() else np.nan
    means["N"] = int(valid.sum())
    table.loc["Mean"] = pd.Series(means)
    table["N"] = table["N"].astype(np.int64)
    return table
