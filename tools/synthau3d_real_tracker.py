"""A real tracker on SynthAU-3D: dlib's landmarks against the simulated tracker's (``models/reference-3d/``).

SynthAU's labels come with exact landmarks, and its ``Difficulty`` adds a simulated tracker's errors to them
(:func:`aulib.data.synthau.faces.tracker_landmarks`: each expression's motion shrunk by ``tracker_shrink``, a drifting
bias and a frame-to-frame jitter of ``tracker_noise`` inter-ocular distances in all). At the course's default level
geometry alone (ridge on the aligned tracked landmarks) reads SynthAU-3D as well as the Hourglass does, and at the
``hard`` level, whose tracker is noisier and misses more of the motion, it does not (RESULTS.md). Which level's
tracker is faithful was not measured. This tool measures it with the real tracker the course itself uses on real
faces, dlib's 68-point model, run on the course set's rendered frames, where the exact landmarks are known.

It writes these tables:

- ``real_tracker.csv``: per tracker and landmark group, the tracker's error measured as the simulator defines it,
  in inter-ocular distances (IOD) of the exact landmarks, with a 95% bootstrap interval over people:

  - ``gain``: how much of each frame's expression motion (exact minus the same face at rest, same pose) the tracker
    follows: the least-squares slope of its within-clip displacement on the exact one (1 - ``tracker_shrink`` for the
    simulated tracker);
  - ``jitter``: the within-clip error left after the gain, per coordinate (sd);
  - ``bias``: the per-clip constant error beyond the followed motion, per coordinate (sd over clips, after each
    landmark's mean over the whole set is taken out);
  - ``noise``: sqrt(bias^2 + jitter^2), which is ``tracker_noise`` for the simulated tracker;
  - ``nme``: the mean point-to-point error, the usual landmark benchmark figure;
  - ``offset``: the mean length of each landmark's mean error (tracked minus exact) over the set: a fixed
    difference of landmark definitions, plus the mean motion a tracker does not follow.

  Rows: dlib; the set's own simulated tracker (the default level's knobs); and the simulated tracker with the
  ``hard`` level's knobs, drawn on the same frames. The two simulated rows check the estimator against the knobs it
  should recover.
- ``real_tracker_paired.csv``: per seed of the reference Hourglass, the Hourglass against ridge on the landmarks,
  paired by test person (:func:`aulib.evaluation.paired.icc_difference`), once with the simulated tracker (the
  course's data) and once with dlib's landmarks in its place: the frames re-aligned with dlib's landmarks (the
  Hourglass re-read on those crops) and ridge refitted on dlib's aligned landmarks of the same training people.
  Both rows are scored on the same test frames, those where dlib found the face. The ridges are fitted on the
  training frames each tracker has: every one for the simulated tracker, about 90% for dlib (fewer of those with a
  hand on the face).

- ``real_tracker_detection.csv``: the share of frames dlib found, by absolute yaw and by a hand on the face.
- ``real_tracker_retrained.csv`` (with ``--retrained models/reference-3d-dlib``): per seed, the reference Hourglass
  trained on crops aligned with dlib's landmarks (``aulib reference --renderer 3d --detector dlib``) against the one
  trained on the simulated tracker's, both read on dlib's crops of the same test frames, paired by person: does
  training on a real tracker's crops help the reader of a real tracker's crops?

The sets are the ones ``aulib reference --renderer 3d --work WORK`` (or ``make reproduce RENDERER=3d``, in
``data``) writes: ``WORK/synthau3d`` and ``WORK/synthau3d-prepared``; this tool adds ``WORK/synthau3d-prepared-dlib``
(resumable). dlib on a rendered face is a real tracker on a synthetic face: its error on real faces may differ.

Usage:
    python tools/synthau3d_real_tracker.py --work WORK [--out models/reference-3d] [--seeds 0 1 2] [--retrained DIR]

About 3.5 minutes on 2 AVX2-only cores: dlib on the 5,760 frames 73 s (resumable, so a second run skips it), the
rest 124 s (three Hourglasses read twice in fp32, the replay of the faces at rest, the bootstraps).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from aulib.data.dataset import PreparedDataset
from aulib.data.face3d.render import FaceParams
from aulib.data.face3d.sequence import plan_clip_3d, shared_renderer
from aulib.data.synthau import load_config
from aulib.data.synthau.faces import tracker_landmarks
from aulib.data.synthau.generate import RENDERER_VERSIONS
from aulib.data.synthau.protocol import Difficulty, clip_lengths, subject_name
from aulib.io import atomic_write_csv
from aulib.method.bootstrap import bootstrap

ROOT = Path(__file__).resolve().parents[1]
KEYS = ["subject", "sequence", "frame"]
# iBUG 68-point groups (0-based): what each AU moves.
GROUPS = {"all": np.arange(68), "brows": np.arange(17, 27), "eyes": np.arange(36, 48), "mouth": np.arange(48, 68),
          "jaw": np.arange(0, 17)}
STATISTICS = ("gain", "jitter", "bias", "noise", "nme")


def clip_sums(tracked: np.ndarray, exact: np.ndarray, neutral: np.ndarray, clips: np.ndarray,
              points: np.ndarray) -> dict[str, np.ndarray]:
    """Per clip, the sums :func:`tracker_statistics` needs, so that a bootstrap over people only adds them up.

    Args:
        tracked, exact, neutral: ``(n, 68, 2)`` image landmarks of ``n`` frames: the tracker's, the exact ones and
            the same faces at rest (no expression, same pose).
        clips: ``(n,)`` integer clip of each frame (frames of one clip share a person, a task and a camera).
        points: the landmark indices to use.

    Returns:
        Arrays with one row per clip (``np.unique(clips)`` order): ``de``, ``ee``, ``dd`` (within-clip sums of the
        displacements' products), ``frames``, ``mean_d``, ``mean_e`` (``(c, P, 2)`` clip means) and ``nme`` (sum of
        point-to-point errors).
    """
    iod = np.linalg.norm(exact[:, 36] - exact[:, 45], axis=1)[:, None, None]
    moved_tracked = ((tracked - neutral) / iod)[:, points]
    moved_exact = ((exact - neutral) / iod)[:, points]
    errors = np.linalg.norm((tracked - exact) / iod, axis=2)[:, points].mean(axis=1)
    names, codes = np.unique(clips, return_inverse=True)
    out = {key: [] for key in ("de", "ee", "dd", "frames", "mean_d", "mean_e", "nme")}
    for c in range(len(names)):
        rows = codes == c
        d, e = moved_tracked[rows], moved_exact[rows]
        mean_d, mean_e = d.mean(axis=0), e.mean(axis=0)
        d, e = d - mean_d, e - mean_e
        out["de"].append(float((d * e).sum()))
        out["ee"].append(float((e * e).sum()))
        out["dd"].append(float((d * d).sum()))
        out["frames"].append(int(rows.sum()))
        out["mean_d"].append(mean_d)
        out["mean_e"].append(mean_e)
        out["nme"].append(float(errors[rows].sum()))
    return {key: np.asarray(value) for key, value in out.items()}


def tracker_statistics(sums: dict[str, np.ndarray]) -> np.ndarray:
    """``gain, jitter, bias, noise, nme, offset`` from :func:`clip_sums` (of some clips; a clip may repeat).

    ``jitter`` divides by the within-clip degrees of freedom (frames minus one per clip), so it is unbiased for
    clips of any length; ``offset`` is the mean length of each landmark's mean error (tracked minus exact) over all
    clips (IOD).
    """
    gain = sums["de"].sum() / sums["ee"].sum()
    points = sums["mean_d"].shape[1]
    residual = sums["dd"].sum() - 2 * gain * sums["de"].sum() + gain**2 * sums["ee"].sum()
    dof = (sums["frames"] - 1).sum() * points * 2
    jitter = np.sqrt(max(residual, 0.0) / dof)
    constant = sums["mean_d"] - gain * sums["mean_e"]  # (c, P, 2) each clip's error beyond the followed motion
    # A clip mean also holds 1/frames of the jitter's variance; take it out so that bias is the clip constant alone.
    spread = ((constant - constant.mean(axis=0)) ** 2).sum() / (max(len(constant) - 1, 1) * points * 2)
    bias = np.sqrt(max(spread - jitter**2 * np.mean(1.0 / sums["frames"]), 0.0))
    nme = sums["nme"].sum() / sums["frames"].sum()
    offset = (sums["mean_d"] - sums["mean_e"]).mean(axis=0)  # (tracked - neutral) - (exact - neutral), per point
    return np.array([gain, jitter, bias, np.hypot(bias, jitter), nme, float(np.linalg.norm(offset, axis=1).mean())])


def replay_neutral(set_dir: Path, frames: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Each frame's face at rest, in the frame's pose (what the set's tracker shrinks towards), and its pose.

    Returns:
        ``(n, 68, 2)`` landmarks at rest, and per frame ``yaw, pitch, roll`` (degrees) and ``occluded`` (a hand).
    """
    config = load_config(set_dir)
    version = json.loads((set_dir / "synthau.json").read_text()).get("renderer_version")
    if config.renderer != "3d" or version != RENDERER_VERSIONS["3d"]:
        raise ValueError(f"{set_dir}: a {config.renderer} set of renderer version {version}; this aulib replays "
                         f"SynthAU-3D version {RENDERER_VERSIONS['3d']}")
    renderer = shared_renderer(config.image_size)
    index_of = {subject_name(i): i for i in range(config.subjects)}
    lengths = clip_lengths(config.frames)
    rest, pose = {}, {}
    for name in tqdm(sorted(frames.subject.unique()), desc="faces at rest", unit="person"):
        for sequence, length in enumerate(lengths):
            plan = plan_clip_3d(config, index_of[name], sequence, length, renderer.model)
            for t in range(length):
                yaw, pitch, roll = (float(a) for a in plan.angles[t])
                params = FaceParams(subject=plan.person, yaw=yaw, pitch=pitch, roll=roll, scale=plan.clip.scale,
                                    shift=plan.clip.shift)
                key = (name, f"T{sequence + 1}", t + 1)
                rest[key] = renderer.landmarks(params)
                pose[key] = (yaw, pitch, roll, plan.occluded)
    keys = list(frames[KEYS].itertuples(index=False, name=None))
    poses = pd.DataFrame([pose[key] for key in keys], columns=["yaw", "pitch", "roll", "occluded"])
    return np.stack([rest[key] for key in keys]).astype(np.float64), poses


