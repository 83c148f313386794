"""The precision control of the reference comparisons (aulib.course.controls): the reference Hourglass trained again
in fp32 and paired with the committed runs, checked against pingouin on the files it wrote."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import pingouin_mean_icc

from aulib.course.controls import AGAINST_REFERENCE, CONTROL_RUN, PRECISION_ALONE, build_precision_control
from aulib.course.reference import prepare_sets
from aulib.evaluation.geometry import geometry_predictions
from aulib.inference.precision import cpu_supports_bf16

COURSE = {"SUBJECTS": 12, "FRAMES": 8, "DIFFICULTY": "default", "SEED": 0}


def _course_set(tmp_path):
    """A small course set prepared as the reference does, and its test frames' truths (ridge's table as a template
    for stand-in predictions)."""
    _, course_prepared = prepare_sets(tmp_path / "work", COURSE, progress=False)
    template = geometry_predictions(course_prepared)
    labels = [c.removeprefix("true_") for c in template.columns if c.startswith("true_")]
    return COURSE, template, labels, template[[f"true_{x}" for x in labels]].to_numpy()


def test_the_fp32_control_is_paired_with_its_bf16_twin_and_the_fp32_runs(tmp_path, rng):
    course, template, labels, truth = _course_set(tmp_path)
    _stand_in_runs(tmp_path / "reference", template, truth, labels, rng,
                   (("hourglass", 0.4), ("hourglass-direct", 1.0)))

    paired = build_precision_control(work=tmp_path / "work", out=tmp_path / "controls",
                                     reference_dir=tmp_path / "reference", seeds=[0], epochs=1, n_boot=200,
                                     course=course, progress=False).set_index("comparison")
    control = tmp_path / "controls" / CONTROL_RUN / "seed0"
    config = json.loads((control / "config.json").read_text())
    assert (config["precision"], config["model"], config["seed"], config["epochs"]) == ("fp32", "tiny", 0, 1)
    assert set(paired.index) == {AGAINST_REFERENCE,
                                 "hourglass-direct − Hourglass fp32"}
    control_icc = pingouin_mean_icc(control / "predictions.csv.gz")
    bf16_icc = pingouin_mean_icc(tmp_path / "reference" / "hourglass" / "seed0" / "predictions.csv.gz")
    direct_icc = pingouin_mean_icc(tmp_path / "reference" / "hourglass-direct" / "seed0" / "predictions.csv.gz")
    precision = paired.loc[AGAINST_REFERENCE]
    assert precision.difference == pytest.approx(control_icc - bf16_icc, abs=1e-9)
    assert precision.base_icc == pytest.approx(bf16_icc, abs=1e-9)
    direct = paired.loc["hourglass-direct − Hourglass fp32"]
    assert direct.difference == pytest.approx(direct_icc - control_icc, abs=1e-9)
    for row in paired.itertuples():
        assert row.subjects == template.subject.nunique() >= 2
        assert row.low <= row.difference <= row.high
        assert row.verdict == ("level" if row.low <= 0 <= row.high else "better" if row.low > 0 else "worse")
    assert pd.read_csv(tmp_path / "controls" / "paired.csv").shape[0] == 2
    # a second call trains nothing and gives the same table
    weights = (tmp_path / "work" / "runs-control-fp32" / "seed0" / "hourglass" / "best.pt").stat().st_mtime_ns
    again = build_precision_control(work=tmp_path / "work", out=tmp_path / "controls",
                                    reference_dir=tmp_path / "reference", seeds=[0], epochs=1, n_boot=200,
                                    course=course, progress=False).set_index("comparison")
    pd.testing.assert_frame_equal(again, paired)
    assert (tmp_path / "work" / "runs-control-fp32" / "seed0" / "hourglass" / "best.pt").stat().st_mtime_ns == weights

    # A seed added later keeps seed 0's rows, timing and machine beside its own.
    first = json.loads((tmp_path / "controls" / "provenance.json").read_text())
    folder = tmp_path / "reference" / "hourglass" / "seed1"
    folder.mkdir(parents=True)
    template.assign(**{f"pred_{x}": np.clip(truth[:, a] + rng.normal(0, 0.4, len(truth)), 0, 5)
                       for a, x in enumerate(labels)}).to_csv(folder / "predictions.csv.gz", index=False)
    both = build_precision_control(work=tmp_path / "work", out=tmp_path / "controls",
                                   reference_dir=tmp_path / "reference", seeds=[1], epochs=1, n_boot=200,
                                   course=course, progress=False)
    assert both.seed.tolist() == [0, 0, 1]  # seed 1 has no hourglass-direct run to pair
    pd.testing.assert_frame_equal(both[both.seed == 0].set_index("comparison"), paired)
    seed1 = both[both.seed == 1].iloc[0]
    assert seed1.difference == pytest.approx(pingouin_mean_icc(tmp_path / "controls" / CONTROL_RUN / "seed1" /
                                                               "predictions.csv.gz")
                                             - pingouin_mean_icc(folder / "predictions.csv.gz"), abs=1e-9)
    provenance = json.loads((tmp_path / "controls" / "provenance.json").read_text())
    assert provenance["seeds"] == [0, 1]
    assert provenance["seconds"]["seed0"] == first["seconds"]["seed0"] and "seed1" in provenance["seconds"]
    assert [record["seeds"] for record in provenance["earlier"]] == [[0]]


def test_the_control_needs_the_committed_hourglass_of_its_seed(tmp_path):
    course = {"SUBJECTS": 8, "FRAMES": 8, "DIFFICULTY": "default", "SEED": 0}
    with pytest.raises(FileNotFoundError, match=r"hourglass/seed1/predictions.csv.gz is missing"):
        build_precision_control(work=tmp_path / "work", out=tmp_path / "controls",
                                reference_dir=tmp_path / "reference", seeds=[1], epochs=1, course=course,
                                progress=False)


def _stand_in_runs(reference, template, truth, labels, rng, runs):
    """Committed reference runs of seed 0, stood in by noisy truths on the course set's test frames."""
    for run, noise in runs:
        folder = reference / run / "seed0"
        folder.mkdir(parents=True)
        predicted = np.clip(truth + rng.normal(0, noise, truth.shape), 0, 5)
        template.assign(**{f"pred_{x}": predicted[:, a] for a, x in enumerate(labels)}).to_csv(
            folder / "predictions.csv.gz", index=False)


