"""The prediction loop: frames → faces → aligned crops → batches through the network → one row per face."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from aulib.data.calibration import calibration_crops
from aulib.detect import LandmarkDetector, create_detector
from aulib.inference.model import AUModel
from aulib.method.align import (
    alignment_matrix,
    heatmap_to_image,
    invert_affine,
    transform_points,
    warp_face,
)
from aulib.method.aus import au_label
from aulib.method.landmarks import Face
from aulib.predict.outputs import BOX_COLUMNS, Outputs, columns
from aulib.predict.sources import Frame, count_frames, iter_frames
from aulib.predict.tracking import FaceTracker

OK, NO_FACE, UNREADABLE = "ok", "no_face", "unreadable"
STATUSES: tuple[str, ...] = (OK, NO_FACE, UNREADABLE)
# Faces per forward pass. On a CPU small batches are fastest: the paper network's 64×64×256 activations take
# 2–4 MB per image, so larger batches spill out of the cache (2 cores, bf16: 17 ms/face at 2, 25 at 8, 47 at 16).
# A GPU needs large batches to be busy.
CPU_BATCH_SIZE, GPU_BATCH_SIZE = 2, 64


@dataclass
class PendingFrame:
    """One frame's faces, alignments and crops, waiting for the network (one entry per face, largest first)."""

    frame: Frame
    faces: list[Face]
    matrices: list[np.ndarray]
    crops: list[np.ndarray]
    aligned: list[np.ndarray]
    status: str



