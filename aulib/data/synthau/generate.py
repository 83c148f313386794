"""SynthAU generation: draw each subject's task clips, render them, write and read the on-disk layout.

The layout and the protocol are described in :mod:`aulib.data.synthau`; this module does the work, resumably and
deterministically (one random stream per subject, clip and purpose, so the files do not depend on the number of
worker processes).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from aulib.data.records import KEY_COLUMNS, RawFrame
from aulib.data.synthau.faces import (
    DEPTH_68,
    SIMULATED_AUS,
    Identity,
    Pose,
    expression_shape,
    pose_points,
    sample_identity,
    smooth_noise,
    tracker_landmarks,
)
from aulib.data.synthau.protocol import (
    TASKS,
    Difficulty,
    SynthConfig,
    clip_intensities,
    clip_lengths,
    intensity_labels,
    subject_name,
)
from aulib.data.synthau.render import Scene, render_face
from aulib.io import atomic_write_csv, atomic_write_text
from aulib.method.aus import au_label, resolve_aus

FORMAT_VERSION = 2
# What a seed's frames look like, per renderer. Bump a renderer's number whenever a change alters the frames it
# draws for a seed: a set is only resumed (or reused) by the renderer version that began it, so that no set mixes
# two versions' faces. SynthAU-3D 2: all fourteen simulated AUs shown, bump-mapped folds, folds of age. 3: each
# person's expressivity (how far the face moves and how deep the folds go per intensity), as SynthAU v2's people.
RENDERER_VERSIONS = {"2d": 1, "3d": 3}


def _generator(config: SynthConfig, *keys: int) -> np.random.Generator:
    # One independent stream per (subject, sequence, purpose): results do not depend on processing order.
    return np.random.default_rng([config.seed, *keys])


def subject_identity(config: SynthConfig, subject: int) -> Identity:
    d = config.difficulty
    return sample_identity(_generator(config, subject, 0), d.identity_variation, d.glasses_probability, d.age_lines,
                           d.facial_hair_probability, d.skin_texture)


def _poses(config: SynthConfig, length: int, rng: np.random.Generator) -> list[Pose]:
    pv, size = config.difficulty.pose_variation, config.image_size
    drift = smooth_noise(rng, length, (6,), correlation=0.95)
    base_iod = size * rng.uniform(0.26, 0.36)
    base_centre = size * np.array([0.5, 0.42]) + size * 0.05 * pv * rng.standard_normal(2)
    base_angles = pv * rng.standard_normal(3) * np.radians([6.0, 7.5, 4.0])
    poses = []
    for t in range(length):
        roll, yaw, pitch = np.clip(base_angles + pv * drift[t, :3] * np.radians([3.0, 4.0, 2.0]),
                                   -np.radians([12.0, 15.0, 8.0]), np.radians([12.0, 15.0, 8.0]))
        poses.append(Pose(centre=base_centre + size * 0.01 * pv * drift[t, 3:5],
                          iod=base_iod * (1 + 0.03 * pv * drift[t, 5]), roll=roll, yaw=yaw, pitch=pitch))
    return poses


def _scenes(config: SynthConfig, length: int, rng: np.random.Generator, identity: Identity,
            landmarks: np.ndarray) -> list[Scene]:
    d, size = config.difficulty, config.image_size
    lv = d.lighting_variation
    cast = tuple(float(c) for c in 1 + 0.06 * lv * rng.standard_normal(3))
    angle = rng.uniform(0, 2 * np.pi)
    strength = 0.1 + 0.35 * lv * rng.random()
    brightness = float(np.clip(1 + 0.15 * lv * rng.standard_normal(), 0.65, 1.3))
    blur = 0.3 + 0.9 * lv * rng.random()
    noise = 1.0 + 4.0 * lv * rng.random()
    # Every draw happens whatever the outcome, so that one switch does not shift the others' random numbers.
    background = (tuple(rng.uniform(30, 225, 3)), tuple(rng.uniform(30, 225, 3)))
    clutter = int(rng.integers(4, 14)) if rng.random() < d.clutter_probability else 0
    clutter_seed = int(rng.integers(2**31))
    occluded, hand_side, kind = rng.random() < d.occlusion_probability, rng.random() < 0.5, rng.random()
    hand_shift, hand_angle = rng.normal(0, 0.02 * size), float(rng.uniform(-30, 30))
    object_shape = rng.uniform([0.08, 0.15, -25.0, 30, 30, 30], [0.16, 0.35, 25.0, 230, 230, 230])
    shadow = float(rng.uniform(0.2, 0.5)) if rng.random() < d.shadow_probability else 0.0
    jpeg = int(rng.integers(35, 91)) if rng.random() < d.jpeg_probability else None
    gamma = float(np.exp(0.12 * lv * rng.standard_normal()))
    hand = occluder = None
    anchor = landmarks[len(landmarks) // 2][48 if hand_side else 54]
    if occluded and kind < 0.6:
        # A hand resting against one side of the lower face for the whole clip.
        hand = (float(anchor[0] + hand_shift), float(anchor[1] + 0.1 * size), 0.09 * size, 0.15 * size, hand_angle)
    elif occluded:
        # An object held in front of the lower face's edge: a cup, a phone, a microphone.
        width, height, tilt, *rgb = object_shape
        side = -1 if hand_side else 1
        occluder = (float(anchor[0] + side * 0.12 * size), float(anchor[1] + 0.12 * size), float(width * size),
                    float(height * size), float(tilt), *map(float, rgb))
    gaze = smooth_noise(rng, length, (2,), correlation=0.9) * 0.06
    return [Scene(light_angle=angle, light_strength=strength, brightness=brightness, colour_cast=cast,
                  blur_sigma=blur, noise_sigma=noise, cue_strength=d.cue_strength, hand=hand,
                  gaze=(float(gaze[t, 0]), float(gaze[t, 1])), background=background, clutter=clutter,
                  clutter_seed=clutter_seed, occluder=occluder, shadow=shadow, jpeg_quality=jpeg, gamma=gamma)
            for t in range(length)]


def render_sequence(config: SynthConfig, subject: int, sequence: int, length: int) -> dict[str, np.ndarray]:
    """Generate one task clip in memory: ``length`` frames of task ``sequence`` (0–7, T1–T8).

    The subject performs the task for :data:`CLIP_SPAN` frames; the clip keeps ``length`` of them, in order, at
    random times, so that a short clip still spans the onset, apex and offset of the task's expressions.

    Returns:
        ``images`` ``(F, S, S, 3)`` uint8, ``landmarks`` (tracked) and ``exact_landmarks`` ``(F, 68, 2)``,
        ``intensities`` ``(F, 14)`` continuous, ``labels`` ``(F, 14)`` integer codes, ``task`` name.
    """
    if not 0 <= sequence < len(TASKS):
        raise ValueError(f"sequence must be a task index 0..{len(TASKS) - 1}; got {sequence}")
    if config.renderer == "3d":
        from aulib.data.face3d.sequence import render_sequence_3d

        return render_sequence_3d(config, subject, sequence, length)
    identity = subject_identity(config, subject)
    rng = _generator(config, subject, sequence + 1)
    task = TASKS[sequence]
    intensities = clip_intensities(config, task, length, rng)
    poses = _poses(config, length, rng)
    exact = np.stack([pose_points(expression_shape(identity, intensities[t]), DEPTH_68, poses[t])
                      for t in range(length)])
    neutral = np.stack([pose_points(identity.shape, DEPTH_68, pose) for pose in poses])
    iods = np.array([pose.iod for pose in poses])
    tracked = tracker_landmarks(exact, neutral, iods, rng, config.difficulty.tracker_noise,
                                config.difficulty.tracker_shrink)
    scenes = _scenes(config, length, rng, identity, exact)
    images = np.stack([
        render_face(exact[t], identity, intensities[t], scenes[t], config.image_size,
                    _generator(config, subject, sequence + 1, 2, t))
        for t in range(length)
    ])
    return {
        "images": images,
        "landmarks": tracked,
        "exact_landmarks": exact,
        "intensities": intensities,
        "labels": intensity_labels(intensities),
        "task": np.array(task.name),
    }


def _sequence_dir(root: Path, subject: int, sequence: int) -> Path:
    return root / "Sequences" / subject_name(subject) / f"T{sequence + 1}"


def _one_rasteriser_thread() -> None:
    """Give Mesa's CPU rasteriser (llvmpipe) one thread in each worker process, before it makes its context, unless
    ``LP_NUM_THREADS`` is set already: with a process per core, its default of a thread per core would put two
    threads on every core. A GPU's driver ignores it."""
    os.environ.setdefault("LP_NUM_THREADS", "1")


