"""The Action Unit catalogue: what each AU is, and where on the face it shows.

Each AU has a FACS name, the muscle behind it, a one-line description of its visible change, and a
list of *centres*: points defined from the 68 iBUG landmarks where the AU changes the face's
appearance. The heatmap targets put one Gaussian on each centre (:mod:`aulib.method.heatmaps`).

A centre is a weighted mean of landmarks plus an optional offset. Offsets are expressed in a
face-aligned frame, in units of the inter-ocular distance (IOD, outer eye corners 36 and 45): ``+x``
runs from the subject's right eye corner (36) towards the left one (45), ``+y`` is perpendicular to
it, pointing towards the chin. So a centre "0.1 IOD below the lip corner" stays below the lip corner
however the face is rotated.

Landmark indices are 0-based iBUG-68 throughout: jaw 0–16, brows 17–26, nose 27–35, eyes 36–47,
outer lips 48–59, inner lips 60–67. DISFA's 66-point layout is the same without the inner-mouth
corners 60 and 64; :func:`landmark_index` converts.

Example:
    >>> from aulib.method.aus import AUS, BP4D_AUS, au_label
    >>> BP4D_AUS
    (6, 10, 12, 14, 17)
    >>> AUS[12].name, au_label(6)
    ('Lip corner puller', 'AU06')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)

# The AU sets of the benchmarks, in the channel order the models use.
BP4D_AUS: tuple[int, ...] = (6, 10, 12, 14, 17)  # FERA2015 intensity sub-challenge
DISFA_AUS: tuple[int, ...] = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)

AU_SETS: dict[str, tuple[int, ...]] = {"bp4d": BP4D_AUS, "disfa": DISFA_AUS}

MAX_INTENSITY = 5.0  # FACS intensities A–E are coded 1–5; 0 means absent.

# Landmark indices that other modules name, kept here so that no module repeats a magic number.
CHIN = 8
RIGHT_EYE_OUTER = 36  # the subject's right eye: image left in a frontal photo
LEFT_EYE_OUTER = 45
INNER_MOUTH_CORNERS_68 = (60, 64)  # absent from DISFA's 66-point layout


@dataclass(frozen=True)
class Centre:
    """One point where an AU shows: ``sum_i weight_i * landmark_i + offset * IOD``.

    Attributes:
        landmarks: iBUG-68 indices (0-based).
        weights: one weight per landmark; they sum to 1 (a weighted mean).
        offset: ``(dx, dy)`` in IOD units in the face frame (+x towards landmark 45, +y towards the chin).
    """

    landmarks: tuple[int, ...]
    weights: tuple[float, ...]
    offset: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        if len(self.landmarks) != len(self.weights) or not self.landmarks:
            raise ValueError(f"Centre needs one weight per landmark, got {self.landmarks} and {self.weights}")
        if abs(sum(self.weights) - 1.0) > 1e-9:
            raise ValueError(f"Centre weights must sum to 1, got {self.weights} (sum {sum(self.weights)})")
        if any(not 0 <= i < 68 for i in self.landmarks):
            raise ValueError(f"Centre landmark indices must be in 0..67, got {self.landmarks}")


def at(index: int, dx: float = 0.0, dy: float = 0.0) -> Centre:
    """A centre on one landmark, optionally offset by ``(dx, dy)`` IOD in the face frame."""
    return Centre((index,), (1.0,), (dx, dy))


def between(a: int, b: int, dx: float = 0.0, dy: float = 0.0) -> Centre:
    """A centre at the midpoint of two landmarks, optionally offset by ``(dx, dy)`` IOD."""
    return Centre((a, b), (0.5, 0.5), (dx, dy))


@dataclass(frozen=True)
class ActionUnit:
    """One FACS Action Unit and where it shows on the face."""

    number: int
    name: str
    muscle: str
    appearance: str
    centres: tuple[Centre, ...]

    @property
    def label(self) -> str:
        return au_label(self.number)


# Offsets below are in IOD units; the outer-eye-corner IOD of an adult is about 9 cm, so 0.1 IOD ≈ 9 mm.
# "Right"/"left" are the subject's; in a frontal image the subject's right is on the image's left.
AUS: dict[int, ActionUnit] = {
    au.number: au
    for au in (
        ActionUnit(
            1, "Inner brow raiser", "frontalis, pars medialis",
            "Raises the inner ends of the brows and wrinkles the centre of the forehead.",
            # The medial frontalis lifts the brow heads (21, 22); the change (raised brow head,
            # horizontal lines above it) sits on and just above them.
            (at(21, dy=-0.08), at(22, dy=-0.08)),
        ),
        ActionUnit(
            2, "Outer brow raiser", "frontalis, pars lateralis",
            "Raises the outer parts of the brows into an arch; lateral forehead lines.",
            # The lateral frontalis lifts the outer third of each brow (18 and 25 are the lateral
            # brow points that move most; the tails 17/26 are often occluded by hair).
            (at(18, dy=-0.08), at(25, dy=-0.08)),
        ),
        ActionUnit(
            4, "Brow lowerer", "corrugator supercilii, depressor supercilii, procerus",
            "Lowers the brows and draws them together; vertical furrows between the brows.",
            # The corrugator pulls the brow heads down and medially; the furrows form at the
            # glabella, between the brow heads (midpoint of 21 and 22), and the brow heads bulge.
            (between(21, 22), at(21), at(22)),
        ),
        ActionUnit(
            5, "Upper lid raiser", "levator palpebrae superioris",
            "Widens the eye opening by raising the upper eyelid; more sclera shows above the iris.",
            # The change is the upper lid's margin: the midpoint of the two upper-lid landmarks of
            # each eye (37–38, 43–44).
            (between(37, 38), between(43, 44)),
        ),
        ActionUnit(
            6, "Cheek raiser", "orbicularis oculi, pars orbitalis",
            "Raises the cheeks, pushes the skin below the eyes up and narrows the eye; crow's feet.",
            # The orbital orbicularis lifts the infraorbital triangle: the bulge sits below the
            # lower lid (40–41, 46–47), about 0.12 IOD under it, towards the outer corner.
            (between(40, 41, dy=0.12), between(46, 47, dy=0.12)),
        ),
        ActionUnit(
            9, "Nose wrinkler", "levator labii superioris alaeque nasi",
            "Wrinkles the skin on the sides and root of the nose and raises the nostril wings.",
            # The muscle runs along the nose's side from the root; wrinkles form on the upper nose
            # (28) and the nostril wings rise (31, 35), so centres sit just above each wing.
            (at(28), at(31, dy=-0.06), at(35, dy=-0.06)),
        ),
        ActionUnit(
            10, "Upper lip raiser", "levator labii superioris",
            "Raises the upper lip and deepens the upper part of the nasolabial furrow.",
            # The upper lip rises at its centre-lateral parts (50, 52, the peaks of the Cupid's bow),
            # where the levator inserts, and the furrow deepens just above and beside them.
            (at(50), at(52)),
        ),
        ActionUnit(
            12, "Lip corner puller", "zygomaticus major",
            "Pulls the lip corners up and back obliquely; deepens the nasolabial furrow.",
            # Zygomaticus major inserts at the modiolus: the lip corners (48, 54) move.
            (at(48), at(54)),
        ),
        ActionUnit(
            14, "Dimpler", "buccinator",
            "Tightens the lip corners and pulls them inwards; dimples form just lateral to them.",
            # The buccinator presses the corners against the teeth; the dimple/bulge shows lateral
            # to each corner (0.1 IOD outwards along the eye line).
            (at(48, dx=-0.1), at(54, dx=0.1)),
        ),
        ActionUnit(
            15, "Lip corner depressor", "depressor anguli oris (triangularis)",
            "Pulls the lip corners down; the skin below the corners bulges or wrinkles.",
            # The triangularis arises on the mandible below the corners and pulls them down: the
            # change is at and just below each corner.
            (at(48, dy=0.08), at(54, dy=0.08)),
        ),
        ActionUnit(
            17, "Chin raiser", "mentalis",
            "Pushes the chin boss and lower lip up; the chin skin wrinkles (orange-peel texture).",
            # The mentalis lies in the chin boss, between the lower lip's bottom (57) and the chin
            # (8): one centre at their midpoint.
            (between(57, CHIN),),
        ),
        ActionUnit(
            20, "Lip stretcher", "risorius with platysma",
            "Stretches the lips laterally and flattens them; skin beyond the corners is pulled back.",
            # The risorius pulls the corners sideways towards the ears: the change is lateral and
            # slightly below each corner.
            (at(48, dx=-0.12, dy=0.04), at(54, dx=0.12, dy=0.04)),
        ),
        ActionUnit(
            25, "Lips part", "depressor labii inferioris, or relaxed mentalis / orbicularis oris",
            "Parts the lips; the teeth or the mouth's interior may show.",
            # The visible change is the gap between the lips: the midpoint of the outer upper- and
            # lower-lip centres (51, 57), present in both the 68- and 66-point layouts.
            (between(51, 57),),
        ),
        ActionUnit(
            26, "Jaw drop", "masseter, temporalis and internal pterygoid relaxed",
            "Lowers the mandible so that the lips part and the chin moves down.",
            # The jaw's movement shows at the chin (8) and at the opened mouth (51–57).
            (at(CHIN), between(51, 57)),
        ),
    )
}


def au_label(number: int) -> str:
    """The conventional two-digit label: ``au_label(6) == 'AU06'``."""
    return f"AU{number:02d}"


def resolve_aus(aus: str | Sequence[int]) -> tuple[int, ...]:
    """Turn ``'bp4d'``, ``'disfa'`` or a sequence of AU numbers into a validated tuple.

    Raises:
        ValueError: for an unknown set name or an AU outside the catalogue.
    """
    if isinstance(aus, str):
        key = aus.lower()
        if key not in AU_SETS:
            raise ValueError(f"Unknown AU set {aus!r}; known sets: {sorted(AU_SETS)}")
        return AU_SETS[key]
    numbers = tuple(int(a) for a in aus)
    unknown = [a for a in numbers if a not in AUS]
    if unknown:
        raise ValueError(f"AU(s) {unknown} are not in the catalogue; supported AUs: {sorted(AUS)}")
    if len(set(numbers)) != len(numbers):
        raise ValueError(f"AU list {numbers} has duplicates")
    return numbers


def landmark_index(index_68: int, layout: int = 68) -> int:
    """Convert an iBUG-68 index to the given layout (68, or DISFA's 66 without points 60 and 64).

    Raises:
        ValueError: for 60 or 64 in the 66-point layout, or an unknown layout.
    """
    if layout == 68:
        return index_68
    if layout != 66:
        raise ValueError(f"Unknown landmark layout {layout}; use 68 (iBUG) or 66 (DISFA)")
    if index_68 in INNER_MOUTH_CORNERS_68:
        raise ValueError(f"Landmark {index_68} (an inner-mouth corner) does not exist in the 66-point layout")
    # Points after each removed corner shift down by one per removed point before them.
    return index_68 - sum(index_68 > c for c in INNER_MOUTH_CORNERS_68)


def centre_tables(
    aus: Sequence[int] = BP4D_AUS, layout: int = 68
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pack the centres of ``aus`` into dense arrays for vectorised evaluation.

    AUs have different numbers of centres; the tables are padded to the largest count ``C`` and a
    validity mask marks the real ones.

    Args:
        aus: AU numbers, in channel order.
        layout: 68 (iBUG) or 66 (DISFA).

    Returns:
        ``(weights, offsets, valid)``: weights ``(A, C, layout)`` mixing landmarks into centres,
        offsets ``(A, C, 2)`` in IOD units in the face frame, and valid ``(A, C)`` booleans.
    """
    aus = resolve_aus(aus)
    n_centres = max(len(AUS[a].centres) for a in aus)
    weights = np.zeros((len(aus), n_centres, layout))
    offsets = np.zeros((len(aus), n_centres, 2))
    valid = np.zeros((len(aus), n_centres), dtype=bool)
    for i, au in enumerate(aus):
        for j, centre in enumerate(AUS[au].centres):
            for index, weight in zip(centre.landmarks, centre.weights, strict=True):
                weights[i, j, landmark_index(index, layout)] += weight
            offsets[i, j] = centre.offset
            valid[i, j] = True
    return weights, offsets, valid


def eye_corner_indices(layout: int = 68) -> tuple[int, int]:
    """Indices of the outer eye corners (36, 45), which are the same in both layouts."""
    return landmark_index(RIGHT_EYE_OUTER, layout), landmark_index(LEFT_EYE_OUTER, layout)


def au_centres(landmarks: ArrayT, aus: Sequence[int] = BP4D_AUS) -> tuple[ArrayT, ArrayT]:
    """Evaluate the AU centres of one or more faces, in numpy (plots, analysis) or torch (targets, on the landmarks'
    device, differentiable): one implementation for both.

    Each centre is a weighted mean of landmarks plus an offset in units of the inter-ocular distance, along the
    eye line and the perpendicular towards the chin (:func:`centre_tables`).

    Args:
        landmarks: ``(68, 2)``, ``(66, 2)`` or batched ``(B, L, 2)`` pixel coordinates, a numpy array or a tensor.
        aus: AU numbers, in channel order.

    Returns:
        ``(centres, valid)`` in the input's kind: centres ``(…, A, C, 2)`` in the landmarks' pixel frame, and
        ``(A, C)`` booleans marking real centres (AUs with fewer than ``C`` centres are padded).

    Example:
        >>> from aulib.method.shape import mean_shape
        >>> centres, valid = au_centres(mean_shape(), [12])
        >>> centres.shape, valid.tolist()  # AU12: the two lip corners
        ((1, 2, 2), [[True, True]])
    """
    is_torch = isinstance(landmarks, torch.Tensor)
    pts = landmarks if is_torch else np.asarray(landmarks, dtype=float)
    if pts.ndim not in (2, 3) or pts.shape[-1] != 2 or pts.shape[-2] not in (66, 68):
        raise ValueError(f"landmarks must be (68, 2), (66, 2) or (B, L, 2); got shape {tuple(pts.shape)}")
    weights, offsets, valid = centre_tables(aus, layout=pts.shape[-2])
    n_aus, n_centres = valid.shape
    if is_torch:
        weights = torch.as_tensor(weights, dtype=pts.dtype, device=pts.device)
        offsets = torch.as_tensor(offsets, dtype=pts.dtype, device=pts.device)
        valid = torch.as_tensor(valid, device=pts.device)
    stack = torch.stack if is_torch else np.stack
    right, left = eye_corner_indices(pts.shape[-2])
    x_axis = pts[..., left, :] - pts[..., right, :]  # (…, 2), length = IOD
    y_axis = stack([-x_axis[..., 1], x_axis[..., 0]], -1)  # x rotated +90°: towards the chin
    # (A·C, L) @ (…, L, 2) -> (…, A·C, 2): one matrix product (much faster than einsum in torch)
    centres = (weights.reshape(n_aus * n_centres, -1) @ pts).reshape(*pts.shape[:-2], n_aus, n_centres, 2)
    centres = centres + offsets[..., 0:1] * x_axis[..., None, None, :] + offsets[..., 1:2] * y_axis[..., None, None, :]
    return centres, valid
