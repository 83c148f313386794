"""One face, step by step: detection, landmarks, aligned crop, heatmaps back on the image, intensities.

:func:`explain_face` runs exactly what :func:`aulib.predict.predict` runs for one image, but keeps every
intermediate result, for teaching (notebook 06) and for checking a model on a new face.

Example:
    >>> from skimage import data
    >>> from aulib.models import create_model
    >>> report = explain_face(data.astronaut(), create_model("tiny"))
    >>> report.crop.shape, report.image_maps.shape  # 256² crop; 5 maps on the 512² photo
    ((256, 256, 3), (5, 512, 512))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from aulib.data.portraits import REAL_FACES, real_face
from aulib.detect import LandmarkDetector, create_detector
from aulib.method.align import heatmap_to_image, invert_affine, transform_points
from aulib.method.aus import au_label
from aulib.method.landmarks import Face, as_rgb_uint8
from aulib.predict.loop import align_frame_faces, load_inference_model
from aulib.predict.sources import Frame
from aulib.predict.tracking import FaceTracker


@dataclass(frozen=True)
class FaceReport:
    """Everything :func:`explain_face` computed for the largest face of an image.

    Attributes:
        image: the RGB image.
        face: the detection (box, 68 points, score).
        matrix: the alignment (image → crop), ``(2, 3)``.
        crop: the aligned face, ``(S, S, 3)`` uint8.
        aligned_points: the landmarks in the crop.
        maps: the network's heatmaps, ``(A, h, w)``.
        image_maps: the heatmaps mapped back onto the image, ``(A, H, W)``.
        intensities: ``(A,)`` readouts in [0, 5].
        peaks: ``(A, 2)`` each map's peak in image pixels.
        aus: the AU of each map.
    """

    image: np.ndarray
    face: Face
    matrix: np.ndarray
    crop: np.ndarray
    aligned_points: np.ndarray
    maps: np.ndarray
    image_maps: np.ndarray
    intensities: np.ndarray
    peaks: np.ndarray
    aus: tuple[int, ...]


def explain_face(image: np.ndarray, model: Any, detector: str | LandmarkDetector = "dlib", *,
                 device: str = "auto", precision: str = "auto") -> FaceReport:
    """Run the prediction pipeline on the largest face of ``image`` and keep each step.

    Args:
        image: ``H×W×3`` uint8 RGB (or grayscale).
        model: what :meth:`aulib.inference.model.AUModel.load` takes: a run folder, a model file, a module.
        detector: a backend name or object (:func:`aulib.detect.create_detector`).
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        precision: as in :func:`aulib.predict.predict`.

    Returns:
        A :class:`FaceReport`.

    Raises:
        ValueError: when no face is found.
    """
    image = as_rgb_uint8(image)
    # eager PyTorch, the reference, unless int8 is asked for (it exists only as an ONNX Runtime graph)
    loaded = load_inference_model(model, device=device, precision=precision,
                                  backend="auto" if precision == "int8" else "torch")
    backend = create_detector(detector) if isinstance(detector, str) else detector
    frame = Frame(source="image", frame=0, timestamp=float("nan"), image=image)
    pending = align_frame_faces(frame, FaceTracker(backend, track=False), loaded, new_sequence=True)
    if not pending.faces:
        raise ValueError("no face found in the image; try another image or detector")
    result = loaded.predict_crops(pending.crops[:1], pending.aligned[:1])
    maps, crop_peaks = result.maps.cpu(), result.peaks.cpu().numpy()
    matrix = pending.matrices[0]
    image_maps = heatmap_to_image(maps[:1].double(), matrix, image.shape[:2], frame_size=loaded.crop_size)
    return FaceReport(
        image=image, face=pending.faces[0], matrix=matrix, crop=pending.crops[0], aligned_points=pending.aligned[0],
        maps=maps[0].numpy(), image_maps=image_maps[0].float().numpy(), intensities=result.intensities[0].cpu().numpy(),
        peaks=transform_points(crop_peaks[0], invert_affine(matrix)), aus=tuple(loaded.aus),
    )


def real_faces_table(model: Any, detector: str | LandmarkDetector = "dlib", *, device: str = "auto") -> pd.DataFrame:
    """Each AU's readout on every face of :data:`REAL_FACES` (rows), with what the face shows.

    A sanity check of transfer from synthetic to real faces, not a measurement: see notebook 06.
    """
    rows = {}
    for name, description in REAL_FACES.items():
        report = explain_face(real_face(name), model, detector, device=device)
        rows[name] = {**{au_label(a): float(v) for a, v in zip(report.aus, report.intensities, strict=True)},
                      "shows": description}
    return pd.DataFrame(rows).T.rename_axis("face")