def _write_sequence(args: tuple[SynthConfig, str, int, int, int]) -> int:
    config, root_str, subject, sequence, length = args
    cv2.setNumThreads(1)  # one process per core does better than threads fighting over two cores
    final = _sequence_dir(Path(root_str), subject, sequence)
    if final.exists():
        return 0
    data = render_sequence(config, subject, sequence, length)
    partial = final.with_name(final.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for t, image in enumerate(data["images"]):
        ok, encoded = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1])
        assert ok
        (partial / f"{t + 1:04d}.png").write_bytes(encoded.tobytes())
    # Plain .npy files (not .npz, whose zip headers carry timestamps): the same seed gives the same bytes.
    for name in ("landmarks", "exact_landmarks", "intensities", "labels"):
        np.save(partial / f"{name}.npy", data[name])
    (partial / "task.txt").write_text(str(data["task"]) + "\n")
    os.replace(partial, final)  # a sequence appears whole or not at all: an interrupted run redoes only it
    return length


def generate(
    root: str | os.PathLike,
    subjects: int = 120,
    frames: int = 48,
    seed: int = 0,
    *,
    aus: str | Sequence[int] = "bp4d",
    difficulty: float | str | Difficulty = "default",
    image_size: int = 256,
    workers: int | None = None,
    progress: bool = True,
    renderer: str = "2d",
) -> SynthConfig:
    """Generate a SynthAU set under ``root`` (resumable: rerunning finishes an interrupted run).

    Args:
        root: output folder.
        subjects: number of subjects.
        frames: frames per subject, spread over the eight task clips (every subject performs every task).
        seed: the seed; the same arguments give byte-identical files.
        aus: the label set read back by default (``"bp4d"``, ``"disfa"`` or AU numbers); every simulated AU is
            labelled in ``labels.csv`` regardless.
        difficulty: a level in [0, 1], ``"easy"``/``"default"``/``"hard"``, or a :class:`Difficulty`.
        image_size: side of the square frames.
        workers: processes (default: the CPU count; one for ``renderer="3d"``, whose rasteriser threads use every
            core: two processes measured slower, BENCHMARKS.md).
        progress: show a progress bar.
        renderer: ``"2d"`` (SynthAU v2's procedural faces) or ``"3d"`` (SynthAU-3D, OpenGL).

    Returns:
        The :class:`SynthConfig` written to ``synthau.json``.

    Raises:
        ValueError: bad arguments, or ``root`` holds a SynthAU set generated with other settings.
    """
    if subjects < 1 or frames < len(TASKS):
        raise ValueError(f"need at least one subject and one frame per task ({len(TASKS)} tasks); got "
                         f"subjects={subjects}, frames={frames}")
    if image_size < 64:
        raise ValueError(f"image_size must be at least 64; got {image_size}")
    level = difficulty if isinstance(difficulty, Difficulty) else Difficulty.from_level(difficulty)
    config = SynthConfig(subjects=subjects, frames=frames, seed=seed, image_size=image_size, aus=resolve_aus(aus),
                         difficulty=level, renderer=renderer)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    settings_path = root / "synthau.json"
    if settings_path.exists():
        existing = json.loads(settings_path.read_text())
        if existing.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{root} holds a SynthAU set of format version {existing.get('format_version')} (this "
                             f"aulib writes version {FORMAT_VERSION}); choose another folder or delete it")
        if SynthConfig.from_json(existing["config"]) != config:
            raise ValueError(
                f"{root} already holds a SynthAU set generated with other settings ({existing['config']}); "
                "choose another folder or delete it"
            )
        if existing.get("renderer_version", 1) != RENDERER_VERSIONS[renderer]:
            raise ValueError(
                f"{root} holds a SynthAU set drawn by version {existing.get('renderer_version', 1)} of the "
                f"{renderer} renderer; this aulib draws version {RENDERER_VERSIONS[renderer]}, whose frames differ. "
                "Delete the folder (and its prepared copy) to draw it again"
            )
        if existing.get("complete"):
            return config
    version = {"format_version": FORMAT_VERSION, "renderer_version": RENDERER_VERSIONS[renderer]}
    atomic_write_text(settings_path, json.dumps({**version, "complete": False, "config": config.to_json()},
                                                indent=2))
    lengths = clip_lengths(frames)
    jobs = [(config, str(root), s, q, n) for s in range(subjects) for q, n in enumerate(lengths)]
    todo = [job for job in jobs if not _sequence_dir(root, job[2], job[3]).exists()]
    default_workers = 1 if renderer == "3d" else os.cpu_count() or 1
    workers = max(1, min(workers or default_workers, len(todo) or 1))
    with tqdm(total=subjects * frames, initial=subjects * frames - sum(j[4] for j in todo), unit="frame",
              desc="SynthAU-3D" if renderer == "3d" else "SynthAU", disable=not progress) as bar:
        if workers == 1:
            for job in todo:
                bar.update(_write_sequence(job))
        else:
            # Fresh interpreters ("forkserver"), not fork: a forked child inherits OpenCV's thread pool from a parent
            # that already used it and can deadlock in it.
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"),
                                     initializer=_one_rasteriser_thread if renderer == "3d" else None) as pool:
                for done in pool.map(_write_sequence, todo):
                    bar.update(done)
    _write_labels(root, config)
    atomic_write_text(settings_path, json.dumps({**version, "complete": True, "config": config.to_json(),
                                                 "n_frames": subjects * frames}, indent=2))
    return config


