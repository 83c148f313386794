"""SynthAU-3D task clips: the 2D generator's protocol, rendered from the 3D face model.

:func:`render_sequence_3d` returns what :func:`aulib.data.synthau.render_sequence` returns, so ``aulib synth
--renderer 3d`` writes the same layout and every reader, split and notebook works on it unchanged. The protocol is
SynthAU's: each subject performs the eight tasks, AU intensities follow
:func:`~aulib.data.synthau.protocol.clip_intensities`, and the tracker-like landmarks come from
:func:`tracker_landmarks`. What changes is the face: a :mod:`aulib.data.face3d` person, posed in 3D (yaw up to
+-30 degrees, pitch and roll up to +-20 at the hardest level), with unlabelled distractor movements (blinks,
squints, jaw, brows, pucker) and the 2D generator's scene and camera.

Every AU SynthAU simulates has expression shapes (:data:`aulib.data.face3d.model.AU_SHAPES`), so every one is
shown and labelled, as in the 2D generator; the course's models read BP4D's five (6, 10, 12, 14, 17), and the others
(brows, lids, nose, frown, stretch, lips and jaw) move the same face the way BP4D's people do.

Landmarks and labels are numpy (identical on every machine for a seed); pixels depend on the OpenGL renderer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from aulib.data.face3d.model import AU_SHAPES, DISTRACTORS, FaceModel3D
from aulib.data.face3d.render import FaceParams, FaceRenderer, Subject3D
from aulib.data.face3d.sample import sample_frame, sample_subject
from aulib.data.synthau.faces import SIMULATED_AUS, smooth_noise, tracker_landmarks
from aulib.data.synthau.protocol import (
    TASKS,
    SynthConfig,
    Task,
    clip_intensities,
    intensity_labels,
)
from aulib.data.synthau.scene import Scene

RENDERED_AUS = tuple(au for au in SIMULATED_AUS if au in AU_SHAPES)


@lru_cache(maxsize=2)
def shared_renderer(size: int) -> FaceRenderer:
    """One renderer (one OpenGL context) per process and image size."""
    return FaceRenderer(size)


def _generator(config: SynthConfig, *keys: int) -> np.random.Generator:
    # The 3D faces get streams of their own (key 3): the 2D generator's draws for the same seed stay untouched.
    return np.random.default_rng([config.seed, 3, *keys])


@dataclass
class ClipPlan:
    """Everything a SynthAU-3D clip draws before its pixels: numpy only, the same on every machine for a seed.

    Attributes:
        person: the subject (identity, appearance, expressivity gains).
        task: the task performed.
        intensities: ``(F, 14)`` continuous intensities of :data:`SIMULATED_AUS` (0 for any AU not rendered).
        angles: ``(F, 3)`` yaw, pitch and roll in degrees.
        distractors: per frame, distractor shape -> weight.
        clip: the clip's lights, camera and framing (a :class:`FaceParams` without intensities).
        occluded: whether a hand rests against the face.
        rng: the clip's generator, positioned after these draws (the hand and the tracker draw from it next).
    """

    person: Subject3D
    task: Task
    intensities: np.ndarray
    angles: np.ndarray
    distractors: list[dict[str, float]]
    clip: FaceParams
    occluded: bool
    rng: np.random.Generator


def plan_clip_3d(config: SynthConfig, subject: int, sequence: int, length: int,
                 model: FaceModel3D | None = None) -> ClipPlan:
    """The draws of one SynthAU-3D task clip, without rendering it.

    :func:`render_sequence_3d` renders exactly this plan; an analysis of a set's errors reads it for what the labels
    round or leave out (continuous intensities, pose, distractors, the person's gains).

    Args:
        config: the set's config.
        subject: the subject's index (``S001`` is 0).
        sequence: the task's index (``T1`` is 0).
        length: the clip's frames.
        model: the face model (default: the committed asset).

    Returns:
        The :class:`ClipPlan`; its ``rng`` is left where the hand and the tracker draw next.

    Raises:
        ValueError: ``sequence`` is not a task index.
    """
    if not 0 <= sequence < len(TASKS):
        raise ValueError(f"sequence must be a task index 0..{len(TASKS) - 1}; got {sequence}")
    difficulty = config.difficulty
    model = model or FaceModel3D.load()
    person = sample_subject(_generator(config, subject, 0), model, difficulty.identity_variation)
    rng = _generator(config, subject, sequence + 1)
    task = TASKS[sequence]
    intensities = clip_intensities(config, task, length, rng)
    shown = np.isin(SIMULATED_AUS, RENDERED_AUS)
    intensities[:, ~shown] = 0.0

    # One clip: the same lights, camera and scene throughout (sampled once); the head and the distractors move.
    clip = sample_frame(person, {}, rng, variation=min(1.0, difficulty.lighting_variation))
    variation = difficulty.pose_variation / 1.2  # 1 at the hardest level
    limits = np.array([30.0, 20.0, 20.0])
    base_angles = np.clip(rng.standard_normal(3) * limits * 0.35 * variation, -limits, limits)
    drift = smooth_noise(rng, length, (3,), correlation=0.95) * limits * 0.12 * variation
    names = list(DISTRACTORS)
    distractor_paths = np.clip(smooth_noise(rng, length, (len(names),), correlation=0.8) - 0.6, 0, None)
    occluded = bool(rng.random() < difficulty.occlusion_probability)
    angles = np.clip(base_angles + drift, -limits, limits)
    distractors = [{name: float(min(1.0, distractor_paths[t, k]) * DISTRACTORS[name]) for k, name in enumerate(names)}
                   for t in range(length)]
    return ClipPlan(person=person, task=task, intensities=intensities, angles=angles, distractors=distractors,
                    clip=clip, occluded=occluded, rng=rng)


def render_sequence_3d(config: SynthConfig, subject: int, sequence: int, length: int) -> dict[str, np.ndarray]:
    """One task clip of a SynthAU-3D subject (the return value of :func:`aulib.data.synthau.render_sequence`).

    Returns:
        ``images`` ``(F, S, S, 3)`` uint8, ``landmarks`` (tracked) and ``exact_landmarks`` ``(F, 68, 2)``,
        ``intensities`` ``(F, 14)`` continuous, ``labels`` ``(F, 14)`` integer codes, ``task`` name.
    """
    difficulty = config.difficulty
    renderer = shared_renderer(config.image_size)
    plan = plan_clip_3d(config, subject, sequence, length, renderer.model)
    person, clip, rng = plan.person, plan.clip, plan.rng
    scene = clip.scene
    exact, neutral, images = [], [], []
    for t in range(length):
        yaw, pitch, roll = (float(angle) for angle in plan.angles[t])
        values = {au: float(plan.intensities[t, SIMULATED_AUS.index(au)]) for au in RENDERED_AUS}
        params = FaceParams(
            subject=person, intensities=values, distractors=plan.distractors[t], yaw=yaw, pitch=pitch,
            roll=roll, scale=clip.scale, shift=clip.shift, key_light=clip.key_light,
            key_strength=clip.key_strength, fill_strength=clip.fill_strength, ambient=clip.ambient,
            light_colour=clip.light_colour, scene=scene)
        if plan.occluded and t == 0:  # the hand rests in one place for the whole clip
            scene = params.scene = _with_hand(clip.scene, renderer.landmarks(params), config.image_size, rng)
        image, landmarks = renderer.render(params, _generator(config, subject, sequence + 1, 2, t))
        rest = FaceParams(subject=person, yaw=yaw, pitch=pitch, roll=roll, scale=clip.scale, shift=clip.shift)
        exact.append(landmarks)
        neutral.append(renderer.landmarks(rest))
        images.append(image)
    exact, neutral = np.stack(exact).astype(np.float64), np.stack(neutral).astype(np.float64)
    iods = np.linalg.norm(exact[:, 36] - exact[:, 45], axis=1)
    tracked = tracker_landmarks(exact, neutral, iods, rng, difficulty.tracker_noise, difficulty.tracker_shrink)
    return {
        "images": np.stack(images),
        "landmarks": tracked,
        "exact_landmarks": exact,
        "intensities": plan.intensities,
        "labels": intensity_labels(plan.intensities),
        "task": np.array(plan.task.name),
    }


# What a still shows of its AUs: both cues, or one of them alone (a probe of what a network reads).
CUES = ("both", "shape", "folds")


def render_still_3d(config: SynthConfig, subject: int, intensities: dict[int, float],
                    pose: tuple[float, float, float] = (0.0, 0.0, 0.0), cues: str = "both",
                    ) -> tuple[np.ndarray, np.ndarray]:
    """A render of person ``subject`` of the SynthAU-3D set ``config`` showing ``intensities``: fixed lights, a
    clean camera, no distractors, with the expressivity the person has in the set (the 3D twin of
    :func:`aulib.data.synthau.render_still`, for figures and the explorer); frontal unless ``pose`` (yaw, pitch,
    roll in degrees, as :class:`~aulib.data.face3d.render.FaceParams`) turns the head.

    ``cues`` takes one of an AU's two cues away from the ``intensities`` shown: ``"shape"`` moves the face (and
    its landmarks) without the AUs' folds, ``"folds"`` draws the folds on a face that does not move (landmarks at
    rest), so that what a model reads from each can be measured apart. Neither exists alone in a real face.

    Returns:
        ``(S, S, 3)`` uint8 RGB and ``(68, 2)`` float32 exact landmark pixels.
    """
    if cues not in CUES:
        raise ValueError(f"cues must be one of {CUES}; got {cues!r}")
    renderer = shared_renderer(config.image_size)
    person = sample_subject(_generator(config, subject, 0), renderer.model, config.difficulty.identity_variation)
    if cues != "both":  # a gain must be positive: 1e-9 leaves a motion or a fold far below a pixel
        off = {au: 1e-9 for au in intensities}
        person = replace(person, **{"appearance_gain" if cues == "shape" else "geometry_gain":
                                    {**(person.appearance_gain if cues == "shape" else person.geometry_gain), **off}})
    yaw, pitch, roll = pose
    params = FaceParams(subject=person, intensities={int(a): float(v) for a, v in intensities.items()}, scale=1.15,
                        shift=(0.0, 0.05), scene=Scene(blur_sigma=0.3, noise_sigma=0.0), yaw=yaw, pitch=pitch,
                        roll=roll)
    return renderer.render(params, np.random.default_rng(0))


def _with_hand(scene: Scene, landmarks: np.ndarray, size: int, rng: np.random.Generator) -> Scene:
    """The clip's scene with a hand resting against one side of the lower face (drawn by the scene module)."""
    anchor = landmarks[48 if rng.random() < 0.5 else 54]
    hand = (float(anchor[0] + rng.normal(0, 0.02 * size)), float(anchor[1] + 0.1 * size), 0.09 * size,
            0.15 * size, float(rng.uniform(-30, 30)))
    return replace(scene, hand=hand)
