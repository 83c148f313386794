"""Where the SynthAU-3D readers' errors come from (``models/reference-3d/error_sources.csv``).

On SynthAU-3D the Hourglass and ridge regression on the landmarks score alike (RESULTS.md), and the cue probe
(``tools/synthau3d_probe.py``) shows the Hourglass reading an AU's motion, not its folds. One proposed fix was a set
in which people's motion for one FACS intensity varies more, so that the landmarks mislead and the folds must be
read. That fix acts on the person's expressivity; this tool measures how large a part of today's errors that is,
and what the rest comes from. It does not test the fix itself, which would need the set.

Every frame of the course set's test people is replayed without rendering
(:func:`aulib.data.face3d.sequence.plan_clip_3d`: the same draws as the set's frames; the check covers the set's
renderer version and its labels, whose intensities are drawn first, with pose and distractors after them),
which gives what the integer labels leave out: each AU's continuous intensity, the person's expressivity gains,
the head pose, the distractor movements and the other AUs' intensities. For each reader and AU the residual
``reading - continuous intensity`` is regressed on nested blocks of these, in this order, and each block's share is
the residual variance it explains beyond the blocks before it:

1. ``intensity``: the intensity itself (a reading that rises less than the intensity, or more);
2. ``expressivity``: intensity x log geometry gain and intensity x log appearance gain (how far this person moves,
   and how deep their folds go, for one FACS intensity);
3. ``person``: one offset per person (what their face reads as at rest, and anything else that is theirs);
4. ``person_slope``: one slope on the intensity per person, beyond the expressivity gains' (with ``expressivity``, an
   upper bound on what any person-specific scale of the AU explains);
5. ``frame``: the distractors' weights, absolute yaw, pitch and roll, and the other thirteen AUs' intensities.

``unexplained`` is what is left. The shares depend on the order (the other AUs co-occur with the AU, so the
intensity block takes some of what they explain), and are not adjusted for the number of terms: a block of ``k``
terms of pure noise explains about ``k / (frames - 1)`` (2% for 29 person terms over 1,440 frames).
``error_terms.csv`` beside it names the frame terms: each one's effect on the residual (coefficient times standard
deviation) in a fit on the intensity and every frame term. ``slope`` is the reading's rise per intensity unit (a
least-squares line on the continuous intensity); ``label_ceiling`` is the ICC of the continuous intensity itself
against the labels (what rounding to FACS codes costs a perfect reader).

Readers: the ridge on the landmarks that RESULTS pairs with the Hourglass
(:func:`aulib.evaluation.geometry.geometry_predictions` on the course set), and every committed SynthAU-3D reference
run with per-frame predictions of the Hourglass and its pooled head. The sets are the ones ``aulib reference
--renderer 3d --work WORK`` writes (``WORK/synthau3d``, ``WORK/synthau3d-prepared``); they are not committed.

Usage:
    python tools/synthau3d_error_sources.py --work WORK [--out models/reference-3d/error_sources.csv]

It takes about 5 minutes on 2 AVX-512 cores (the bootstrap: 500 resamples of 7 readers x 5 AUs).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from aulib.data.face3d.model import DISTRACTORS, FaceModel3D
from aulib.data.face3d.sequence import plan_clip_3d
from aulib.data.synthau import load_config, read_labels
from aulib.data.synthau.faces import SIMULATED_AUS
from aulib.data.synthau.generate import RENDERER_VERSIONS
from aulib.data.synthau.protocol import TASKS, clip_lengths, intensity_labels, subject_name
from aulib.evaluation.geometry import geometry_predictions
from aulib.io import atomic_write_csv
from aulib.method.aus import BP4D_AUS, au_label
from aulib.method.bootstrap import bootstrap
from aulib.method.metrics import icc

ROOT = Path(__file__).resolve().parents[1]
READERS = ("hourglass", "hourglass-direct")
BLOCKS = ("intensity", "expressivity", "person", "person_slope", "frame")
KEYS = ["subject", "sequence", "frame"]


def replay(set_dir: Path, subjects: list[str]) -> pd.DataFrame:
    """Per frame of ``subjects``: every simulated AU's continuous intensity (``cont_AUxx``), the person's gains
    (``geometry_AUxx``, ``appearance_AUxx``), the pose and the distractors' weights (``d_<shape>``)."""
    config = load_config(set_dir)
    version = json.loads((set_dir / "synthau.json").read_text()).get("renderer_version")
    if config.renderer != "3d" or version != RENDERER_VERSIONS["3d"]:
        raise ValueError(f"{set_dir}: a {config.renderer} set of renderer version {version}; this aulib replays "
                         f"SynthAU-3D version {RENDERER_VERSIONS['3d']}")
    model = FaceModel3D.load()
    index_of = {subject_name(i): i for i in range(config.subjects)}
    lengths = clip_lengths(config.frames)
    rows = []
    for name in tqdm(subjects, desc="replay", unit="person"):
        for sequence, length in enumerate(lengths):
            plan = plan_clip_3d(config, index_of[name], sequence, length, model)
            for t in range(length):
                row = {"subject": name, "sequence": f"T{sequence + 1}", "frame": t + 1,
                       "yaw": plan.angles[t, 0], "pitch": plan.angles[t, 1], "roll": plan.angles[t, 2],
                       **{f"d_{shape}": weight for shape, weight in plan.distractors[t].items()}}
                for k, au in enumerate(SIMULATED_AUS):
                    row[f"cont_{au_label(au)}"] = plan.intensities[t, k]
                    row[f"label_{au_label(au)}"] = int(intensity_labels(plan.intensities[t, k]))
                    row[f"geometry_{au_label(au)}"] = plan.person.geometry_gain[au]
                    row[f"appearance_{au_label(au)}"] = plan.person.appearance_gain[au]
                rows.append(row)
    frames = pd.DataFrame(rows)
    # The replay must be the set: its rounded intensities are the labels written to labels.csv.
    labels = read_labels(set_dir, aus=SIMULATED_AUS).astype({"subject": str, "sequence": str})
    both = frames.merge(labels, on=KEYS, how="inner")
    if len(both) != len(frames):
        raise ValueError(f"{set_dir}: the replay has {len(frames)} frames of {len(subjects)} people, "
                         f"labels.csv matches {len(both)}")
    for au in SIMULATED_AUS:
        if not (both[f"label_{au_label(au)}"] == both[au_label(au)]).all():
            raise ValueError(f"{set_dir}: the replayed {au_label(au)} does not round to labels.csv's: another "
                             "renderer version or config?")
    return frames


