"""SynthAU drawing primitives: anti-aliased OpenCV shapes at sub-pixel precision, and a frame attached to the face.

Every SynthAU drawing module (:mod:`~aulib.data.synthau.render`, :mod:`~aulib.data.synthau.cues`,
:mod:`~aulib.data.synthau.scene`) draws through these, so that shapes are placed to 1/16 pixel and anti-aliased.

Example:
    >>> import numpy as np
    >>> from aulib.data.synthau.draw import FaceFrame
    >>> points = np.zeros((68, 2)); points[36] = (10, 20); points[45] = (30, 20)
    >>> frame = FaceFrame(points)
    >>> frame.iod, frame.at(36, 0.5, 0.25).tolist()  # half an IOD across, a quarter down
    (20.0, [20.0, 25.0])
"""

from __future__ import annotations

import cv2
import numpy as np

_SHIFT = 4  # cv2 fixed-point sub-pixel bits: coordinates are multiplied by 16
_AA = cv2.LINE_AA


def fixed(points: np.ndarray) -> np.ndarray:
    """Sub-pixel points as OpenCV's fixed-point integers."""
    return np.round(np.asarray(points) * (1 << _SHIFT)).astype(np.int32)


def colour(rgb: np.ndarray, factor: float = 1.0) -> tuple[float, float, float]:
    """An RGB colour scaled by ``factor`` and clipped, as the tuple OpenCV draws with."""
    return tuple(min(255.0, max(0.0, float(c) * factor)) for c in rgb)  # plain floats: cheaper than np.clip


def fill(canvas: np.ndarray, polygon: np.ndarray, value) -> None:
    """Fill a polygon, anti-aliased, at sub-pixel precision."""
    cv2.fillPoly(canvas, [fixed(polygon)], value, _AA, _SHIFT)


def line(canvas: np.ndarray, points: np.ndarray, value, thickness: float, closed: bool = False) -> None:
    """Draw a polyline, anti-aliased, at sub-pixel precision."""
    cv2.polylines(canvas, [fixed(points)], closed, value, max(1, round(thickness)), _AA, _SHIFT)


def ellipse(canvas: np.ndarray, centre, axes, angle_deg: float, value, thickness: int = -1) -> None:
    """Draw a (filled, by default) ellipse, anti-aliased, at sub-pixel precision."""
    cv2.ellipse(canvas, (fixed(centre)[0].item(), fixed(centre)[1].item()),
                (max(1, int(axes[0] * (1 << _SHIFT))), max(1, int(axes[1] * (1 << _SHIFT)))),
                angle_deg, 0, 360, value, thickness, _AA, _SHIFT)


def mirror_offsets(offsets: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The same face-frame offsets on the other side of the face."""
    return [(-dx, dy) for dx, dy in offsets]


class FaceFrame:
    """Points in a frame attached to the face: origin between the outer eye corners, unit = IOD."""

    def __init__(self, landmarks: np.ndarray) -> None:
        self.landmarks = landmarks
        self.ex = landmarks[45] - landmarks[36]  # one IOD towards the subject's left eye
        self.ey = np.array([-self.ex[1], self.ex[0]])  # one IOD towards the chin
        self.iod = float(np.linalg.norm(self.ex))
        self.angle = float(np.degrees(np.arctan2(self.ex[1], self.ex[0])))

    def at(self, anchor: int | np.ndarray, dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
        base = self.landmarks[anchor] if isinstance(anchor, (int, np.integer)) else anchor
        return base + dx * self.ex + dy * self.ey

    def curve(self, anchor: int | np.ndarray, offsets: list[tuple[float, float]]) -> np.ndarray:
        return np.stack([self.at(anchor, dx, dy) for dx, dy in offsets])