def _write_labels(root: Path, config: SynthConfig) -> None:
    tables = []
    for subject in range(config.subjects):
        for sequence, _ in enumerate(clip_lengths(config.frames)):
            labels = np.load(_sequence_dir(root, subject, sequence) / "labels.npy")
            table = pd.DataFrame(labels, columns=[au_label(a) for a in SIMULATED_AUS])
            table.insert(0, "frame", np.arange(1, len(labels) + 1))
            table.insert(0, "sequence", f"T{sequence + 1}")
            table.insert(0, "subject", subject_name(subject))
            tables.append(table)
    atomic_write_csv(root / "labels.csv", pd.concat(tables, ignore_index=True))


def load_config(root: str | os.PathLike) -> SynthConfig:
    """Read ``synthau.json``; raises ``FileNotFoundError`` with the expected layout when it is missing."""
    path = Path(root) / "synthau.json"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: {root} is not a SynthAU folder. Create one with "
            "`aulib synth --out DIR --subjects N --frames N --seed S`; expected layout:\n"
            "  DIR/synthau.json\n  DIR/labels.csv\n  DIR/Sequences/S001/T1/0001.png, landmarks.npy, ..."
        )
    data = json.loads(path.read_text())
    if data.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} is SynthAU format version {data.get('format_version')}; this aulib reads version "
                         f"{FORMAT_VERSION}: generate the set again with `aulib synth`")
    if not data.get("complete"):
        raise FileNotFoundError(f"{root} holds an unfinished SynthAU run; rerun the same `aulib synth` command")
    return SynthConfig.from_json(data["config"])


