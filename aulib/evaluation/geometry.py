"""Geometry alone: ridge regression from the aligned tracked landmarks to the AU intensities.

A baseline that sees no pixels. If it came close to the image models, a dataset could be solved by reading landmark
positions, and the heatmaps would teach nothing; SynthAU is built so that it does not (``tests/test_synthau.py``
guards it), as on BP4D, where the appearance of wrinkles, bulges and furrows carries what the geometry misses.

The features are the 68 aligned landmarks (136 numbers, the tracker's, as every model gets them), standardised on the
training subjects; the ridge solution is closed-form; predictions are clamped to [0, 5] like every readout.

Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(200, 4))
    >>> y = 2.5 + 0.5 * x[:, :1]  # an intensity that is linear in the first feature
    >>> model = fit_ridge(x[:150], y[:150], alpha=1.0)
    >>> round(float(np.abs(predict_ridge(model, x[150:]) - y[150:]).max()), 2)
    0.01
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from aulib.data.dataset import PreparedDataset
from aulib.data.splits import split_spec
from aulib.method.aus import MAX_INTENSITY, au_label
from aulib.method.metrics import metrics_table


def fit_ridge(features: np.ndarray, targets: np.ndarray, alpha: float = 10.0) -> dict[str, np.ndarray]:
    """Standardise ``features`` ``(n, d)`` and solve ridge regression onto ``targets`` ``(n, A)`` (with a bias)."""
    mean, std = features.mean(axis=0), features.std(axis=0) + 1e-9
    design = np.c_[(features - mean) / std, np.ones(len(features))]
    penalty = alpha * np.eye(design.shape[1])
    penalty[-1, -1] = 0.0  # the bias is not shrunk
    weights = np.linalg.solve(design.T @ design + penalty, design.T @ targets)
    return {"mean": mean, "std": std, "weights": weights}


def predict_ridge(model: dict[str, np.ndarray], features: np.ndarray) -> np.ndarray:
    """Intensities ``(n, A)`` of a :func:`fit_ridge` model, clamped to [0, 5]."""
    design = np.c_[(features - model["mean"]) / model["std"], np.ones(len(features))]
    return np.clip(design @ model["weights"], 0.0, MAX_INTENSITY)


def landmark_features(dataset: PreparedDataset) -> np.ndarray:
    """The aligned tracked landmarks of every frame, flattened: ``(n, 2·L)``."""
    return dataset.landmarks_array().reshape(len(dataset), -1).astype(np.float64)


def _fit_and_predict(data: str | os.PathLike, fold: int | None, alpha: float) -> tuple[PreparedDataset, np.ndarray]:
    everything = PreparedDataset(data)
    spec = split_spec(everything.meta["dataset"], fold)
    present = set(everything.splits.values())
    train = PreparedDataset(data, split=[name for name in (*spec.train, spec.validation) if name in present])
    test = PreparedDataset(data, split=spec.evaluation)
    labels = np.nan_to_num(train.labels_array(), nan=0.0)  # uncodeable labels are masked when scoring, not fitted
    model = fit_ridge(landmark_features(train), labels, alpha)
    return test, predict_ridge(model, landmark_features(test))


def geometry_baseline(data: str | os.PathLike, *, fold: int | None = None, alpha: float = 10.0) -> pd.DataFrame:
    """Fit ridge on the training subjects' landmarks and score it on the held-out subjects.

    Args:
        data: a prepared dataset.
        fold: DISFA's held-out fold (:func:`aulib.data.splits.split_spec`); the split specification decides the
            rest: fit on its training and validation subjects, score on its evaluation split.
        alpha: the ridge penalty.

    Returns:
        The per-AU ICC, PCC and MAE table of :func:`aulib.method.metrics.metrics_table`, with a mean row.
    """
    test, predicted = _fit_and_predict(data, fold, alpha)
    return metrics_table(test.labels_array(), predicted, test.aus)


def geometry_predictions(data: str | os.PathLike, *, fold: int | None = None, alpha: float = 10.0) -> pd.DataFrame:
    """The ridge of :func:`geometry_baseline`, per held-out frame, in the layout of a run's ``predictions.csv``
    (``subject, sequence, frame, true_AU…, pred_AU…``), so that it can be compared paired with a network."""
    test, predicted = _fit_and_predict(data, fold, alpha)
    return _prediction_table(test, predicted)


def ridge_fitted_on(train_data: str | os.PathLike, subjects: Sequence[str], test_data: str | os.PathLike, *,
                    alpha: float = 10.0) -> pd.DataFrame:
    """Ridge fitted on the named ``subjects`` of one prepared set, per held-out frame of another, in the layout of
    :func:`geometry_predictions`: geometry alone given exactly the people a network was trained on (the reference
    runs train on one set and are scored on the course set's evaluation split).

    Raises:
        ValueError: no subjects, or one that ``train_data`` does not have (:class:`PreparedDataset` names the set).
    """
    if not subjects:
        raise ValueError(f"{train_data}: no subjects given to fit the ridge on")
    train = PreparedDataset(train_data, subjects=list(subjects))
    test = PreparedDataset(test_data, split=split_spec(PreparedDataset(test_data).meta["dataset"], None).evaluation)
    model = fit_ridge(landmark_features(train), np.nan_to_num(train.labels_array(), nan=0.0), alpha)
    return _prediction_table(test, predict_ridge(model, landmark_features(test)))


def _prediction_table(test: PreparedDataset, predicted: np.ndarray) -> pd.DataFrame:
    keys = test.frames[["subject", "sequence", "frame"]].reset_index(drop=True).astype({"subject": str,
                                                                                         "sequence": str})
    truth = pd.DataFrame(test.labels_array(), columns=[f"true_{au_label(a)}" for a in test.aus])
    guess = pd.DataFrame(predicted, columns=[f"pred_{au_label(a)}" for a in test.aus])
    return pd.concat([keys, truth, guess], axis=1)
