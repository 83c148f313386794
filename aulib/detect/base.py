"""The detector interface, its shared helpers, and the backend for landmarks that come with a data set."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

import numpy as np

from aulib.method.landmarks import Face, as_rgb_uint8, points_box


def _largest_first(faces: list[Face]) -> list[Face]:
    # sorted() is stable, also with reverse=True: equal areas keep the detector's order.
    return sorted(faces, key=lambda face: face.area, reverse=True)


def _check_box(box: Sequence[float] | np.ndarray) -> np.ndarray:
    values = np.asarray(box, dtype=np.float64).reshape(-1)
    if values.shape != (4,) or not np.isfinite(values).all() or values[2] <= values[0] or values[3] <= values[1]:
        raise ValueError(f"box must be finite (x0, y0, x1, y1) with x1 > x0 and y1 > y0; got {box!r}")
    return values


class LandmarkDetector(abc.ABC):
    """The common interface: ``detect(image)`` → faces, largest first."""

    name: str = ""

    @abc.abstractmethod
    def detect(self, image: np.ndarray) -> list[Face]:
        """Find the faces in an ``H×W×3`` uint8 RGB image, largest box first (``[]`` when none)."""

    def detect_largest(self, image: np.ndarray, **kwargs: Any) -> Face | None:
        """The largest face of :meth:`detect` (same arguments), or ``None`` when there is none."""
        faces = self.detect(image, **kwargs)
        return faces[0] if faces else None


class GivenLandmarks(LandmarkDetector):
    """Landmarks that come with the data set, behind the same interface.

    Example:
        >>> import numpy as np
        >>> from aulib.method.shape import mean_shape
        >>> face = GivenLandmarks().detect_largest(np.zeros((256, 256, 3), np.uint8), landmarks=mean_shape())
        >>> face.score, bool((face.box == [face.points.min(0)[0], face.points.min(0)[1],
        ...                                face.points.max(0)[0], face.points.max(0)[1]]).all())
        (1.0, True)
    """

    name = "given"

    def __repr__(self) -> str:
        return "GivenLandmarks()"

    def detect(self, image: np.ndarray, landmarks: np.ndarray | None = None) -> list[Face]:
        """Wrap the data set's landmarks of this image.

        Args:
            image: ``H×W×3`` uint8 RGB (or ``H×W``); checked like the other backends' input.
            landmarks: ``(68, 2)`` or ``(66, 2)`` points of one face, or ``(N, L, 2)`` for N faces.

        Returns:
            One face per set of points, largest first; box = the points' bounding box, score 1.0.

        Raises:
            ValueError: without landmarks, or for a wrong shape or NaN/inf.
        """
        as_rgb_uint8(image)
        if landmarks is None:
            raise ValueError(
                "The 'given' landmark backend finds no faces itself: pass the data set's landmarks, "
                "detect(image, landmarks=points) with points of shape (68, 2) or (66, 2). "
                "To detect landmarks, use create_detector('dlib') or create_detector('face-alignment')."
            )
        points = np.asarray(landmarks, dtype=np.float64)
        if points.ndim == 2:
            points = points[None]
        if points.ndim != 3 or points.shape[-1] != 2 or points.shape[-2] not in (66, 68):
            raise ValueError(f"landmarks must have shape (68, 2), (66, 2) or (N, L, 2); got {np.shape(landmarks)}")
        if not np.isfinite(points).all():
            raise ValueError("landmarks contain NaN or inf (a frame without landmarks in the data set?)")
        return _largest_first([Face(box=points_box(face), points=face, score=1.0) for face in points])
