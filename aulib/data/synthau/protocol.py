"""SynthAU's protocol: the eight tasks and the AUs they recruit, the difficulty, and intensity trajectories.

Everything here decides *what* a SynthAU set contains (who performs what, how strongly, how hard it is to see);
:mod:`aulib.data.synthau.generate` draws and writes it.

Example:
    >>> [task.name.split(" (")[0] for task in TASKS][:3]
    ['interview and joke', 'sad film', 'startle']
    >>> clip_lengths(48)
    [6, 6, 6, 6, 6, 6, 6, 6]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import numpy as np

from aulib.data.synthau.faces import (
    SIMULATED_AUS,
)
from aulib.method.aus import BP4D_AUS, MAX_INTENSITY

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


RENDERERS = ("2d", "3d")


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
        renderer: ``"2d"`` (the procedural OpenCV faces) or ``"3d"`` (SynthAU-3D: the ICT face model rendered with
            OpenGL, :mod:`aulib.data.face3d`).
    """

    subjects: int = 120
    frames: int = 48
    seed: int = 0
    image_size: int = 256
    aus: tuple[int, ...] = BP4D_AUS
    difficulty: Difficulty = field(default_factory=lambda: Difficulty.from_level("default"))
    renderer: str = "2d"

    def __post_init__(self):
        if self.renderer not in RENDERERS:
            raise ValueError(f"renderer must be one of {RENDERERS}; got {self.renderer!r}")

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


def _event_envelope(length: int, onset: float, duration: float) -> np.ndarray:
    """A smooth onset–apex–offset bump (raised cosine ramps around a plateau), peak 1."""
    t = np.arange(length, dtype=float)
    ramp = max(2.0, duration * 0.35)
    x = np.clip(np.minimum(t - onset, onset + duration - t) / ramp, 0, 1)
    return 0.5 - 0.5 * np.cos(np.pi * x)


def _apex(rng: np.random.Generator, low_share: float) -> float:
    # Low events (trace to slight) or clear ones (slight to maximum), as in spontaneous data.
    return rng.uniform(0.6, 2.2) if rng.random() < low_share else rng.uniform(2.0, 5.5)


def clip_intensities(config: SynthConfig, task: Task, length: int, rng: np.random.Generator) -> np.ndarray:
    """Intensities ``(length, len(SIMULATED_AUS))`` of one clip: the task performed for :data:`CLIP_SPAN` frames (or
    ``length`` if longer), of which the clip keeps ``length`` frames, in order, at random times."""
    span = max(CLIP_SPAN, length)
    performance = intensity_trajectories(config, task, span, rng)
    times = np.sort(rng.choice(span, size=length, replace=False))
    return performance[times]


def intensity_labels(intensities: np.ndarray) -> np.ndarray:
    """Integer FACS codes (int8) of continuous intensities."""
    # FACS codes are integers; labelling the rounded value mimics human coding of a continuous change.
    return np.rint(intensities).astype(np.int8)


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
