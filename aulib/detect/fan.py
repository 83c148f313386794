"""FAN landmarks (Bulat & Tzimiropoulos 2017) through the ``face-alignment`` package, with its offline weight check."""

from __future__ import annotations

import inspect
import os
import pickle
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from aulib.detect.base import LandmarkDetector, _check_box, _largest_first
from aulib.method.landmarks import Face, as_rgb_uint8, points_box

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
