"""The geometry-alone baseline (ridge regression on aligned landmarks) against an independent least-squares solution."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import prepared_synthau

from aulib.data.dataset import PreparedDataset
from aulib.evaluation.geometry import fit_ridge, geometry_baseline, landmark_features, predict_ridge
from aulib.method.metrics import icc


def test_ridge_solves_the_regularised_least_squares_problem():
    # Ridge is least squares on the data stacked over sqrt(alpha)·I rows (the bias column unpenalised): solved here
    # by numpy's lstsq, a different algorithm from the normal equations of fit_ridge.
    rng = np.random.default_rng(1)
    features, targets, alpha = rng.normal(size=(80, 6)) * [1, 2, 3, 4, 5, 6] + 3, rng.normal(size=(80, 2)), 7.0
    model = fit_ridge(features, targets, alpha)
    z = (features - features.mean(0)) / (features.std(0) + 1e-9)
    stacked = np.r_[np.c_[z, np.ones(80)], np.c_[np.sqrt(alpha) * np.eye(6), np.zeros(6)]]
    solution = np.linalg.lstsq(stacked, np.r_[targets, np.zeros((6, 2))], rcond=None)[0]
    np.testing.assert_allclose(model["weights"], solution, atol=1e-10)
    assert predict_ridge(model, features).min() >= 0 and predict_ridge(model, features).max() <= 5


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return prepared_synthau(tmp_path_factory.mktemp("geometry"), subjects=12, frames=16, seed=4)


def test_geometry_baseline_scores_the_test_subjects_from_their_landmarks(prepared):
    table = geometry_baseline(prepared)
    assert list(table.index) == ["AU06", "AU10", "AU12", "AU14", "AU17", "Mean"]
    train, test = PreparedDataset(prepared, split=["train", "val"]), PreparedDataset(prepared, split="test")
    model = fit_ridge(landmark_features(train), train.labels_array(), 10.0)
    expected = icc(test.labels_array(), predict_ridge(model, landmark_features(test)))
    np.testing.assert_allclose(table.ICC.iloc[:-1].to_numpy(), expected, atol=1e-12)
    assert (table.N.iloc[:-1] == len(test)).all()
