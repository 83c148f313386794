"""One frame of a dataset on its way to the prepared format: the reader and detector interfaces, landmarks, the
alignment matrix and the crop job.

:func:`aulib.data.prepare.prepare` runs :func:`process_frame` for every frame a reader yields.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from aulib.data.prepared import (
    NO_FACE,
    OK,
    UNREADABLE,
    FrameResult,
    Key,
)
from aulib.data.records import RawFrame
from aulib.method.align import alignment_matrix

DATASETS: tuple[str, ...] = ("synthau", "bp4d", "disfa")
GIVEN = "given"  # use the landmarks that come with the dataset instead of a detector
DETECTORS: tuple[str, ...] = (GIVEN, "dlib", "face-alignment")
# DISFA and SynthAU ship landmarks; BP4D's 2D landmarks are not part of every release, so detect them.
DEFAULT_DETECTORS: dict[str, str] = {"synthau": GIVEN, "disfa": GIVEN, "bp4d": "dlib"}
METHODS: tuple[str, ...] = ("paper", "similarity")


class FrameReader(Protocol):
    """What :func:`prepare` needs from a dataset module (``aulib.data.synthau``, ``bp4d``, ``disfa``)."""

    AUS: Sequence[int]
    LANDMARK_LAYOUT: int

    def read_labels(self, root: Path) -> pd.DataFrame: ...

    def iter_frames(
        self, root: Path, labels: pd.DataFrame | None = None, skip: frozenset[Key] = frozenset()
    ) -> Iterator[RawFrame]: ...


class Detector(Protocol):
    """What :func:`prepare` needs from a face/landmark detector (:mod:`aulib.detect`)."""

    def detect_largest(self, rgb: np.ndarray) -> Any: ...


def resolve_reader(dataset: str | FrameReader) -> tuple[str, FrameReader]:
    """The dataset's name and reader module: ``"synthau"`` → :mod:`aulib.data.synthau` (imported lazily).

    Any object with the reader interface (``AUS``, ``LANDMARK_LAYOUT``, ``read_labels``,
    ``iter_frames``) is accepted too; its name is its ``NAME`` attribute or the last part of its
    ``__name__``.
    """
    if isinstance(dataset, str):
        name = dataset.lower()
        try:
            return name, importlib.import_module(f"aulib.data.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"aulib.data.{name}":
                raise  # the reader exists but one of *its* imports is missing: say that, not this
            raise ValueError(f"Unknown dataset {dataset!r}; known datasets: {', '.join(DATASETS)}") from None
    missing = [a for a in ("AUS", "LANDMARK_LAYOUT", "read_labels", "iter_frames") if not hasattr(dataset, a)]
    if missing:
        raise TypeError(f"{dataset!r} is not a dataset reader: it lacks {missing}")
    name = getattr(dataset, "NAME", None) or str(getattr(dataset, "__name__", type(dataset).__name__))
    return name.rsplit(".", 1)[-1].lower(), dataset


def describe_detector(detector: str | Detector) -> str:
    if isinstance(detector, str):
        return detector.strip().lower().replace("_", "-")  # "face_alignment" is "face-alignment"
    return str(getattr(detector, "name", None) or type(detector).__name__)


def resolve_detector(detector: str | Detector) -> Detector | None:
    if describe_detector(detector) == GIVEN:  # also aulib.detect's GivenLandmarks object: it detects nothing
        return None
    if isinstance(detector, str):
        # Lazily: dlib and face-alignment are heavy, and "given" needs neither.
        return importlib.import_module("aulib.detect").create_detector(detector)
    if not hasattr(detector, "detect_largest"):
        raise TypeError(f"detector must be a name or have a detect_largest(rgb) method; got {detector!r}")
    return detector


def _check_image(frame: RawFrame) -> None:
    image = frame.image
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        described = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"{frame.source or frame.key}: readers must give RGB uint8 (H, W, 3) images; got {described}")


def find_landmarks(
    frame: RawFrame, detector: Detector | None, detector_name: str, layout: int
) -> tuple[np.ndarray | None, str]:
    """The landmarks to align a frame with, or ``(None, reason)`` when there are none.

    Args:
        frame: a readable frame.
        detector: ``None`` to use the landmarks given with the frame, else a detector.
        detector_name: for the reason text.
        layout: the expected number of points.

    Returns:
        ``(points (layout, 2) float64, "")`` or ``(None, reason)``.

    Raises:
        ValueError: when the points have the wrong shape (a reader or detector bug, not a data problem).
    """
    if detector is None:
        if frame.landmarks is None:
            return None, "no landmarks given"
        points = np.asarray(frame.landmarks, dtype=np.float64)
    else:
        face = detector.detect_largest(frame.image)
        if face is None:
            return None, f"no face found by the {detector_name} detector"
        points = np.asarray(face.points, dtype=np.float64)
    if points.shape != (layout, 2):
        raise ValueError(f"{frame.source or frame.key}: landmarks have shape {points.shape}; expected ({layout}, 2)")
    if not np.isfinite(points).all():
        return None, "landmarks contain NaN or inf"
    return points, ""


def process_frame(
    frame: RawFrame,
    index: int,
    *,
    detector: Detector | None,
    detector_name: str,
    layout: int,
    method: str,
    size: int,
    write_crop: Callable[[int, np.ndarray, np.ndarray], Future],
) -> FrameResult:
    """Landmarks and alignment matrix of one frame; warping and storing its crop is handed to ``write_crop``.

    Args:
        frame: the reader's frame.
        index: its row in the arrays.
        detector: ``None`` for the frame's own landmarks, else a detector.
        detector_name: for reasons.
        layout: expected landmarks per face.
        method: alignment method.
        size: crop side.
        write_crop: ``(row, image, matrix) -> Future`` that warps the image into that row.

    Returns:
        The frame's status, reason, matrix and landmarks, and the crop job.
    """
    result = FrameResult(index=index, key=frame.key, source=str(frame.source), status=UNREADABLE)
    if frame.image is None:
        result.reason = frame.error or "the image could not be read"
        return result
    _check_image(frame)
    points, reason = find_landmarks(frame, detector, detector_name, layout)
    if points is None:
        result.status, result.reason = NO_FACE, reason
        return result
    try:
        matrix = alignment_matrix(points, method=method, size=size)
    except ValueError as error:  # collinear / coincident alignment points: a failed tracking, not a bug
        result.status, result.reason = NO_FACE, f"alignment failed: {error}"
        return result
    result.status, result.matrix, result.landmarks = OK, matrix, points
    if frame.exact_landmarks is not None:
        result.exact_landmarks = np.asarray(frame.exact_landmarks, dtype=np.float64)
    result.crop = write_crop(index, frame.image, matrix)
    return result