def predict(
    inputs: str | os.PathLike | np.ndarray | Sequence[Any],
    model: Any,
    detector: str | LandmarkDetector = "dlib",
    *,
    batch_size: int | None = None,
    device: str = "auto",
    precision: str = "auto",
    backend: str = "auto",
    track: bool = False,
    redetect_every: int = 30,
    max_faces: int | None = None,
    overlays_dir: str | os.PathLike | None = None,
    overlay_video_dir: str | os.PathLike | None = None,
    progress: bool = True,
    checkpoint: str = "best.pt",
    aus: Sequence[int] | None = None,
    overlap: bool = True,
) -> pd.DataFrame:
    """Predict AU intensities and locations on every face of images, folders and videos.

    Args:
        inputs: an image file, a folder (of images, of numbered frames, or of videos), a video file (decoded with
            PyAV), an ``H×W×3`` uint8 RGB array, or a list of these.
        model: a run folder of ``aulib train``, a standalone model file (``aulib convert-checkpoint``), an
            :class:`~aulib.inference.model.AUModel` or an ``nn.Module`` (:meth:`AUModel.load`).
        detector: ``"dlib"`` (offline, CPU), ``"face-alignment"`` (needs its weights), or a backend object with
            ``detect(image)`` (:func:`aulib.detect.create_detector`).
        batch_size: faces per forward pass; default 2 on a CPU (the fastest there: larger batches spill out of
            the cache) and 64 on a GPU.
        device: ``"auto"`` (CUDA if present), ``"cpu"``, ``"cuda"``.
        precision: ``"auto"`` (bf16 autocast on CUDA, fp32 on a CPU: see
            :func:`aulib.inference.precision.resolve_precision` for why), ``"bf16"``, ``"fp32"``, or ``"int8"``
            on a CPU (a quantised ONNX Runtime graph: :mod:`aulib.inference.quantize`; faster, not exact).
        backend: ``"auto"`` (ONNX Runtime for fp32 when installed, else PyTorch), ``"onnxruntime"`` or ``"torch"``
            (:meth:`AUModel.from_module`).
        track: in videos and folders of numbered frames, follow faces from frame to frame instead of detecting
            every frame in full (:mod:`aulib.predict.tracking`). Off by default: full detection gives exactly the
            original procedure's landmarks, while a tracked box moves dlib's whole-pixel landmarks by a pixel and
            the intensities by a few hundredths (BENCHMARKS.md); tracking pays off with ``precision="int8"``.
        redetect_every: while tracking, detect in the whole frame every this many frames.
        max_faces: at most this many faces per frame, largest first (``None``: all).
        overlays_dir: write one PNG per frame with faces: each AU's heatmap mapped back onto the frame.
        overlay_video_dir: write ``<video name>_overlay.mp4`` per video input: the frames with all AUs' maps.
        progress: show a tqdm progress bar (its total counts every input's frames before the first is read).
        checkpoint: checkpoint of a run folder.
        aus: AU numbers of an ``nn.Module``'s channels (see :meth:`AUModel.load`).
        overlap: decode and find the faces of the next frames in a second thread while the network runs (the
            same rows either way).

    Returns:
        The table of :mod:`aulib.predict`, one row per frame and face, in input order.

    Raises:
        FileNotFoundError: when an input or the model does not exist.
        ValueError, ImportError, RuntimeError: for a bad model or an unavailable detector. Bad *frames*
            never raise: they get a ``no_face`` or ``unreadable`` row.
    """
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be at least 1; got {batch_size}")
    loaded = load_inference_model(model, device=device, precision=precision, checkpoint=checkpoint, aus=aus,
                                  backend=backend)
    if loaded.output_kind != "heatmap":
        raise ValueError(f"{type(loaded.module).__name__} regresses intensities directly; predict needs a heatmap "
                         "model (its peaks give the AU locations)")
    batch_size = batch_size or (CPU_BATCH_SIZE if loaded.device.type == "cpu" else GPU_BATCH_SIZE)
    landmarks = create_detector(detector) if isinstance(detector, str) else detector
    tracker = FaceTracker(landmarks, track=track, redetect_every=redetect_every, max_faces=max_faces)
    outputs = Outputs(loaded.aus, Path(overlays_dir) if overlays_dir else None,
                      Path(overlay_video_dir) if overlay_video_dir else None)
    aligned = _aligned_frames(iter_frames(inputs), tracker, loaded)
    rows: list[dict] = []
    pending: list[PendingFrame] = []
    bar = tqdm(total=count_frames(inputs) if progress else None, unit="frame", desc="predict", disable=not progress)
    try:
        for item in (_ahead(aligned, depth=4 * batch_size) if overlap else aligned):
            pending.append(item)
            if sum(len(p.crops) for p in pending) >= batch_size or (not outputs.wanted and len(pending) >= 256):
                rows += _flush(pending, loaded, outputs)
                pending = []
            bar.update(1)
        rows += _flush(pending, loaded, outputs)
    finally:
        bar.close()
        outputs.close()
    table = pd.DataFrame(rows, columns=columns(loaded.aus))
    table["face"] = table["face"].astype("Int64")
    table["frame"] = table["frame"].astype(int)
    return table


def load_inference_model(model: Any, *, device: str = "auto", precision: str = "auto", backend: str = "auto",
               checkpoint: str = "best.pt", aus: Sequence[int] | None = None) -> AUModel:
    """:meth:`AUModel.load` with the predict precisions: ``"int8"`` too (:meth:`AUModel.quantized`, calibrated on
    SynthAU crops the first time a model is quantised).

    Raises:
        ValueError: for int8 on the torch backend or a GPU.
    """
    if precision != "int8":
        return AUModel.load(model, device=device, precision=precision, checkpoint=checkpoint, aus=aus,
                            backend=backend)
    if backend == "torch":
        raise ValueError("precision int8 runs on ONNX Runtime (a quantised graph), not on the torch backend: "
                         "use backend 'auto' or 'onnxruntime'")
    loaded = AUModel.load(model, device=device, precision="fp32", checkpoint=checkpoint, aus=aus,
                          backend="onnxruntime")
    return loaded.quantized(calibration_crops)


def _aligned_frames(frames: Iterator[Frame], tracker: FaceTracker, loaded: AUModel) -> Iterator[PendingFrame]:
    """Every frame with its faces found and aligned; the tracker follows faces within a sequence."""
    previous = None
    for frame in frames:
        new_sequence = frame.sequence != previous or not frame.video
        previous = frame.sequence
        yield align_frame_faces(frame, tracker, loaded, new_sequence)


