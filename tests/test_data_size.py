"""The training-set-size regime (aulib.course.data_size): fewer subjects, as many updates, in fp32, paired with the
committed full-size runs; checked against hand counts and against pingouin on the files it wrote."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import pingouin_mean_icc

from aulib.course.data_size import build_data_size_regime
from aulib.course.reference import ROOT, prepare_sets
from aulib.evaluation.geometry import geometry_predictions


def sklearn_ridge_icc(train_prepared, people, course_prepared) -> float:
    """Mean ICC (pingouin) of scikit-learn's ridge (alpha 10, standardised landmarks, unpenalised intercept, clamped
    to 0-5) fitted on ``people`` and scored on the course set's test subjects."""
    from helpers import pingouin_icc_columns
    from sklearn.linear_model import Ridge

    from aulib.data.dataset import PreparedDataset

    train = PreparedDataset(train_prepared, subjects=people)
    test = PreparedDataset(course_prepared, split="test")
    features = train.landmarks_array().reshape(len(train), -1).astype(np.float64)
    mean, std = features.mean(0), features.std(0) + 1e-9
    model = Ridge(alpha=10.0).fit((features - mean) / std, np.nan_to_num(train.labels_array()))
    held_out = (test.landmarks_array().reshape(len(test), -1) - mean) / std
    return float(np.nanmean(pingouin_icc_columns(test.labels_array(), np.clip(model.predict(held_out), 0, 5))))


def test_fewer_subjects_train_as_many_steps_and_are_paired_at_every_size(tmp_path, rng):
    course = {"SUBJECTS": 12, "FRAMES": 8, "DIFFICULTY": "default", "SEED": 0}
    train_prepared, course_prepared = prepare_sets(tmp_path / "work", course, progress=False)
    splits = json.loads((train_prepared / "meta.json").read_text())["splits"]
    n_train = sum(name == "train" for name in splits.values())
    assert n_train > 3
    # the committed full-size fp32 runs of seed 0, stood in by noisy truths on the course set's test frames
    template = geometry_predictions(course_prepared)
    labels = [c.removeprefix("true_") for c in template.columns if c.startswith("true_")]
    truth = template[[f"true_{x}" for x in labels]].to_numpy()
    full = {"hourglass": tmp_path / "controls" / "hourglass-fp32" / "seed0",
            "hourglass-direct": tmp_path / "reference" / "hourglass-direct" / "seed0"}
    full_steps = n_train * 8 // 32  # n_train subjects × 8 frames in batches of 32, one epoch
    for folder, noise in zip(full.values(), (0.4, 1.0), strict=True):
        folder.mkdir(parents=True)
        pd.DataFrame({"epoch": [1], "step": [full_steps]}).to_csv(folder / "training.csv", index=False)
        predicted = np.clip(truth + rng.normal(0, noise, truth.shape), 0, 5)
        template.assign(**{f"pred_{x}": predicted[:, a] for a, x in enumerate(labels)}).to_csv(
            folder / "predictions.csv.gz", index=False)

    def build():
        return build_data_size_regime(work=tmp_path / "work", out=tmp_path / "regime", subjects=[3], seeds=[0],
                                      epochs=1, n_boot=200, course=course, reference_dir=tmp_path / "reference",
                                      controls_dir=tmp_path / "controls", progress=False)

    paired = build().set_index("train_subjects")
    assert full_steps >= 2  # and 3 subjects' 24 frames make 1 step a pass
    assert list(paired.index) == [3, n_train]
    assert paired.loc[3, "train_frames"] == 24 and paired.loc[n_train, "train_frames"] == n_train * 8
    for run in ("hourglass", "hourglass-direct"):
        folder = tmp_path / "regime" / run / "subjects3" / "seed0"
        config = json.loads((folder / "config.json").read_text())
        assert (config["train_subjects"], config["precision"], config["max_steps"], config["epochs"]) == \
            (3, "fp32", full_steps, full_steps)
        assert config["model"] == {"hourglass": "tiny", "hourglass-direct": "tiny-direct"}[run]
        assert pd.read_csv(folder / "training.csv").step.iloc[-1] == full_steps  # as many updates as the full run
    for n, paths in ((3, {run: tmp_path / "regime" / run / "subjects3" / "seed0" for run in full}), (n_train, full)):
        hourglass = pingouin_mean_icc(paths["hourglass"] / "predictions.csv.gz")
        pooled = pingouin_mean_icc(paths["hourglass-direct"] / "predictions.csv.gz")
        row = paired.loc[n]
        assert row.hourglass_icc == pytest.approx(hourglass, abs=1e-9)
        assert row.difference == pytest.approx(pooled - hourglass, abs=1e-9)
        assert row.low <= row.difference <= row.high
        assert row.verdict == ("level" if row.low <= 0 <= row.high else "better" if row.low > 0 else "worse")
        assert row.test_subjects == template.subject.nunique() and row.steps == full_steps
        # geometry alone on exactly these training people: scikit-learn's ridge, scored by pingouin
        people = sorted(s for s, name in splits.items() if name == "train")[:n]
        ridge = sklearn_ridge_icc(train_prepared, people, course_prepared)
        assert row.ridge_icc == pytest.approx(ridge, abs=1e-6)
        assert row.over_ridge == pytest.approx(hourglass - ridge, abs=1e-6)
        assert row.over_ridge_low <= row.over_ridge <= row.over_ridge_high
    provenance = json.loads((tmp_path / "regime" / "provenance.json").read_text())
    assert provenance["subjects"] == [3, n_train] and provenance["steps"] == full_steps
    assert {"hourglass/subjects3/seed0", "hourglass-direct/subjects3/seed0"} <= set(provenance["seconds"])
    # a second call trains nothing and gives the same table
    weights = tmp_path / "work" / "runs-data-size" / "subjects3" / "seed0" / "hourglass" / "best.pt"
    stamp = weights.stat().st_mtime_ns
    pd.testing.assert_frame_equal(build().set_index("train_subjects"), paired)
    assert weights.stat().st_mtime_ns == stamp
    # a command for another size adds its rows and keeps the earlier size's, and the provenance keeps its history
    more = build_data_size_regime(work=tmp_path / "work", out=tmp_path / "regime", subjects=[4], seeds=[0], epochs=1,
                                  n_boot=200, course=course, reference_dir=tmp_path / "reference",
                                  controls_dir=tmp_path / "controls", progress=False).set_index("train_subjects")
    assert list(more.index) == [3, 4, n_train]
    pd.testing.assert_series_equal(more.loc[3], paired.loc[3])
    assert more.loc[4, "train_frames"] == 32 and weights.stat().st_mtime_ns == stamp
    provenance = json.loads((tmp_path / "regime" / "provenance.json").read_text())
    assert provenance["subjects"] == [3, 4, n_train] and len(provenance["earlier"]) == 2
    assert {"hourglass/subjects3/seed0", "hourglass/subjects4/seed0"} <= set(provenance["seconds"])
    # a full-size run of another recipe is refused, by name
    pd.DataFrame({"epoch": [1], "step": [999]}).to_csv(full["hourglass-direct"] / "training.csv", index=False)
    with pytest.raises(ValueError, match=f"hourglass-direct/seed0/training.csv: 999 updates, not the {full_steps}"):
        build()


