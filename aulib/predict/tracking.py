"""Faces of consecutive video frames: full detection, or a search near the previous faces.

**Tracking** (videos, ``track=True``): after a full-frame detection, the next frames look for each face only
in a region around its previous box (twice the box side), shrunk so the face is about ``TRACK_FACE_SIDE`` pixels
high, and then place the 68 landmarks with the shape predictor alone in the found box, on the full-resolution
frame (:meth:`aulib.detect.DlibLandmarks.landmarks_in_box`). The whole frame is searched again every
``redetect_every`` frames and whenever a face is lost (no detection in its region, or the landmarks leave the
image). The trade-off: a 640×480 frame costs ~23 ms of full detection but ~3 ms tracked, and the region search
still confirms there *is* a face in every frame (a blank frame gives ``no_face`` at once, which a landmark-only
tracker would miss); but a face that *enters* the picture is found only at the next full detection (at most
``redetect_every`` frames late), and tracked boxes come from another pyramid level and image origin, so they differ
from a full detection's by 3–4 px (median per edge on the benchmark video, up to 15), and dlib's whole-pixel
landmarks then move by a pixel (the chin) or none. That moves intensities by a few hundredths (median 0.02 for
the benchmark's ``paper`` network, 0.065 for the trained course Hourglass: BENCHMARKS.md), so
:func:`aulib.predict.predict` detects every frame in full unless ``track=True``: tracking is part of the fast path
(``aulib predict --fast``), where it lifts the int8 pipeline from about 2.7x to 4x the original procedure.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from aulib.detect import LandmarkDetector
from aulib.method.landmarks import Face

TRACK_FACE_SIDE = 110  # px: dlib's HOG window is 80 px, so a face this size is found at the first pyramid level



TRACK_MARGIN = 0.5  # the search region extends this many box sides beyond each edge of the previous box



TRACK_MIN_IOU = 0.3  # a detection in the region must overlap the previous box this much to be the same face



def _iou(a: np.ndarray, b: np.ndarray) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0



class FaceTracker:
    """Faces of consecutive frames: full detection, or a search near the previous faces (module docstring).

    Args:
        detector: a landmark backend; tracking needs its ``landmarks_in_box``.
        track: track between frames of one video; ``False`` detects every frame in full.
        redetect_every: frames between full detections while tracking.
        max_faces: keep at most this many faces per frame (largest first); ``None`` keeps all.
    """

    def __init__(self, detector: LandmarkDetector, *, track: bool = True, redetect_every: int = 30,
                 max_faces: int | None = None) -> None:
        if redetect_every < 1:
            raise ValueError(f"redetect_every must be at least 1; got {redetect_every}")
        self.detector = detector
        self.track = bool(track) and hasattr(detector, "landmarks_in_box")
        self.redetect_every = int(redetect_every)
        self.max_faces = max_faces
        self.full_detections = 0
        self.reset()

    def reset(self) -> None:
        """Forget the previous faces (a new video or an image)."""
        self.previous: list[Face] = []
        self.since_detection = 0

    def _detect(self, image: np.ndarray) -> list[Face]:
        self.full_detections += 1
        self.since_detection = 0
        faces = self.detector.detect(image)
        return faces[: self.max_faces] if self.max_faces is not None else faces

    def _follow(self, image: np.ndarray, previous: Face) -> Face | None:
        height, width = image.shape[:2]
        x0, y0, x1, y1 = previous.box
        side = max(x1 - x0, y1 - y0)
        margin = TRACK_MARGIN * side
        rx0, ry0 = max(0, math.floor(x0 - margin)), max(0, math.floor(y0 - margin))
        rx1, ry1 = min(width, math.ceil(x1 + margin) + 1), min(height, math.ceil(y1 + margin) + 1)
        if rx1 - rx0 < 16 or ry1 - ry0 < 16:
            return None
        region = image[ry0:ry1, rx0:rx1]
        scale = min(1.0, TRACK_FACE_SIDE / max(side, 1.0))
        if scale < 1.0:
            size = (max(1, round(region.shape[1] * scale)), max(1, round(region.shape[0] * scale)))
            region = cv2.resize(region, size, interpolation=cv2.INTER_AREA)
            scale_x, scale_y = size[0] / (rx1 - rx0), size[1] / (ry1 - ry0)
        else:
            scale_x = scale_y = 1.0
        candidates = []
        # boxes only: the landmarks come from the full-resolution frame below (landmarks_in_box)
        found = self.detector.detect_boxes(region) if hasattr(self.detector, "detect_boxes") else \
            [(face.box.copy(), face.score) for face in self.detector.detect(region)]
        for box, score in found:
            # region pixel u covers original [(u - 0.5)/s + 0.5 - 0.5 ...]: pixel centres map as (u + 0.5)/s - 0.5
            box[[0, 2]] = (box[[0, 2]] + 0.5) / scale_x - 0.5 + rx0
            box[[1, 3]] = (box[[1, 3]] + 0.5) / scale_y - 0.5 + ry0
            candidates.append((_iou(box, previous.box), box, score))
        if not candidates:
            return None
        overlap, box, score = max(candidates, key=lambda c: c[0])
        if overlap < TRACK_MIN_IOU:
            return None
        face = self.detector.landmarks_in_box(image, box, score=score)
        inside = ((face.points >= -0.5) & (face.points <= [width - 0.5, height - 0.5])).all(axis=1)
        return face if inside.mean() >= 0.5 else None  # most landmarks off the image: lost

    def faces(self, image: np.ndarray, *, new_sequence: bool = False) -> list[Face]:
        """The faces of ``image``, largest first; ``new_sequence`` starts a new video (full detection)."""
        if new_sequence or not self.track:
            self.reset()
        if not self.track or not self.previous or self.since_detection + 1 >= self.redetect_every:
            faces = self._detect(image)
        else:
            self.since_detection += 1
            faces = []
            for previous in self.previous:
                face = self._follow(image, previous)
                if face is None:  # lost: search the whole frame
                    faces = self._detect(image)
                    break
                faces.append(face)
            faces.sort(key=lambda f: f.area, reverse=True)
        self.previous = faces if self.track else []
        return faces
