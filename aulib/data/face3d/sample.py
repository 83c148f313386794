"""Random SynthAU-3D people and frames: identity shape, skin, hair, eyes and expressivity; pose, lights, distractors
and camera.

Each draw uses its own generator, and every draw happens whatever the outcome of the others, so that one switch
does not shift later random numbers (the same rule as the 2D generator's scenes).

Example:
    >>> import numpy as np
    >>> from aulib.data.face3d.sample import sample_subject, sample_frame
    >>> subject = sample_subject(np.random.default_rng(3))
    >>> frame = sample_frame(subject, {12: 2.0}, np.random.default_rng(4))
    >>> subject.identity.shape, abs(frame.yaw) <= 30, frame.intensities[12]
    ((40,), True, 2.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from aulib.data.face3d.model import DISTRACTORS, FaceModel3D
from aulib.data.face3d.render import FaceParams, Subject3D
from aulib.data.synthau.faces import APPEARANCE_GAIN_SPREAD, GEOMETRY_GAIN_SPREAD, SIMULATED_AUS
from aulib.data.synthau.protocol import Difficulty
from aulib.data.synthau.scene import Scene

# Skin albedo (sRGB 0-1) from light to dark; a subject's tone is a point on this line, with a little hue noise.
_SKIN_LIGHT = np.array([0.93, 0.76, 0.66])
_SKIN_DARK = np.array([0.36, 0.23, 0.17])
_HAIR = np.array([[0.06, 0.05, 0.05], [0.22, 0.14, 0.09], [0.40, 0.27, 0.15], [0.72, 0.58, 0.36],
                  [0.55, 0.25, 0.12], [0.62, 0.60, 0.58]])  # black, dark brown, brown, blond, red, grey
_IRIS = np.array([[0.22, 0.13, 0.07], [0.35, 0.23, 0.12], [0.30, 0.42, 0.55], [0.33, 0.42, 0.28],
                  [0.42, 0.35, 0.20]])  # dark brown, brown, blue, green, hazel


def sample_subject(rng: np.random.Generator, model: FaceModel3D | None = None,
                   expressivity: float | None = None) -> Subject3D:
    """A random person: ICT identity weights ~ N(0, 1), a procedural appearance and an expressivity.

    Args:
        rng: the person's generator.
        model: the face model (default: the committed asset).
        expressivity: the spread of how far this person's face moves, and how deep their folds go, for one FACS
            intensity: per AU, a geometry gain exp(0.2 · e · z) and an appearance gain exp(0.25 · e · z'), with z, z'
            standard normal, as SynthAU v2's people (``sample_identity``); ``e`` is the difficulty's
            ``identity_variation`` (default: the default level's, 0.85). 0: every face moves by the documented
            amounts.
    """
    if expressivity is None:
        expressivity = Difficulty.from_level("default").identity_variation
    if expressivity < 0:
        raise ValueError(f"expressivity must be >= 0; got {expressivity}")
    model = model or FaceModel3D.load()
    identity = rng.standard_normal(model.identity_modes).astype(np.float32)
    tone = rng.beta(1.6, 1.6)
    skin = np.clip(_SKIN_LIGHT * (1 - tone) + _SKIN_DARK * tone + rng.normal(0, 0.025, 3), 0.05, 1)
    lips = np.clip(skin * np.array([0.88, 0.66, 0.66]) + rng.normal(0, 0.03, 3), 0.03, 1)
    hair = _HAIR[rng.integers(len(_HAIR))] * rng.uniform(0.85, 1.15)
    brows = np.clip(np.minimum(hair, skin * 0.5) * rng.uniform(0.7, 1.1), 0.02, 1)
    iris = _IRIS[rng.integers(len(_IRIS))] * rng.uniform(0.8, 1.2)
    bald, hairline = rng.random() < 0.1, rng.uniform(3.5, 6.0)
    freckled, freckles = rng.random() < 0.25, rng.uniform(0.2, 0.9)
    bearded, stubble = rng.random() < 0.3, rng.uniform(0.2, 0.9)
    background = (tuple(rng.uniform(30, 225, 3)), tuple(rng.uniform(30, 225, 3)))
    person = Subject3D(
        identity=identity, skin=tuple(skin), lips=tuple(lips), brows=tuple(brows), hair=tuple(np.clip(hair, 0, 1)),
        iris=tuple(np.clip(iris, 0, 1)), hairline=float("inf") if bald else float(hairline),
        brow_thickness=float(rng.uniform(0.25, 0.45)), freckles=float(freckles) if freckled else 0.0,
        stubble=float(stubble) if bearded else 0.0, age_lines=float(rng.beta(1.2, 3.0)),
        pores=float(rng.uniform(0.03, 0.09)), gloss=float(rng.uniform(0.2, 0.6)),
        skin_seed=float(rng.uniform(0, 100)), background=background)
    # Drawn after everything above (whatever the expressivity), so the older attributes' draws are unchanged.
    geometry = np.exp(GEOMETRY_GAIN_SPREAD * expressivity * rng.standard_normal(len(SIMULATED_AUS)))
    appearance = np.exp(APPEARANCE_GAIN_SPREAD * expressivity * rng.standard_normal(len(SIMULATED_AUS)))
    return replace(person, geometry_gain={au: float(g) for au, g in zip(SIMULATED_AUS, geometry, strict=True)},
                   appearance_gain={au: float(a) for au, a in zip(SIMULATED_AUS, appearance, strict=True)})


def sample_frame(subject: Subject3D, intensities: Mapping[int, float], rng: np.random.Generator,
                 variation: float = 0.35) -> FaceParams:
    """A random frame of ``subject`` showing ``intensities``: pose, lights, distractors and camera.

    Args:
        subject: the person.
        intensities: AU -> intensity (0-5).
        rng: the frame's generator.
        variation: 0-1, how far pose, lighting and camera vary (SynthAU's ``Difficulty`` scale; 1 reaches
            +-30 degrees of yaw and +-20 of pitch and roll).
    """
    yaw, pitch, roll = rng.uniform(-1, 1, 3) * variation * np.array([30.0, 20.0, 20.0])
    distractors = {name: float(rng.uniform(0, top)) if rng.random() < 0.35 else 0.0
                   for name, top in DISTRACTORS.items()}
    key = (float(rng.uniform(-70, 70)), float(rng.uniform(-10, 50)))
    cast = tuple(float(c) for c in 1 + 0.06 * variation * rng.standard_normal(3))
    scene = Scene(blur_sigma=float(0.3 + 0.9 * variation * rng.random()),
                  noise_sigma=float(1.0 + 4.0 * variation * rng.random()),
                  jpeg_quality=int(rng.integers(35, 91)) if rng.random() < variation else None,
                  gamma=float(np.exp(0.12 * variation * rng.standard_normal())))
    return FaceParams(
        subject=subject, intensities=dict(intensities), distractors=distractors, yaw=float(yaw),
        pitch=float(pitch), roll=float(roll), scale=float(np.exp(0.1 * variation * rng.standard_normal())),
        shift=tuple(float(s) for s in rng.normal(0, 0.03 * variation, 2)), key_light=key,
        key_strength=float(rng.uniform(0.6, 1.0)), fill_strength=float(rng.uniform(0.1, 0.45)),
        ambient=float(rng.uniform(0.12, 0.25)),
        light_colour=tuple(float(c) for c in np.asarray(cast) * np.array([1.0, 0.97, 0.92])), scene=scene)
