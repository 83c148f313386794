"""Bootstrap intervals over independent units (people, subjects), for any statistic and for paired comparisons.

A course that compares models on a few dozen people must say how much a number could move with other people.
The percentile bootstrap does that without assumptions about the statistic: draw the units (people, not frames:
frames of one person are not independent) with replacement, recompute the statistic, and take the middle
``level`` of the recomputed values. A *paired* bootstrap draws the same units for both sides of a comparison (the
same person's neutral and smiling photo; two models scored on the same test subjects), so that the between-unit
variation cancels out of the difference.

Caveats, stated where the numbers are shown:

- With few units (fewer than 10) the interval is too narrow: it cannot see beyond the sample.
- A share of 0% or 100% gives a zero-width interval (every resample agrees); :func:`wilson_interval` gives the
  interval a binomial model implies instead.

Example:
    >>> neutral = np.array([0.2, 0.5, 0.1, 0.4, 0.3, 0.6])
    >>> smiling = np.array([2.1, 1.8, 0.1, 2.5, 1.2, 3.0])
    >>> share_higher(neutral, smiling)  # the tie (0.1, 0.1) counts as not higher
    0.8333333333333334
    >>> interval = paired_bootstrap(neutral, smiling, share_higher, n_boot=1000, seed=0)
    >>> interval.estimate, interval.n, 0.0 <= interval.low <= interval.estimate <= interval.high <= 1.0
    (0.8333333333333334, 6, True)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

__all__ = ["Interval", "bootstrap", "mean_difference", "paired_bootstrap", "share_higher", "wilson_interval"]


class Interval(NamedTuple):
    """A statistic with its interval: ``estimate`` on all units, ``low``–``high`` at ``level``, over ``n`` units.

    With a statistic that returns a vector (one value per AU, say), the three values are arrays.
    """

    estimate: float | np.ndarray
    low: float | np.ndarray
    high: float | np.ndarray
    n: int
    level: float


def bootstrap(statistic: Callable[[np.ndarray], float | np.ndarray], n_units: int, *, n_boot: int = 2000,
              level: float = 0.95, seed: int = 0) -> Interval:
    """Percentile bootstrap of ``statistic`` over ``n_units`` independent units.

    Args:
        statistic: takes an index array of units (with repeats) and returns a number or a vector; called once
            with ``arange(n_units)`` for the estimate and ``n_boot`` times with resampled indices. It decides what a
            unit is: one person's pair of photos, or every frame of one test subject.
        n_units: how many units there are (at least 2).
        n_boot: resamples.
        level: coverage of the interval, e.g. 0.95.
        seed: the resampling's seed (the same seed, the same interval).

    Returns:
        An :class:`Interval`. Resamples where the statistic is NaN are left out of the percentiles.

    Example:
        >>> values = np.array([1.0, 2.0, 3.0, 4.0])
        >>> interval = bootstrap(lambda idx: values[idx].mean(), len(values), seed=1)
        >>> float(interval.estimate), bool(1.0 <= interval.low < 2.5 < interval.high <= 4.0)
        (2.5, True)
    """
    if n_units < 2:
        raise ValueError(f"a bootstrap needs at least 2 units; got {n_units}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got {level}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1; got {n_boot}")
    estimate = np.asarray(statistic(np.arange(n_units)), dtype=float)
    draws = np.random.default_rng(seed).integers(0, n_units, size=(n_boot, n_units))
    samples = np.stack([np.asarray(statistic(idx), dtype=float) for idx in draws])
    tail = 100 * (1 - level) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column stays NaN
        low, high = np.nanpercentile(samples, [tail, 100 - tail], axis=0)
    if estimate.ndim == 0:
        return Interval(float(estimate), float(low), float(high), n_units, level)
    return Interval(estimate, low, high, n_units, level)


def paired_bootstrap(first: np.ndarray, second: np.ndarray,
                     statistic: Callable[[np.ndarray, np.ndarray], float | np.ndarray] | None = None, *,
                     n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> Interval:
    """Bootstrap a comparison of paired measurements: the same units are drawn for both sides.

    Args:
        first, second: measurements with the units along axis 0 (the same unit in the same row of both).
        statistic: of ``(first[idx], second[idx])``; default :func:`mean_difference` (second − first).
        n_boot, level, seed: as in :func:`bootstrap`.

    Returns:
        An :class:`Interval` of the statistic.

    Raises:
        ValueError: when the two sides hold different numbers of units.
    """
    first, second = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    if len(first) != len(second):
        raise ValueError(f"paired samples need the same units: {len(first)} against {len(second)} rows")
    statistic = statistic or mean_difference
    return bootstrap(lambda idx: statistic(first[idx], second[idx]), len(first), n_boot=n_boot, level=level,
                     seed=seed)


def mean_difference(first: np.ndarray, second: np.ndarray) -> float | np.ndarray:
    """Mean of ``second − first`` over units (axis 0), ignoring NaN pairs (NaN when every pair is)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a column without any pair: NaN, said in the docstring
        return _plain(np.nanmean(np.asarray(second, dtype=float) - np.asarray(first, dtype=float), axis=0))


def share_higher(first: np.ndarray, second: np.ndarray) -> float | np.ndarray:
    """Share of units where ``second`` is strictly above ``first`` (axis 0). Ties and NaN count as not higher."""
    return _plain(np.mean(np.asarray(second, dtype=float) > np.asarray(first, dtype=float), axis=0))


def _plain(value: np.ndarray) -> float | np.ndarray:
    """A Python float for a 0-d result, the array otherwise."""
    return float(value) if np.ndim(value) == 0 else value


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval of a binomial share ``successes / n``.

    Unlike the percentile bootstrap it does not collapse to a point at 0% or 100%.

    Example:
        >>> low, high = wilson_interval(102, 102)
        >>> round(low, 3), round(high, 3)
        (0.964, 1.0)
    """
    from scipy.stats import norm

    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n >= 1; got {successes} of {n}")
    z = float(norm.ppf(1 - (1 - level) / 2))
    share = successes / n
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))