def _shares(residual: np.ndarray, intensity: np.ndarray, gains: np.ndarray, frame: np.ndarray,
            person: np.ndarray) -> np.ndarray:
    """Each block's share of the residual's variance beyond the blocks before it (nested least squares), in the
    order of :data:`BLOCKS`, then what is left: six numbers that sum to 1.

    Args:
        residual: ``(n,)`` reading minus continuous intensity.
        intensity: ``(n,)`` the continuous intensity.
        gains: ``(n, g)`` the expressivity terms.
        frame: ``(n, f)`` the frame's terms.
        person: ``(n,)`` who each frame shows (any labels): one offset, then one slope on the intensity, per person.
    """
    offsets = (person[:, None] == np.unique(person)[None, 1:]).astype(float)
    total, explained, shares = float(np.var(residual)), 0.0, []
    if total == 0:  # nothing to explain (a resample of one person read without error)
        return np.full(len(BLOCKS) + 1, np.nan)
    design = np.ones((len(residual), 1))
    for block in (intensity[:, None], gains, offsets, offsets * intensity[:, None], frame):
        design = np.column_stack([design, block])
        fit, *_ = np.linalg.lstsq(design, residual, rcond=None)
        now = 1.0 - float(np.var(residual - design @ fit)) / total
        shares.append(now - explained)
        explained = now
    return np.array([*shares, 1.0 - explained])


def _joined(reader: str, seed: int, table: pd.DataFrame, frames: pd.DataFrame) -> pd.DataFrame:
    """A reader's per-frame predictions beside the replayed frames; ValueError if any prediction has no frame."""
    joined = table.astype({"subject": str, "sequence": str}).merge(frames, on=KEYS, how="inner")
    if len(joined) != len(table):
        raise ValueError(f"{reader} seed {seed}: {len(table)} predictions, {len(joined)} replayed frames")
    return joined


def _frame_block(joined: pd.DataFrame, au: int) -> tuple[list[str], np.ndarray]:
    """The frame's terms for ``au`` and their values: the distractors' weights, absolute yaw, pitch and roll, and
    the other AUs' continuous intensities."""
    names = (list(DISTRACTORS) + ["abs_yaw", "abs_pitch", "abs_roll"]
             + [au_label(a) for a in SIMULATED_AUS if a != au])
    values = np.column_stack([joined[[f"d_{shape}" for shape in DISTRACTORS]].to_numpy(),
                              np.abs(joined[["yaw", "pitch", "roll"]].to_numpy()),
                              joined[[f"cont_{au_label(a)}" for a in SIMULATED_AUS if a != au]].to_numpy()])
    return names, values


