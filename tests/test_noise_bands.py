"""RQ3 with intervals (aulib.evaluation.noise_bands): crossings interpolated by hand, curves checked against
pingouin's ICC(3,1), bands that resample whole subjects, and the committed reference tables against the committed
metrics of the same weights."""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from helpers import pingouin_icc_columns, prepared_synthau

from aulib.course.figures import noise_bands_figure
from aulib.course.noise_study import (
    NOISE_BANDS,
    NOISE_CROSSINGS,
    NOISE_PAIRED,
    SIGMAS_IOD,
    noise_band_files,
)
from aulib.course.reference import REFERENCE_DIR, SEEDS
from aulib.evaluation.noise_bands import (
    FRACTIONS,
    NoisePredictions,
    crossing,
    noise_bands,
    noise_difference,
    noise_predictions,
)

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


def test_the_band_at_another_level_is_those_percentiles_of_pingouins_curves_on_the_seeded_draws(rng):
    # By hand: draw whole subjects as the seeded bootstrap does, average the runs' pingouin curves on each draw, and
    # take the 25th and 75th percentiles for a 50% band; it lies inside the 95% band of the same draws.
    noise = noise_study(rng, subjects=6, frames=10)
    n_boot, subjects = 30, np.unique(noise.subjects)
    half, _ = noise_bands(noise, n_boot=n_boot, level=0.5, seed=4)
    wide, _ = noise_bands(noise, n_boot=n_boot, level=0.95, seed=4)
    curves = []
    for draw in np.random.default_rng(4).integers(0, len(subjects), size=(n_boot, len(subjects))):
        frames = np.concatenate([np.flatnonzero(noise.subjects == subjects[i]) for i in draw])
        curves.append([np.mean([np.nanmean(pingouin_icc_columns(noise.truth[frames], noise.predicted[r, s][frames]))
                                for r in range(len(noise.runs))]) for s in range(len(SIGMAS))])
    low, high = np.percentile(curves, [25, 75], axis=0)
    np.testing.assert_allclose(half.low, low, atol=1e-9)
    np.testing.assert_allclose(half.high, high, atol=1e-9)
    assert (wide.low <= half.low + 1e-12).all() and (half.high <= wide.high + 1e-12).all()
    assert (half.high - half.low).iloc[1:].lt((wide.high - wide.low).iloc[1:]).all()


def test_a_curve_that_never_breaks_inside_the_grid_is_open_at_the_top(rng):
    noise = noise_study(rng)
    noise.predicted = np.repeat(noise.predicted[:, :1], len(SIGMAS), axis=1)  # noise changes nothing
    bands, crossings = noise_bands(noise, n_boot=50)
    assert np.isinf(crossings.set_index("what").loc["breaks", ["sigma_iod", "high"]].astype(float)).all()
    figure = noise_bands_figure(bands, crossings)  # drawn, with the crossing said to be outside the grid
    labels = figure.axes[0].get_legend_handles_labels()[1]
    assert any("not within the grid" in label for label in labels)
    plt.close(figure)


def test_a_bound_between_crossing_and_uncrossed_resamples_is_open_not_a_huge_number():
    # Only the first subjects lose their agreement under noise, so some resamples of subjects break inside the
    # grid and some never do; a percentile that falls between the two kinds must read "beyond the grid" (inf),
    # not a number interpolated towards the stand-in for infinity.
    subjects, frames = 8, 12
    open_top = 0
    for seed in range(4):
        rng = np.random.default_rng(seed)
        truth = rng.uniform(0, 5, size=(subjects * frames, 2))
        fragile = np.repeat(np.arange(subjects) < 7, frames)[None, None, :, None]
        growth = 0.3 + 12 * SIGMAS[None, :, None, None] * fragile
        predicted = np.clip(truth + rng.normal(size=(1, 1, *truth.shape)) * growth, 0, 5)
        names = np.repeat([f"S{i:02d}" for i in range(subjects)], frames)
        noise = NoisePredictions(SIGMAS, "iod", ["seed0"], truth, predicted, names, 80.0)
        for n_boot in (20, 40):
            breaks = noise_bands(noise, n_boot=n_boot)[1].set_index("what").loc["breaks"]
            for value in breaks[["sigma_iod", "low", "high"]].astype(float):
                assert np.isinf(value) or 0 <= value <= SIGMAS.max()
            open_top += int(np.isfinite(breaks.sigma_iod) and np.isinf(breaks.high))
    assert open_top > 0  # the case this test is about did occur