@pytest.mark.skipif(not cpu_supports_bf16(), reason="the bf16 control trains in native bf16 (AVX-512 BF16 or AMX)")
def test_the_bf16_control_is_paired_with_the_reference_the_fp32_control_and_the_runs(tmp_path, rng):
    course, template, labels, truth = _course_set(tmp_path)
    reference = tmp_path / "reference"
    _stand_in_runs(reference, template, truth, labels, rng,
                   (("hourglass", 0.4), ("l2", 0.8), ("hourglass-direct", 1.0)))
    common = {"work": tmp_path / "work", "out": tmp_path / "controls", "reference_dir": reference, "seeds": [0],
              "epochs": 1, "n_boot": 200, "course": course, "progress": False}
    fp32_rows = build_precision_control(**common)
    fp32_provenance = (tmp_path / "controls" / "provenance.json").read_bytes()
    paired = build_precision_control(**common, precision="bf16")

    control = tmp_path / "controls" / "hourglass-bf16" / "seed0"
    config = json.loads((control / "config.json").read_text())
    assert (config["precision"], config["model"], config["seed"]) == ("bf16", "tiny", 0)
    # the fp32 control's rows and provenance stay; the bf16 control's follow them; each control is paired with the
    # runs of its own precision only (the pooled head trained in fp32, L2 in bf16)
    assert set(fp32_rows.comparison) == {AGAINST_REFERENCE,
                                         "hourglass-direct − Hourglass fp32"}
    assert paired.control.tolist() == ["fp32"] * 2 + ["bf16"] * 3
    pd.testing.assert_frame_equal(paired[paired.control == "fp32"].drop(columns="control"),
                                  fp32_rows.drop(columns="control"))
    assert (tmp_path / "controls" / "provenance.json").read_bytes() == fp32_provenance
    provenance = json.loads((tmp_path / "controls" / "provenance-bf16.json").read_text())
    assert provenance["seeds"] == [0] and "seed0" in provenance["seconds"] and "bf16" in provenance["what"]

    icc = {name: pingouin_mean_icc(path) for name, path in {
        "bf16": control / "predictions.csv.gz",
        "fp32": tmp_path / "controls" / CONTROL_RUN / "seed0" / "predictions.csv.gz",
        "reference": reference / "hourglass" / "seed0" / "predictions.csv.gz",
        "l2": reference / "l2" / "seed0" / "predictions.csv.gz"}.items()}
    rows = paired[paired.control == "bf16"].set_index("comparison")
    expected = {  # comparison → (base, other)
        "Hourglass bf16 retrained − Hourglass bf16 (the same recipe, seed and precision, today's code)":
            ("reference", "bf16"),
        "Hourglass fp32 − Hourglass bf16 retrained (the precision alone, at equal code)": ("bf16", "fp32"),
        "l2 − Hourglass bf16 retrained": ("bf16", "l2")}
    assert set(rows.index) == set(expected)
    for comparison, (base, other) in expected.items():
        row = rows.loc[comparison]
        assert row.base_icc == pytest.approx(icc[base], abs=1e-9)
        assert row.difference == pytest.approx(icc[other] - icc[base], abs=1e-9)
        assert row.low <= row.difference <= row.high
        assert row.verdict == ("level" if row.low <= 0 <= row.high else "better" if row.low > 0 else "worse")


