"""SynthAU: a procedural face dataset with exact 68-point landmarks and AU intensities (0–5).

SynthAU stands in for BP4D where licensed data is not available (students, CI, the README's main command).

- **Subjects** have their own face shape, feature sizes, colours, skin texture, hair, facial hair, glasses and
  expressivity (:mod:`aulib.data.synthau_faces`). Subjects are the unit of every split; sets have many of them
  (120 by default), so that a network cannot score by recognising people.
- **Every subject performs every task**: the eight tasks of BP4D's protocol (:data:`TASKS`, T1–T8), one short
  clip each. A clip samples its frames from a longer performance, so it spans onsets, apexes and offsets. AUs
  co-occur as in spontaneous expressions (AU6 with AU12 in amusement) but each fires with its own probability, and
  spontaneous events happen in any task (:data:`BACKGROUND_RATE`). Most frames show an AU absent, with a real tail
  at 3–5. Labels are integers 0–5, like FACS codes; the face is drawn from the continuous intensity.
- **AUs act as FACS describes, at FACS sizes**: each moves the landmarks by a documented amount
  (:data:`aulib.data.synthau_faces.AU_MOTION`; the AU12 lip corners move 0.25 IOD at intensity 5) and changes the
  appearance where :mod:`aulib.aus` puts its centres (:mod:`aulib.data.synthau_cues`), scaled by intensity.
- **Domain randomisation** (:mod:`aulib.data.synthau_scene`): position, scale, roll, yaw and pitch; lighting,
  cast shadows and colour; plain or cluttered backgrounds; hands and objects in front of the face; blur, sensor
  noise, tone curves and JPEG compression. Frames are not pre-aligned.
- **Tracker-like landmarks** (drift, jitter and a pull towards the neutral shape) are what the pipeline gets; the
  exact landmarks are stored beside them.
- **Difficulty** (:class:`Difficulty`) scales all of that but the AU motion itself.
- **Deterministic**: a seed gives byte-identical files, however many worker processes are used.

On-disk layout written by :func:`generate` (read back with :func:`read_labels` / :func:`iter_frames`)::

    ROOT/
      synthau.json                 generation settings, AU list, counts; "complete": true when finished
      labels.csv                   subject, sequence, frame, AU01 … AU26 (integer codes 0–5)
      Sequences/S001/T1/0001.png   frames (RGB PNG, square), numbered from 1; T1 … T8 are the tasks
      Sequences/S001/T1/landmarks.npy        (F, 68, 2) tracker-like landmarks, image pixels
      Sequences/S001/T1/exact_landmarks.npy  (F, 68, 2) the landmarks that drew the face
      Sequences/S001/T1/intensities.npy      (F, 14) continuous intensities of SIMULATED_AUS
      Sequences/S001/T1/labels.npy           (F, 14) integer codes (rounded intensities)
      Sequences/S001/T1/task.txt             the task performed

Example:
    >>> import tempfile
    >>> from aulib.data.synthau import generate, read_labels
    >>> root = tempfile.mkdtemp()
    >>> _ = generate(root, subjects=2, frames=8, seed=0, progress=False, workers=1)
    >>> labels = read_labels(root)
    >>> labels.shape, labels.groupby("subject").sequence.nunique().tolist()  # one clip of each task per subject
    ((16, 8), [8, 8])
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from aulib.aus import BP4D_AUS, MAX_INTENSITY, au_label, resolve_aus
from aulib.data.records import KEY_COLUMNS, RawFrame
from aulib.data.synthau_faces import (
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
from aulib.data.synthau_render import Scene, render_face
from aulib.io import atomic_write_csv, atomic_write_text

FORMAT_VERSION = 2
LANDMARK_LAYOUT = 68
AUS = BP4D_AUS  # default label set; SynthAU simulates and labels all of SIMULATED_AUS
CLIP_SPAN = 150  # a task's clip samples its frames from this many frames of a continuous performance


@dataclass(frozen=True)
class Task:
    """One of the eight tasks every subject performs, as in BP4D's protocol (one elicited emotion each).

    Attributes:
        name: what the subject does.
        aus: ``{au: (probability, weight)}``: how likely the AU fires in one expression event of the task, and its
            apex relative to the event's.
    """

    name: str
    aus: dict[int, tuple[float, float]]


# The eight BP4D-style tasks, in BP4D's order (T1 … T8). Co-occurrence follows spontaneous expressions, but no AU is
# tied to another: every AU fires with its own probability in each event, so AU12 appears without AU6 (a polite smile
# in T1 and T4), AU6 without AU12 (pain) and AU17 with or without AU14.
TASKS: tuple[Task, ...] = (
    Task("interview and joke (amusement)", {12: (0.9, 1.0), 6: (0.65, 0.85), 25: (0.6, 0.6), 10: (0.3, 0.5),
                                             26: (0.3, 0.5), 14: (0.25, 0.5), 17: (0.1, 0.4)}),
    Task("sad film (sadness)", {1: (0.7, 0.8), 4: (0.6, 0.7), 15: (0.7, 0.8), 17: (0.6, 0.8), 14: (0.35, 0.6),
                                12: (0.15, 0.4)}),
    Task("startle (surprise)", {1: (0.85, 0.9), 2: (0.85, 0.9), 5: (0.7, 0.8), 25: (0.7, 0.7), 26: (0.6, 0.7),
                                12: (0.35, 0.7), 6: (0.25, 0.6), 10: (0.15, 0.5)}),
    Task("improvised song (embarrassment)", {12: (0.8, 0.85), 14: (0.6, 0.85), 17: (0.5, 0.7), 6: (0.3, 0.6),
                                             25: (0.35, 0.5), 10: (0.2, 0.5)}),
    Task("threat (fear)", {1: (0.7, 0.8), 2: (0.6, 0.7), 4: (0.6, 0.7), 5: (0.6, 0.7), 20: (0.6, 0.8),
                           25: (0.5, 0.6), 14: (0.3, 0.6), 12: (0.2, 0.5), 17: (0.25, 0.6)}),
    Task("cold pressor (pain)", {4: (0.8, 0.9), 6: (0.8, 0.9), 10: (0.7, 0.85), 9: (0.5, 0.6), 20: (0.3, 0.5),
                                 25: (0.4, 0.5), 12: (0.4, 0.6), 14: (0.4, 0.6), 17: (0.45, 0.7)}),
    Task("insult (anger)", {4: (0.85, 0.9), 17: (0.7, 0.85), 14: (0.5, 0.7), 10: (0.45, 0.7), 5: (0.3, 0.5),
                            15: (0.2, 0.5), 6: (0.2, 0.5)}),
    Task("smell (disgust)", {9: (0.7, 0.8), 10: (0.85, 0.95), 4: (0.5, 0.6), 17: (0.5, 0.7), 15: (0.3, 0.5),
                             6: (0.45, 0.7), 12: (0.2, 0.4), 14: (0.3, 0.5)}),
)
# Spontaneous activity in any task (a smile while talking, pressed lips while thinking): the chance that an AU has
# an event of its own in a clip. It keeps AUs from being a function of the task.
BACKGROUND_RATE: dict[int, float] = {6: 0.2, 10: 0.2, 12: 0.3, 14: 0.3, 17: 0.3, 25: 0.25, 1: 0.1, 4: 0.1}


# The default level, calibrated on the CPU (RESULTS.md): ridge regression on the aligned tracked landmarks stays
# well below the image-based models, while the course's CPU Hourglass learns every BP4D AU.
DEFAULT_DIFFICULTY = 0.35


@dataclass(frozen=True)
class Difficulty:
    """How hard SynthAU is. :meth:`from_level` maps one number in [0, 1] onto all fields (use it to build one).

    Attributes:
        cue_strength: contrast of the AU appearance cues (wrinkles, folds, bulges).
        tracker_noise: tracker bias and jitter, each, as a fraction of the inter-ocular distance.
        tracker_shrink: fraction of each expression's landmark motion the tracker misses.
        identity_variation: scale of between-subject shape, colour and expressivity variation.
        pose_variation: scale of roll (±12°), yaw (±15°), pitch (±8°) and framing variation.
        lighting_variation: scale of light direction, strength, exposure, colour, blur and noise variation.
        glasses_probability: share of subjects wearing glasses (some tinted).
        facial_hair_probability: share of subjects with stubble, a moustache, a goatee or a beard.
        skin_texture: upper bound of the skin texture's contrast (pores, blotches, freckles).
        clutter_probability: share of clips filmed in front of a cluttered room rather than a plain backdrop.
        occlusion_probability: share of clips with a hand or an object partly in front of the face.
        shadow_probability: share of clips with a hard shadow over one side of the face.
        jpeg_probability: share of clips compressed as JPEG (quality 35–90).
        low_intensity_share: share of AU events whose apex is at most intensity 2.
        age_lines: strength of permanent lines unrelated to AUs (appearance distractors).

    The landmark motion of each AU is the same at every level: its size is FACS's (:data:`AU_MOTION`), and the
    difficulty only changes how well the tracker and the image show it.
    """

    cue_strength: float
    tracker_noise: float
    tracker_shrink: float
    identity_variation: float
    pose_variation: float
    lighting_variation: float
    glasses_probability: float
    facial_hair_probability: float
    skin_texture: float
    clutter_probability: float
    occlusion_probability: float
    shadow_probability: float
    jpeg_probability: float
    low_intensity_share: float
    age_lines: float

    @classmethod
    def from_level(cls, level: float | str) -> Difficulty:
        """``0`` (or ``"easy"``) to ``1`` (``"hard"``); ``"default"`` is :data:`DEFAULT_DIFFICULTY`."""
        named = {"easy": 0.0, "default": DEFAULT_DIFFICULTY, "hard": 1.0}
        if isinstance(level, str):
            if level not in named:
                raise ValueError(f"difficulty must be a number in [0, 1] or one of {sorted(named)}; got {level!r}")
            level = named[level]
        if not 0.0 <= float(level) <= 1.0:
            raise ValueError(f"difficulty must be in [0, 1]; got {level}")
        t = float(level)

        def lerp(easy: float, hard: float) -> float:
            return easy + (hard - easy) * t

        return cls(
            cue_strength=lerp(1.0, 0.55),
            tracker_noise=lerp(0.005, 0.035),
            tracker_shrink=lerp(0.1, 0.6),
            identity_variation=lerp(0.5, 1.5),
            pose_variation=lerp(0.3, 1.2),
            lighting_variation=lerp(0.3, 1.2),
            glasses_probability=lerp(0.0, 0.4),
            facial_hair_probability=lerp(0.0, 0.35),
            skin_texture=lerp(0.2, 1.0),
            clutter_probability=lerp(0.0, 0.8),
            occlusion_probability=lerp(0.0, 0.3),
            shadow_probability=lerp(0.0, 0.4),
            jpeg_probability=lerp(0.0, 0.7),
            low_intensity_share=lerp(0.15, 0.5),
            age_lines=lerp(0.2, 1.0),
        )


@dataclass(frozen=True)
class SynthConfig:
    """Everything that determines a SynthAU set (stored in ``synthau.json``).

    Attributes:
        subjects: number of subjects.
        frames: frames per subject, spread over the eight tasks (every subject performs every task).
        seed: the seed.
        image_size: side of the square frames.
        aus: the label set read back by default.
        difficulty: the :class:`Difficulty`.
    """

    subjects: int = 120
    frames: int = 48
    seed: int = 0
    image_size: int = 256
    aus: tuple[int, ...] = BP4D_AUS
    difficulty: Difficulty = field(default_factory=lambda: Difficulty.from_level("default"))

    def to_json(self) -> dict:
        return {**asdict(self), "aus": list(self.aus), "difficulty": asdict(self.difficulty)}

    @classmethod
    def from_json(cls, data: dict) -> SynthConfig:
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values["aus"] = tuple(values.get("aus", BP4D_AUS))
        values["difficulty"] = (Difficulty(**data["difficulty"]) if "difficulty" in data
                                else Difficulty.from_level("default"))
        return cls(**values)


def subject_name(index: int) -> str:
    return f"S{index + 1:03d}"


def clip_lengths(frames: int, tasks: int = len(TASKS)) -> list[int]:
    """Frames per task clip of one subject: ``frames`` spread evenly over the tasks, the first ones one longer.

    Example:
        >>> clip_lengths(20)
        [3, 3, 3, 3, 2, 2, 2, 2]
    """
    base, extra = divmod(frames, tasks)
    return [base + (k < extra) for k in range(tasks)]


def _generator(config: SynthConfig, *keys: int) -> np.random.Generator:
    # One independent stream per (subject, sequence, purpose): results do not depend on processing order.
    return np.random.default_rng([config.seed, *keys])


def subject_identity(config: SynthConfig, subject: int) -> Identity:
    d = config.difficulty
    return sample_identity(_generator(config, subject, 0), d.identity_variation, d.glasses_probability, d.age_lines,
                           d.facial_hair_probability, d.skin_texture)


def _event_envelope(length: int, onset: float, duration: float) -> np.ndarray:
    """A smooth onset–apex–offset bump (raised cosine ramps around a plateau), peak 1."""
    t = np.arange(length, dtype=float)
    ramp = max(2.0, duration * 0.35)
    x = np.clip(np.minimum(t - onset, onset + duration - t) / ramp, 0, 1)
    return 0.5 - 0.5 * np.cos(np.pi * x)


def _apex(rng: np.random.Generator, low_share: float) -> float:
    # Low events (trace to slight) or clear ones (slight to maximum), as in spontaneous data.
    return rng.uniform(0.6, 2.2) if rng.random() < low_share else rng.uniform(2.0, 5.5)


def intensity_trajectories(config: SynthConfig, task: Task, length: int, rng: np.random.Generator) -> np.ndarray:
    """Continuous intensities ``(length, len(SIMULATED_AUS))`` of one task performed for ``length`` frames.

    A task has one to three expression events; each AU the task recruits fires in an event with its own probability
    and shares the event's timing with a small lag, its apex scaled by its weight. AUs also have events of their own
    at :data:`BACKGROUND_RATE`. Frames between events are neutral.
    """
    values = np.zeros((length, len(SIMULATED_AUS)))
    low_share = config.difficulty.low_intensity_share
    for _ in range(int(rng.integers(2, 5))):
        duration = rng.uniform(0.3, 0.7) * length
        onset = rng.uniform(-0.1 * length, length - 0.6 * duration)
        apex = _apex(rng, low_share)
        for au, (probability, weight) in task.aus.items():
            fires, lag, scale = rng.random() < probability, rng.normal(0, 0.05 * duration), rng.uniform(0.7, 1.3)
            stretch = rng.uniform(0.8, 1.1)
            if fires:
                envelope = _event_envelope(length, onset + lag, duration * stretch)
                index = SIMULATED_AUS.index(au)
                values[:, index] = np.maximum(values[:, index], apex * weight * scale * envelope)
    for au, rate in BACKGROUND_RATE.items():
        fires, onset, duration = rng.random() < rate, rng.uniform(-0.1, 0.8) * length, rng.uniform(0.2, 0.5) * length
        apex = _apex(rng, low_share)
        if fires:
            index = SIMULATED_AUS.index(au)
            values[:, index] = np.maximum(values[:, index], apex * _event_envelope(length, onset, duration))
    return np.clip(values, 0, MAX_INTENSITY)


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
    identity = subject_identity(config, subject)
    rng = _generator(config, subject, sequence + 1)
    task = TASKS[sequence]
    span = max(CLIP_SPAN, length)
    performance = intensity_trajectories(config, task, span, rng)
    times = np.sort(rng.choice(span, size=length, replace=False))
    intensities = performance[times]
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
        # FACS codes are integers; labelling the rounded value mimics human coding of a continuous change.
        "labels": np.rint(intensities).astype(np.int8),
        "task": np.array(task.name),
    }


def _sequence_dir(root: Path, subject: int, sequence: int) -> Path:
    return root / "Sequences" / subject_name(subject) / f"T{sequence + 1}"


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
        workers: processes (default: the CPU count).
        progress: show a progress bar.

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
                         difficulty=level)
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
        if existing.get("complete"):
            return config
    atomic_write_text(settings_path, json.dumps({"format_version": FORMAT_VERSION, "complete": False,
                                                  "config": config.to_json()}, indent=2))
    lengths = clip_lengths(frames)
    jobs = [(config, str(root), s, q, n) for s in range(subjects) for q, n in enumerate(lengths)]
    todo = [job for job in jobs if not _sequence_dir(root, job[2], job[3]).exists()]
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    with tqdm(total=subjects * frames, initial=subjects * frames - sum(j[4] for j in todo), unit="frame",
              desc="SynthAU", disable=not progress) as bar:
        if workers == 1:
            for job in todo:
                bar.update(_write_sequence(job))
        else:
            # Fresh interpreters ("forkserver"), not fork: a forked child inherits OpenCV's thread pool from a parent
            # that already used it and can deadlock in it.
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver")) as pool:
                for done in pool.map(_write_sequence, todo):
                    bar.update(done)
    _write_labels(root, config)
    atomic_write_text(settings_path, json.dumps({"format_version": FORMAT_VERSION, "complete": True,
                                                  "config": config.to_json(), "n_frames": subjects * frames},
                                                 indent=2))
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


def sample_grid(
    subjects: int = 4, aus: Sequence[int] = BP4D_AUS, levels: Sequence[float] = (0, 1, 2, 3, 4, 5),
    seed: int = 0, difficulty: float | str = "default", image_size: int = 192,
) -> tuple[np.ndarray, list[str], list[str]]:
    """Frontal renders of a few subjects showing one AU at a time, for the SynthAU figure (neutral, then A–E).

    Returns:
        ``(images, row_labels, column_labels)`` with images ``(subjects, len(aus) * len(levels), S, S, 3)``.
    """
    config = replace(SynthConfig(seed=seed, image_size=image_size), difficulty=Difficulty.from_level(difficulty))
    columns = [f"{au_label(a)} = {level:g}" for a in aus for level in levels]
    grid = [
        [render_still(subject_identity(config, subject), {au: level}, config)[0] for au in aus for level in levels]
        for subject in range(subjects)
    ]
    return np.array(grid), [subject_name(s) for s in range(subjects)], columns