def test_the_figure_draws_another_model_with_its_band_and_crossings(rng):
    reference, other = paired_studies(rng, (8.0, 3.0))
    bands, crossings = noise_bands(reference, n_boot=50)
    other_bands, other_crossings = noise_bands(other, n_boot=50)
    figure = noise_bands_figure(bands, crossings, others=[("small Hourglass", other_bands, other_crossings)])
    ax = figure.axes[0]
    handles, labels = ax.get_legend_handles_labels()
    said = next(label for label in labels if label.startswith("small Hourglass, mean of 2 seeds, with its band"))
    plateau = other_crossings.set_index("what").loc["plateau ends"]
    assert f"plateau ends {plateau.sigma_iod:.3f} IOD [{plateau.low:.3f}, {plateau.high:.3f}]" in said
    line = handles[labels.index(said)]
    np.testing.assert_allclose(line.get_ydata(), other_bands.ICC)  # the other model's curve, not the Hourglass's
    assert any(label.startswith("Hourglass, mean of 2 seeds") for label in labels)
    assert any(label.startswith("Hourglass: breaks (50% of clean)") for label in labels)  # whose crossing it is
    figure.canvas.draw()  # the legend sits under the axes, clear of the curves
    assert ax.get_legend().get_window_extent().y1 < ax.get_window_extent().y0
    plt.close(figure)


def test_predictions_of_other_shapes_or_grids_are_refused(rng):
    noise = noise_study(rng)
    with pytest.raises(ValueError, match="expected \\(3, 5, 96, 2\\)"):
        NoisePredictions(SIGMAS, "iod", ["a", "b", "c"], noise.truth, noise.predicted, noise.subjects, 80.0)
    with pytest.raises(ValueError, match="rise from 0"):
        NoisePredictions(SIGMAS[::-1], "iod", ["a", "b"], noise.truth, noise.predicted, noise.subjects, 80.0)
    with pytest.raises(ValueError, match="96 subjects for 95 frames"):
        NoisePredictions(SIGMAS, "iod", ["a", "b"], noise.truth[:95], noise.predicted[:, :, :95], noise.subjects, 80.0)
    with pytest.raises(ValueError, match="unit must be 'iod' or 'px'; got 'IOD'"):
        NoisePredictions(SIGMAS, "IOD", ["a", "b"], noise.truth, noise.predicted, noise.subjects, 80.0)
    with pytest.raises(ValueError, match="mean_iod must be a positive"):
        NoisePredictions(SIGMAS, "px", ["a", "b"], noise.truth, noise.predicted, noise.subjects, 0.0)


def test_a_study_in_pixels_reports_its_crossings_in_iod_at_the_mean_iod(rng):
    # The same predictions with σ given in pixels of faces whose IOD is 80 px: every σ and crossing, divided by
    # 80, is the IOD study's.
    noise = noise_study(rng)
    in_px = NoisePredictions(SIGMAS * 80, "px", noise.runs, noise.truth, noise.predicted, noise.subjects, 80.0)
    bands, crossings = noise_bands(noise, n_boot=30)
    bands_px, crossings_px = noise_bands(in_px, n_boot=30)
    np.testing.assert_allclose(bands_px.sigma_iod, SIGMAS)
    np.testing.assert_allclose(bands_px.sigma_px, SIGMAS * 80)
    np.testing.assert_allclose(bands_px[["ICC", "low", "high"]], bands[["ICC", "low", "high"]])
    np.testing.assert_allclose(crossings_px[["sigma_iod", "low", "high"]], crossings[["sigma_iod", "low", "high"]])
    np.testing.assert_allclose(crossings_px.sigma_px, crossings.sigma_iod * 80)
    assert np.isfinite(crossings_px.set_index("what").loc["plateau ends", "sigma_iod"])  # a crossing was compared
    other = NoisePredictions(in_px.sigmas, "px", noise.runs, noise.truth, np.clip(noise.predicted * 1.1, 0, 5),
                             noise.subjects, 80.0)
    table_px = noise_difference(in_px, other, n_boot=30).set_index("what")
    other_iod = NoisePredictions(SIGMAS, "iod", noise.runs, noise.truth, other.predicted, noise.subjects, 80.0)
    table = noise_difference(noise, other_iod, n_boot=30).set_index("what")
    columns = ["reference", "other", "difference", "low", "high"]
    for what in FRACTIONS:  # crossings NaN in both where a curve does not cross inside the grid
        np.testing.assert_allclose(table_px.loc[what, columns].astype(float), table.loc[what, columns].astype(float))


