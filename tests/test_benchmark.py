"""The real-face benchmark: the London set as shipped, the pair logic on hand-made tables, the bootstrap against
SciPy, and ``aulib benchmark real`` against the committed readings of the reference Hourglasses."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import stats

from aulib.course.reference import COURSE_REFERENCE_DIR, REFERENCE_DIR, london_readings, reference_model_name
from aulib.data import london
from aulib.method.bootstrap import bootstrap, paired_bootstrap, share_higher, wilson_interval
from aulib.predict import predict
from aulib.predict.benchmark import (
    anchor_readings,
    group_table,
    pair_table,
    paired_model_difference,
    read_photos,
    split_summary,
    summarise,
)

AUS = ["AU06", "AU12"]


def readings_of(models: dict[str, tuple[list[float], list[float]]], aus=("AU12",)) -> pd.DataFrame:
    """A readings table from {model: (neutral AU12s, smiling AU12s)} for people 001, 002, …"""
    rows = []
    for model, (neutral, smiling) in models.items():
        for k, (n, s) in enumerate(zip(neutral, smiling, strict=True)):
            for condition, value in (("neutral", n), ("smiling", s)):
                rows.append({"model": model, "face_id": f"{k + 1:03d}", "condition": condition, "status": "ok",
                             **dict.fromkeys(aus, value)})
    return pd.DataFrame(rows)


# -- the data as shipped ----------------------------------------------------------------------------------------


def test_the_set_ships_with_its_licence_and_attribution():
    licence = (london.FOLDER / "LICENSE.md").read_text()
    assert "CC BY 4.0" in licence and "Attribution 4.0 International" in licence
    readme = (london.FOLDER / "README.md").read_text()
    for needed in ("DeBruine", "Jones", "10.6084/m9.figshare.5047666.v5", "CC BY 4.0", "consent",
                   "640×640", "quality 90"):
        assert needed in readme, needed


def test_a_wheel_ships_the_photos_their_licence_and_the_webcam_view(tmp_path):
    # pip users get the benchmark and the live view: build the wheel as pip would and look inside
    import zipfile

    root = london.FOLDER.parents[2]
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(root), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path)], check=True, capture_output=True)
    names = zipfile.ZipFile(next(tmp_path.glob("aulib-*.whl"))).namelist()
    photos = [n for n in names if n.startswith("aulib/data/london/photos/") and n.endswith(".jpg")]
    assert len(photos) == 204
    for needed in ("aulib/data/london/LICENSE.md", "aulib/data/london/README.md", "aulib/data/london/info.csv",
                   "aulib/data/london/split.csv", "aulib/data/london/anchor_mediapipe.csv", "aulib/course/webcam.js",
                   "aulib/course/webcam.css"):
        assert needed in names, needed


def test_every_person_has_a_neutral_and_a_smiling_640_pixel_photo():
    people = london.london_people()
    assert len(people) == 102 and people.index.is_unique
    assert people.gender.value_counts().to_dict() == {"male": 53, "female": 49}  # london_info.csv's counts
    assert people.age.isna().sum() == 2 and people.age.min() == 18 and people.age.max() == 54
    photos = sorted(london.PHOTOS.glob("*.jpg"))
    assert len(photos) == 204
    for face_id in people.index[::17]:
        for condition in london.CONDITIONS:
            with Image.open(london.london_photo(face_id, condition)) as image:
                assert image.size == (640, 640) and image.mode == "RGB"
    with pytest.raises(FileNotFoundError, match="no such London photo"):
        london.london_photo("015", "neutral")  # ids run 001–173 with gaps
    with pytest.raises(ValueError, match="condition must be one of"):
        london.london_photo("001", "sad")


def test_the_split_is_a_stratified_third_by_person():
    people = london.london_people()
    counts = people.split.value_counts()
    assert counts["dev"] == 34 and counts["test"] == 68
    for (gender, ethnicity), group in people.groupby(["gender", "ethnicity"]):
        dev = (group.split == "dev").sum()
        assert abs(dev - len(group) / 3) < 1, (gender, ethnicity, dev, len(group))
    # the committed file is what make_split gives: anyone can rebuild it, and nobody edited it by hand
    assert (london.make_split(london.read_info()) == people.split).all()
    assert (london.make_split(london.read_info(), seed=1) != people.split).any()  # the seed matters


def test_bad_tables_are_refused_with_the_file_and_value(tmp_path):
    bad = tmp_path / "split.csv"
    bad.write_text("face_id,split\n001,train\n")
    with pytest.raises(ValueError, match=r"split.csv: column 'split' has \['train'\]"):
        london.read_split(bad)
    info = tmp_path / "info.csv"
    info.write_text("face_id,age,gender,ethnicity\n001,twenty,female,white\n")
    with pytest.raises(ValueError, match=r"info.csv: column 'age' is not a number for face_id \['001'\]"):
        london.read_info(info)


# -- the pair logic on hand-made tables ----------------------------------------------------------------------------


def test_a_model_that_reads_the_smile_higher_scores_everything_and_a_constant_model_nothing():
    readings = readings_of({"always higher": ([0.1, 0.5, 2.0, 1.0], [0.2, 3.0, 2.5, 4.0]),
                            "constant": ([1.0] * 4, [1.0] * 4),
                            "one tie, one missing face": ([0.0, 1.0, 2.0, 1.0], [1.0, 1.0, np.nan, 2.0])})
    summary = summarise(pair_table(readings), n_boot=500).set_index("model")
    assert summary.loc["always higher", "share_higher"] == 1.0
    assert summary.loc["always higher", ["share_low", "share_high"]].tolist() == [1.0, 1.0]
    assert summary.loc["constant", "share_higher"] == 0.0  # ties fail
    row = summary.loc["one tie, one missing face"]
    assert (row.higher, row.n, row.share_higher) == (2, 4, 0.5)  # a missing reading is not higher
    # means by hand: the missing smile is left out of the smiling mean and of the gap
    assert row.mean_neutral == pytest.approx(1.0) and row.mean_smiling == pytest.approx(4 / 3)
    assert row.mean_gap == pytest.approx(np.mean([1.0, 0.0, 1.0]))
    always = summary.loc["always higher"]
    assert always.mean_gap == pytest.approx(np.mean([0.1, 2.5, 0.5, 3.0]))
    assert always.wilson_low == pytest.approx(stats.binomtest(4, 4).proportion_ci(method="wilson").low)


def test_groups_and_splits_are_reported_with_their_sizes():
    neutral = [0.0] * 6
    smiling = [1.0, 1.0, 1.0, 0.0, 0.0, 1.0]
    pairs = pair_table(readings_of({"m": (neutral, smiling)}))
    pairs["gender"] = ["f", "f", "f", "m", "m", "m"]
    pairs["split"] = ["dev", "test", "test", "dev", "test", "test"]
    by_gender = group_table(pairs, ["gender"], n_boot=200).set_index("group")
    assert by_gender.loc["f", ["n", "share_higher"]].tolist() == [3, 1.0]
    assert by_gender.loc["m", ["n", "share_higher"]].tolist() == [3, pytest.approx(1 / 3)]
    assert by_gender.too_few.all()  # three people each: listed, never compared
    splits = split_summary(pairs, ["test", "dev"], n_boot=200).set_index("split")
    assert splits.loc["test", ["n", "higher"]].tolist() == [4, 3]
    assert splits.loc["dev", ["n", "higher"]].tolist() == [2, 1]
    with pytest.raises(ValueError, match="no pairs in split 'val'"):
        split_summary(pairs, ["val"])


def test_a_model_is_scored_on_its_own_aus_only():
    readings = pd.concat([readings_of({"five-AU model": ([0.1, 0.2], [1.0, 2.0])}, aus=AUS),
                          readings_of({"AU12-only anchor": ([0.0, 0.0], [3.0, 2.0])}, aus=["AU12"])])
    summary = summarise(pair_table(readings), n_boot=100)
    assert sorted(zip(summary.model, summary.AU, strict=True)) == [
        ("AU12-only anchor", "AU12"), ("five-AU model", "AU06"), ("five-AU model", "AU12")]


# -- the bootstrap against SciPy ------------------------------------------------------------------------------------


def test_paired_bootstrap_matches_scipy_percentile_interval():
    rng = np.random.default_rng(3)
    neutral = rng.normal(0.5, 0.3, 60)
    smiling = neutral + rng.normal(1.0, 0.6, 60)
    ours = paired_bootstrap(neutral, smiling, n_boot=20_000, seed=1)
    theirs = stats.bootstrap((neutral, smiling), lambda a, b: np.mean(b - a), paired=True, n_resamples=20_000,
                             method="percentile", random_state=2, vectorized=False).confidence_interval
    assert ours.estimate == pytest.approx(np.mean(smiling - neutral))
    assert ours.low == pytest.approx(theirs.low, abs=0.02) and ours.high == pytest.approx(theirs.high, abs=0.02)


def test_two_models_are_compared_paired_by_person_as_scipy_would():
    rng = np.random.default_rng(5)
    neutral = rng.normal(0.5, 0.3, 40)
    smiling = neutral + rng.normal(1.5, 0.5, 40)
    better_smiling = smiling + rng.normal(0.4, 0.3, 40)
    neutral_b = neutral + 0.1
    readings = readings_of({"base": (list(neutral), list(smiling)), "other": (list(neutral_b), list(better_smiling))})
    rows = paired_model_difference(pair_table(readings), "base", "other", aus=["AU12"], n_boot=20_000)
    rows = rows.set_index("quantity")
    gap_base, gap_other = smiling - neutral, better_smiling - neutral_b
    assert rows.loc["gap", "base"] == pytest.approx(gap_base.mean()) and rows.loc["gap", "n"] == 40
    assert rows.loc["gap", "difference"] == pytest.approx(np.mean(gap_other - gap_base))
    assert rows.loc["neutral", "difference"] == pytest.approx(0.1)
    assert rows.loc["higher", "difference"] == pytest.approx(np.mean(better_smiling > neutral_b)
                                                             - np.mean(smiling > neutral))
    theirs = stats.bootstrap((gap_base, gap_other), lambda a, b: np.mean(b - a), paired=True, n_resamples=20_000,
                             method="percentile", random_state=2, vectorized=False).confidence_interval
    assert rows.loc["gap", "low"] == pytest.approx(theirs.low, abs=0.02)
    assert rows.loc["gap", "high"] == pytest.approx(theirs.high, abs=0.02)
    # the neutral photos differ by exactly 0.1 for everyone: no resample can move that
    assert rows.loc["neutral", "low"] == pytest.approx(0.1) and rows.loc["neutral", "high"] == pytest.approx(0.1)


def test_a_person_either_model_could_not_read_is_left_out_of_both():
    readings = readings_of({"base": ([0.0, 1.0, 0.0], [2.0, 2.0, 1.0]), "other": ([0.0, 1.0, 0.0], [3.0, 4.0, 1.0])})
    readings.loc[(readings.model == "other") & (readings.face_id == "002"), "AU12"] = np.nan  # no face found
    row = paired_model_difference(pair_table(readings), "base", "other", aus=["AU12"], n_boot=100).iloc[0]
    assert row.n == 2 and row.base == pytest.approx(1.5) and row.other == pytest.approx(2.0)
    tied = readings_of({"base": ([1.0, 0.0], [1.0, 2.0]), "other": ([1.0, 0.0], [1.5, 2.0])})
    higher = paired_model_difference(pair_table(tied), "base", "other", aus=["AU12"], n_boot=100)
    assert higher.set_index("quantity").loc["higher", ["base", "other", "difference"]].tolist() == [0.5, 1.0, 0.5]
    with pytest.raises(ValueError, match="no model 'nobody'"):
        paired_model_difference(pair_table(readings), "base", "nobody")


def test_pairing_keeps_each_person_together():
    first = np.arange(10.0)
    interval = paired_bootstrap(first, first + 1.5)
    assert (interval.low, interval.high) == (1.5, 1.5)  # every resample draws whole pairs: the gap never varies
    unpaired = bootstrap(lambda idx: np.mean(first[idx]), 10, seed=0)
    assert unpaired.low < 4.5 < unpaired.high
    with pytest.raises(ValueError, match="same units"):
        paired_bootstrap(first, first[:5])


def test_wilson_interval_matches_scipy():
    for k, n in ((102, 102), (65, 68), (0, 7), (3, 9)):
        expected = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert wilson_interval(k, n) == pytest.approx((expected.low, expected.high), abs=1e-9)
    assert share_higher(np.array([1.0, 2.0]), np.array([1.0, 3.0])) == 0.5


# -- the real pipeline and the committed tables -----------------------------------------------------------------


def test_reading_photos_once_for_several_models_equals_predict():
    """read_photos detects each photo once and hands the face to every model; predict() detects per call: the same
    intensities either way."""
    photos = pd.DataFrame({"face_id": ["001", "001"], "condition": ["neutral", "smiling"],
                           "path": [london.london_photo("001", "neutral"), london.london_photo("001", "smiling")]})
    model = REFERENCE_DIR / "hourglass" / "seed0"
    readings = read_photos({"a": model, "b": model}, photos, progress=False)
    table = predict([str(p) for p in photos.path], model, precision="fp32", backend="torch", progress=False)
    for name in ("a", "b"):
        np.testing.assert_allclose(readings[readings.model == name][["AU06", "AU12"]].to_numpy(float),
                                   table[["AU06", "AU12"]].to_numpy(float), rtol=0, atol=1e-6)


def test_benchmark_command_reproduces_the_committed_readings(tmp_path):
    # with no --model the command reads the course's reference Hourglass (seed 0, SynthAU-3D on dlib's landmarks)
    committed = london_readings(COURSE_REFERENCE_DIR)
    assert sorted(committed.seed.unique()) == [0, 1, 2] and len(committed) == 3 * 204
    assert (committed.status == "ok").all()
    result = subprocess.run([sys.executable, "-m", "aulib", "benchmark", "real", "--split", "dev", "--out",
                             str(tmp_path), "--quiet", "--n-boot", "500"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "London set, dev split (34 people)" in result.stdout
    readings = pd.read_csv(tmp_path / "readings.csv", dtype={"face_id": str})
    seed0 = committed[committed.model == reference_model_name(0)].set_index(["face_id", "condition"])
    mine = readings.set_index(["face_id", "condition"])
    assert len(mine) == 68
    # fp32 readings differ between kinds of CPU (oneDNN picks AVX2, AVX-512 or AMX kernels): up to 6.4e-5 on an
    # Intel Xeon with AMX against the committed readings (2026-12-07), and up to 2.8e-4 for the small Hourglass's
    # London readings between an AVX2-only EPYC and that Xeon; a thousandth of an intensity level is far below any
    # difference the course reports, and far above what one machine changes (nothing)
    np.testing.assert_allclose(mine[AUS].to_numpy(float), seed0.loc[mine.index, AUS].to_numpy(float), atol=1e-3)
    summary = pd.read_csv(tmp_path / "summary.csv")
    au12 = summary[summary.AU == "AU12"].iloc[0]
    smiling, neutral = mine.xs("smiling", level="condition").AU12, mine.xs("neutral", level="condition").AU12
    assert au12.share_higher == pytest.approx(np.mean(smiling > neutral.reindex(smiling.index)))  # recomputed
    groups = pd.read_csv(tmp_path / "groups.csv")
    assert set(groups.group_by) == {"gender", "ethnicity", "age_band"}
    assert (groups[groups.AU == "AU12"].groupby("group_by").n.sum() == 34).all()
    for figure in ("pairs.png", "groups.png"):
        assert (tmp_path / figure).stat().st_size > 10_000


def test_anchor_readings_are_mediapipes_committed_numbers():
    anchor = anchor_readings()
    assert len(anchor) == 204 and (anchor.status == "ok").all()
    pairs = pair_table(anchor)
    # the shared note's measurement (mediapipe 1.2.3): the AU12 proxy is higher on every smile
    assert (pairs.AU12_smiling > pairs.AU12_neutral).sum() == 102


def test_the_local_readout_never_reads_above_the_global_maximum_on_the_london_photos():
    """The local readout is the maximum over a window of the same maps, so it can only be lower or equal (its
    committed readings against the Hourglass's own, photo by photo and AU by AU); and it does differ on real faces,
    which is where RQ5's readout ablation can say something (on SynthAU's test faces it does not)."""
    from aulib.course.reference import LONDON_VARIANTS, variant_model_name

    variants = pd.read_csv(REFERENCE_DIR / LONDON_VARIANTS, dtype={"face_id": str})
    committed = london_readings()
    keys = ["face_id", "condition"]
    lower = 0
    for seed in (0, 1, 2):
        local = variants[variants.model == variant_model_name("local readout", seed)].set_index(keys)
        global_ = committed[committed.model == reference_model_name(seed)].set_index(keys).loc[local.index]
        assert len(local) == 204 and (local.status == "ok").all()
        aus = [c for c in local.columns if c.startswith("AU") and local[c].notna().all()]
        assert aus == ["AU06", "AU10", "AU12", "AU14", "AU17"]
        difference = local[aus].to_numpy(float) - global_[aus].to_numpy(float)
        assert (difference <= 1e-5).all()
        lower += int((difference < -1e-3).sum())
    assert lower > 0


def test_the_committed_small_hourglass_is_the_small_preset():
    import json

    import torch

    from aulib.models import count_parameters, create_model

    folder = REFERENCE_DIR / "hourglass-small" / "seed0"
    config = json.loads((folder / "config.json").read_text())
    assert (config["model"], config["epochs"], config["seed"]) == ("small", 8, 0)
    state = torch.load(folder / "best.pt", map_location="cpu", weights_only=True)
    model = create_model("small", num_maps=5)
    model.load_state_dict(state["model"], strict=True)
    assert count_parameters(model) == 784_005  # the presets table's figure
