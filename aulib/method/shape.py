"""A mean 68-point face shape in the aligned 256×256 frame, built from anthropometric proportions.

The shape is constructed, not learnt: a symmetric face whose outer eye corners (36, 45) and chin (8)
sit on the alignment template of the authors' released code (:data:`aulib.method.align.PAPER_TEMPLATE`), and
whose other points follow textbook proportions (in millimetres for an adult, scaled so that the
outer-canthal width of about 90 mm spans the template's 97.7 px). It serves as the reference shape of
the similarity alignment and as the base shape of the SynthAU generator.

Example:
    >>> from aulib.method.shape import mean_shape
    >>> mean_shape().shape
    (68, 2)
"""

from __future__ import annotations

import numpy as np

FRAME_SIZE = 256
CENTRE_X = 128.0
EYE_LINE_Y = 87.0376  # template height of the outer eye corners
OUTER_CANTHUS_HALF = 48.8392  # 176.8392 - 128: half the outer-canthal width in the template
CHIN_Y = 227.8161
MM = 2 * OUTER_CANTHUS_HALF / 90.0  # pixels per millimetre: outer-canthal width ≈ 90 mm


def _mirror(points: np.ndarray) -> np.ndarray:
    """Reflect points about the vertical midline x = CENTRE_X."""
    out = points.copy()
    out[:, 0] = 2 * CENTRE_X - out[:, 0]
    return out


def _jaw() -> np.ndarray:
    # A squared ellipse ("superellipse", exponent 2.6) from the right temple (0) through the chin (8)
    # to the left temple (16): real jawlines are flatter at the chin than an ellipse.
    angles = np.linspace(0.0, np.pi, 17)
    cos, sin = np.cos(angles), np.sin(angles)
    exponent = 2 / 2.6
    half_width = 76 * MM  # bizygomatic breadth ≈ 150 mm at the temples' height
    top = EYE_LINE_Y  # the jaw line starts at the ear, level with the eyes
    x = CENTRE_X - half_width * np.sign(cos) * np.abs(cos) ** exponent
    y = top + (CHIN_Y - top) * np.sign(sin) * np.abs(sin) ** exponent
    return np.stack([x, y], axis=1)


def _right_brow() -> np.ndarray:
    # Points 17 (outer tail) to 21 (head); the arch peaks over the outer third of the eye.
    dx = np.array([-57, -47, -35, -23, -11]) * MM
    dy = np.array([-15, -20, -21.5, -20, -17]) * MM
    return np.stack([CENTRE_X + dx, EYE_LINE_Y + dy], axis=1)


def _nose() -> np.ndarray:
    # 27–30: bridge to tip along the midline; 31–35: the base from the right ala to the left.
    bridge = np.stack([np.full(4, CENTRE_X), EYE_LINE_Y + np.array([0, 13, 26, 39]) * MM], axis=1)
    base_x = np.array([-15, -7.5, 0, 7.5, 15]) * MM
    base_y = np.array([44, 46.5, 47.5, 46.5, 44]) * MM
    return np.concatenate([bridge, np.stack([CENTRE_X + base_x, EYE_LINE_Y + base_y], axis=1)])


def _right_eye() -> np.ndarray:
    # 36 outer corner, 37–38 upper lid, 39 inner corner, 40–41 lower lid. Palpebral fissure ≈ 30 mm
    # wide and 10 mm high; the inner corner sits slightly lower than the outer one.
    outer, inner = -OUTER_CANTHUS_HALF, -15.5 * MM
    width = inner - outer
    xs = np.array([outer, outer + width / 3, outer + 2 * width / 3, inner, outer + 2 * width / 3,
                   outer + width / 3])
    ys = np.array([0, -4.5, -4.5, 0.8, 3.5, 3.5]) * MM
    return np.stack([CENTRE_X + xs, EYE_LINE_Y + ys], axis=1)


def _mouth() -> np.ndarray:
    # Outer lips 48–59 clockwise from the right corner; inner lips 60–67 likewise. Mouth width ≈ 52 mm,
    # stomion ≈ 73 mm below the eye line; a closed mouth has the inner lips almost touching.
    half = 26 * MM
    y0 = EYE_LINE_Y + 73 * MM
    outer_x = np.array([-half, -16, -6, 0, 6, 16, half, 16, 7, 0, -7, -16]) * np.array(
        [1, MM, MM, MM, MM, MM, 1, MM, MM, MM, MM, MM]
    )
    outer_y = np.array([0, -7, -10, -8.5, -10, -7, 0, 8, 11, 11.5, 11, 8]) * MM
    inner_x = np.array([-half + 4 * MM, -7 * MM, 0, 7 * MM, half - 4 * MM, 7 * MM, 0, -7 * MM])
    inner_y = np.array([0, -1.2, -1.2, -1.2, 0, 1.2, 1.2, 1.2]) * MM
    outer = np.stack([CENTRE_X + outer_x, y0 + outer_y], axis=1)
    inner = np.stack([CENTRE_X + inner_x, y0 + inner_y], axis=1)
    return np.concatenate([outer, inner])


def mean_shape() -> np.ndarray:
    """The 68-point mean shape in the aligned 256×256 frame (pixel coordinates, float64).

    Returns:
        ``(68, 2)`` array of ``(x, y)``; a new copy on each call.
    """
    right_brow = _right_brow()
    left_brow = _mirror(right_brow)[::-1]  # 22 (head) to 26 (tail)
    right_eye = _right_eye()
    # The left eye is the mirror image, re-ordered so that 42 is the inner corner and the points
    # still run clockwise: 42 inner, 43–44 upper lid, 45 outer, 46–47 lower lid.
    left_eye = _mirror(right_eye)[[3, 2, 1, 0, 5, 4]]
    shape = np.concatenate([_jaw(), right_brow, left_brow, _nose(), right_eye, left_eye, _mouth()])
    assert shape.shape == (68, 2)
    return shape


# Horizontal-flip permutation of the iBUG-68 points: after mirroring an image, point i of the mirrored face is
# the mirror image of point FLIP_68[i] of the original (left and right swap, midline points stay).
FLIP_68: tuple[int, ...] = (
    *range(16, -1, -1),  # jaw 0..16 reversed
    *range(26, 21, -1),  # right brow 17..21 <- left brow 26..22
    *range(21, 16, -1),  # left brow 22..26 <- right brow 21..17
    27, 28, 29, 30,  # nose bridge
    35, 34, 33, 32, 31,  # nose base
    45, 44, 43, 42, 47, 46,  # right eye <- left eye
    39, 38, 37, 36, 41, 40,  # left eye <- right eye
    54, 53, 52, 51, 50, 49, 48,  # upper outer lip
    59, 58, 57, 56, 55,  # lower outer lip
    64, 63, 62, 61, 60,  # upper inner lip
    67, 66, 65,  # lower inner lip
)


def flip_landmarks(landmarks: np.ndarray, width: float) -> np.ndarray:
    """Landmarks of the horizontally mirrored image (``x -> width - 1 - x``), re-indexed with :data:`FLIP_68`."""
    flipped = np.asarray(landmarks, dtype=np.float64)[..., list(FLIP_68), :].copy()
    flipped[..., 0] = width - 1 - flipped[..., 0]
    return flipped