_DONE = object()


def _ahead(items: Iterator[Any], depth: int) -> Iterator[Any]:
    """Yield ``items`` produced by a second thread, up to ``depth`` ahead of the consumer.

    Decoding (PyAV; imageio for images), detection (dlib) and warping release the GIL for most of their time, as ONNX
    Runtime and PyTorch do while the network runs: the two overlap on two cores. An error in the producer is
    raised here, in the consumer, with its traceback.
    """
    buffer: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(_DONE)
        except BaseException as error:  # handed to the consumer, which raises it
            buffer.put(error)

    worker = threading.Thread(target=produce, name="aulib-predict-frames", daemon=True)
    worker.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)


def align_frame_faces(frame: Frame, tracker: FaceTracker, loaded: AUModel, new_sequence: bool) -> PendingFrame:
    """Find the frame's faces (detected or tracked) and align each as the model's training data was aligned."""
    if frame.image is None:
        if frame.video:
            tracker.reset()
        return PendingFrame(frame, [], [], [], [], UNREADABLE)
    try:
        faces = tracker.faces(frame.image, new_sequence=new_sequence)
    except Exception as error:  # a detector failing on one odd frame must not lose the others
        tracker.reset()
        frame.error = f"detector failed: {type(error).__name__}: {error}"
        return PendingFrame(frame, [], [], [], [], UNREADABLE)
    return align_faces(frame, faces, loaded)


def align_faces(frame: Frame, faces: Sequence[Face], loaded: AUModel) -> PendingFrame:
    """Align each detected face of ``frame`` as the model's training data was aligned (degenerate ones dropped)."""
    kept, matrices, crops, aligned = [], [], [], []
    for face in faces:
        try:
            matrix = alignment_matrix(face.points, method=loaded.alignment, size=loaded.crop_size)
        except ValueError:  # degenerate landmarks (collinear alignment points): not a usable face
            continue
        kept.append(face)
        matrices.append(matrix)
        crops.append(warp_face(frame.image, matrix, loaded.crop_size))
        aligned.append(transform_points(face.points, matrix))
    return PendingFrame(frame, kept, matrices, crops, aligned, OK if kept else NO_FACE)



def _flush(pending: list[PendingFrame], loaded: AUModel, outputs: Outputs) -> list[dict]:
    crops = [crop for p in pending for crop in p.crops]
    if crops:
        result = loaded.predict_crops(crops, [a for p in pending for a in p.aligned])
        intensities, peaks, maps = result.intensities.cpu().numpy(), result.peaks.cpu().numpy(), result.maps.cpu()
    labels = [au_label(a) for a in loaded.aus]
    rows, k = [], 0
    for item in pending:
        frame = item.frame
        base = {"source": frame.source, "frame": frame.frame, "timestamp": frame.timestamp}
        if item.status != OK:
            rows.append({**base, "face": pd.NA, "status": item.status})
            outputs.add(frame, None, None)
            continue
        frame_maps, frame_values = [], []
        for number, (face, matrix) in enumerate(zip(item.faces, item.matrices, strict=True)):
            in_image = transform_points(peaks[k], invert_affine(matrix))  # (A, 2) crop -> original pixels
            row = {**base, "face": number, "status": OK, **dict(zip(BOX_COLUMNS, face.box.tolist(), strict=True)),
                   "score": face.score}
            for a, label in enumerate(labels):
                row[label] = float(intensities[k, a])
                row[f"{label}_x"], row[f"{label}_y"] = float(in_image[a, 0]), float(in_image[a, 1])
            rows.append(row)
            if outputs.wanted:
                frame_maps.append(heatmap_to_image(maps[k:k + 1], matrix, frame.image.shape[:2],
                                                   frame_size=loaded.crop_size)[0].numpy())
                frame_values.append(intensities[k])
            k += 1
        if outputs.wanted:
            outputs.add(frame, np.max(frame_maps, axis=0), frame_values[0])
    return rows
