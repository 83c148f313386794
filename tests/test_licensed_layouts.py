"""The course on the licensed datasets' layouts: notebooks 01 → 05 run by papermill with ``DATASET=bp4d`` and with
``DATASET=disfa``, changing nothing but ``DATASET`` and ``DATA_DIR`` (and, as every test run does, the folders and
the sizes).

The data are small copies of the real folder layouts made from London set photos (``tests/layouts.py``): real faces,
invented labels. The runs test layouts only, so the assertions are on the saved tables (which subjects were
trained and scored, which AUs every table has), not on accuracy. Everything trained here lives in a temporary
folder and is thrown away.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from layouts import BP4D_SUBJECTS, DISFA_SUBJECTS, make_bp4d, make_disfa

from aulib.course import pipeline
from aulib.data.splits import DISFA_FOLDS, split_spec
from aulib.method.aus import BP4D_AUS, DISFA_AUS, au_label

NOTEBOOKS = ["01", "02", "03", "04", "05"]
FIGURES = {"01_alignment", "01_labels", "02_centres", "02_extent", "02_max", "02_explorer", "03_training_curves",
           "03_snapshots", "04_true_vs_predicted", "04_comparison", "04_paired", "05_robustness", "05_noise_examples",
           "05_noise_bands"}
LAYOUTS = {
    "bp4d": (make_bp4d, BP4D_AUS, {s: "train" if int(s[1:]) % 2 else "dev" for s in BP4D_SUBJECTS}),
    "disfa": (make_disfa, DISFA_AUS, {s: f"fold{DISFA_FOLDS[s]}" for s in DISFA_SUBJECTS}),
}


@pytest.mark.parametrize("dataset", list(LAYOUTS))
def test_the_course_runs_on_the_licensed_layout(dataset, tmp_path):
    make, aus, splits = LAYOUTS[dataset]
    data = make(tmp_path / dataset.upper())
    root = tmp_path / "course"
    overrides = {"DATASET": dataset, "DATA_DIR": str(data),  # the two parameters an instructor changes
                 "PREPARED_DIR": str(root / "prepared"), "RUN_DIR": str(root / "runs"),
                 "FIG_DIR": str(root / "figures"),
                 "INTERACTIVE": False, "EPOCHS": 1, "N_FACES": 2, "SIGMAS": [0, 10], "EXAMPLE_SIGMAS": [0, 10],
                 "BASELINES": ["per-au", "resnet18"], "EXPERIMENT_STEPS": 3, "BAND_SIGMAS_IOD": [0, 0.1, 0.3],
                 "BAND_RESAMPLES": 100}
    records = pipeline.run_notebooks("smoke", only=NOTEBOOKS, overrides=overrides, output_dir=root / "executed",
                                     progress=False)
    assert [r["notebook"][:2] for r in records] == NOTEBOOKS

    labels = [au_label(a) for a in aus]
    meta = json.loads((root / "prepared" / "meta.json").read_text())
    assert meta["dataset"] == dataset and meta["aus"] == list(aus)
    assert meta["splits"] == splits  # FERA2015's partition; DISFA's published folds
    spec = split_spec(dataset)
    held_out = {s for s, name in splits.items() if name == spec.evaluation}
    trained = {s for s, name in splits.items() if name in spec.train}

    runs = root / "runs"
    config = json.loads((runs / "hourglass" / "config.json").read_text())
    assert config["train_split"] is None and config["fold"] is None  # the dataset's specification decides
    predictions = pd.read_csv(runs / "hourglass" / "predictions.csv", dtype={"subject": str})
    assert set(predictions.subject) == held_out and not held_out & trained
    for table in ("hourglass/metrics.csv", "geometry.csv", "localisation.csv"):
        assert list(pd.read_csv(runs / table, index_col=0).index)[: len(labels)] == labels, table
    comparison = pd.read_csv(runs / "comparison.csv", index_col=0)
    assert list(comparison.columns) == [*labels, "Mean"]
    assert {"hourglass", "per-au", "resnet18", "hourglass-local"} == set(comparison.index)
    # each run against the Hourglass, paired by held-out subject; the estimate is the comparison table's difference
    paired = pd.read_csv(runs / "paired.csv").set_index("run")
    assert len(held_out) >= 2 and set(paired.index) == {"per-au", "resnet18", "hourglass-local", "ridge on landmarks"}
    assert (paired.subjects == len(held_out)).all() and (paired.low <= paired.difference).all()
    assert (paired.difference <= paired.high).all()
    compared = ["per-au", "resnet18", "hourglass-local"]
    np.testing.assert_allclose(paired.difference[compared].to_numpy(),
                               comparison.Mean[compared].to_numpy() - comparison.Mean["hourglass"],
                               atol=1e-9)
    robustness = pd.read_csv(runs / "robustness.csv")
    assert set(robustness.AU) == {*labels, "Mean"} and sorted(robustness.sigma.unique()) == [0, 10]
    assert "reference hourglass" not in set(robustness.model)  # SynthAU's reference runs are not shown here
    # RQ3 with intervals for this dataset's own Hourglass (no SynthAU reference): its grid, one run, every subject
    bands = pd.read_csv(runs / "noise_bands.csv")
    np.testing.assert_allclose(bands.sigma_iod, [0, 0.1, 0.3])
    assert list(bands.filter(like="ICC ").columns) == ["ICC hourglass"]
    crossings = pd.read_csv(runs / "noise_crossings.csv")
    assert (crossings.subjects == len(held_out)).all() and list(crossings.what) == ["plateau ends", "breaks"]
    experiment = pd.read_csv(runs / "experiment" / "experiment.csv")
    assert list(experiment.run) == ["control", "changed"] and (experiment.steps == 3).all()
    assert FIGURES <= {p.stem for p in (root / "figures").glob("*.png")}
