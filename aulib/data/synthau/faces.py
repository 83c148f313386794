"""SynthAU geometry: identities, AU-driven landmark motion, head pose, and tracker-like errors.

Everything here works in *face units*: the mean shape centred between the outer eye corners and divided by the
inter-ocular distance (IOD), so that the outer eye corners sit at (±0.5, 0), +x points towards the subject's left
eye (landmark 45) and +y towards the chin. A depth coordinate z (towards the camera) lets the head yaw and pitch.

Example:
    >>> import numpy as np
    >>> from aulib.data.synthau.faces import sample_identity, expression_shape
    >>> identity = sample_identity(np.random.default_rng(0), variation=1.0)
    >>> smile = expression_shape(identity, {12: 5.0})
    >>> bool(smile[48, 1] < identity.shape[48, 1])  # the lip corner moved up
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from aulib.method.aus import MAX_INTENSITY
from aulib.method.shape import FLIP_68, mean_shape

# Every AU SynthAU simulates: the union of the BP4D and DISFA sets.
SIMULATED_AUS: tuple[int, ...] = (1, 2, 4, 5, 6, 9, 10, 12, 14, 15, 17, 20, 25, 26)
# Expressivity: per AU, the log-normal spread (times the difficulty's identity variation) of how far a person's face
# moves (geometry) and how strong their cues are (appearance) for one intensity. SynthAU-3D's people use the same.
GEOMETRY_GAIN_SPREAD, APPEARANCE_GAIN_SPREAD = 0.2, 0.25


def mean_face_units() -> np.ndarray:
    """The mean shape in face units: ``(68, 2)``, outer eye corners at (±0.5, 0)."""
    shape = mean_shape()
    centre = (shape[36] + shape[45]) / 2
    return (shape - centre) / np.linalg.norm(shape[45] - shape[36])


# Depth (towards the camera, IOD units) of each point of a frontal face: the nose tip stands out, the jaw's
# sides recede. Only used to foreshorten a mildly turned head.
DEPTH_68 = np.concatenate([
    -0.62 + 0.47 * np.sin(np.linspace(0, np.pi, 17)),  # jaw: -0.62 at the ears, -0.15 at the chin
    [-0.02, 0.03, 0.06, 0.07, 0.07, 0.07, 0.07, 0.06, 0.03, -0.02],  # brows
    [0.05, 0.13, 0.21, 0.30],  # nose bridge to tip
    [0.12, 0.18, 0.21, 0.18, 0.12],  # nose base
    [-0.06, 0.0, 0.01, 0.0, 0.0, -0.02],  # right eye
    [0.0, 0.01, 0.0, -0.06, -0.02, 0.0],  # left eye
    [0.02, 0.08, 0.11, 0.12, 0.11, 0.08, 0.02, 0.07, 0.1, 0.11, 0.1, 0.07],  # outer lips
    [0.03, 0.09, 0.1, 0.09, 0.03, 0.09, 0.1, 0.09],  # inner lips
])


def _symmetric(moves: Mapping[int, tuple[float, float]]) -> dict[int, tuple[float, float]]:
    """Complete a one-sided motion with its mirror image (x flips sign; midline points keep theirs)."""
    out = dict(moves)
    for index, (dx, dy) in moves.items():
        mirror = FLIP_68[index]
        if mirror != index:
            out[mirror] = (-dx, dy)
    return out


# Landmark motion of each AU at intensity 5 (FACS "E", maximum), in IOD units, written for the subject's right side
# (image left) and mirrored; "inward" is +x on this side, "up" is -y. Motion is linear in intensity, as in the
# linear AU -> mesh model that the measured sizes come from, so intensity 3 ("C", marked) moves 60% as far.
#
# Sources (data/README.md tabulates them):
# - [PLS] measured on py-feat's linear AU -> face-mesh model (partial least squares, fitted to real video) at
#   intensity 3, rigid motion removed, then scaled to intensity 5: AU12 lip corners up 0.11 / out 0.10 IOD at 3;
#   AU4 brows down 0.13; AU1 inner brows up 0.10-0.115; AU26 lower lip down 0.26. Used as a reference only.
# - [FACS] estimated from the FACS manual's description of the appearance change (Ekman, Friesen & Hager, 2002)
#   where no measured size was at hand; these are the author's estimates, sized against the measured AUs.
AU_MOTION: dict[int, dict[int, tuple[float, float]]] = {
    # [PLS] inner brows up 0.10-0.115 at 3 -> 0.18 at 5, falling off towards the tail.
    1: _symmetric({21: (0.0, -0.18), 20: (0.0, -0.13), 19: (0.0, -0.07), 18: (0.0, -0.03)}),
    # [FACS] the lateral frontalis arches the outer brow; sized like AU1.
    2: _symmetric({17: (0.0, -0.12), 18: (0.0, -0.16), 19: (0.0, -0.12), 20: (0.0, -0.05)}),
    # [PLS] brows down 0.13 at 3 -> 0.21 at 5, and drawn together.
    4: _symmetric({21: (0.06, 0.21), 20: (0.04, 0.17), 19: (0.02, 0.11), 18: (0.0, 0.06), 17: (0.0, 0.03),
                   37: (0.0, 0.02), 38: (0.0, 0.025)}),
    # [FACS] the upper lid rises: more sclera above the iris (an eye is ~0.12 IOD high at rest).
    5: _symmetric({37: (0.0, -0.06), 38: (0.0, -0.06)}),
    # [FACS] the orbital orbicularis lifts the cheek and the lower lid (the eye narrows by about half at E), and
    # the lip corners rise a little with the cheek.
    6: _symmetric({40: (0.0, -0.06), 41: (0.0, -0.06), 36: (0.0, -0.015), 39: (0.0, -0.01), 37: (0.0, 0.012),
                   38: (0.0, 0.012), 48: (0.0, -0.02), 1: (0.0, -0.015), 2: (0.0, -0.02)}),
    # [FACS] nose wings and the upper lip rise; the brow heads are pulled down.
    9: _symmetric({31: (0.0, -0.06), 32: (0.0, -0.045), 33: (0.0, -0.04), 21: (0.015, 0.05), 50: (0.0, -0.05),
                   51: (0.0, -0.05), 61: (0.0, -0.04), 62: (0.0, -0.04)}),
    # [FACS] the upper lip rises most at its centre-lateral peaks (where levator labii inserts) and parts from the
    # lower lip; the nose wings rise a little. Sized like the PLS lip-corner motion.
    10: _symmetric({49: (0.0, -0.09), 50: (0.0, -0.13), 51: (0.0, -0.11), 61: (0.0, -0.1), 62: (0.0, -0.09),
                    48: (0.0, -0.03), 60: (0.0, -0.03), 31: (0.0, -0.03), 32: (0.0, -0.02), 33: (0.0, -0.015)}),
    # [PLS] lip corners up 0.11 / out 0.10 at 3 -> up 0.18 / out 0.17 at 5; the lips follow the corners.
    12: _symmetric({48: (-0.17, -0.18), 60: (-0.14, -0.15), 49: (-0.08, -0.1), 59: (-0.09, -0.08),
                    61: (-0.04, -0.06), 67: (-0.05, -0.05), 50: (-0.03, -0.04), 58: (-0.04, -0.02)}),
    # [FACS] the buccinator tightens the corners and pulls them inwards (and slightly back and up); the lips are pressed
    # thinner.
    14: _symmetric({48: (0.07, -0.015), 60: (0.055, -0.01), 49: (0.025, 0.015), 59: (0.025, -0.015),
                    50: (0.0, 0.012), 58: (0.0, -0.012), 61: (0.01, 0.01), 67: (0.01, -0.01)}),
    # [FACS] the corners are pulled down, the lower lip's sides follow.
    15: _symmetric({48: (-0.015, 0.12), 60: (-0.012, 0.1), 59: (0.0, 0.05), 49: (0.0, 0.02), 58: (0.0, 0.02)}),
    # [FACS] the mentalis pushes the chin boss and the lower lip up: the lower lip's centre rises into an inverted U
    # while the corners drop slightly; the upper lip is pushed up a little.
    17: _symmetric({57: (0.0, -0.1), 58: (0.0, -0.08), 59: (0.0, -0.04), 66: (0.0, -0.08), 67: (0.0, -0.07),
                    8: (0.0, -0.07), 7: (0.0, -0.055), 6: (0.0, -0.025), 51: (0.0, -0.025), 50: (0.0, -0.02),
                    48: (0.0, 0.02)}),
    # [FACS] the corners are stretched sideways and a little down; the lips flatten.
    20: _symmetric({48: (-0.12, 0.02), 60: (-0.1, 0.015), 49: (-0.05, 0.01), 59: (-0.05, 0.0),
                    50: (0.0, 0.012), 51: (0.0, 0.012), 57: (0.0, -0.012), 58: (0.0, -0.012)}),
    # [FACS] the lips part (teeth show) with the jaw still.
    25: _symmetric({61: (0.0, -0.012), 62: (0.0, -0.015), 66: (0.0, 0.08), 67: (0.0, 0.07), 65: (0.0, 0.07),
                    57: (0.0, 0.045), 58: (0.0, 0.04), 59: (0.0, 0.02)}),
    # [PLS] lower lip down 0.26 at 3 -> 0.43 at 5 would be a full mouth stretch (AU27); a relaxed jaw drop at E is
    # taken as 0.32, the chin moving with it.
    26: _symmetric({8: (0.0, 0.32), 7: (0.0, 0.29), 6: (0.0, 0.22), 5: (0.0, 0.12), 4: (0.0, 0.05),
                    57: (0.0, 0.3), 58: (0.0, 0.28), 59: (0.0, 0.16), 66: (0.0, 0.31), 67: (0.0, 0.29),
                    48: (0.0, 0.06), 60: (0.0, 0.07)}),
}

_MOTION_TABLE = np.zeros((len(SIMULATED_AUS), 68, 2))
for _row, _au in enumerate(SIMULATED_AUS):
    for _index, _move in AU_MOTION[_au].items():
        _MOTION_TABLE[_row, _index] = _move


#: Facial hair styles (:attr:`Identity.facial_hair`).
FACIAL_HAIR = ("none", "stubble", "moustache", "goatee", "beard")
#: Hair styles (:attr:`Identity.hair_style`).
HAIR_STYLES = ("short", "fringe", "long", "bald", "curly")


@dataclass
class Identity:
    """One synthetic subject: face shape, colours, skin, hair, accessories and how strongly their face shows each AU.

    Attributes:
        shape: ``(68, 2)`` neutral shape in face units.
        skin, hair, iris, lips, background: RGB colours (floats in 0–255).
        background2: second background colour (vertical gradient).
        brow_thickness: brow height in IOD units.
        geometry_gain: ``(len(SIMULATED_AUS),)`` per-AU multiplier of the landmark motion.
        appearance_gain: ``(len(SIMULATED_AUS),)`` per-AU multiplier of the wrinkles and shading cues.
        age_lines: strength of permanent lines (forehead, nasolabial, crow's feet) present at rest.
        glasses: whether the subject wears glasses.
        hair_style: index into :data:`HAIR_STYLES`.
        texture_seed: seed of fixed skin-texture details (pores, freckles, chin dimpling pattern).
        pores: contrast of the fine skin texture (0 smooth).
        freckles: density of freckles and moles (0 none).
        facial_hair: index into :data:`FACIAL_HAIR`.
        glasses_tint: darkness of the lenses (0 clear).
    """

    shape: np.ndarray
    skin: np.ndarray
    hair: np.ndarray
    iris: np.ndarray
    lips: np.ndarray
    background: np.ndarray
    background2: np.ndarray
    brow_thickness: float
    geometry_gain: np.ndarray
    appearance_gain: np.ndarray
    age_lines: float
    glasses: bool
    hair_style: int
    texture_seed: int
    pores: float = 0.0
    freckles: float = 0.0
    facial_hair: int = 0
    glasses_tint: float = 0.0


def _scale_group(shape: np.ndarray, indices: list[int], sx: float, sy: float) -> None:
    centre = shape[indices].mean(axis=0)
    shape[indices] = centre + (shape[indices] - centre) * [sx, sy]


def sample_identity(
    rng: np.random.Generator, variation: float = 1.0, glasses_probability: float = 0.0, age_lines: float = 0.0,
    facial_hair_probability: float = 0.0, texture: float = 0.0,
) -> Identity:
    """Draw a subject: shape variation around the mean, feature sizes, colours, skin, hair and expressivity.

    Args:
        rng: the subject's generator.
        variation: scale of all between-subject variation (0 gives the mean face with fixed colours).
        glasses_probability: chance that the subject wears glasses.
        age_lines: upper bound of the strength of permanent lines (distractors for appearance cues).
        facial_hair_probability: chance of stubble, a moustache, a goatee or a beard.
        texture: upper bound of the skin texture's contrast (pores, freckles).

    Returns:
        The :class:`Identity`.
    """
    v = variation
    shape = mean_face_units()
    jaw, eyes_r, eyes_l = list(range(17)), list(range(36, 42)), list(range(42, 48))
    nose, mouth, brows = list(range(27, 36)), list(range(48, 68)), list(range(17, 27))
    # Face proportions: width and length of the jaw, eye size and spacing, nose, mouth, brows.
    shape[jaw] *= [1 + 0.06 * v * rng.standard_normal(), 1 + 0.06 * v * rng.standard_normal()]
    eye_size = 1 + 0.10 * v * rng.standard_normal()
    eye_open = 1 + 0.15 * v * rng.standard_normal()
    for eye in (eyes_r, eyes_l):
        _scale_group(shape, eye, eye_size, eye_size * eye_open)
    spacing = 0.03 * v * rng.standard_normal()
    shape[eyes_r, 0] -= spacing
    shape[eyes_l, 0] += spacing
    shape[nose, 1] *= 1 + 0.08 * v * rng.standard_normal()
    _scale_group(shape, list(range(31, 36)), 1 + 0.10 * v * rng.standard_normal(), 1.0)
    shape[mouth, 1] += 0.04 * v * rng.standard_normal()
    _scale_group(shape, mouth, 1 + 0.08 * v * rng.standard_normal(), 1 + 0.15 * v * rng.standard_normal())
    shape[brows, 1] += 0.035 * v * rng.standard_normal()
    shape += 0.008 * v * rng.standard_normal(shape.shape)

    # Colours: skin tones from light to dark along a warm axis, hair darker than skin most of the time.
    tone = rng.uniform(0.0, 1.0) if v > 0 else 0.4
    skin = np.array([236, 196, 170]) * (1 - tone) + np.array([112, 74, 52]) * tone
    skin = skin + 8 * v * rng.standard_normal(3)
    # Natural hair colours: black, dark brown, brown, auburn, blond, grey; shade varies within each.
    palette = np.array([[25, 20, 18], [55, 38, 28], [95, 65, 40], [120, 55, 30], [190, 160, 110], [150, 148, 145]])
    hair = palette[rng.integers(len(palette))] * rng.uniform(0.85, 1.15) if v > 0 else palette[1].astype(float)
    iris = rng.choice(np.array([[70, 45, 25], [90, 110, 60], [60, 90, 130], [45, 30, 20]], dtype=float))
    lips = skin * np.array([0.92, 0.62, 0.62]) + np.array([25, 0, 5])
    background = rng.uniform(40, 220, 3)
    background2 = np.clip(background + rng.normal(0, 40, 3), 0, 255)

    n_aus = len(SIMULATED_AUS)
    # Drawn after everything above, so that adding them left the older attributes' streams unchanged.
    hair_style = int(rng.integers(0, len(HAIR_STYLES)))
    has_facial_hair = rng.random() < facial_hair_probability
    facial_hair = int(rng.integers(1, len(FACIAL_HAIR))) if has_facial_hair else 0
    return Identity(
        shape=shape,
        skin=np.clip(skin, 0, 255),
        hair=hair,
        iris=iris,
        lips=np.clip(lips, 0, 255),
        background=background,
        background2=background2,
        brow_thickness=float(np.clip(0.045 * (1 + 0.25 * v * rng.standard_normal()), 0.025, 0.07)),
        geometry_gain=np.exp(GEOMETRY_GAIN_SPREAD * v * rng.standard_normal(n_aus)),
        appearance_gain=np.exp(APPEARANCE_GAIN_SPREAD * v * rng.standard_normal(n_aus)),
        age_lines=float(rng.uniform(0, age_lines)),
        glasses=bool(rng.random() < glasses_probability),
        hair_style=hair_style,
        texture_seed=int(rng.integers(0, 2**31)),
        pores=float(rng.uniform(0.3, 1.0) * texture),
        freckles=float(rng.uniform(0, 1) ** 3 * texture),
        facial_hair=facial_hair,
        glasses_tint=float(rng.uniform(0, 0.35) if rng.random() < 0.3 else 0.0),
    )


def expression_shape(identity: Identity, intensities: Mapping[int, float] | np.ndarray) -> np.ndarray:
    """The subject's face-unit shape with AUs applied.

    Args:
        identity: the subject.
        intensities: ``{au: intensity}`` or an array over :data:`SIMULATED_AUS`, intensities in [0, 5].

    Returns:
        ``(68, 2)`` shape in face units.
    """
    if isinstance(intensities, Mapping):
        values = np.zeros(len(SIMULATED_AUS))
        for au, value in intensities.items():
            values[SIMULATED_AUS.index(au)] = value
    else:
        values = np.asarray(intensities, dtype=float)
    weights = np.clip(values, 0, MAX_INTENSITY) / MAX_INTENSITY * identity.geometry_gain
    return identity.shape + np.tensordot(weights, _MOTION_TABLE, axes=1)


@dataclass
class Pose:
    """Head pose and framing of one frame.

    Attributes:
        centre: image position (pixels) of the point between the outer eye corners.
        iod: inter-ocular distance in pixels (sets the face's size).
        roll: in-plane rotation, radians (positive turns the face clockwise in the image).
        yaw: rotation about the vertical axis, radians.
        pitch: rotation about the horizontal axis, radians.
    """

    centre: np.ndarray
    iod: float
    roll: float = 0.0
    yaw: float = 0.0
    pitch: float = 0.0


def pose_points(points: np.ndarray, depth: np.ndarray, pose: Pose) -> np.ndarray:
    """Project face-unit points with depth into the image under a weak-perspective head pose.

    Args:
        points: ``(N, 2)`` face units.
        depth: ``(N,)`` depth (IOD units, towards the camera).
        pose: the pose.

    Returns:
        ``(N, 2)`` image pixels.
    """
    x, y, z = points[:, 0], points[:, 1], depth
    cy, sy = np.cos(pose.yaw), np.sin(pose.yaw)
    x, z = x * cy + z * sy, -x * sy + z * cy
    cp, sp = np.cos(pose.pitch), np.sin(pose.pitch)
    y = y * cp - z * sp
    cr, sr = np.cos(pose.roll), np.sin(pose.roll)
    rotated = np.stack([x * cr - y * sr, x * sr + y * cr], axis=1)
    return pose.centre + pose.iod * rotated


def smooth_noise(rng: np.random.Generator, length: int, shape: tuple[int, ...], correlation: float) -> np.ndarray:
    """Unit-variance noise that varies smoothly over ``length`` frames (an AR(1) process, seeded).

    Args:
        rng: generator.
        length: number of frames.
        shape: shape of each frame's sample.
        correlation: frame-to-frame correlation in [0, 1).

    Returns:
        ``(length, *shape)`` array.
    """
    out = np.empty((length, *shape))
    out[0] = rng.standard_normal(shape)
    innovation = np.sqrt(1 - correlation**2)
    for t in range(1, length):  # a short recursion over frames of one sequence
        out[t] = correlation * out[t - 1] + innovation * rng.standard_normal(shape)
    return out


def tracker_landmarks(
    exact: np.ndarray, neutral: np.ndarray, iods: np.ndarray, rng: np.random.Generator, noise: float, shrink: float
) -> np.ndarray:
    """Landmarks as a tracker would report them for one sequence.

    Real trackers make three kinds of error, all reproduced here: they regress expressions towards their
    neutral shape (``shrink``), they have a slowly drifting bias per point, and they jitter from frame to frame.

    Args:
        exact: ``(F, 68, 2)`` exact image landmarks of the sequence.
        neutral: ``(F, 68, 2)`` the same faces with no AU (same pose).
        iods: ``(F,)`` inter-ocular distances in pixels.
        rng: the sequence's generator.
        noise: standard deviation of bias and jitter, each, in IOD units.
        shrink: fraction of the expression displacement the tracker misses.

    Returns:
        ``(F, 68, 2)`` tracked landmarks.
    """
    frames = len(exact)
    drift = smooth_noise(rng, frames, (68, 2), correlation=0.97)
    jitter = rng.standard_normal((frames, 68, 2))
    scale = (noise * iods)[:, None, None]
    return exact - shrink * (exact - neutral) + scale * (drift + jitter) / np.sqrt(2)
