"""dlib's HOG face detector and its 68-point shape predictor, offline (``dlib-bin`` + ``face-recognition-models``)."""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from aulib.detect.base import LandmarkDetector, _check_box, _largest_first
from aulib.method.landmarks import Face, as_rgb_uint8

# --- dlib ---------------------------------------------------------------------------------------------
DLIB_PREDICTOR_FILENAME = "shape_predictor_68_face_landmarks.dat"
# The PyPI package that ships the predictor, and the import name used to *locate* it. We never import
# it: its __init__ needs pkg_resources, which recent setuptools no longer provides.
DLIB_MODELS_PIP = "face-recognition-models"
DLIB_MODELS_PACKAGE = "face_recognition_models"
DLIB_PIP = "dlib-bin"  # prebuilt wheels; `pip install dlib` (compiled from source) works too


def _import_dlib() -> Any:
    try:
        import dlib
    except ImportError as exc:
        raise ImportError(
            f"The 'dlib' landmark backend needs dlib: pip install {DLIB_PIP} (prebuilt wheels) or dlib"
        ) from exc
    return dlib


def dlib_predictor_path() -> Path:
    """Where ``face-recognition-models`` installed ``shape_predictor_68_face_landmarks.dat``.

    The package is located with :func:`importlib.util.find_spec`, without importing it.

    Raises:
        FileNotFoundError: if the package or the file is missing.
    """
    spec = importlib.util.find_spec(DLIB_MODELS_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / "models" / DLIB_PREDICTOR_FILENAME
        if candidate.is_file():
            return candidate
    where = f" (looked in {[str(Path(loc) / 'models') for loc in locations]})" if locations else ""
    raise FileNotFoundError(
        f"dlib's 68-point model {DLIB_PREDICTOR_FILENAME} was not found{where}. "
        f"Install it with: pip install {DLIB_MODELS_PIP}, or pass predictor_path=... to create_detector('dlib')."
    )


@functools.lru_cache(maxsize=4)
def _load_predictor(path: str) -> Any:
    # Loading the ~100 MB model takes ~0.4–0.8 s: load once per file and share it between detectors.
    return _import_dlib().shape_predictor(path)


@functools.lru_cache(maxsize=1)
def _frontal_face_detector() -> Any:
    return _import_dlib().get_frontal_face_detector()


class DlibLandmarks(LandmarkDetector):
    """dlib's HOG face detector + 68-point shape predictor (Kazemi & Sullivan 2014).

    Args:
        predictor_path: the ``.dat`` model; default: the one shipped by ``face-recognition-models``.
        upsample: how many times the detector doubles the image first. Each doubling finds faces half as
            large (the smallest found is about 80×80 pixels at 0) but costs about 4× the time and adds
            false detections, hence the default 0.
        adjust_threshold: added to the detector's threshold; negative values return weaker detections.

    Raises:
        ImportError: if dlib is not installed.
        FileNotFoundError: if the model file is missing.

    Example:
        >>> from skimage import data
        >>> detector = DlibLandmarks()
        >>> faces = detector.detect(data.astronaut())
        >>> len(faces), faces[0].points.shape
        (1, (68, 2))
        >>> again = detector.landmarks_in_box(data.astronaut(), faces[0].box)
        >>> bool((again.points == faces[0].points).all())
        True
    """

    name = "dlib"

    def __init__(self, predictor_path: str | os.PathLike | None = None, upsample: int = 0,
                 adjust_threshold: float = 0.0) -> None:
        self._dlib = _import_dlib()
        if predictor_path is None:
            path = dlib_predictor_path()
        else:
            path = Path(predictor_path)
            if not path.is_file():
                raise FileNotFoundError(
                    f"dlib shape predictor not found: {path}. The 68-point model comes with "
                    f"pip install {DLIB_MODELS_PIP} (leave predictor_path unset to use it)."
                )
        if int(upsample) != upsample or upsample < 0:
            raise ValueError(f"upsample must be a non-negative integer; got {upsample!r}")
        self.predictor_path = path.resolve()
        self.upsample = int(upsample)
        self.adjust_threshold = float(adjust_threshold)
        self._predictor = _load_predictor(str(self.predictor_path))
        self._detector = _frontal_face_detector()

    def __repr__(self) -> str:
        return (f"DlibLandmarks(predictor_path={str(self.predictor_path)!r}, upsample={self.upsample}, "
                f"adjust_threshold={self.adjust_threshold})")

    def _shape(self, image: np.ndarray, rect: Any, score: float) -> Face:
        shape = self._predictor(image, rect)
        points = np.array([(part.x, part.y) for part in shape.parts()], dtype=np.float64)
        box = np.array([rect.left(), rect.top(), rect.right(), rect.bottom()], dtype=np.float64)
        return Face(box=box, points=points, score=score)

    def detect(self, image: np.ndarray) -> list[Face]:
        """Detect faces and their 68 landmarks.

        Args:
            image: ``H×W×3`` uint8 RGB (or ``H×W`` grayscale).

        Returns:
            The faces, largest box first; ``score`` is dlib's detection score.

        Raises:
            ValueError: for a malformed image.
        """
        image = as_rgb_uint8(image)
        rects, scores, _ = self._detector.run(image, self.upsample, self.adjust_threshold)
        return _largest_first([self._shape(image, rect, score) for rect, score in zip(rects, scores, strict=True)])

    def detect_boxes(self, image: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """Detect faces only, without their landmarks: ``(box, score)`` pairs, in dlib's order (a tracker's search
        near the previous face needs the box alone)."""
        rects, scores, _ = self._detector.run(as_rgb_uint8(image), self.upsample, self.adjust_threshold)
        return [(np.array([r.left(), r.top(), r.right(), r.bottom()], dtype=np.float64), float(score))
                for r, score in zip(rects, scores, strict=True)]

    def landmarks_in_box(self, image: np.ndarray, box: Sequence[float] | np.ndarray, score: float = 1.0) -> Face:
        """Run only the shape predictor in a given box (no detection), e.g. the previous video frame's box.

        The predictor was trained on the HOG detector's boxes (brows to chin, roughly), so a box of that
        kind works best: a previous :attr:`Face.box` does, a tight box around the landmarks is smaller
        and shifts the result. dlib's rectangles are integer, so the box is rounded.

        Args:
            image: ``H×W×3`` uint8 RGB (or ``H×W`` grayscale).
            box: ``(x0, y0, x1, y1)``.
            score: carried into the returned face (no detector scored it).

        Returns:
            The face, with the rounded box that was used.

        Raises:
            ValueError: for a malformed image or box.
        """
        image = as_rgb_uint8(image)
        x0, y0, x1, y1 = (int(v) for v in np.rint(_check_box(box)))
        return self._shape(image, self._dlib.rectangle(x0, y0, x1, y1), score)
