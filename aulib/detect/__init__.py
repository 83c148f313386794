"""Face detection and 68-point landmarks behind one interface: image → faces, each a box, points and a score.

The record (:class:`aulib.method.landmarks.Face`) is the method's; finding it is this package's job.

:func:`create_detector` builds a backend by name; every backend's ``detect(image)`` returns a list of
:class:`Face` sorted **largest first** (by box area), and ``detect_largest(image)`` returns the first one
or ``None``. The points follow the iBUG 68-point layout (0-based: 36 and 45 are the outer eye corners,
30 the nose tip, 48–67 the mouth) in the conventions of :mod:`aulib.method.align`: ``(x, y)`` order, the centre
of pixel ``(i, j)`` at ``x = j, y = i``.

Backends:

- ``"dlib"``: dlib's HOG frontal face detector and its 68-point shape predictor
  (``shape_predictor_68_face_landmarks.dat``, shipped by the PyPI package ``face-recognition-models``).
  CPU only, about 15 ms for a 512×512 image. **Licence:** the 68-point model was trained on the iBUG
  300-W data set, whose licence excludes commercial use, so the model file is for *non-commercial use
  only* (dlib's code itself is Boost-licensed).
  :meth:`DlibLandmarks.landmarks_in_box` runs the shape predictor alone in a given box, for tracking a
  face through a video from the previous frame's box.
- ``"face-alignment"``: Bulat & Tzimiropoulos' FAN (the ``face-alignment`` package) with its S3FD
  detector. More accurate on hard poses; needs pretrained weights in the torch hub cache
  (:func:`face_alignment_weights`). aulib never downloads them unless asked (``download=True``): without
  them construction fails at once with a message naming the files and the folder to copy them into.
- ``"given"``: for data sets that ship landmarks: ``detect(image, landmarks=points)`` wraps them into
  a :class:`Face` (box = the points' bounding box, score 1.0).

Boxes are ``(x0, y0, x1, y1)`` in the same pixel-centre coordinates as the points. dlib's boxes are its
inclusive rectangles (``x1`` is the last column covered) and may extend past the image border; they are
not clipped, so that :meth:`DlibLandmarks.landmarks_in_box` reproduces the detection exactly.

Images are ``H×W×3`` uint8 **RGB** arrays; an ``H×W`` uint8 grayscale image is accepted and replicated to
three channels (:func:`as_rgb_uint8`). Anything else raises ``ValueError``.

Example:
    >>> from skimage import data
    >>> from aulib.detect import create_detector
    >>> detector = create_detector("dlib")
    >>> face = detector.detect_largest(data.astronaut())
    >>> face.points.shape
    (68, 2)
    >>> bool(face.points[36, 0] < face.points[45, 0])  # the subject's right eye is on the image's left
    True
"""


from __future__ import annotations

from typing import Any

from aulib.detect.base import GivenLandmarks, LandmarkDetector
from aulib.detect.dlib_backend import DLIB_MODELS_PIP, DLIB_PREDICTOR_FILENAME, DlibLandmarks, dlib_predictor_path
from aulib.detect.fan import FaceAlignmentLandmarks, face_alignment_cache_dir, face_alignment_weights
from aulib.method.landmarks import Face, as_rgb_uint8

__all__ = [
    "BACKENDS",
    "DLIB_MODELS_PIP",
    "DLIB_PREDICTOR_FILENAME",
    "DlibLandmarks",
    "Face",
    "FaceAlignmentLandmarks",
    "GivenLandmarks",
    "LandmarkDetector",
    "as_rgb_uint8",
    "create_detector",
    "dlib_predictor_path",
    "face_alignment_cache_dir",
    "face_alignment_weights",
]

BACKENDS: tuple[str, ...] = ("dlib", "face-alignment", "given")

_FACTORIES: dict[str, type[LandmarkDetector]] = {
    "dlib": DlibLandmarks,
    "face-alignment": FaceAlignmentLandmarks,
    "given": GivenLandmarks,
}


def create_detector(name: str, **kwargs: Any) -> LandmarkDetector:
    """Build a landmark backend by name.

    Args:
        name: ``"dlib"``, ``"face-alignment"`` (``"face_alignment"`` also accepted) or ``"given"``.
        **kwargs: the backend's options (:class:`DlibLandmarks`, :class:`FaceAlignmentLandmarks`).

    Returns:
        An object with ``detect(image)`` → list of :class:`Face`, largest first, and ``detect_largest``.

    Raises:
        ValueError: for an unknown name (the message lists the valid ones).
        ImportError, FileNotFoundError, RuntimeError: when the backend's package or weights are missing.

    Example:
        >>> create_detector("given")
        GivenLandmarks()
    """
    key = str(name).strip().lower().replace("_", "-")
    if key not in _FACTORIES:
        raise ValueError(f"Unknown landmark backend {name!r}; use one of {', '.join(map(repr, BACKENDS))}")
    return _FACTORIES[key](**kwargs)
