"""The SynthAU-3D pilot's analyses, written beside its reference runs (``models/reference-3d``, committed).

Run after ``aulib reference --renderer 3d --runs hourglass --out models/reference-3d --work data`` (which trains the
Hourglasses, evaluates them on SynthAU-3D's held-out subjects and reads the London set). It adds:

- ``appearance.csv``: **does appearance matter?** Ridge regression on the aligned tracked landmarks (no pixels,
  :mod:`aulib.evaluation.geometry`), fitted on the same people the Hourglasses trained on (the reference training
  set's training and validation subjects), against each reference Hourglass, both scored on the course set's
  held-out subjects; the difference of mean ICC with a paired bootstrap over those subjects (all frames of a subject
  are drawn together). ``ridge_course_icc`` is ridge fitted on the course set's own training and validation subjects
  instead, the definition of RESULTS.md's SynthAU v2 geometry baseline;
- ``portraits.csv``: each Hourglass's readings of the astronaut and Grace Hopper (two individual cases).

Usage:
    python tools/synthau3d_pilot.py [--work data] [--reference models/reference-3d] [--seeds 0 1 2]
    python tools/synthau3d_pilot.py --portraits-only --reference models/reference-3d-dlib   # the default's two cases
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from aulib.data.dataset import PreparedDataset
from aulib.evaluation.geometry import fit_ridge, landmark_features, predict_ridge
from aulib.io import atomic_write_csv
from aulib.method.aus import au_label
from aulib.method.bootstrap import bootstrap
from aulib.method.metrics import metrics_table


def ridge_predictions(fitted_on: Path, scored_on: Path) -> tuple[pd.DataFrame, tuple[int, ...]]:
    """Ridge fitted on the training and validation subjects of ``fitted_on``, per frame of the held-out (``test``)
    subjects of ``scored_on``: subject, sequence, frame, true and predicted."""
    train = PreparedDataset(fitted_on, split=["train", "val"])
    test = PreparedDataset(scored_on, split="test")
    labels = np.nan_to_num(train.labels_array(), nan=0.0)
    model = fit_ridge(landmark_features(train), labels, alpha=10.0)
    predicted = predict_ridge(model, landmark_features(test))
    keys = test.frames[["subject", "sequence", "frame"]].reset_index(drop=True)
    truth = pd.DataFrame(test.labels_array(), columns=[f"true_{au_label(a)}" for a in test.aus])
    guess = pd.DataFrame(predicted, columns=[f"pred_{au_label(a)}" for a in test.aus])
    return pd.concat([keys, truth, guess], axis=1), tuple(test.aus)


def mean_icc(table: pd.DataFrame, aus: tuple[int, ...]) -> float:
    labels = [au_label(a) for a in aus]
    metrics = metrics_table(table[[f"true_{c}" for c in labels]].to_numpy(),
                            table[[f"pred_{c}" for c in labels]].to_numpy(), aus)
    return float(metrics.loc["Mean", "ICC"])


def appearance(work: Path, seeds: list[int]) -> pd.DataFrame:
    ridge, aus = ridge_predictions(work / "synthau3d-reference-prepared", work / "synthau3d-prepared")
    ridge_course, _ = ridge_predictions(work / "synthau3d-prepared", work / "synthau3d-prepared")
    key = ["subject", "sequence", "frame"]
    rows = []
    for seed in seeds:
        run = work / "runs-reference-3d" / f"seed{seed}" / "hourglass" / "predictions.csv"
        hourglass = pd.read_csv(run, dtype={"subject": str, "sequence": str})
        merged = ridge.merge(hourglass, on=key, suffixes=("_ridge", ""), validate="one_to_one")
        if len(merged) != len(ridge):
            raise ValueError(f"{run}: {len(merged)} frames match the ridge's {len(ridge)}")
        ridge_side = merged[key + [c + "_ridge" for c in ridge.columns if c not in key]]
        ridge_side.columns = list(ridge.columns)
        subjects = merged.subject.unique()
        rows_of = {s: np.flatnonzero(merged.subject.to_numpy() == s) for s in subjects}

        def difference(idx: np.ndarray, merged=merged, ridge_side=ridge_side, rows_of=rows_of,
                       subjects=subjects) -> float:
            frames = np.concatenate([rows_of[subjects[i]] for i in idx])
            return mean_icc(merged.iloc[frames], aus) - mean_icc(ridge_side.iloc[frames], aus)

        interval = bootstrap(difference, len(subjects), n_boot=1000, seed=seed)
        rows.append({"seed": seed, "subjects": len(subjects), "frames": len(merged),
                     "hourglass_icc": mean_icc(merged, aus), "ridge_icc": mean_icc(ridge_side, aus),
                     "ridge_course_icc": mean_icc(ridge_course, aus),
                     "difference": float(interval.estimate), "difference_low": float(interval.low),
                     "difference_high": float(interval.high)})
    return pd.DataFrame(rows)


def portraits(reference: Path, seeds: list[int]) -> pd.DataFrame:
    from aulib.predict.explain import real_faces_table
    from aulib.predict.loop import load_inference_model

    tables = []
    for seed in seeds:
        model = load_inference_model(reference / "hourglass" / f"seed{seed}", device="cpu", precision="fp32")
        tables.append(real_faces_table(model, device="cpu").drop(columns="shows").reset_index().assign(seed=seed))
    return pd.concat(tables, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("data"))
    parser.add_argument("--reference", type=Path, default=Path("models/reference-3d"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--portraits-only", action="store_true",
                        help="only portraits.csv, from the committed weights (no data needed)")
    args = parser.parse_args()
    if not args.portraits_only:
        table = appearance(args.work, args.seeds)
        atomic_write_csv(args.reference / "appearance.csv", table, index=False)
        print(table.round(3).to_string(index=False))
    faces = portraits(args.reference, args.seeds)
    atomic_write_csv(args.reference / "portraits.csv", faces, index=False)
    print(faces.round(2).to_string(index=False))


if __name__ == "__main__":
    main()
