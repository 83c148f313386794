"""Face detection and 68-point landmarks behind one interface: image → faces, each a box, points and a score.

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
    >>> from aulib.method.landmarks import create_detector
    >>> detector = create_detector("dlib")
    >>> face = detector.detect_largest(data.astronaut())
    >>> face.points.shape
    (68, 2)
    >>> bool(face.points[36, 0] < face.points[45, 0])  # the subject's right eye is on the image's left
    True
"""

from __future__ import annotations

import abc
import functools
import importlib.util
import inspect
import os
import pickle
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

BACKENDS: tuple[str, ...] = ("dlib", "face-alignment", "given")

# --- dlib ---------------------------------------------------------------------------------------------
DLIB_PREDICTOR_FILENAME = "shape_predictor_68_face_landmarks.dat"
# The PyPI package that ships the predictor, and the import name used to *locate* it. We never import
# it: its __init__ needs pkg_resources, which recent setuptools no longer provides.
DLIB_MODELS_PIP = "face-recognition-models"
DLIB_MODELS_PACKAGE = "face_recognition_models"
DLIB_PIP = "dlib-bin"  # prebuilt wheels; `pip install dlib` (compiled from source) works too

# --- face-alignment -----------------------------------------------------------------------------------
# URLs of face-alignment 1.5.0 (face_alignment/api.py and detection/*/…_detector.py). Both the FAN and
# the detectors download into torch.hub.get_dir()/checkpoints under the URL's base name, unless a
# file_name is given (scrfd, yunet).
FAN_2D_URL = "https://www.adrianbulat.com/downloads/python-fan/2DFAN4-11f355bf06.pth.tar"
FA_DETECTOR_WEIGHTS: dict[str, tuple[tuple[str, str], ...]] = {
    "sfd": (("https://www.adrianbulat.com/downloads/python-fan/s3fd-619a316812.pth", "s3fd-619a316812.pth"),),
    "blazeface": (
        ("https://github.com/hollance/BlazeFace-PyTorch/blob/master/blazeface.pth?raw=true", "blazeface.pth"),
        ("https://github.com/hollance/BlazeFace-PyTorch/blob/master/anchors.npy?raw=true", "anchors.npy"),
    ),
    "retinaface": (
        (
            "https://www.adrianbulat.com/downloads/python-fan/retinaface_mobilenet0.25.pth",
            "retinaface_mobilenet0.25.pth",
        ),
    ),
    "scrfd": (
        ("https://github.com/yakhyo/facial-analysis/releases/download/v0.0.1/det_2.5g.onnx", "scrfd_2.5g_bnkps.onnx"),
    ),
    "yunet": (
        (
            "https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/face_detection_yunet_2023mar.onnx",
            "face_detection_yunet_2023mar.onnx",
        ),
    ),
    # face-alignment's "dlib" detector uses dlib's HOG detector on CPU (no file) and "folder" reads
    # boxes from disk: neither needs weights here.
    "dlib": (),
    "folder": (),
}
FA_BLAZEFACE_BACK_WEIGHTS: tuple[tuple[str, str], ...] = (
    ("https://github.com/hollance/BlazeFace-PyTorch/blob/master/blazefaceback.pth?raw=true", "blazefaceback.pth"),
    ("https://github.com/hollance/BlazeFace-PyTorch/blob/master/anchorsback.npy?raw=true", "anchorsback.npy"),
)


# ------------------------------------------------------------------------------------------------------
# The result type and input checks
# ------------------------------------------------------------------------------------------------------


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


def _largest_first(faces: list[Face]) -> list[Face]:
    # sorted() is stable, also with reverse=True: equal areas keep the detector's order.
    return sorted(faces, key=lambda face: face.area, reverse=True)


# ------------------------------------------------------------------------------------------------------
# Backends
# ------------------------------------------------------------------------------------------------------


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


def _check_box(box: Sequence[float] | np.ndarray) -> np.ndarray:
    values = np.asarray(box, dtype=np.float64).reshape(-1)
    if values.shape != (4,) or not np.isfinite(values).all() or values[2] <= values[0] or values[3] <= values[1]:
        raise ValueError(f"box must be finite (x0, y0, x1, y1) with x1 > x0 and y1 > y0; got {box!r}")
    return values


