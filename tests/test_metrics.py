"""Tests for aulib.method.metrics, checked against independent references.

References: pingouin.intraclass_corr (ICC), scipy.stats.pearsonr (PCC), plain numpy (MAE),
and the published worked example of Shrout & Fleiss (1979), Tables 2 and 3.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import pingouin_icc3
from scipy import stats

from aulib.method.metrics import icc, icc_31, mae, metrics_table, pcc, two_way_anova

# Any RuntimeWarning (division by zero, invalid value, mean of empty slice) leaking out of
# the metrics is a bug: the contract is "NaN, silently".
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

# Shrout & Fleiss (1979), Table 2: 6 targets (rows) rated by 4 judges (columns).
SHROUT_FLEISS = np.array(
    [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], dtype=float
)


@pytest.fixture(scope="module")
def pg():
    return pytest.importorskip("pingouin")


def make_data(seed: int, n: int = 60, a: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Integer 0-5 ground truth and correlated predictions with per-AU bias and scale."""
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 6, size=(n, a)).astype(float)
    scale = rng.uniform(0.3, 2.0, size=a)
    offset = rng.uniform(-2.0, 2.0, size=a)
    noise = rng.uniform(0.2, 2.0, size=a)
    y_pred = scale * y_true + offset + noise * rng.standard_normal((n, a))
    return y_true, y_pred


# --------------------------------------------------------------------------------------
# ICC against independent references
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_icc_matches_pingouin(pg, seed):
    y_true, y_pred = make_data(seed)
    got = icc(y_true, y_pred)
    assert got.shape == (y_true.shape[1],)
    for j in range(y_true.shape[1]):
        ref = pingouin_icc3(np.column_stack([y_true[:, j], y_pred[:, j]]))
        assert got[j] == pytest.approx(ref, abs=1e-9)


def test_icc_matches_two_rater_closed_form():
    # For k = 2, ICC(3,1) = 2·cov(a, b) / (var(a) + var(b)) (same ddof everywhere).
    y_true, y_pred = make_data(7, n=200, a=6)
    yt, yp = y_true - y_true.mean(0), y_pred - y_pred.mean(0)
    expected = 2 * (yt * yp).sum(0) / ((yt**2).sum(0) + (yp**2).sum(0))
    np.testing.assert_allclose(icc(y_true, y_pred), expected, rtol=0, atol=1e-12)


def test_shrout_fleiss_published_example(pg):
    # Published values (Shrout & Fleiss 1979, Tables 3 and 4), given to 2 decimals.
    assert float(icc_31(SHROUT_FLEISS)) == pytest.approx(0.71, abs=0.005)
    aov = two_way_anova(SHROUT_FLEISS)
    assert aov.n == 6 and aov.k == 4
    assert aov.bms == pytest.approx(11.24, abs=0.005)
    assert aov.jms == pytest.approx(32.49, abs=0.005)
    assert aov.ems == pytest.approx(1.02, abs=0.005)
    wms = (aov.ss_judges + aov.ss_error) / (aov.n * (aov.k - 1))  # within-target mean square
    assert wms == pytest.approx(6.26, abs=0.005)
    # And exactly, against pingouin.
    assert float(icc_31(SHROUT_FLEISS)) == pytest.approx(pingouin_icc3(SHROUT_FLEISS), abs=1e-9)


def test_anova_sums_of_squares_add_up():
    x = np.random.default_rng(3).normal(size=(30, 3, 5))
    aov = two_way_anova(x)
    np.testing.assert_allclose(aov.ss_targets + aov.ss_judges + aov.ss_error, aov.ss_total, rtol=1e-12)


def test_icc_31_vectorised_over_trailing_dims(pg):
    x = np.random.default_rng(4).normal(size=(25, 3, 2, 3)) + np.arange(3)[None, :, None, None]
    x[:, 1] += 0.8 * x[:, 0]  # make the judges correlated
    got = icc_31(x)
    assert got.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            assert got[i, j] == pytest.approx(pingouin_icc3(x[:, :, i, j]), abs=1e-9)


