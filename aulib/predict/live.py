"""Live AU reading, one frame at a time: a webcam in a notebook (:mod:`aulib.course.webcam`) or in an OpenCV window
(``aulib webcam``), and the same code on a video file.

:class:`LiveAU` keeps what must persist between frames (the loaded network, the face tracker, the frame rate) and
turns each RGB frame into a :class:`LiveReading`: the intensities, the face box and the frame with each AU's map
drawn over the face in the AU's colour. By default it runs the fast path of ``aulib predict --fast``: the int8 ONNX
Runtime graph (within about 0.05 of fp32) and face tracking between full detections every 30 frames.

Frames are processed in memory and never stored.

Example:
    >>> from aulib.models import create_model
    >>> live = LiveAU(create_model("tiny"), precision="fp32")
    >>> from skimage import data
    >>> reading = live.process(data.astronaut())
    >>> reading.face, reading.intensities.shape, reading.overlay.shape
    (True, (5,), (512, 512, 3))
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import pandas as pd

from aulib.detect import LandmarkDetector, create_detector
from aulib.method.align import compose_affine, invert_affine, scale_matrix, transform_points
from aulib.method.aus import MAX_INTENSITY, au_label
from aulib.method.landmarks import as_rgb_uint8
from aulib.predict.loop import NO_FACE, OK, align_faces, load_inference_model
from aulib.predict.outputs import BOX_COLUMNS, au_colours, au_tint, blend_tint
from aulib.predict.sources import Frame
from aulib.predict.tracking import FaceTracker

FPS_WINDOW = 30  # frames over which the sustained frame rate is measured
DRAW_SIDE = 128  # the live overlay's tint is computed at most this many pixels across, then resized to the face


@dataclass(frozen=True)
class LiveReading:
    """One frame's result.

    Attributes:
        index: the frame's number since the start (or the last :meth:`LiveAU.reset`).
        face: whether a face was found.
        intensities: ``(A,)`` readouts in [0, 5], or ``None`` without a face.
        box: the face's box ``x0, y0, x1, y1`` in frame pixels, or ``None``.
        overlay: the frame (``H×W×3`` uint8 RGB) with each AU's map drawn in its colour, and the box.
        seconds: what processing this frame took.
    """

    index: int
    face: bool
    intensities: np.ndarray | None
    box: np.ndarray | None
    overlay: np.ndarray
    seconds: float


class LiveAU:
    """AU intensities and maps of the largest face, frame after frame (module docstring).

    Args:
        model: anything :meth:`aulib.inference.model.AUModel.load` takes (a run folder, a model file, a module).
        detector: the landmark backend name or object.
        precision: ``"int8"`` (the fast path, the default), ``"fp32"``, or ``"auto"``.
        track: follow the face between full detections (:mod:`aulib.predict.tracking`).
        redetect_every: frames between full detections while tracking.
        device: where the network runs (int8 runs on the CPU).
    """

    def __init__(self, model: Any, *, detector: str | LandmarkDetector = "dlib", precision: str = "int8",
                 track: bool = True, redetect_every: int = 30, device: str = "cpu") -> None:
        self.model = load_inference_model(model, device=device, precision=precision, backend="auto")
        if self.model.output_kind != "heatmap":
            raise ValueError("live reading draws each AU's heatmap: give a heatmap model")
        landmarks = create_detector(detector) if isinstance(detector, str) else detector
        self.tracker = FaceTracker(landmarks, track=track, redetect_every=redetect_every, max_faces=1)
        self.aus: tuple[int, ...] = tuple(self.model.aus)
        self.labels = [au_label(a) for a in self.aus]
        self.colours = au_colours(len(self.aus))
        self.reset()

    def reset(self) -> None:
        """Start a new sequence: the next frame is detected in full, and the frame rate starts again."""
        self.frames = 0
        self._stamps: deque[float] = deque(maxlen=FPS_WINDOW + 1)

    @property
    def fps(self) -> float:
        """Frames per second sustained over the last :data:`FPS_WINDOW` frames (wall clock between frames)."""
        if len(self._stamps) < 2:
            return math.nan
        return (len(self._stamps) - 1) / max(self._stamps[-1] - self._stamps[0], 1e-9)

    def process(self, image: np.ndarray) -> LiveReading:
        """Read one RGB frame (``H×W×3`` uint8; grey is accepted)."""
        started = time.perf_counter()
        image = as_rgb_uint8(image)
        frame = Frame(source="live", frame=self.frames, timestamp=math.nan, image=image, video=True)
        try:
            faces = self.tracker.faces(image, new_sequence=self.frames == 0)
        except Exception:  # a detector failing on one odd frame must not stop a live view
            self.tracker.reset()
            faces = []
        pending = align_faces(frame, faces[:1], self.model)
        intensities = box = None
        overlay = image
        if pending.status == OK:
            result = self.model.predict_crops(pending.crops, pending.aligned)
            intensities = result.intensities[0].cpu().numpy().astype(float)
            box = np.asarray(pending.faces[0].box, dtype=float)
            overlay = self._draw_maps(image, result.maps[0].float().cpu().numpy(), pending.matrices[0])
            x0, y0, x1, y1 = box.round().astype(int).tolist()
            cv2.rectangle(overlay, (x0, y0), (x1, y1), (255, 255, 255), 1, cv2.LINE_AA)
        index = self.frames
        self.frames += 1
        now = time.perf_counter()
        self._stamps.append(now)
        return LiveReading(index=index, face=intensities is not None, intensities=intensities, box=box,
                           overlay=overlay, seconds=now - started)

    def _draw_maps(self, image: np.ndarray, maps: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        """The frame with the maps drawn, computed only where the aligned crop lies (the maps are zero elsewhere).

        The maps are 24×24 (``tiny``) or 64×64 (``paper``), so the tint they make is smooth: it is computed at most
        :data:`DRAW_SIDE` pixels across and resized to the face, which keeps a 640×480 frame's drawing to a few
        milliseconds. OpenCV's bilinear warp (1/32-pixel weights) stands in for
        :func:`aulib.method.align.heatmap_to_image`'s: within about 1% of the maps' range on smooth maps, invisible
        in a drawing. The readings never go through it.
        """
        size = self.model.crop_size
        corners = transform_points(np.array([[-0.5, -0.5], [size - 0.5, -0.5], [-0.5, size - 0.5],
                                             [size - 0.5, size - 0.5]]), invert_affine(matrix))
        height, width = image.shape[:2]
        x0, y0 = (max(0, int(np.floor(v))) for v in corners.min(axis=0))
        x1, y1 = min(width, int(np.ceil(corners[:, 0].max())) + 1), min(height, int(np.ceil(corners[:, 1].max())) + 1)
        overlay = image.copy()
        if x1 <= x0 or y1 <= y0:
            return overlay
        factor = min(1.0, DRAW_SIDE / max(x1 - x0, y1 - y0))  # drawing pixels per frame pixel
        small = (max(1, round((x1 - x0) * factor)), max(1, round((y1 - y0) * factor)))
        # drawing pixel (u, v) -> frame pixel: pixel centres map as (u + 0.5) / factor - 0.5, then the region's offset
        to_frame = np.array([[1 / factor, 0.0, 0.5 / factor - 0.5 + x0], [0.0, 1 / factor, 0.5 / factor - 0.5 + y0],
                             [0.0, 0.0, 1.0]])
        drawing_to_map = compose_affine(scale_matrix(maps.shape[-1], size), matrix @ to_frame)
        warped = cv2.warpAffine(np.ascontiguousarray(maps.transpose(1, 2, 0)), invert_affine(drawing_to_map), small,
                                flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        keep, tint = au_tint(warped.reshape(small[1], small[0], -1).transpose(2, 0, 1), self.colours)
        if factor < 1.0:
            keep = cv2.resize(keep, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
            tint = cv2.resize(tint, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        overlay[y0:y1, x0:x1] = blend_tint(image[y0:y1, x0:x1], keep, tint)
        return overlay

    def run(self, frames: Iterable[np.ndarray], *, fps: float = math.nan, source: str = "live") -> pd.DataFrame:
        """Process a sequence of frames (a video, a clip) and return one row per frame.

        Returns:
            The columns of :func:`aulib.predict.predict` (``source, frame, timestamp, face, status``, the box and
            one intensity column per AU), so :func:`aulib.course.photo_figures.intensity_figure` draws it.
        """
        self.reset()
        rows = []
        for image in frames:
            reading = self.process(image)
            row: dict[str, Any] = {"source": source, "frame": reading.index,
                                   "timestamp": reading.index / fps if fps > 0 else math.nan,
                                   "face": 0 if reading.face else pd.NA, "status": OK if reading.face else NO_FACE}
            if reading.face:
                row |= dict(zip(BOX_COLUMNS, reading.box.tolist(), strict=True))
                row |= dict(zip(self.labels, reading.intensities.tolist(), strict=True))
            rows.append(row)
        table = pd.DataFrame(rows, columns=["source", "frame", "timestamp", "face", "status", *BOX_COLUMNS,
                                            *self.labels])
        table["face"] = table["face"].astype("Int64")
        return table


def bars_panel(reading: LiveReading, labels: Sequence[str], colours: np.ndarray, *, fps: float = math.nan,
               height: int | None = None, width: int = 220) -> np.ndarray:
    """A side panel of AU bars (0–5) with the frame rate, for the OpenCV window of ``aulib webcam``.

    Returns:
        ``height×width×3`` uint8 RGB (``height`` defaults to the overlay's).
    """
    height = height or reading.overlay.shape[0]
    panel = np.full((height, width, 3), 24, np.uint8)
    row_height = max(18, min(40, (height - 40) // max(len(labels), 1)))
    values = reading.intensities if reading.intensities is not None else np.zeros(len(labels))
    for k, (label, value, colour) in enumerate(zip(labels, values, colours, strict=True)):
        top = 34 + k * row_height
        length = round((width - 80) * float(np.clip(value, 0, MAX_INTENSITY)) / MAX_INTENSITY)
        cv2.putText(panel, label, (6, top + row_height // 2 + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (230, 230, 230), 1,
                    cv2.LINE_AA)
        cv2.rectangle(panel, (56, top + 3), (56 + length, top + row_height - 5), tuple(int(c) for c in colour), -1)
        cv2.putText(panel, f"{value:.1f}", (width - 22, top + row_height // 2 + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (230, 230, 230), 1, cv2.LINE_AA)
    status = f"{fps:.1f} frames/s" if math.isfinite(fps) else "frames/s: -"
    if not reading.face:
        status += "  no face"
    cv2.putText(panel, status, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (230, 230, 230), 1, cv2.LINE_AA)
    return panel
