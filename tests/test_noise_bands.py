"""RQ3 with intervals (aulib.evaluation.noise_bands): crossings interpolated by hand, curves checked against
pingouin's ICC(3,1), bands that resample whole subjects, and the committed reference tables against the committed
metrics of the same weights."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from helpers import pingouin_icc_columns, prepared_synthau

from aulib.course.figures import noise_bands_figure
from aulib.course.reference import NOISE_BANDS, NOISE_CROSSINGS, REFERENCE_DIR, SEEDS, SIGMAS_IOD
from aulib.evaluation.noise_bands import FRACTIONS, NoisePredictions, crossing, noise_bands, noise_predictions

SIGMAS = np.array([0.0, 0.1, 0.2, 0.3, 0.4])


def test_crossing_interpolates_between_the_grid_points_around_the_first_fall():
    # clean 0.8: 90% is 0.72, between 0.76 (σ 0.1) and 0.5 (σ 0.2): 0.1 + 0.04/0.26 · 0.1
    curve = np.array([0.8, 0.76, 0.5, 0.3, 0.6])
    assert crossing(SIGMAS, curve, 0.9) == pytest.approx(0.1 + 0.1 * 0.04 / 0.26)
    assert crossing(SIGMAS, curve, 0.5) == pytest.approx(0.25)  # 0.4 lies halfway from 0.5 to 0.3
    assert crossing(SIGMAS, curve, 0.5) == crossing(SIGMAS, curve[:4], 0.5)  # the first fall; the recovery is ignored
    assert crossing(SIGMAS, curve, 0.76 / 0.8) == pytest.approx(0.1)  # landing exactly on a grid point
    assert np.isnan(crossing(SIGMAS, curve, 0.2))  # never that low inside the grid
    assert np.isnan(crossing(SIGMAS, np.array([0.0, -0.1, -0.2, -0.3, -0.4]), 0.5))  # no clean agreement to lose


def noise_study(rng, subjects: int = 8, frames: int = 12, runs: int = 2, identical: bool = False) -> NoisePredictions:
    """Predictions whose error grows with σ, for ``runs`` runs; ``identical``: every subject has the same frames."""
    truth = rng.uniform(0, 5, size=(frames, 2))
    truth = np.tile(truth, (subjects, 1)) if identical else rng.uniform(0, 5, size=(subjects * frames, 2))
    errors = rng.normal(size=(runs, 1, *truth.shape))
    if identical:
        errors = np.tile(errors[..., :frames, :], (1, 1, subjects, 1))
    predicted = np.clip(truth + errors * (0.3 + 6 * SIGMAS[None, :, None, None]), 0, 5)
    names = np.repeat([f"S{i:02d}" for i in range(subjects)], frames)
    return NoisePredictions(SIGMAS, "iod", [f"seed{r}" for r in range(runs)], truth, predicted, names, 80.0)


def test_the_curve_is_pingouins_mean_icc_averaged_over_runs(rng):
    noise = noise_study(rng)
    bands, crossings = noise_bands(noise, n_boot=100)
    per_run = np.array([[np.nanmean(pingouin_icc_columns(noise.truth, noise.predicted[r, s]))
                         for s in range(len(SIGMAS))] for r in range(2)])
    np.testing.assert_allclose(bands[["ICC seed0", "ICC seed1"]].to_numpy().T, per_run, atol=1e-9)
    np.testing.assert_allclose(bands.ICC, per_run.mean(axis=0), atol=1e-9)
    np.testing.assert_allclose(bands.sigma_px, SIGMAS * 80.0)
    assert (bands.low <= bands.ICC + 1e-12).all() and (bands.ICC <= bands.high + 1e-12).all()
    assert (bands.high - bands.low).iloc[1:].gt(0).all()  # other subjects, another curve
    # the crossings of the averaged curve, interpolated by np.interp on the falling curve (it falls monotonically)
    curve = per_run.mean(axis=0)
    assert (np.diff(curve) < 0).all()
    for row in crossings.itertuples():
        assert row.fraction == FRACTIONS[row.what]
        assert row.sigma_iod == pytest.approx(np.interp(row.fraction * curve[0], curve[::-1], SIGMAS[::-1]))
        assert row.low <= row.sigma_iod <= row.high and row.sigma_px == pytest.approx(row.sigma_iod * 80.0)
        assert (row.subjects, row.runs) == (8, 2)


def test_the_band_resamples_subjects_not_frames(rng):
    """Subjects with identical frames: any draw of 8 subjects is 8 copies of the same frames, so the curve cannot
    move and the band has no width. A frame-level bootstrap would give it one."""
    bands, crossings = noise_bands(noise_study(rng, identical=True), n_boot=100)
    np.testing.assert_allclose(bands.low, bands.ICC, atol=1e-12)
    np.testing.assert_allclose(bands.high, bands.ICC, atol=1e-12)
    np.testing.assert_allclose(crossings.low, crossings.sigma_iod, atol=1e-12)


def test_a_curve_that_never_breaks_inside_the_grid_is_open_at_the_top(rng):
    noise = noise_study(rng)
    noise.predicted = np.repeat(noise.predicted[:, :1], len(SIGMAS), axis=1)  # noise changes nothing
    bands, crossings = noise_bands(noise, n_boot=50)
    assert np.isinf(crossings.set_index("what").loc["breaks", ["sigma_iod", "high"]].astype(float)).all()
    figure = noise_bands_figure(bands, crossings)  # drawn, with the crossing said to be outside the grid
    labels = figure.axes[0].get_legend_handles_labels()[1]
    assert any("not within the grid" in label for label in labels)
    plt.close(figure)


def test_predictions_of_other_shapes_or_grids_are_refused(rng):
    noise = noise_study(rng)
    with pytest.raises(ValueError, match="expected \\(3, 5, 96, 2\\)"):
        NoisePredictions(SIGMAS, "iod", ["a", "b", "c"], noise.truth, noise.predicted, noise.subjects, 80.0)
    with pytest.raises(ValueError, match="rise from 0"):
        NoisePredictions(SIGMAS[::-1], "iod", ["a", "b"], noise.truth, noise.predicted, noise.subjects, 80.0)


def test_noise_predictions_score_every_held_out_frame_at_every_sigma(tmp_path):
    prepared = prepared_synthau(tmp_path, subjects=6, frames=8, seed=4)
    run = REFERENCE_DIR / "hourglass" / "seed0"
    noise = noise_predictions([run, run], prepared, [0.0, 0.2], progress=False)
    labels = pd.read_csv(prepared / "labels.csv")
    assert noise.predicted.shape == (2, 2, len(noise.truth), 5)
    assert 0 < len(noise.truth) < len(labels)  # the held-out split only
    np.testing.assert_array_equal(noise.predicted[0], noise.predicted[1])  # the same noise for every run
    assert not np.allclose(noise.predicted[0, 0], noise.predicted[0, 1])  # and noise moves the readouts
    assert ((noise.predicted >= 0) & (noise.predicted <= 5)).all()
    assert 40 < noise.mean_iod < 120  # SynthAU's faces in 256-pixel frames


@pytest.mark.skipif(not (REFERENCE_DIR / NOISE_BANDS).is_file(), reason="no committed noise bands")
def test_the_committed_bands_start_from_the_committed_clean_scores():
    """The band study re-aligns every frame from its landmarks; the committed metrics come from evaluate(), which
    reads the stored crops: two paths to the clean score of the same weights, equal up to resampling (2e-3)."""
    bands = pd.read_csv(REFERENCE_DIR / NOISE_BANDS)
    crossings = pd.read_csv(REFERENCE_DIR / NOISE_CROSSINGS).set_index("what")
    np.testing.assert_allclose(bands.sigma_iod, SIGMAS_IOD)
    for seed in SEEDS:
        metrics = pd.read_csv(Path(REFERENCE_DIR) / "hourglass" / f"seed{seed}" / "metrics.csv", index_col=0)
        assert bands[f"ICC seed{seed}"].iloc[0] == pytest.approx(metrics.ICC["Mean"], abs=2e-3)
    np.testing.assert_allclose(bands.ICC, bands[[f"ICC seed{s}" for s in SEEDS]].mean(axis=1), atol=1e-12)
    assert (bands.low <= bands.ICC).all() and (bands.ICC <= bands.high).all()
    clean = bands.ICC.iloc[0]
    for what, fraction in FRACTIONS.items():
        row = crossings.loc[what]
        falling = bands.ICC.to_numpy()[: int(np.argmax(bands.ICC.to_numpy() <= fraction * clean)) + 1]
        assert (np.diff(falling) < 0).all()  # np.interp below needs a falling curve up to the crossing
        expected = np.interp(fraction * clean, falling[::-1], bands.sigma_iod.to_numpy()[: len(falling)][::-1])
        assert row.sigma_iod == pytest.approx(expected)
        assert row.low <= row.sigma_iod <= row.high < bands.sigma_iod.max()  # every resample crossed in the grid
    assert crossings.loc["plateau ends", "high"] < crossings.loc["breaks", "low"]