def test_icc_accepts_1d_input():
    y_true, y_pred = make_data(5, a=1)
    got = icc(y_true[:, 0], y_pred[:, 0])
    assert got.shape == (1,)
    assert got[0] == pytest.approx(icc(y_true, y_pred)[0], abs=1e-15)


# --------------------------------------------------------------------------------------
# PCC and MAE
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1])
def test_pcc_matches_scipy(seed):
    y_true, y_pred = make_data(seed)
    got = pcc(y_true, y_pred)
    expected = [stats.pearsonr(y_true[:, j], y_pred[:, j])[0] for j in range(y_true.shape[1])]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_mae_matches_numpy():
    y_true, y_pred = make_data(0)
    np.testing.assert_allclose(mae(y_true, y_pred), np.mean(np.abs(y_true - y_pred), axis=0), atol=1e-12)


# --------------------------------------------------------------------------------------
# Masks and NaN
# --------------------------------------------------------------------------------------
def test_masked_entries_are_ignored(pg):
    y_true, y_pred = make_data(11, n=50, a=3)
    rng = np.random.default_rng(12)
    mask = rng.random(y_true.shape) > 0.3
    # Garbage under the mask must not matter: BP4D's 9 code, huge values, NaN.
    y_true_dirty, y_pred_dirty = y_true.copy(), y_pred.copy()
    y_true_dirty[~mask] = 9.0
    y_true_dirty[~mask & (rng.random(y_true.shape) > 0.5)] = np.nan
    y_pred_dirty[~mask] = 1e6

    got_icc = icc(y_true_dirty, y_pred_dirty, mask)
    got_pcc = pcc(y_true_dirty, y_pred_dirty, mask)
    got_mae = mae(y_true_dirty, y_pred_dirty, mask)
    assert len({int(c) for c in mask.sum(0)}) > 1  # columns really have different counts
    for j in range(y_true.shape[1]):
        t, p = y_true[mask[:, j], j], y_pred[mask[:, j], j]
        assert got_icc[j] == pytest.approx(pingouin_icc3(np.column_stack([t, p])), abs=1e-9)
        assert got_pcc[j] == pytest.approx(stats.pearsonr(t, p)[0], abs=1e-12)
        assert got_mae[j] == pytest.approx(np.mean(np.abs(t - p)), abs=1e-12)


def test_nan_labels_behave_like_false_mask():
    y_true, y_pred = make_data(13, n=40, a=3)
    invalid = np.random.default_rng(14).random(y_true.shape) < 0.25
    y_true_nan = np.where(invalid, np.nan, y_true)
    y_pred_nan = np.where(invalid, np.nan, y_pred)
    for metric in (icc, pcc, mae):
        expected = metric(y_true, y_pred, ~invalid)
        np.testing.assert_array_equal(metric(y_true_nan, y_pred, None), expected)
        np.testing.assert_array_equal(metric(y_true, y_pred_nan, None), expected)
        # NaN combined with a mask: the union of both is invalid.
        np.testing.assert_array_equal(metric(y_true_nan, y_pred, np.ones_like(invalid)), expected)


def test_per_frame_mask_broadcasts_over_aus():
    y_true, y_pred = make_data(15, n=30, a=3)
    frame_ok = np.arange(30) % 4 != 0
    full = np.repeat(frame_ok[:, None], 3, axis=1)
    np.testing.assert_array_equal(icc(y_true, y_pred, frame_ok), icc(y_true, y_pred, full))


# --------------------------------------------------------------------------------------
# Edge cases
# --------------------------------------------------------------------------------------
def test_constant_columns():
    n = 10
    ramp = np.linspace(0.0, 1.0, n)
    const = np.full(n, 0.1)  # 0.1 is not exact in binary: a naive variance would be ~1e-33, not 0
    y_true = np.column_stack([const, const, ramp])
    y_pred = np.column_stack([const, const + 2.0, const])
    np.testing.assert_array_equal(np.isnan(icc(y_true, y_pred)), [True, True, False])
    np.testing.assert_array_equal(np.isnan(pcc(y_true, y_pred)), [True, True, True])
    assert np.isfinite(mae(y_true, y_pred)).all()