def face_alignment_cache_dir() -> Path:
    """The folder where face-alignment looks for (and downloads) its weights: ``torch.hub.get_dir()/checkpoints``.

    ``torch.hub.get_dir()`` is ``$TORCH_HOME/hub`` (default ``~/.cache/torch/hub``) unless
    ``torch.hub.set_dir`` was called.
    """
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def face_alignment_weights(face_detector: str = "sfd",
                           face_detector_kwargs: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    """The ``(url, file name)`` pairs that ``FaceAlignment(TWO_D, face_detector=...)`` loads from the cache.

    A detector given a local ``path_to_detector`` needs no download for it.

    Raises:
        ValueError: for a detector face-alignment 1.5 does not have.
    """
    if face_detector not in FA_DETECTOR_WEIGHTS:
        raise ValueError(f"Unknown face-alignment detector {face_detector!r}; use one of {sorted(FA_DETECTOR_WEIGHTS)}")
    kwargs = face_detector_kwargs or {}
    fan = [(FAN_2D_URL, os.path.basename(urlparse(FAN_2D_URL).path))]
    if kwargs.get("path_to_detector") is not None:
        return fan
    if face_detector == "blazeface" and kwargs.get("back_model"):
        return fan + list(FA_BLAZEFACE_BACK_WEIGHTS)
    return fan + list(FA_DETECTOR_WEIGHTS[face_detector])


def _weights_message(files: list[tuple[str, str]], cache: Path, problem: str) -> str:
    lines = [
        f"The 'face-alignment' landmark backend {problem}.",
        "Download these files on a machine with internet access:",
        *(f"  {name}  <-  {url}" for url, name in files),
        "and copy them, with these exact names, into the folder:",
        f"  {cache}",
        "(torch.hub.get_dir()/checkpoints; set TORCH_HOME to use another folder). "
        "Or pass download=True on a machine with internet access, or use create_detector('dlib').",
    ]
    return "\n".join(lines)


class FaceAlignmentLandmarks(LandmarkDetector):
    """FAN landmarks (Bulat & Tzimiropoulos 2017) via the ``face-alignment`` package, 2-D, 68 points.

    Args:
        device: ``"cpu"``, ``"cuda"``, ``"mps"``; default ``"cuda"`` if available, else ``"cpu"``.
        face_detector: face-alignment's detector (``"sfd"`` = S3FD, its default and most accurate).
        face_detector_kwargs: passed to that detector (e.g. ``path_to_detector``, ``filter_threshold``).
        flip_input: also run FAN on the mirrored crop and average (2× the time, slightly smoother).
        download: let face-alignment download missing weights (needs internet). By default missing
            weights raise at once instead: offline, the download would fail only after a network timeout.
        **kwargs: passed to ``face_alignment.FaceAlignment`` (e.g. ``dtype``, ``max_batch_size``).

    Raises:
        ImportError: if face-alignment is not installed.
        RuntimeError: if the weights are missing from :func:`face_alignment_cache_dir` (or cannot be
            downloaded or read); the message lists the files, their URLs and the folder.
    """

    name = "face-alignment"

    def __init__(self, device: str | None = None, face_detector: str = "sfd",
                 face_detector_kwargs: dict[str, Any] | None = None, flip_input: bool = False,
                 download: bool = False, **kwargs: Any) -> None:
        try:
            import face_alignment
        except ImportError as exc:
            raise ImportError("The 'face-alignment' landmark backend needs: pip install face-alignment") from exc
        import torch

        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        needed = face_alignment_weights(face_detector, face_detector_kwargs)
        cache = face_alignment_cache_dir()
        missing = [(url, name) for url, name in needed if not (cache / name).is_file()]
        if missing and not download:
            raise RuntimeError(_weights_message(missing, cache, "cannot find its pretrained weights"))

        landmarks_type = face_alignment.LandmarksType.TWO_D
        options: dict[str, Any] = {"device": device, "flip_input": flip_input, "face_detector": face_detector,
                                   "face_detector_kwargs": face_detector_kwargs or {}}
        # face-alignment 1.5 torch.compile()s the FAN by default: minutes of compiling on a CPU and a
        # C++ toolchain needed. 1.4 has no such argument.
        if "compile" in inspect.signature(face_alignment.FaceAlignment).parameters:
            options["compile"] = False
        options.update(kwargs)
        try:
            self._fa = face_alignment.FaceAlignment(landmarks_type, **options)
        except (OSError, EOFError, RuntimeError, ValueError, pickle.UnpicklingError) as exc:
            # OSError covers urllib's URLError (a failed download); the others are what torch.load raises
            # on a truncated or corrupt file (an empty file gives EOFError).
            problem = (f"failed to load its pretrained weights ({type(exc).__name__}: {exc}); "
                       "a weight file may be truncated or corrupt")
            raise RuntimeError(_weights_message(missing or needed, cache, problem)) from exc
        self.device = device
        self.face_detector = face_detector

    def __repr__(self) -> str:
        return f"FaceAlignmentLandmarks(device={self.device!r}, face_detector={self.face_detector!r})"

    def _run(self, image: np.ndarray, boxes: list[np.ndarray] | None) -> list[Face]:
        with warnings.catch_warnings():
            # face-alignment warns "No faces were detected." on every empty frame; [] says it already.
            warnings.filterwarnings("ignore", message="No faces were detected")
            landmarks, _, detected = self._fa.get_landmarks_from_image(image, detected_faces=boxes,
                                                                       return_bboxes=True)
        if landmarks is None:
            return []
        faces = []
        for points, det in zip(landmarks, detected, strict=True):
            points = np.asarray(points, dtype=np.float64)[:, :2]
            det = np.asarray(det, dtype=np.float64).reshape(-1) if det is not None else np.empty(0)
            box = det[:4] if det.size >= 4 else points_box(points)
            score = det[4] if det.size >= 5 else 1.0
            faces.append(Face(box=box, points=points, score=score))
        return faces

    def detect(self, image: np.ndarray) -> list[Face]:
        """Detect faces and their 68 landmarks.

        Args:
            image: ``H×W×3`` uint8 RGB (or ``H×W`` grayscale).

        Returns:
            The faces, largest box first; ``score`` is the detector's confidence.

        Raises:
            ValueError: for a malformed image.
        """
        return _largest_first(self._run(as_rgb_uint8(image), None))

    def landmarks_in_box(self, image: np.ndarray, box: Sequence[float] | np.ndarray, score: float = 1.0) -> Face:
        """Run only FAN in a given ``(x0, y0, x1, y1)`` box (no detection).

        See :meth:`DlibLandmarks.landmarks_in_box`; FAN's crop is centred on the box and scaled by its size.
        """
        values = _check_box(box)
        face = self._run(as_rgb_uint8(image), [values])[0]
        return Face(box=values, points=face.points, score=score)


class GivenLandmarks(LandmarkDetector):
    """Landmarks that come with the data set, behind the same interface.

    Example:
        >>> import numpy as np
        >>> from aulib.method.shape import mean_shape
        >>> face = create_detector("given").detect_largest(np.zeros((256, 256, 3), np.uint8), landmarks=mean_shape())
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