def read_labels(root: str | os.PathLike, aus: Sequence[int] | None = None) -> pd.DataFrame:
    """The labels table: ``subject, sequence, frame`` and one column per AU (default: the set's AU list)."""
    config = load_config(root)
    aus = resolve_aus(aus) if aus is not None else config.aus
    table = pd.read_csv(Path(root) / "labels.csv", dtype={"subject": str, "sequence": str})
    columns = [au_label(a) for a in aus]
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{Path(root) / 'labels.csv'} has no column(s) {missing}")
    out = table[[*KEY_COLUMNS, *columns]].copy()
    out[columns] = out[columns].astype(float)
    return out


def iter_frames(
    root: str | os.PathLike, labels: pd.DataFrame | None = None, skip: frozenset | set = frozenset()
) -> Iterator[RawFrame]:
    """Yield every labelled frame with its image, tracked landmarks and exact landmarks."""
    root = Path(root)
    labels = read_labels(root) if labels is None else labels
    au_columns = [c for c in labels.columns if c not in KEY_COLUMNS]
    for (subject, sequence), rows in labels.groupby(["subject", "sequence"], sort=False):
        folder = root / "Sequences" / subject / sequence
        tracked = np.load(folder / "landmarks.npy")
        exact = np.load(folder / "exact_landmarks.npy")
        for row in rows.itertuples(index=False):
            frame = int(row.frame)
            if (subject, sequence, frame) in skip:
                continue
            path = folder / f"{frame:04d}.png"
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            error = None if image is not None else f"cannot read {path}"
            i = frame - 1  # frames are numbered from 1 within each sequence
            yield RawFrame(
                subject=subject, sequence=sequence, frame=frame,
                labels=np.array([getattr(row, c) for c in au_columns], dtype=float),
                image=None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB),
                landmarks=tracked[i], exact_landmarks=exact[i], source=str(path), error=error,
            )