def test_one_constant_rater_gives_zero_icc(pg):
    # An AU absent from a test subject (constant ground truth) while the model predicts some
    # intensity: ICC(3,1) is defined (no consistency at all = 0), PCC is not.
    y_pred = np.random.default_rng(17).normal(size=20)
    y_true = np.zeros(20)
    assert icc(y_true, y_pred)[0] == pytest.approx(0.0, abs=1e-12)
    assert icc(y_true, y_pred)[0] == pytest.approx(
        pingouin_icc3(np.column_stack([y_true, y_pred])), abs=1e-9
    )
    assert np.isnan(pcc(y_true, y_pred)[0])


def test_fewer_than_two_valid_rows():
    y_true, y_pred = make_data(18, n=10, a=3)
    mask = np.zeros_like(y_true, dtype=bool)
    mask[3, 1] = True  # column 1: one valid row; column 0: none; column 2: two
    mask[[2, 7], 2] = True
    y_true[[2, 7], 2] = [1.0, 3.0]
    got_icc = icc(y_true, y_pred, mask)
    got_pcc = pcc(y_true, y_pred, mask)
    got_mae = mae(y_true, y_pred, mask)
    assert np.isnan(got_icc[:2]).all() and np.isnan(got_pcc[:2]).all()
    assert np.isnan(got_mae[0])
    assert got_mae[1] == pytest.approx(abs(y_true[3, 1] - y_pred[3, 1]))
    # Two non-tied rows: PCC is ±1 and ICC finite.
    assert abs(got_pcc[2]) == pytest.approx(1.0) and np.isfinite(got_icc[2])
    # Empty input: NaN everywhere, no warning, no exception.
    empty = np.zeros((0, 2))
    assert np.isnan(icc(empty, empty)).all() and np.isnan(pcc(empty, empty)).all()
    assert np.isnan(mae(empty, empty)).all()


def test_perfect_agreement_and_anticorrelation():
    y_true, _ = make_data(19)
    np.testing.assert_allclose(icc(y_true, y_true), 1.0, atol=1e-12)
    np.testing.assert_allclose(pcc(y_true, y_true), 1.0, atol=1e-12)
    np.testing.assert_array_equal(mae(y_true, y_true), 0.0)
    np.testing.assert_allclose(icc(y_true, 3.0 - y_true), -1.0, atol=1e-12)
    np.testing.assert_allclose(pcc(y_true, 3.0 - y_true), -1.0, atol=1e-12)


def test_consistency_ignores_offset_but_not_scale(pg):
    y_true, y_pred = make_data(20, a=3)
    base = icc(y_true, y_pred)
    # ICC(3,1) is a *consistency* measure: shifting a rater by a constant changes nothing ...
    np.testing.assert_allclose(icc(y_true, y_pred + 1.7), base, atol=1e-12)
    np.testing.assert_allclose(icc(y_true - 4.0, y_pred), base, atol=1e-12)
    # ... but a change of scale does, unlike PCC.
    scaled = icc(y_true, 2.5 * y_pred)
    assert np.all(np.abs(scaled - base) > 1e-3)
    np.testing.assert_allclose(pcc(y_true, 2.5 * y_pred), pcc(y_true, y_pred), atol=1e-12)
    for j in range(3):
        ref = pingouin_icc3(np.column_stack([y_true[:, j], 2.5 * y_pred[:, j]]))
        assert scaled[j] == pytest.approx(ref, abs=1e-9)
    # Exact scaling without noise: PCC = 1 but ICC = 2·s / (1 + s²) < 1.
    s = 2.0
    assert pcc(y_true, s * y_true)[0] == pytest.approx(1.0)
    assert icc(y_true, s * y_true)[0] == pytest.approx(2 * s / (1 + s**2), abs=1e-12)