def test_a_control_in_another_precision_or_bf16_where_it_is_emulated_is_refused(tmp_path, monkeypatch):
    import aulib.inference.precision

    common = {"work": tmp_path / "work", "out": tmp_path / "controls", "reference_dir": tmp_path / "reference",
              "course": {"SUBJECTS": 8, "FRAMES": 8, "DIFFICULTY": "default", "SEED": 0}, "progress": False}
    with pytest.raises(ValueError, match=r"precision='fp16': the controls train in fp32 or bf16"):
        build_precision_control(**common, precision="fp16")
    monkeypatch.setattr(aulib.inference.precision, "cpu_supports_bf16", lambda: False)
    with pytest.raises(ValueError, match=r"in native bf16: this CPU has none \(no AVX-512 BF16 or AMX"):
        build_precision_control(**common, precision="bf16")
    assert not (tmp_path / "work").exists()  # refused before any data set is made


def test_an_fp32_table_written_before_the_control_column_keeps_its_rows(tmp_path, rng):
    course, template, labels, truth = _course_set(tmp_path)
    _stand_in_runs(tmp_path / "reference", template, truth, labels, rng, (("hourglass", 0.4),))
    (tmp_path / "controls").mkdir()
    old = pd.DataFrame([{"comparison": "Hourglass fp32 − Hourglass bf16 (the precision alone)", "seed": 1,
                         "subjects": 30, "base_icc": 0.876, "other_icc": 0.878, "difference": 0.002, "low": -0.008,
                         "high": 0.011, "verdict": "level"}])
    old.to_csv(tmp_path / "controls" / "paired.csv", index=False)
    paired = build_precision_control(work=tmp_path / "work", out=tmp_path / "controls",
                                     reference_dir=tmp_path / "reference", seeds=[0], epochs=1, n_boot=50,
                                     course=course, progress=False)
    assert paired.columns[0] == "control" and paired.control.tolist() == ["fp32", "fp32"]
    assert paired.seed.tolist() == [0, 1]
    pd.testing.assert_frame_equal(paired[paired.seed == 1].drop(columns="control").reset_index(drop=True), old)


