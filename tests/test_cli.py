"""The command line end to end on a tiny SynthAU set: synth, prepare, and the prepared dataset they make."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from aulib.cli import build_parser, main
from aulib.cli.course import _reference_mode
from aulib.course.pipeline import ROOT
from aulib.data.dataset import PreparedDataset
from aulib.method.align import PAPER_TEMPLATE


def test_synth_then_prepare(tmp_path, capsys):
    synth, prepared = tmp_path / "synth", tmp_path / "prepared"
    assert main(["synth", "--out", str(synth), "--subjects", "3", "--frames", "8", "--seed", "3",
                 "--workers", "1", "--renderer", "2d"]) == 0
    assert main(["prepare", "synthau", "--root", str(synth), "--out", str(prepared), "--quiet"]) == 0
    meta = json.loads((prepared / "meta.json").read_text())
    assert meta["complete"] and meta["n_frames"] == 24 and meta["aus"] == [6, 10, 12, 14, 17]
    assert meta["detector"] == "given"  # a SynthAU v2 set keeps its simulated tracker; dlib is for SynthAU-3D
    dataset = PreparedDataset(prepared)
    assert len(dataset) == 24
    item = dataset[5]
    assert item["image"].shape == (3, 256, 256)
    np.testing.assert_allclose(item["landmarks"].numpy()[[8, 36, 45]], PAPER_TEMPLATE, atol=1e-3)
    exact = dataset.exact_landmarks_array()[5]
    # Tracker-like landmarks stay within a few pixels of the exact ones after alignment.
    assert 0 < np.abs(exact - item["landmarks"].numpy()).mean() < 6
    assert "SynthAU: 3 subjects x 8 frames" in capsys.readouterr().out
    # A rerun of a finished preparation is a no-op, and generation refuses to mix settings in one folder.
    stamp = (prepared / "meta.json").stat().st_mtime_ns
    assert main(["prepare", "synthau", "--root", str(synth), "--out", str(prepared), "--quiet"]) == 0
    assert (prepared / "meta.json").stat().st_mtime_ns == stamp  # nothing was rewritten
    labels = (synth / "labels.csv").read_bytes()
    assert main(["synth", "--out", str(synth), "--subjects", "4", "--frames", "8", "--seed", "3",
                 "--workers", "1", "--renderer", "2d"]) == 2
    error = capsys.readouterr().err
    assert f"{synth} already holds a SynthAU set generated with other settings" in error and "subjects" in error
    assert (synth / "labels.csv").read_bytes() == labels  # the existing set is untouched


def test_evaluate_writes_a_reference_run_s_scores_elsewhere(tmp_path, capsys):
    # A shipped reference run is read, never written: --out takes the predictions and metrics.
    from pathlib import Path

    import pandas as pd

    reference = Path(__file__).resolve().parents[1] / "models" / "reference" / "hourglass" / "seed0"
    before = {p.name: p.read_bytes() for p in reference.iterdir()}
    synth, prepared, out = tmp_path / "synth", tmp_path / "prepared", tmp_path / "scores"
    assert main(["synth", "--out", str(synth), "--subjects", "4", "--frames", "8", "--seed", "5",
                 "--workers", "1", "--renderer", "2d"]) == 0
    assert main(["prepare", "synthau", "--root", str(synth), "--out", str(prepared), "--quiet"]) == 0
    assert main(["evaluate", "--run", str(reference), "--data", str(prepared), "--split", "test",
                 "--device", "cpu", "--out", str(out)]) == 0
    metrics = pd.read_csv(out / "metrics.csv", index_col=0)
    assert list(metrics.index)[-1] == "Mean" and metrics.N.iloc[0] == 8  # the one test subject's 8 frames
    assert f"wrote {out}/predictions.csv" in capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in reference.iterdir()} == before


@pytest.mark.parametrize(("argv", "mode"), [
    ([], None),
    (["--paired-only", "--noise-bands-only"], "committed_only"),  # the two read-only studies run together
    (["--data-size", "--subjects", "5"], "data_size"),
    (["--data-size"], "data_size"),
    (["--data-size", "--renderer", "3d"], "data_size"),  # SynthAU-3D's twin of the regime
    (["--data-size", "--renderer", "3d", "--detector", "dlib"], "data_size"),  # ... on dlib's landmarks
    (["--precision-control", "--seeds", "1"], "precision_control"),
    (["--precision-control", "--control-precision", "bf16"], "precision_control"),
    (["--london-only"], "london_only"),
    (["--difficulty", "hard", "--renderer", "3d", "--out", "models/reference-3d-hard", "--work", "hard"], None),
    (["--detector", "dlib", "--renderer", "3d", "--out", "models/reference-3d-dlib"], None),  # own prepared folders
    # a seed added on an AVX-512 machine to runs trained in fp32 on an AVX2-only one
    (["--precision", "fp32", "--runs", "hourglass-small", "--seeds", "2"], None),
    # the London reading of every trained run takes --detector only to find the runs trained on its landmarks
    (["--london-runs-only", "--detector", "dlib", "--renderer", "3d", "--out", "models/reference-3d-dlib"],
     "london_runs_only"),
    # RQ3's bands from the committed weights, scored on the course set prepared with dlib's landmarks
    (["--noise-bands-only", "--detector", "dlib", "--renderer", "3d", "--out", "models/reference-3d-dlib"],
     "committed_only"),
])
def test_reference_takes_one_job(argv, mode):
    assert _reference_mode(build_parser().parse_args(["reference", *argv])) == mode


@pytest.mark.parametrize(("argv", "message"), [
    # Two jobs at once, or a flag the job does not use, used to run one job and drop the rest silently.
    (["--precision-control", "--data-size"], "--precision-control and --data-size are separate jobs"),
    (["--london-only", "--noise-bands-only"], "--london-only and --noise-bands-only are separate jobs"),
    (["--paired-only", "--noise-bands-only", "--data-size"],
     "--data-size and --paired-only/--noise-bands-only are separate jobs"),
    (["--subjects", "5"], "--subjects sets the training-set sizes of --data-size"),
    (["--precision-control", "--subjects", "5"], "--subjects sets the training-set sizes of --data-size"),
    (["--data-size", "--out", "elsewhere"], "--data-size trains on the CPU .* does not take --out"),
    (["--precision-control", "--device", "cuda", "--renderer", "3d"], "does not take --device, --renderer"),
    (["--control-precision", "bf16"], "--control-precision is the precision of --precision-control"),
    (["--data-size", "--control-precision", "bf16"], "--control-precision is the precision of --precision-control"),
    (["--precision-control", "--precision", "fp32"], "--precision fp32 is the training precision of the reference"),
    (["--london-runs-only", "--precision", "bf16"], "--london-runs-only trains none"),
    # Runs at another difficulty would overwrite the course's default-difficulty runs, or be ignored by a study.
    (["--difficulty", "hard", "--work", "hard"], "give the runs their own --out; .*models/reference holds"),
    (["--difficulty", "0.9", "--out", str(ROOT / "models" / "reference-3d")], "give the runs their own --out"),
    (["--difficulty", "hard", "--out", "elsewhere"], "give the data sets their own --work; data/ holds"),
    (["--difficulty", "hard", "--out", "elsewhere", "--data-size"], "--data-size does not take it"),
    (["--difficulty", "hard", "--out", "elsewhere", "--paired-only"], "--paired-only does not take it"),
    # Runs on a real tracker's landmarks would overwrite the course's runs, or a study would read the wrong course set.
    (["--detector", "dlib", "--renderer", "3d"], "--detector dlib: .* their own --out"),
    (["--detector", "dlib", "--out", str(ROOT / "models" / "reference-3d")], "their own --out"),
    (["--detector", "dlib", "--out", "elsewhere", "--london-only"], "and no other job"),
    (["--data-size", "--detector", "dlib"], "the regime on a detector's landmarks is SynthAU-3D's; add --renderer 3d"),
    (["--london-runs-only", "--london-variants-only"], "--london-variants-only and --london-runs-only are separate"),
])
def test_reference_refuses_flags_that_would_be_ignored(argv, message):
    # Parsed and checked only: nothing is trained or written whether or not the check holds.
    with pytest.raises(SystemExit, match=message):
        _reference_mode(build_parser().parse_args(["reference", *argv]))


@pytest.mark.parametrize(("value", "message"), [("2", "difficulty must be in \\[0, 1\\]; got 2.0"),
                                                 ("harder", "one of \\['default', 'easy', 'hard'\\]; got 'harder'")])
def test_reference_names_a_bad_difficulty(value, message, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["reference", "--difficulty", value])
    assert re.search(message, capsys.readouterr().err)


def test_run_notebooks_keeps_every_set_flag():
    """`--set A=1 --set B=2` (as `make reproduce RENDERER=3d DETECTOR=dlib` writes it) gives both overrides; argparse's
    default would keep the last flag's alone. Values are read as YAML: 1 is an int, dlib a string."""
    args = build_parser().parse_args(["run-notebooks", "--set", "RENDERER=3d", "--set", "DETECTOR=dlib", "SEED=1"])
    assert dict(args.set) == {"RENDERER": "3d", "DETECTOR": "dlib", "SEED": 1}
    assert build_parser().parse_args(["run-notebooks"]).set is None
