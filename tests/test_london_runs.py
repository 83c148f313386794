"""The London reading of every trained reference run, and the dev split's rule that chooses among them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aulib.course.london_runs import (
    LONDON_RUNS,
    build_london_runs,
    dev_choice,
    london_run_summary,
    trained_run_folders,
)
from aulib.data.london import london_people

ROOT = Path(__file__).resolve().parents[1]
DLIB_REFERENCE = ROOT / "models" / "reference-3d-dlib"


def _run(folder: Path, weights: bool = True) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    if weights:
        (folder / "best.pt").write_bytes(b"")
    return folder


def test_trained_run_folders_prefer_committed_weights_then_the_work_folder(tmp_path):
    reference, work = tmp_path / "reference", tmp_path / "work"
    _run(reference / "hourglass" / "seed0")  # the Hourglass's readings are london_readings.csv: never a candidate
    committed = _run(reference / "hourglass-small" / "seed0")
    _run(work / "seed0" / "hourglass-small")  # the committed weights win
    _run(reference / "resnet18" / "seed0", weights=False)  # too large to commit: its full run is in work
    full = _run(work / "seed0" / "resnet18")
    _run(reference / "resnet18" / "seed1", weights=False)  # no weights anywhere: left out
    _run(work / "seed0" / "per-au")  # not a run of this reference folder: left out
    found = trained_run_folders(reference, work, seeds=(0, 1))
    assert found == {("hourglass-small", 0): committed, ("resnet18", 0): full}
    assert trained_run_folders(reference, None, seeds=(0, 1)) == {("hourglass-small", 0): committed}



def test_reading_again_keeps_the_rows_of_runs_whose_weights_are_elsewhere(tmp_path, monkeypatch, capsys):
    """A later session without the work folder re-reads the committed weights and keeps the other runs' rows."""
    import aulib.predict.benchmark as benchmark

    reference = tmp_path / "reference"
    _run(reference / "hourglass-small" / "seed0")
    _run(reference / "hourglass-small" / "seed1")  # a new seed, never read before
    _run(reference / "resnet18" / "seed0", weights=False)  # its weights were in a work folder that is gone

    def row(model, face_id, condition, au12):
        run, seed = model.rsplit(", seed ", 1)
        return {"model": model, "run": run, "seed": int(seed), "face_id": face_id, "condition": condition,
                "status": "ok", "AU12": au12}

    earlier = [row(model, face, condition, value) for face in ("001", "002") for condition in ("neutral", "smiling")
               for model, value in (("hourglass-small, seed 0", 9.0), ("resnet18, seed 0", 1.5),
                                    ("resnet18, seed 1", 7.0))]  # resnet18/seed1 is no longer in the folder
    pd.DataFrame(earlier).to_csv(reference / LONDON_RUNS, index=False)

    def fake_read_london(models, **options):  # read_london's layout: photo by photo, then model
        assert sorted(models) == ["hourglass-small, seed 0", "hourglass-small, seed 1"]
        return pd.DataFrame([{"model": model, "face_id": face, "condition": condition, "status": "ok", "AU12": 2.0}
                             for face in ("001", "002") for condition in ("neutral", "smiling") for model in models])

    monkeypatch.setattr(benchmark, "read_london", fake_read_london)
    readings = build_london_runs(reference, None, seeds=(0, 1), progress=False)
    assert "kept the earlier readings of resnet18, seed 0" in capsys.readouterr().out
    written = pd.read_csv(reference / LONDON_RUNS, dtype={"face_id": str})
    pd.testing.assert_frame_equal(written, readings, check_dtype=False)
    # the re-read seed replaces its earlier value, the new seed is added, the kept run keeps its value
    assert written.groupby("model").AU12.unique().to_dict() == {
        "hourglass-small, seed 0": [2.0], "hourglass-small, seed 1": [2.0], "resnet18, seed 0": [1.5]}
    assert written[["face_id", "condition", "model"]].values.tolist()[:3] == [
        ["001", "neutral", "hourglass-small, seed 0"], ["001", "neutral", "hourglass-small, seed 1"],
        ["001", "neutral", "resnet18, seed 0"]]

def test_dev_choice_follows_its_rule_on_hand_made_numbers():
    def table(rows):
        return pd.DataFrame([{"split": split, "run": run, "seed": seed, "AU": "AU12", "share_higher": share,
                              "mean_gap": gap} for split, run, seed, share, gap in rows])

    base = [("dev", "hourglass", 0, 30 / 34, 1.0), ("dev", "hourglass", 1, 32 / 34, 1.2)]  # 31/34, gap 1.1
    # one person below the Hourglass's seed mean (31/34) with a larger gap qualifies; the test split never counts
    chosen, means = dev_choice(table([*base, ("dev", "a", 0, 30 / 34, 1.3), ("dev", "a", 1, 30 / 34, 1.3),
                                      ("test", "b", 0, 1.0, 9.0)]), dev_people=34)
    assert chosen == "a"
    assert means.set_index("run").loc["a"].tolist() == pytest.approx([30 / 34, 1.3, 2, True])
    # a run with fewer seeds than the Hourglass waits, however it reads: one seed's mean is not a seed mean
    chosen, means = dev_choice(table([*base, ("dev", "a", 0, 34 / 34, 2.5)]), dev_people=34)
    assert chosen == "hourglass" and means.set_index("run").loc["a", "seeds"] == 1 and not means.qualifies.any()
    # two people below does not, however large the gap; a larger share with a smaller gap does not either
    chosen, means = dev_choice(table([*base, ("dev", "a", 0, 29 / 34, 3.0), ("dev", "c", 0, 34 / 34, 1.05)]),
                               dev_people=34)
    assert chosen == "hourglass" and not means.qualifies.any()
    with pytest.raises(ValueError, match="no dev AU12 rows of the 'hourglass' run"):
        dev_choice(table([("dev", "a", 0, 1.0, 1.0)]), dev_people=34)


@pytest.mark.skipif(not (DLIB_REFERENCE / LONDON_RUNS).is_file(), reason="no committed London readings of the runs")
def test_the_committed_run_summary_counts_the_people_as_numpy_does():
    """The summary's shares and gaps, recounted from the committed readings with numpy alone."""
    summary = london_run_summary(DLIB_REFERENCE, n_boot=50)
    readings = pd.read_csv(DLIB_REFERENCE / LONDON_RUNS, dtype={"face_id": str})
    split = london_people()["split"]
    assert set(summary.run) >= {"hourglass", *readings.run}
    for model, rows in readings.groupby("model"):
        # every photo is read once per model, through the same detection as the Hourglass's readings
        assert len(rows) == 204 and rows.status.eq("ok").all()
        wide = rows.pivot(index="face_id", columns="condition", values="AU12")
        for name in ("dev", "test"):
            people = wide[wide.index.map(split) == name]
            higher = np.mean(people.smiling.to_numpy() > people.neutral.to_numpy())
            gap = np.nanmean(people.smiling.to_numpy() - people.neutral.to_numpy())
            row = summary[(summary.model == model) & (summary.split == name) & (summary.AU == "AU12")].iloc[0]
            assert row.share_higher == pytest.approx(higher) and row.mean_gap == pytest.approx(gap, abs=1e-9)