def test_an_fp32_rerun_keeps_the_bf16_rows_and_refreshes_the_two_controls_comparison(tmp_path, rng):
    # Runs on any CPU: the bf16 control's predictions and rows are stood in, as if trained on another machine.
    course, template, labels, truth = _course_set(tmp_path)
    _stand_in_runs(tmp_path / "reference", template, truth, labels, rng, (("hourglass", 0.4),))
    _stand_in_runs(tmp_path / "controls", template, truth, labels, rng, (("hourglass-bf16", 0.5),))
    bf16_rows = pd.DataFrame([
        {"control": "bf16", "comparison": "Hourglass bf16 retrained − Hourglass bf16 (the same recipe, seed and "
         "precision, today's code)", "seed": 0, "subjects": 6, "base_icc": 0.5, "other_icc": 0.6, "difference": 0.1,
         "low": 0.05, "high": 0.15, "verdict": "better"},
        {"control": "bf16", "comparison": PRECISION_ALONE, "seed": 0, "subjects": 6, "base_icc": 0.6,
         "other_icc": 0.0, "difference": -0.6, "low": -0.7, "high": -0.5, "verdict": "worse"}])
    bf16_rows.to_csv(tmp_path / "controls" / "paired.csv", index=False)
    paired = build_precision_control(work=tmp_path / "work", out=tmp_path / "controls",
                                     reference_dir=tmp_path / "reference", seeds=[0], epochs=1, n_boot=100,
                                     course=course, progress=False)
    assert paired.control.tolist() == ["fp32", "bf16", "bf16"]
    pd.testing.assert_frame_equal(paired.iloc[[1]].reset_index(drop=True), bf16_rows.iloc[[0]])  # kept as it was
    cross = paired.iloc[2]
    assert cross.comparison == PRECISION_ALONE
    bf16_icc = pingouin_mean_icc(tmp_path / "controls" / "hourglass-bf16" / "seed0" / "predictions.csv.gz")
    fp32_icc = pingouin_mean_icc(tmp_path / "controls" / CONTROL_RUN / "seed0" / "predictions.csv.gz")
    assert cross.base_icc == pytest.approx(bf16_icc, abs=1e-9)  # recomputed with the new fp32 control
    assert cross.difference == pytest.approx(fp32_icc - bf16_icc, abs=1e-9)


def test_the_committed_control_tables_are_recomputed_from_the_committed_predictions():
    # pingouin, the ICC oracle, on the committed per-frame predictions of seed 0: each row's two sides read from
    # the files its comparison names, then subtracted
    from aulib.course.controls import CONTROLS_DIR, TRAINED_IN
    from aulib.course.reference import REFERENCE_DIR

    paired = pd.read_csv(CONTROLS_DIR / "paired.csv")
    paired = paired.assign(control=paired.control if "control" in paired else "fp32")
    sides = {"Hourglass bf16": REFERENCE_DIR / "hourglass", "Hourglass fp32": CONTROLS_DIR / CONTROL_RUN,
             "Hourglass bf16 retrained": CONTROLS_DIR / "hourglass-bf16",
             **{run: REFERENCE_DIR / run for runs in TRAINED_IN.values() for run in runs}}
    rows = paired[paired.seed == 0]
    assert len(rows) >= 3
    for row in rows.itertuples():
        other, base = (name.split(" (")[0] for name in row.comparison.split(" − "))
        if base in TRAINED_IN["fp32"] or base in TRAINED_IN["bf16"]:
            pytest.fail(f"{row.comparison}: the run is on the left of every comparison")
        other_icc = pingouin_mean_icc(sides[other] / "seed0" / "predictions.csv.gz")
        base_icc = pingouin_mean_icc(sides[base] / "seed0" / "predictions.csv.gz")
        assert row.base_icc == pytest.approx(base_icc, abs=1e-6), row.comparison
        assert row.other_icc == pytest.approx(other_icc, abs=1e-6), row.comparison
        assert row.difference == pytest.approx(other_icc - base_icc, abs=1e-6), row.comparison
        assert row.low <= row.difference <= row.high and row.subjects == 30
        if other in TRAINED_IN["fp32"]:  # each control pairs with the runs of its own precision
            assert row.control == "fp32" and base == "Hourglass fp32"
        if other in TRAINED_IN["bf16"]:
            assert row.control == "bf16" and base == "Hourglass bf16 retrained"