def decompose(reader: str, seed: int, table: pd.DataFrame, frames: pd.DataFrame, n_boot: int = 500) -> list[dict]:
    """One row per AU: ICC, the label ceiling, the slope and each block's share of the residual variance, with a
    95% bootstrap interval over the people (a person drawn twice counts as two people)."""
    joined = _joined(reader, seed, table, frames)
    people = joined.subject.to_numpy()
    rows_of = [np.flatnonzero(people == name) for name in np.unique(people)]
    rows = []
    for au in BP4D_AUS:
        label = au_label(au)
        truth, reading = joined[f"true_{label}"].to_numpy(float), joined[f"pred_{label}"].to_numpy(float)
        intensity = joined[f"cont_{label}"].to_numpy()
        gains = np.column_stack([intensity * np.log(joined[f"geometry_{label}"].to_numpy()),
                                 intensity * np.log(joined[f"appearance_{label}"].to_numpy())])
        _, frame = _frame_block(joined, au)
        residual = reading - intensity

        def statistic(drawn: np.ndarray, intensity=intensity, gains=gains, frame=frame, residual=residual
                      ) -> np.ndarray:
            index = np.concatenate([rows_of[k] for k in drawn])
            person = np.concatenate([np.full(len(rows_of[k]), position) for position, k in enumerate(drawn)])
            return _shares(residual[index], intensity[index], gains[index], frame[index], person)

        interval = bootstrap(statistic, len(rows_of), n_boot=n_boot, seed=seed)
        slope = float(np.polyfit(intensity, reading, 1)[0])
        row = {"reader": reader, "seed": seed, "AU": label, "frames": len(joined), "people": len(rows_of),
               "icc": float(icc(truth[:, None], reading[:, None])[0]),
               "label_ceiling": float(icc(truth[:, None], intensity[:, None])[0]), "slope": slope,
               "residual_sd": float(residual.std())}
        for k, name in enumerate((*BLOCKS, "unexplained")):
            row.update({f"share_{name}": interval.estimate[k], f"share_{name}_low": interval.low[k],
                        f"share_{name}_high": interval.high[k]})
        rows.append(row)
    return rows


def frame_terms(reader: str, seed: int, table: pd.DataFrame, frames: pd.DataFrame) -> list[dict]:
    """Per AU, each frame term's effect on the residual: its coefficient in a least-squares fit on the intensity and
    every frame term, times the term's standard deviation (intensity units per standard deviation)."""
    joined = _joined(reader, seed, table, frames)
    rows = []
    for au in BP4D_AUS:
        label = au_label(au)
        names, values = _frame_block(joined, au)
        design = np.column_stack([np.ones(len(joined)), joined[f"cont_{label}"], values])
        fit, *_ = np.linalg.lstsq(design, joined[f"pred_{label}"] - joined[f"cont_{label}"], rcond=None)
        rows += [{"reader": reader, "seed": seed, "AU": label, "term": name,
                  "effect": float(coefficient * values[:, k].std())}
                 for k, (name, coefficient) in enumerate(zip(names, fit[2:], strict=True))]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True, help="aulib reference --renderer 3d's --work folder")
    parser.add_argument("--reference", type=Path, default=ROOT / "models" / "reference-3d")
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "reference-3d" / "error_sources.csv")
    args = parser.parse_args()

    course_prepared = args.work / "synthau3d-prepared"
    ridge = geometry_predictions(course_prepared)
    tables = [("ridge on landmarks", 0, ridge)]
    for reader in READERS:
        for path in sorted((args.reference / reader).glob("seed*/predictions.csv.gz")):
            tables.append((reader, int(path.parent.name.removeprefix("seed")), pd.read_csv(path)))
    subjects = sorted(ridge.subject.astype(str).unique())
    frames = replay(args.work / "synthau3d", subjects)
    rows = [row for reader, seed, table in tqdm(tables, desc="decompose", unit="reader")
            for row in decompose(reader, seed, table, frames)]
    result = pd.DataFrame(rows)
    atomic_write_csv(args.out, result.round(4), index=False)
    terms = pd.DataFrame([row for reader, seed, table in tables for row in frame_terms(reader, seed, table, frames)])
    atomic_write_csv(args.out.with_name("error_terms.csv"), terms.round(4), index=False)
    summary = result.groupby(["reader", "AU"])[["icc", "slope"] + [f"share_{b}" for b in (*BLOCKS, "unexplained")]
                                               ].mean().round(2)
    print(summary.to_string())
    print(f"wrote {args.out} ({len(TASKS)} tasks x {len(subjects)} people)")


if __name__ == "__main__":
    main()