def paired_studies(rng, growths: tuple[float, float], subjects: int = 10, frames: int = 12,
                   identical: bool = False) -> tuple[NoisePredictions, NoisePredictions]:
    """Two models (two runs each) scored on the same frames: the same clean errors, growing with σ by
    ``growths[0]`` and ``growths[1]``; ``identical``: every subject has the same frames and errors."""
    base = noise_study(rng, subjects=subjects, frames=frames, identical=identical)
    errors = rng.normal(size=(2, 1, frames, 2))
    errors = np.tile(errors, (1, 1, subjects, 1)) if identical else rng.normal(size=(2, 1, *base.truth.shape))

    def model(growth: float) -> NoisePredictions:
        predicted = np.clip(base.truth + errors * (0.3 + growth * SIGMAS[None, :, None, None]), 0, 5)
        return NoisePredictions(SIGMAS, "iod", base.runs, base.truth, predicted, base.subjects, 80.0)

    return model(growths[0]), model(growths[1])


def test_the_paired_difference_is_pingouins_curves_subtracted(rng):
    reference, other = paired_studies(rng, (8.0, 3.0))
    table = noise_difference(reference, other, n_boot=200)

    def curve(study: NoisePredictions) -> np.ndarray:  # runs averaged, pingouin's ICC(3,1) per AU
        return np.array([np.mean([np.nanmean(pingouin_icc_columns(study.truth, study.predicted[r, s]))
                                  for r in range(2)]) for s in range(len(SIGMAS))])

    expected_reference, expected_other = curve(reference), curve(other)
    icc_rows = table[table.what == "ICC"]
    np.testing.assert_allclose(icc_rows.sigma_iod, SIGMAS)
    np.testing.assert_allclose(icc_rows.reference, expected_reference, atol=1e-9)
    np.testing.assert_allclose(icc_rows.other, expected_other, atol=1e-9)
    np.testing.assert_allclose(icc_rows.difference, expected_other - expected_reference, atol=1e-9)
    assert icc_rows.difference.iloc[0] == 0 and icc_rows.verdict.iloc[0] == "level"  # the same clean errors
    assert (icc_rows.verdict.iloc[2:] == "better").all()  # errors that grow slower under noise
    assert (icc_rows.resamples == 200).all() and (table.subjects == 10).all()
    for what, fraction in FRACTIONS.items():
        row = table.set_index("what").loc[what]
        by_hand = [np.interp(fraction * c[0], c[::-1], SIGMAS[::-1]) for c in (expected_reference, expected_other)]
        if np.isnan(row.other):  # the robust model may not lose half its ICC inside this short grid
            assert what == "breaks" and row.verdict == "not crossed inside the grid"
            continue
        assert (row.reference, row.other) == pytest.approx(tuple(by_hand))
        assert row.difference == pytest.approx(by_hand[1] - by_hand[0])
        assert row.low <= row.difference <= row.high and row.verdict == "later"


def test_the_paired_difference_resamples_subjects_and_swaps_sign(rng):
    reference, other = paired_studies(rng, (8.0, 3.0), identical=True)
    table = noise_difference(reference, other, n_boot=100)
    finite = table.dropna(subset=["difference"])
    np.testing.assert_allclose(finite.low, finite.difference, atol=1e-12)  # every draw: the same frames
    np.testing.assert_allclose(finite.high, finite.difference, atol=1e-12)
    reference, other = paired_studies(rng, (8.0, 3.0))
    forward, backward = noise_difference(reference, other, n_boot=100), noise_difference(other, reference, n_boot=100)
    np.testing.assert_allclose(backward.difference, -forward.difference)
    np.testing.assert_allclose(backward.low, -forward.high, atol=1e-12)  # the same draws, mirrored
    same = noise_difference(reference, reference, n_boot=50)
    assert (same.difference.dropna() == 0).all() and (same.verdict.dropna() == "level").all()
    finite_same = same.dropna(subset=["difference"])
    assert (finite_same.low == 0).all() and (finite_same.high == 0).all()  # each draw scores both on one sample