def render_still(
    identity: Identity, intensities: dict[int, float], config: SynthConfig, pose: Pose | None = None,
    scene: Scene | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One frontal, evenly lit frame of a subject showing the given AUs (for figures, widgets and tests).

    Returns:
        ``(image, landmarks)``: RGB uint8 ``(S, S, 3)`` and the exact ``(68, 2)`` landmarks.
    """
    size = config.image_size
    pose = pose or Pose(centre=np.array([0.5, 0.42]) * size, iod=0.34 * size)
    scene = scene or Scene(cue_strength=config.difficulty.cue_strength, noise_sigma=1.0, blur_sigma=0.3)
    values = np.zeros(len(SIMULATED_AUS))
    for au, value in intensities.items():
        values[SIMULATED_AUS.index(au)] = value
    points = pose_points(expression_shape(identity, values), DEPTH_68, pose)
    return render_face(points, identity, values, scene, size, np.random.default_rng(0)), points


def still_face(config: SynthConfig, subject: int, intensities: dict[int, float]) -> tuple[np.ndarray, np.ndarray]:
    """One frontal, evenly lit frame of person ``subject`` of the set ``config`` showing ``intensities``, drawn by
    the set's renderer (:func:`render_still`, or SynthAU-3D's :func:`~aulib.data.face3d.sequence.render_still_3d`).

    Returns:
        ``(image, landmarks)``: RGB uint8 ``(S, S, 3)`` and the exact ``(68, 2)`` landmarks.
    """
    if config.renderer == "3d":
        from aulib.data.face3d.sequence import render_still_3d

        return render_still_3d(config, subject, intensities)
    return render_still(subject_identity(config, subject), intensities, config)

