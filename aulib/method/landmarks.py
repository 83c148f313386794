"""The face record every landmark detector returns, and the image check they share: pure data, no detector.

The detectors themselves (dlib, face-alignment's FAN, landmarks given with a data set) live in :mod:`aulib.detect`.
A :class:`Face` holds a box, the 68 iBUG points (66 for DISFA's given set) and a score, in the conventions of
:mod:`aulib.method.align`: ``(x, y)`` order, the centre of pixel ``(i, j)`` at ``x = j, y = i``.

Example:
    >>> import numpy as np
    >>> from aulib.method.shape import mean_shape
    >>> face = Face(box=points_box(mean_shape()), points=mean_shape())
    >>> face.points.shape, round(face.area) > 0
    ((68, 2), True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(eq=False)  # eq on numpy fields would be ambiguous; compare .points explicitly instead
class Face:
    """One detected face.

    Attributes:
        box: ``(4,)`` float64 ``(x0, y0, x1, y1)``, in the points' pixel-centre coordinates.
        points: ``(68, 2)`` float64 landmarks ``(x, y)`` (``(66, 2)`` for a "given" 66-point set).
        score: the detector's confidence (dlib's SVM margin, S3FD's probability); 1.0 where no detector
            scored the face (given landmarks, a box supplied to ``landmarks_in_box``).
    """

    box: np.ndarray
    points: np.ndarray
    score: float = 1.0

    def __post_init__(self) -> None:
        self.box = np.asarray(self.box, dtype=np.float64).reshape(-1)
        self.points = np.asarray(self.points, dtype=np.float64)
        self.score = float(self.score)
        if self.box.shape != (4,):
            raise ValueError(f"box must have 4 values (x0, y0, x1, y1); got shape {self.box.shape}")
        if self.points.ndim != 2 or self.points.shape[1] != 2 or self.points.shape[0] not in (66, 68):
            raise ValueError(f"points must have shape (68, 2) or (66, 2); got {self.points.shape}")

    @property
    def area(self) -> float:
        """Box area in square pixels (0 for a degenerate box): the key of the largest-first order."""
        x0, y0, x1, y1 = self.box
        return float(max(x1 - x0, 0.0) * max(y1 - y0, 0.0))


def as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """Check an image and return it as a C-contiguous ``H×W×3`` uint8 RGB array.

    An ``H×W`` uint8 grayscale image is replicated to three channels. Nothing is rescaled or
    channel-swapped: a float image in [0, 1] or a BGR image (OpenCV) must be converted by the caller,
    because guessing would silently give wrong landmarks.

    Args:
        image: ``H×W×3`` uint8 RGB, or ``H×W`` uint8 grayscale.

    Returns:
        ``H×W×3`` uint8, C-contiguous (dlib rejects negatively strided views such as ``bgr[..., ::-1]``).

    Raises:
        ValueError: for another dtype, number of dimensions or channels, or an empty image.
    """
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image must be a numpy array (H×W×3 uint8 RGB); got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(
            f"image must be uint8 (H×W×3 RGB, values 0–255); got dtype {image.dtype} with shape {image.shape}. "
            "Convert floats in [0, 1] with (image * 255).round().astype(np.uint8)."
        )
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(
            f"image must have shape H×W×3 (RGB) or H×W (grayscale); got shape {image.shape} and dtype {image.dtype}"
            + (". Drop the alpha channel with image[..., :3]." if image.ndim == 3 and image.shape[2] == 4 else "")
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image is empty: shape {image.shape}")
    return np.ascontiguousarray(image)


def points_box(points: np.ndarray) -> np.ndarray:
    """The bounding box ``(x0, y0, x1, y1)`` of ``(L, 2)`` points."""
    points = np.asarray(points, dtype=np.float64)
    return np.concatenate([points.min(axis=0), points.max(axis=0)])