def test_the_paired_interval_is_the_percentiles_of_differences_on_the_same_draws(rng):
    # By hand: draw whole subjects as the seeded bootstrap does, score both models on the frames of that one draw
    # with pingouin, subtract, and take the 2.5th and 97.5th percentiles. Two intervals computed apart and
    # subtracted would be far wider, since the subjects that are hard for one model are hard for the other.
    reference, other = paired_studies(rng, (8.0, 3.0))
    n_boot, subjects = 20, np.unique(reference.subjects)
    table = noise_difference(reference, other, n_boot=n_boot, seed=3)
    draws = np.random.default_rng(3).integers(0, len(subjects), size=(n_boot, len(subjects)))

    def curve(study: NoisePredictions, frames: np.ndarray) -> np.ndarray:
        return np.array([np.mean([np.nanmean(pingouin_icc_columns(study.truth[frames], study.predicted[r, s][frames]))
                                  for r in range(len(study.runs))]) for s in range(len(SIGMAS))])

    differences = []
    for draw in draws:
        frames = np.concatenate([np.flatnonzero(reference.subjects == subjects[i]) for i in draw])
        differences.append(curve(other, frames) - curve(reference, frames))
    low, high = np.percentile(differences, [2.5, 97.5], axis=0)
    icc_rows = table[table.what == "ICC"]
    np.testing.assert_allclose(icc_rows.low, low, atol=1e-9)
    np.testing.assert_allclose(icc_rows.high, high, atol=1e-9)


def test_a_paired_difference_of_other_studies_is_refused(rng):
    reference, other = paired_studies(rng, (8.0, 3.0))
    shorter = NoisePredictions(SIGMAS[:3], "iod", other.runs, other.truth, other.predicted[:, :3], other.subjects, 80.0)
    with pytest.raises(ValueError, match="other σ grids"):
        noise_difference(reference, shorter)
    moved = NoisePredictions(SIGMAS, "iod", other.runs, other.truth + 1, other.predicted, other.subjects, 80.0)
    with pytest.raises(ValueError, match="other frames"):
        noise_difference(reference, moved)


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
    # the frames are the test subjects' by meta.json's split, each subject's frames with their labels.csv labels
    splits = json.loads((prepared / "meta.json").read_text())["splits"]
    test = sorted(subject for subject, split in splits.items() if split == "test")
    held = labels[labels.subject.astype(str).isin(test)]
    assert sorted(set(noise.subjects)) == test and len(noise.subjects) == len(held) == len(noise.truth)
    counts = pd.Series(noise.subjects).value_counts().sort_index()
    assert counts.to_dict() == held.subject.astype(str).value_counts().sort_index().to_dict()
    columns = [c for c in labels.columns if c.startswith("AU")]
    assert len(columns) == 5
    np.testing.assert_allclose(np.sort(noise.truth, axis=0), np.sort(held[columns].to_numpy(float), axis=0))