def test_integer_and_bool_inputs():
    y_true = np.array([[0, 1], [1, 3], [2, 2], [4, 5]])
    assert icc(y_true, y_true + 1).dtype == np.float64
    np.testing.assert_allclose(icc(y_true, y_true + 1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(mae(y_true, y_true, mask=np.ones((4, 2), dtype=int)), 0.0)


# --------------------------------------------------------------------------------------
# metrics_table
# --------------------------------------------------------------------------------------
def test_metrics_table_matches_metrics():
    y_true, y_pred = make_data(21, n=40, a=3)
    mask = np.random.default_rng(22).random(y_true.shape) > 0.2
    table = metrics_table(y_true, y_pred, aus=[6, "AU12", "AU4"], mask=mask)
    assert list(table.index) == ["AU06", "AU12", "AU04", "Mean"]
    assert list(table.columns) == ["ICC", "PCC", "MAE", "N"]
    np.testing.assert_array_equal(table["ICC"].to_numpy()[:3], icc(y_true, y_pred, mask))
    np.testing.assert_array_equal(table["PCC"].to_numpy()[:3], pcc(y_true, y_pred, mask))
    np.testing.assert_array_equal(table["MAE"].to_numpy()[:3], mae(y_true, y_pred, mask))
    np.testing.assert_array_equal(table["N"].to_numpy()[:3], mask.sum(0))
    assert table["N"].dtype == np.int64
    assert table.loc["Mean", "N"] == mask.sum()
    for col in ("ICC", "PCC", "MAE"):
        assert table.loc["Mean", col] == pytest.approx(table[col].iloc[:3].mean(), abs=1e-15)


def test_metrics_table_mean_skips_nan():
    y_true, y_pred = make_data(23, n=20, a=3)
    y_true[:, 1] = 2.0  # constant AU: PCC NaN
    y_pred[:, 2] = np.nan  # no valid frame at all: everything NaN
    table = metrics_table(y_true, y_pred, aus=[1, 2, 4])
    assert np.isnan(table.loc["AU02", "PCC"]) and table.loc["AU04", "N"] == 0
    assert table.loc["Mean", "PCC"] == pytest.approx(table.loc["AU01", "PCC"])
    assert table.loc["Mean", "ICC"] == pytest.approx(table.loc[["AU01", "AU02"], "ICC"].mean())
    assert table.loc["Mean", "N"] == 40
    # All-NaN metric: Mean is NaN, without a "mean of empty slice" warning.
    all_nan = metrics_table(np.full((5, 2), np.nan), np.zeros((5, 2)), aus=[6, 12])
    assert all_nan.loc["Mean"].isna()[["ICC", "PCC", "MAE"]].all()


def test_metrics_table_checks_labels():
    y_true, y_pred = make_data(24, n=10, a=3)
    with pytest.raises(ValueError, match="2 AU labels for 3"):
        metrics_table(y_true, y_pred, aus=[6, 12])


# --------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("metric", [icc, pcc, mae])
def test_shape_mismatch_mentions_shapes(metric):
    with pytest.raises(ValueError, match=r"\(10, 3\).*\(10, 2\)"):
        metric(np.zeros((10, 3)), np.zeros((10, 2)))
    with pytest.raises(ValueError, match=r"mask.*\(10, 3\).*\(9, 3\)"):
        metric(np.zeros((10, 3)), np.zeros((10, 3)), np.ones((9, 3), dtype=bool))
    with pytest.raises(ValueError, match=r"\(4, 3, 2\)"):
        metric(np.zeros((4, 3, 2)), np.zeros((4, 3, 2)))


def test_non_numeric_and_bad_mask_rejected():
    with pytest.raises(TypeError, match="numeric"):
        icc(np.array([["a", "b"], ["c", "d"]]), np.zeros((2, 2)))
    with pytest.raises(TypeError, match="numeric"):
        pcc(np.zeros((2, 2)), np.array([[{}, 1], [2, 3]], dtype=object))
    with pytest.raises(TypeError, match="boolean"):
        mae(np.zeros((3, 2)), np.zeros((3, 2)), mask=np.full((3, 2), 0.5))


def test_icc_31_input_checks():
    with pytest.raises(ValueError, match="k=2"):
        icc_31(np.zeros((5, 1)))
    with pytest.raises(ValueError, match=r"mask.*\(6,\).*\(5,\)"):
        icc_31(SHROUT_FLEISS, mask=np.ones(5, dtype=bool))
