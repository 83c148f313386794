"""The geometry-alone baseline (ridge regression on aligned landmarks) against an independent least-squares solution."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import prepared_synthau

from aulib.data.dataset import PreparedDataset
from aulib.evaluation.geometry import fit_ridge, geometry_baseline, predict_ridge


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
    # Rebuilt with other libraries: scikit-learn's Ridge on the standardised landmarks (intercept unpenalised, as in
    # fit_ridge), predictions clamped to the 0–5 scale, and pingouin's ICC(3,1).
    from helpers import pingouin_icc_columns
    from sklearn.linear_model import Ridge

    table = geometry_baseline(prepared)
    assert list(table.index) == ["AU06", "AU10", "AU12", "AU14", "AU17", "Mean"]
    train, test = PreparedDataset(prepared, split=["train", "val"]), PreparedDataset(prepared, split="test")
    features = train.landmarks_array().reshape(len(train), -1).astype(np.float64)
    mean, std = features.mean(0), features.std(0) + 1e-9
    ridge = Ridge(alpha=10.0).fit((features - mean) / std, np.nan_to_num(train.labels_array()))
    held_out = test.landmarks_array().reshape(len(test), -1).astype(np.float64)
    predicted = np.clip(ridge.predict((held_out - mean) / std), 0, 5)
    np.testing.assert_allclose(table.ICC.iloc[:-1].to_numpy(), pingouin_icc_columns(test.labels_array(), predicted),
                               atol=1e-6)
    assert (table.N.iloc[:-1] == len(test)).all()
    # the same ridge, frame by frame, for paired comparisons: scikit-learn's predictions, keyed by frame
    from aulib.evaluation.geometry import geometry_predictions

    frames = geometry_predictions(prepared)
    assert frames[["subject", "sequence", "frame"]].astype(str).equals(
        test.frames[["subject", "sequence", "frame"]].astype(str).reset_index(drop=True))
    np.testing.assert_allclose(frames.filter(like="pred_").to_numpy(), predicted, atol=1e-6)
    np.testing.assert_array_equal(frames.filter(like="true_").to_numpy(), test.labels_array())


def test_ridge_fitted_on_named_people_refuses_unknown_or_no_people(prepared):
    from aulib.evaluation.geometry import ridge_fitted_on

    with pytest.raises(ValueError, match=r"Unknown subject\(s\) \['nobody'\] in .*"):
        ridge_fitted_on(prepared, ["nobody"], prepared)
    with pytest.raises(ValueError, match="no subjects given to fit the ridge on"):
        ridge_fitted_on(prepared, [], prepared)