def test_build_noise_bands_pairs_each_run_with_weights_and_leaves_out_the_others(tmp_path, capsys):
    import shutil

    from aulib.course.noise_study import build_noise_bands

    prepared = prepared_synthau(tmp_path, subjects=6, frames=8, seed=4)
    reference = tmp_path / "reference"
    shutil.copytree(REFERENCE_DIR / "hourglass" / "seed0", reference / "hourglass" / "seed0")
    bands, _, paired = build_noise_bands(reference, prepared, [0], sigmas=[0.0, 0.3], n_boot=20,
                                         progress=False)
    assert paired.empty and not (reference / NOISE_PAIRED).exists()
    assert "hourglass-small left out" in capsys.readouterr().out
    assert (reference / NOISE_BANDS).is_file() and list(bands.sigma_iod) == [0.0, 0.3]
    # the Hourglass's own weights under the small's name: the same predictions, so no difference at all
    shutil.copytree(REFERENCE_DIR / "hourglass" / "seed0", reference / "hourglass-small" / "seed0")
    bands, _, paired = build_noise_bands(reference, prepared, [0], sigmas=[0.0, 0.3], n_boot=20, progress=False)
    small_bands, _ = (pd.read_csv(f) for f in noise_band_files(reference, "hourglass-small"))
    np.testing.assert_allclose(small_bands.ICC, bands.ICC)
    assert set(paired.run) == {"hourglass-small"} and list(paired.what) == ["ICC", "ICC", *FRACTIONS]
    assert (paired.difference.dropna() == 0).all() and (paired[paired.what == "ICC"].verdict == "level").all()
    finite = paired.dropna(subset=["difference"])
    assert (finite.low == 0).all() and (finite.high == 0).all()
    assert pd.read_csv(reference / NOISE_PAIRED).columns[0] == "run"


def test_build_noise_bands_names_what_it_lacks(tmp_path):
    from aulib.course.noise_study import build_noise_bands

    with pytest.raises(ValueError, match="add 'hourglass' to runs \\['hourglass-small'\\]"):
        build_noise_bands(tmp_path, tmp_path, [0], runs=["hourglass-small"])
    (tmp_path / "hourglass" / "seed0").mkdir(parents=True)
    (tmp_path / "hourglass" / "seed0" / "best.pt").touch()
    with pytest.raises(FileNotFoundError, match=re.escape(f"no weights in {tmp_path / 'hourglass' / 'seed1'}: train")):
        build_noise_bands(tmp_path, tmp_path, [0, 1])


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


# SynthAU v2's reference runs, and SynthAU-3D's trained and scored on dlib's landmarks
PAIRED_NOISE_FOLDERS = (REFERENCE_DIR, REFERENCE_DIR.parent / "reference-3d-dlib")


@pytest.mark.parametrize("folder", PAIRED_NOISE_FOLDERS, ids=lambda folder: folder.name)
def test_the_committed_paired_noise_study_subtracts_the_committed_bands(folder):
    """Each side of ``noise_paired.csv`` is the curve and crossings that the model's own band tables hold, and the
    difference's interval holds the difference."""
    if not (folder / NOISE_PAIRED).is_file():
        pytest.skip(f"no committed paired noise study in {folder}")
    paired = pd.read_csv(folder / NOISE_PAIRED)
    hourglass, hourglass_crossings = (pd.read_csv(f) for f in noise_band_files(folder, "hourglass"))
    for run, rows in paired.groupby("run"):
        bands, crossings = (pd.read_csv(f) for f in noise_band_files(folder, run))
        for seed in SEEDS:
            metrics = pd.read_csv(folder / run / f"seed{seed}" / "metrics.csv", index_col=0)
            assert bands[f"ICC seed{seed}"].iloc[0] == pytest.approx(metrics.ICC["Mean"], abs=2e-3)
        icc_rows = rows[rows.what == "ICC"]
        np.testing.assert_allclose(icc_rows.reference, hourglass.ICC, atol=1e-9)
        np.testing.assert_allclose(icc_rows.other, bands.ICC, atol=1e-9)
        for what in FRACTIONS:
            row = rows.set_index("what").loc[what]
            assert row.reference == pytest.approx(hourglass_crossings.set_index("what").sigma_iod[what])
            assert row.other == pytest.approx(crossings.set_index("what").sigma_iod[what])
        assert ((rows.low <= rows.difference + 1e-12) & (rows.difference <= rows.high + 1e-12)).all()
        np.testing.assert_allclose(rows.difference, rows.other - rows.reference, atol=1e-9)
        for row in rows.itertuples():  # the course's rule: level when the interval covers 0
            up, down = ("better", "worse") if row.what == "ICC" else ("later", "earlier")
            assert row.verdict == ("level" if row.low <= 0 <= row.high else up if row.low > 0 else down)
        assert (rows.resamples > 0.99 * rows.resamples.max()).all()  # nearly every resample crossed in the grid