@pytest.mark.parametrize(("renderer", "precision"), [("2d", "fp32"), ("3d", "auto")])
def test_the_committed_regime_recomputes_from_its_predictions(renderer, precision):
    """RESULTS.md's regime tables (models/reference-data-size/paired.csv and its SynthAU-3D twin): each mean ICC and
    difference recomputed with pingouin from the committed per-frame predictions, each row's training frames and
    updates by hand, and the full-size rows read from the renderer's own committed runs."""
    from aulib.course.data_size import DATA_SIZE_3D_DIR, DATA_SIZE_DIR, REFERENCE_3D_DIR, full_size_runs
    from aulib.course.reference import REFERENCE_DIR

    folder = DATA_SIZE_3D_DIR if renderer == "3d" else DATA_SIZE_DIR
    paired = pd.read_csv(folder / "paired.csv")
    assert json.loads((folder / "provenance.json").read_text())["renderer"] == renderer
    assert sorted(paired.train_subjects.unique()) == [10, 30, 102]
    for row in paired.itertuples():
        if row.train_subjects == 102:
            paths = full_size_runs(row.seed, REFERENCE_3D_DIR if renderer == "3d" else REFERENCE_DIR,
                                   renderer=renderer)
            if renderer == "3d":  # the SynthAU-3D reference runs themselves
                assert paths["hourglass"] == REFERENCE_3D_DIR / "hourglass" / f"seed{row.seed}"
        else:
            paths = smaller_runs(folder, row, precision, 1224)
        for path in paths.values():  # 102 subjects × 48 frames in batches of 32, 8 epochs: 153 × 8 updates
            assert pd.read_csv(path / "training.csv").step.iloc[-1] == 1224 == row.steps
        assert row.train_frames == 48 * row.train_subjects
        assert_row_recomputes(row, paths)