def detection_by_pose(poses: pd.DataFrame, found: np.ndarray) -> pd.DataFrame:
    """The share of frames dlib found, by absolute yaw (10-degree bins) and by whether a hand covers part of the face.

    Args:
        poses: per frame of the set, ``yaw`` and ``occluded`` (:func:`replay_neutral`).
        found: positions (rows of ``poses``) of the frames dlib found.
    """
    detected = np.zeros(len(poses), bool)
    detected[found] = True
    yaw_bin = (np.minimum(np.abs(poses.yaw.to_numpy()) // 10, 2) * 10).astype(int)
    table = pd.DataFrame({"yaw": [f"{b}-{b + 10}" for b in yaw_bin], "hand": poses.occluded.to_numpy(),
                          "detected": detected})
    return (table.groupby(["yaw", "hand"]).detected.agg(frames="size", detected="mean").reset_index())


def _frames(data: PreparedDataset) -> pd.DataFrame:
    return data.frames[KEYS].reset_index(drop=True).astype({"subject": str, "sequence": str, "frame": int})


def measure_trackers(raw: Path, given: Path, with_dlib: Path, n_boot: int = 1000
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows of ``real_tracker.csv`` (see the module's docstring), and of ``real_tracker_detection.csv``
    (:func:`detection_by_pose`)."""
    sim, real = PreparedDataset(given), PreparedDataset(with_dlib)
    sim_keys, real_keys = _frames(sim), _frames(real)
    position = {key: i for i, key in enumerate(sim_keys.itertuples(index=False, name=None))}
    found = np.array([position[key] for key in real_keys.itertuples(index=False, name=None)])
    exact = sim.exact_landmarks_original_array().astype(np.float64)
    neutral, poses = replay_neutral(raw, sim_keys)
    config = load_config(raw)
    hard = Difficulty.from_level("hard")
    # The hard level's tracker on the same frames: its own generator per clip, so the draws are independent of the set.
    clips = (sim_keys.subject + "/" + sim_keys.sequence).to_numpy()
    hard_tracked = np.empty_like(exact)
    for k, clip in enumerate(np.unique(clips)):
        rows = np.flatnonzero(clips == clip)
        iods = np.linalg.norm(exact[rows, 36] - exact[rows, 45], axis=1)
        hard_tracked[rows] = tracker_landmarks(exact[rows], neutral[rows], iods, np.random.default_rng([7, k]),
                                               hard.tracker_noise, hard.tracker_shrink)
    # Every tracker is read on the frames dlib found.
    trackers = {
        "dlib": real.landmarks_original_array().astype(np.float64),
        f"simulated (the set's: noise {config.difficulty.tracker_noise:.4f}, shrink "
        f"{config.difficulty.tracker_shrink:.3f})": sim.landmarks_original_array().astype(np.float64)[found],
        f"simulated (hard level: noise {hard.tracker_noise:.4f}, shrink {hard.tracker_shrink:.3f})":
            hard_tracked[found],
    }
    exact, neutral, clips = exact[found], neutral[found], clips[found]
    # clip_sums' rows are np.unique(clips); a bootstrap draws people and takes each one's clips.
    clip_people = pd.Series(sim_keys.subject.to_numpy()[found]).groupby(clips).first().reindex(
        np.unique(clips)).to_numpy()
    names = np.unique(clip_people)
    clips_of = [np.flatnonzero(clip_people == name) for name in names]
    rows = []
    for tracker, tracked in trackers.items():
        for group, points in GROUPS.items():
            sums = clip_sums(tracked, exact, neutral, clips, points)

            def statistic(drawn: np.ndarray, sums=sums) -> np.ndarray:
                chosen = np.concatenate([clips_of[i] for i in drawn])
                return tracker_statistics({key: value[chosen] for key, value in sums.items()})

            interval = bootstrap(statistic, len(names), n_boot=n_boot, seed=0)
            row = {"tracker": tracker, "points": group, "frames": len(found), "people": len(names),
                   "detected": len(found) / len(sim_keys), "offset": interval.estimate[-1]}
            for k, name in enumerate(STATISTICS):
                row.update({name: interval.estimate[k], f"{name}_low": interval.low[k],
                            f"{name}_high": interval.high[k]})
            rows.append(row)
    table = pd.DataFrame(rows)
    # The set's own tracker must read back as its knob; if not, the replayed faces at rest are not the set's.
    own = table[table.tracker.str.startswith("simulated (the set") & (table.points == "all")].gain.iloc[0]
    if abs(own - (1 - config.difficulty.tracker_shrink)) > 0.05:
        raise ValueError(f"{raw}: its tracker reads back as following {own:.3f} of the motion, not the "
                         f"{1 - config.difficulty.tracker_shrink:.3f} of its tracker_shrink: the replay is not the set")
    return table, detection_by_pose(poses, found)


def paired_with_dlib(given: Path, with_dlib: Path, reference: Path, seeds: list[int], n_boot: int = 2000,
                     retrained: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows of ``real_tracker_paired.csv`` (see the module's docstring), and, given the ``retrained`` reference
    folder (``aulib reference --detector dlib``), those of ``real_tracker_retrained.csv``: per seed, the Hourglass
    trained on dlib's crops against the one trained on the simulated tracker's, both read on dlib's crops, paired by
    test person."""
    from aulib.evaluation.evaluate import evaluate
    from aulib.evaluation.geometry import geometry_predictions
    from aulib.evaluation.paired import icc_difference, mean_icc, read_predictions, verdict
    from aulib.method.metrics import icc

    def on_frames(table: pd.DataFrame, keys: pd.DataFrame) -> pd.DataFrame:
        table = table.astype({"subject": str, "sequence": str, "frame": int})
        return table.merge(keys, on=KEYS, how="inner")

    def per_au(table: pd.DataFrame, reader: str) -> dict[str, float]:
        labels = [c.removeprefix("true_") for c in table.columns if c.startswith("true_")]
        values = icc(table[[f"true_{x}" for x in labels]].to_numpy(float),
                     table[[f"pred_{x}" for x in labels]].to_numpy(float))
        return {f"{reader}_{label}": float(value) for label, value in zip(labels, values, strict=True)}

    real_keys = _frames(PreparedDataset(with_dlib))
    ridge = {"simulated": on_frames(geometry_predictions(given), real_keys),
             "dlib": on_frames(geometry_predictions(with_dlib), real_keys)}
    rows, retrained_rows = [], []
    for seed in seeds:
        folder = reference / "hourglass" / f"seed{seed}"
        hourglass = {}
        for tracker, data in (("simulated", given), ("dlib", with_dlib)):
            with tempfile.TemporaryDirectory() as scratch:  # this machine's render: the pixels dlib saw
                evaluate(folder, data=data, device="cpu", precision="fp32", out=scratch)
                hourglass[tracker] = read_predictions(Path(scratch) / "predictions.csv")
        # How far this machine's render of the set moves the committed reading (all test frames).
        committed = read_predictions(folder / "predictions.csv.gz")
        rerendered = mean_icc(hourglass["simulated"]) - mean_icc(committed)
        both = committed.merge(hourglass["simulated"], on=KEYS, suffixes=("", "_here"))
        columns = [c for c in committed.columns if c.startswith("pred_")]
        moved = float(np.abs(both[columns].to_numpy(float) - both[[f"{c}_here" for c in columns]].to_numpy(float))
                      .max())
        for tracker in ("simulated", "dlib"):
            network = on_frames(hourglass[tracker], ridge[tracker][KEYS])
            interval = icc_difference(ridge[tracker], network, n_boot=n_boot, seed=seed)
            rows.append({"tracker": tracker, "seed": seed, "subjects": interval.n, "frames": len(network),
                         "hourglass_icc": mean_icc(network), "ridge_icc": mean_icc(ridge[tracker]),
                         "difference": interval.estimate, "low": interval.low, "high": interval.high,
                         "verdict": verdict(interval), "rerender_shift": rerendered, "rerender_max_change": moved,
                         **per_au(network, "hourglass"), **per_au(ridge[tracker], "ridge")})
        if retrained is not None:
            on_dlib = read_predictions(retrained / "hourglass" / f"seed{seed}" / "predictions.csv.gz")
            interval = icc_difference(hourglass["dlib"], on_dlib, n_boot=n_boot, seed=seed)
            retrained_rows.append({"seed": seed, "subjects": interval.n, "frames": len(on_dlib),
                                   "simulated_trained_icc": mean_icc(hourglass["dlib"]),
                                   "dlib_trained_icc": mean_icc(on_dlib), "difference": interval.estimate,
                                   "low": interval.low, "high": interval.high, "verdict": verdict(interval),
                                   **per_au(hourglass["dlib"], "simulated_trained"),
                                   **per_au(on_dlib, "dlib_trained")})
    return pd.DataFrame(rows), pd.DataFrame(retrained_rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="folder holding synthau3d and synthau3d-prepared")
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "reference-3d")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--retrained", type=Path, help="the reference folder of `aulib reference --renderer 3d "
                        "--detector dlib` (e.g. models/reference-3d-dlib): also write real_tracker_retrained.csv")
    args = parser.parse_args(argv)
    from aulib.data.prepare import prepare

    raw, given = args.work / "synthau3d", args.work / "synthau3d-prepared"
    with_dlib = args.work / "synthau3d-prepared-dlib"
    for folder in (raw, given):
        if not folder.is_dir():
            raise SystemExit(f"{folder} is missing: run `aulib reference --renderer 3d --work {args.work}` first")
    prepare("synthau", raw, with_dlib, detector="dlib")
    paired, retrained = paired_with_dlib(given, with_dlib, args.out, args.seeds, retrained=args.retrained)
    atomic_write_csv(args.out / "real_tracker_paired.csv", paired, index=False)
    print(paired.round(3).to_string(index=False))
    if args.retrained is not None:
        atomic_write_csv(args.out / "real_tracker_retrained.csv", retrained, index=False)
        print(retrained.round(3).to_string(index=False))
    trackers, detection = measure_trackers(raw, given, with_dlib)
    atomic_write_csv(args.out / "real_tracker.csv", trackers, index=False)
    atomic_write_csv(args.out / "real_tracker_detection.csv", detection, index=False)
    print(detection.round(3).to_string(index=False))
    print(trackers[["tracker", "points", "detected", "gain", "jitter", "bias", "noise", "nme", "offset"]]
          .round(4).to_string(index=False))


if __name__ == "__main__":
    main()
