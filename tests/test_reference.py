"""The reference runs' data sets (``make weights``): what ``aulib reference`` builds before it trains."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from aulib.course.reference import TRAIN_SEED, prepare_sets


def skip_without_opengl() -> None:
    """Skip a SynthAU-3D test where no OpenGL context can be made (CI installs Mesa's EGL: .ci/run)."""
    pytest.importorskip("moderngl")
    from aulib.data.face3d.render import gl_context

    try:
        gl_context().release()
    except RuntimeError as error:
        pytest.skip(str(error))


@pytest.mark.parametrize("renderer", ["2d", "3d"])
def test_reference_sets_keep_their_people_apart(tmp_path, renderer):
    if renderer == "3d":
        skip_without_opengl()
    course = {"SUBJECTS": 7, "FRAMES": 8, "DIFFICULTY": "default", "SEED": 0}
    train, evaluation = prepare_sets(tmp_path, course, progress=False, renderer=renderer)
    prefix = "synthau3d" if renderer == "3d" else "synthau"
    assert train.name == f"{prefix}-reference-prepared" and evaluation.name == f"{prefix}-prepared"
    settings = json.loads((tmp_path / f"{prefix}-reference" / "synthau.json").read_text())["config"]
    assert settings["seed"] == TRAIN_SEED and settings["renderer"] == renderer
    train_splits = pd.Series(json.loads((train / "meta.json").read_text())["splits"])
    course_splits = pd.Series(json.loads((evaluation / "meta.json").read_text())["splits"])
    assert len(train_splits) == len(course_splits) == 7
    # Every reference person trains (a few select the model); the course set keeps test people for evaluation.
    assert set(train_splits) == {"train", "val"} and (train_splits == "val").sum() == 1  # 15% of 7
    assert "test" in set(course_splits)


def test_a_run_added_later_keeps_every_earlier_commands_machine():
    from aulib.course.provenance import earlier_records

    # the committed provenance before this change: one merged record for the first command, the second's on top
    first = {"commands": ["aulib reference --seeds 0 1 2"], "runs": ["hourglass", "per-au"],
             "machine": {"cpu_flags": "avx2 avx512f avx512_bf16"}, "date": "2026-12-02"}
    previous = {"command": "aulib reference --runs hourglass-direct", "earlier": first,
                "machine": {"cpu_flags": "avx2"}, "date": "2026-12-04", "seconds": {"hourglass-direct/seed0": 1503.2},
                "recipe": {"runs": ["hourglass", "per-au", "hourglass-direct"], "seeds": [0, 1, 2]}}
    records = earlier_records(previous)
    assert [r.get("machine", {}).get("cpu_flags") for r in records] == ["avx2 avx512f avx512_bf16", "avx2"]
    assert records[1]["command"] == "aulib reference --runs hourglass-direct"
    assert records[1]["seconds"] == {"hourglass-direct/seed0": 1503.2} and records[1]["seeds"] == [0, 1, 2]
    # a third command keeps both, oldest first
    assert earlier_records({**previous, "earlier": records})[:2] == records


def test_a_seed_added_later_keeps_the_other_seeds_timings():
    from aulib.course.provenance import kept_timings

    earlier = {"seconds": {"hourglass/seed0": 711.6, "hourglass/seed0 training images/s": 101.7,
                           "hourglass-small/seed0": 3532.0, "hourglass-small/seed0 training images/s": 14.1,
                           "hourglass-small/seed1": 99.0}}
    # `aulib reference --runs hourglass-small --seeds 1`: seed 1 of the small run is measured again, the rest stays
    assert kept_timings(earlier, ["hourglass-small"], [1]) == {
        "hourglass/seed0": 711.6, "hourglass/seed0 training images/s": 101.7,
        "hourglass-small/seed0": 3532.0, "hourglass-small/seed0 training images/s": 14.1}
    assert kept_timings(earlier, ["hourglass", "hourglass-small"], [0, 1]) == {}
    assert kept_timings({}, ["hourglass"], [0]) == {}


def test_a_committed_config_names_no_folder_of_the_maintainers_machine(tmp_path):
    from aulib.course.reference import copy_run_results

    # a run trained with `aulib reference --work <absolute folder>`, as a maintainer's scratch disk gives it
    work = tmp_path / "scratch"
    run_dir = work / "runs-reference" / "seed1" / "l2"
    run_dir.mkdir(parents=True)
    config = {"data": str(work / "synthau-reference-prepared"), "out": str(run_dir), "model": "tiny", "seed": 1}
    (run_dir / "config.json").write_text(json.dumps(config))
    (run_dir / "metrics.csv").write_text("AU,ICC\nAU12,0.9\n")
    target = tmp_path / "models" / "l2" / "seed1"

    copy_run_results(run_dir, target, files=("config.json", "metrics.csv"), work=work)

    # the paths `make weights` (--work data) writes, whatever --work was; the rest as trained, the other file as is
    assert json.loads((target / "config.json").read_text()) == {
        "data": "data/synthau-reference-prepared", "out": "data/runs-reference/seed1/l2", "model": "tiny", "seed": 1}
    assert (target / "metrics.csv").read_text() == "AU,ICC\nAU12,0.9\n"
    # a folder outside the work folder (data a maintainer pointed elsewhere) is kept as it was given
    copy_run_results(run_dir, target, files=("config.json",), work=tmp_path / "elsewhere")
    assert json.loads((target / "config.json").read_text())["data"] == str(work / "synthau-reference-prepared")


def test_the_hard_synthau3d_runs_recompute_from_their_predictions():
    """RESULTS.md's hard-difficulty SynthAU-3D tables (``models/reference-3d-hard``): both sets at ``hard``, and each
    seed's mean ICC recomputed with pingouin from the committed per-frame predictions, in ``comparison.csv`` and in
    the paired table beside ridge."""
    from helpers import pingouin_mean_icc

    from aulib.course.reference import ROOT

    folder = ROOT / "models" / "reference-3d-hard"
    provenance = json.loads((folder / "provenance.json").read_text())
    assert provenance["renderer"] == "3d"
    assert provenance["train_set"]["difficulty"] == provenance["evaluation_set"]["difficulty"] == "hard"
    comparison = pd.read_csv(folder / "comparison.csv")
    paired = pd.read_csv(folder / "paired.csv").set_index("seed")
    assert set(paired.run) == {"ridge on landmarks"} and sorted(paired.index) == [0, 1, 2]
    for seed in (0, 1, 2):
        icc = pingouin_mean_icc(folder / "hourglass" / f"seed{seed}" / "predictions.csv.gz")
        mean = comparison[(comparison.run == "hourglass") & (comparison.seed == seed) & (comparison.AU == "Mean")]
        assert float(mean.ICC.iloc[0]) == pytest.approx(icc, abs=1e-6)
        row = paired.loc[seed]
        assert row.hourglass_icc == pytest.approx(icc, abs=1e-6)
        assert row.difference == pytest.approx(row.run_icc - row.hourglass_icc, abs=1e-9)
        assert row.low <= row.difference <= row.high and (row.verdict == "worse") == (row.high < 0)


def test_reference_sets_on_a_real_tracker_carry_its_landmarks(tmp_path):
    # `aulib reference --detector dlib`: both sets aligned with dlib's landmarks, found in the rendered frames, in
    # prepared folders of their own beside the simulated tracker's.
    pytest.importorskip("dlib")
    skip_without_opengl()
    from aulib.data.dataset import PreparedDataset

    course = {"SUBJECTS": 4, "FRAMES": 8, "DIFFICULTY": "default", "SEED": 0}
    _, simulated = prepare_sets(tmp_path, course, progress=False, renderer="3d")
    train, evaluation = prepare_sets(tmp_path, course, progress=False, renderer="3d", detector="dlib")
    assert train.name == "synthau3d-reference-prepared-dlib" and evaluation.name == "synthau3d-prepared-dlib"
    assert json.loads((train / "meta.json").read_text())["splits"]  # the training people's own splits, kept
    given, found = PreparedDataset(simulated), PreparedDataset(evaluation)
    keys = ["subject", "sequence", "frame"]
    row_of = {key: i for i, key in enumerate(given.frames[keys].itertuples(index=False, name=None))}
    rows = [row_of[key] for key in found.frames[keys].itertuples(index=False, name=None)]
    assert len(rows) >= 0.6 * len(given)  # dlib found most faces (90% of the course set's frames)
    exact = given.exact_landmarks_original_array()[rows]
    iod = np.linalg.norm(exact[:, 36] - exact[:, 45], axis=1)
    dlib_error = np.linalg.norm(found.landmarks_original_array() - exact, axis=2).mean(axis=1) / iod
    simulated_error = np.linalg.norm(given.landmarks_original_array()[rows] - exact, axis=2).mean(axis=1) / iod
    # dlib's own errors (README: within 2-3 px of the landmark vertices on 256-px frames, about 0.04-0.07 IOD), not
    # the simulated tracker's: the two trackers' landmarks are different points near the same face.
    assert np.median(dlib_error) < 0.12
    assert np.abs(dlib_error - simulated_error).max() > 0.005


def test_the_synthau3d_runs_on_dlibs_landmarks_recompute_from_their_predictions():
    """RESULTS.md's tables of SynthAU-3D trained and scored on dlib's landmarks (``models/reference-3d-dlib``): the
    runs say where their landmarks came from, score only the test frames dlib found (the real-tracker tool's count),
    and each seed's mean ICC, recomputed with pingouin from the committed per-frame predictions, is the one in
    ``comparison.csv``, in the paired table and in the real-tracker tool's retrained table."""
    from helpers import pingouin_mean_icc

    from aulib.course.reference import ROOT

    folder = ROOT / "models" / "reference-3d-dlib"
    provenance = json.loads((folder / "provenance.json").read_text())
    assert provenance["renderer"] == "3d" and provenance["landmarks"] == "dlib"
    comparison = pd.read_csv(folder / "comparison.csv")
    paired = pd.read_csv(folder / "paired.csv")
    retrained = pd.read_csv(ROOT / "models" / "reference-3d" / "real_tracker_retrained.csv").set_index("seed")
    dlib_frames = pd.read_csv(ROOT / "models" / "reference-3d" / "real_tracker_paired.csv").frames.iloc[0]
    for seed in (0, 1, 2):
        icc = pingouin_mean_icc(folder / "hourglass" / f"seed{seed}" / "predictions.csv.gz")
        assert len(pd.read_csv(folder / "hourglass" / f"seed{seed}" / "predictions.csv.gz")) == dlib_frames
        assert (folder / "hourglass" / f"seed{seed}" / "best.pt").is_file()  # the weights ship (.gitignore)
        mean = comparison[(comparison.run == "hourglass") & (comparison.seed == seed) & (comparison.AU == "Mean")]
        assert float(mean.ICC.iloc[0]) == pytest.approx(icc, abs=1e-6)
        assert retrained.loc[seed].dlib_trained_icc == pytest.approx(icc, abs=1e-6)
        for row in paired[paired.seed == seed].itertuples():
            assert row.hourglass_icc == pytest.approx(icc, abs=1e-6)
            assert row.low <= row.difference <= row.high
            predictions = folder / row.run / f"seed{seed}" / "predictions.csv.gz"
            if predictions.is_file():  # a trained run (ridge is refitted, not committed)
                assert row.run_icc == pytest.approx(pingouin_mean_icc(predictions), abs=1e-6)