def smaller_runs(folder, row, precision: str, steps: int) -> dict:
    """The committed Hourglass and pooled head of a regime row on fewer people, each config checked: that many
    training people, the regime's precision and as many updates as the full-size runs."""
    paths = {run: folder / run / f"subjects{row.train_subjects}" / f"seed{row.seed}"
             for run in ("hourglass", "hourglass-direct")}
    for path in paths.values():
        config = json.loads((path / "config.json").read_text())
        assert (config["train_subjects"], config["precision"], config["max_steps"]) == \
            (row.train_subjects, precision, steps)
    return paths


def assert_row_recomputes(row, paths: dict) -> None:
    """A committed regime row's ICCs and differences, recomputed with pingouin from the per-frame predictions of
    ``paths`` (its Hourglass and pooled head), on the course set's 30 test subjects."""
    hourglass = pingouin_mean_icc(paths["hourglass"] / "predictions.csv.gz")
    pooled = pingouin_mean_icc(paths["hourglass-direct"] / "predictions.csv.gz")
    assert row.hourglass_icc == pytest.approx(hourglass, abs=1e-6)
    assert row.pooled_icc == pytest.approx(pooled, abs=1e-6)
    assert row.difference == pytest.approx(pooled - hourglass, abs=1e-6)
    assert row.low <= row.difference <= row.high and row.test_subjects == 30
    # geometry alone (fitted on the same people; checked against scikit-learn where the sets are built above)
    assert row.over_ridge == pytest.approx(hourglass - row.ridge_icc, abs=1e-6)
    assert row.over_ridge_low <= row.over_ridge <= row.over_ridge_high
    assert row.over_ridge_verdict == ("level" if row.over_ridge_low <= 0 <= row.over_ridge_high else
                                      "better" if row.over_ridge_low > 0 else "worse")


def test_the_regime_on_dlibs_landmarks_recomputes_and_pairs_with_the_runs_trained_on_them():
    """models/reference-3d-dlib-data-size (RESULTS.md's synthau3d-dlib-data-size table): each mean ICC and difference
    recomputed with pingouin from the committed per-frame predictions; the smaller runs in fp32 with as many updates
    as the full-size runs on dlib's landmarks (models/reference-3d-dlib: 1,088, since dlib found the face in fewer
    frames than 4,896), which are the full-size rows; and the provenance names the landmarks, so that only a course
    prepared with dlib shows it (aulib.course.pipeline.reference_applies)."""
    from aulib.course.data_size import full_size_runs, regime_folders

    folder, reference = regime_folders("3d", "dlib")
    if not (folder / "paired.csv").is_file():
        pytest.skip("the regime on dlib's landmarks is not committed")
    assert reference == ROOT / "models" / "reference-3d-dlib"
    provenance = json.loads((folder / "provenance.json").read_text())
    assert (provenance["renderer"], provenance["landmarks"], provenance["precision"]) == ("3d", "dlib", "fp32")
    paired = pd.read_csv(folder / "paired.csv")
    full_steps = int(pd.read_csv(reference / "hourglass" / "seed0" / "training.csv").step.iloc[-1])
    assert full_steps == 1088 and set(paired.steps) == {full_steps} and set(paired.test_subjects) == {30}
    assert sorted(paired.train_subjects.unique()) == [10, 30, 102]
    with pytest.raises(ValueError, match="SynthAU-3D's: give renderer='3d'"):
        regime_folders("2d", "dlib")
    for row in paired.itertuples():
        if row.train_subjects == 102:
            paths = full_size_runs(row.seed, reference, renderer="3d")
            assert paths["hourglass"] == reference / "hourglass" / f"seed{row.seed}"
        else:
            paths = smaller_runs(folder, row, "fp32", full_steps)
            for path in paths.values():  # trained on the set prepared with dlib's landmarks
                assert "dlib" in json.loads((path / "config.json").read_text())["data"]
        for path in paths.values():
            assert pd.read_csv(path / "training.csv").step.iloc[-1] == full_steps
        assert row.train_frames < 48 * row.train_subjects  # the frames where dlib found the face
        assert_row_recomputes(row, paths)
