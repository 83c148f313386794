"""AU intensities and locations on real faces: images, folders of images and videos (``aulib predict``).

For every frame: find the faces and their 68 landmarks (:func:`aulib.landmarks.create_detector`), align
each face exactly as the training data was aligned (:func:`aulib.align.alignment_matrix` with the run's
method, warped into the prepared crop size by :func:`aulib.align.warp_face`, then resized to the network's
input by :func:`aulib.augment.resize_batch`), run the network on batches of faces, read each AU's intensity
(:func:`aulib.heatmaps.read_intensities`) and its peak (:func:`aulib.heatmaps.read_peaks`), and map the peak
back into the original image through the inverse alignment.

The result has one row per frame and face:

- ``source``, ``frame`` (0-based index in the video; 0 for an image), ``timestamp`` (seconds; NaN for images),
  ``face`` (0 = largest; empty when there is none), ``status`` (``ok``, ``no_face`` or ``unreadable``);
- the detector's box ``x0, y0, x1, y1`` and ``score``;
- per AU: the intensity (``AU06``) and its peak in original image pixels (``AU06_x``, ``AU06_y``; pixel
  ``(i, j)`` has its centre at ``x = j, y = i``).

A frame without a face, or a file that cannot be decoded, gets one row with that status and NaNs: a
prediction never stops on bad input.

**Tracking** (videos, ``track=True``): after a full-frame detection, the next frames look for each face only
in a region around its previous box (twice the box side), shrunk so the face is about ``TRACK_FACE_SIDE`` pixels
high, and then place the 68 landmarks with the shape predictor alone in the found box, on the full-resolution
frame (:meth:`aulib.landmarks.DlibLandmarks.landmarks_in_box`). The whole frame is searched again every
``redetect_every`` frames and whenever a face is lost (no detection in its region, or the landmarks leave the
image). The trade-off: a 640×480 frame costs ~23 ms of full detection but ~3 ms tracked, and the region search
still confirms there *is* a face in every frame (a blank frame gives ``no_face`` at once, which a landmark-only
tracker would miss); but a face that *enters* the picture is found only at the next full detection (at most
``redetect_every`` frames late), and tracked boxes come from a coarser pyramid level, so landmarks differ from
full-detection ones by a pixel or two. ``track=False`` detects every frame in full.

Example:
    >>> from skimage import data
    >>> from aulib.models import create_model
    >>> table = predict(data.astronaut(), create_model("tiny"), progress=False)
    >>> table[["status", "face"]].values.tolist()
    [['ok', 0]]
    >>> table.loc[0, ["x0", "y0", "x1", "y1"]].tolist()  # dlib's box of the astronaut's face
    [179.0, 83.0, 266.0, 170.0]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from aulib.align import FRAME_SIZE, alignment_matrix, heatmap_to_image, invert_affine, transform_points, warp_face
from aulib.augment import resize_batch
from aulib.aus import BP4D_AUS, au_label, resolve_aus
from aulib.heatmaps import heatmap_to_frame, read_intensities, read_peaks
from aulib.landmarks import Face, LandmarkDetector, as_rgb_uint8, create_detector
from aulib.train import autocast_dtype, resolve_device

OK, NO_FACE, UNREADABLE = "ok", "no_face", "unreadable"
STATUSES: tuple[str, ...] = (OK, NO_FACE, UNREADABLE)
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".gif"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"})
TRACK_FACE_SIDE = 110  # px: dlib's HOG window is 80 px, so a face this size is found at the first pyramid level
TRACK_MARGIN = 0.5  # the search region extends this many box sides beyond each edge of the previous box
TRACK_MIN_IOU = 0.3  # a detection in the region must overlap the previous box this much to be the same face
BOX_COLUMNS = ("x0", "y0", "x1", "y1")
# Faces per forward pass. On a CPU small batches are fastest: the paper network's 64×64×256 activations take
# 2–4 MB per image, so larger batches spill out of the cache (2 cores, bf16: 17 ms/face at 2, 25 at 8, 47 at 16).
# A GPU needs large batches to be busy.
CPU_BATCH_SIZE, GPU_BATCH_SIZE = 2, 64


# ----------------------------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class LoadedModel:
    """A network and everything needed to feed it and read it: what :func:`load_model` returns.

    Attributes:
        model: the network, in eval mode on ``device`` (a copy: the caller's module is left as it was).
        network: what runs: ``model`` with its BatchNorms folded into the convolutions (:func:`fold_batchnorm`).
        aus: AU numbers of its output channels.
        input_size: side of its square input.
        alignment: :mod:`aulib.align` method of its training data.
        crop_size: side of the aligned crop (the prepared dataset's ``size``), resized to ``input_size``.
        readout_window: ``None`` for the global-max readout, else the local readout's radius.
        device: where it runs.
        heatmap: the target design it was trained with (:class:`aulib.heatmaps.HeatmapConfig` options), when known.
    """

    model: nn.Module
    network: nn.Module
    aus: tuple[int, ...]
    input_size: int
    alignment: str = "paper"
    crop_size: int = FRAME_SIZE
    readout_window: float | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    heatmap: dict | None = None


def _run_alignment(trainer: Any) -> dict:
    full = getattr(trainer, "full", None)
    meta = getattr(full, "meta", None) or {}
    return dict(meta.get("alignment", {}))


def _network_from_run(path: Path, checkpoint: str) -> tuple[nn.Module, dict[str, Any]]:
    """A run folder's network and settings, from its own files only (no training data, no trainer)."""
    from aulib.models import create_model

    weights = path / checkpoint
    if not weights.is_file() or not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path} is not a trained run: it needs config.json and {checkpoint} "
                                f"(train with `aulib train --out {path}`)")
    config = json.loads((path / "config.json").read_text())
    state = torch.load(weights, map_location="cpu", weights_only=True)
    aus = tuple(int(a) for a in state["aus"])
    network = create_model(config["model"], num_maps=len(aus))
    network.load_state_dict(state["model"], strict=True)
    alignment = state.get("alignment") or {}
    meta_path = Path(config.get("data", "")) / "meta.json"
    if not alignment and meta_path.is_file():  # a checkpoint from before runs recorded their alignment
        alignment = json.loads(meta_path.read_text()).get("alignment", {})
    return network, {"aus": aus, "alignment": alignment.get("method", "paper"),
                     "crop_size": int(alignment.get("size", FRAME_SIZE)),
                     "readout_window": config.get("readout_window"),
                     "heatmap": {**config.get("heatmap", {}), "size": int(network.heatmap_size)}}


def load_model(
    model: str | os.PathLike | nn.Module | Any,
    *,
    device: str | torch.device = "auto",
    checkpoint: str = "best.pt",
    aus: Sequence[int] | None = None,
    alignment: str | None = None,
    crop_size: int | None = None,
) -> LoadedModel:
    """Resolve the ``model`` argument of :func:`predict`.

    Args:
        model: a run folder of ``aulib train`` (its ``checkpoint`` is loaded with :func:`aulib.train.load_run`;
            the alignment comes from the run's prepared dataset), a standalone model file
            (:mod:`aulib.convert`), a :class:`aulib.train.Trainer`, or an ``nn.Module`` (copied to
            ``device`` in eval mode; the module itself is not changed).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``.
        checkpoint: checkpoint of a run folder.
        aus: AU numbers of the channels; needed for an ``nn.Module`` without an ``aus`` attribute and other
            than five maps (five maps default to BP4D's AUs).
        alignment: override the alignment method (default: the model's, else ``"paper"``).
        crop_size: override the aligned crop size (default: the model's, else 256).

    Returns:
        A :class:`LoadedModel`.

    Raises:
        FileNotFoundError: when the path does not exist.
        aulib.convert.UnsafeCheckpointError: when a model file contains pickled code.
        ValueError: when the AUs do not match the network's outputs.
    """
    from aulib.train import Trainer

    settings: dict[str, Any] = {}
    if isinstance(model, str | os.PathLike):
        path = Path(model)
        if path.is_dir():
            model, settings = _network_from_run(path, checkpoint)
        elif path.is_file():
            from aulib.convert import load_model_file
            from aulib.models import create_model

            meta = load_model_file(path)
            network = create_model(meta["preset"], num_maps=len(meta["aus"]))
            network.load_state_dict(meta["state_dict"], strict=True)
            settings = {"aus": tuple(meta["aus"]), "alignment": meta["alignment"], "crop_size": meta["crop_size"],
                        "readout_window": meta["readout_window"]}
            model = network
        else:
            raise FileNotFoundError(f"model not found: {path} (give a run folder of `aulib train` or a model file "
                                    "written by `aulib convert-checkpoint`)")
    if isinstance(model, Trainer) or (hasattr(model, "model") and hasattr(model, "config") and hasattr(model, "aus")):
        trainer = model
        run_alignment = _run_alignment(trainer)
        settings = {"aus": tuple(trainer.aus), "alignment": run_alignment.get("method", "paper"),
                    "crop_size": run_alignment.get("size", FRAME_SIZE),
                    "readout_window": getattr(trainer.config, "readout_window", None)}
        model = trainer.model
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a run folder, a model file, a Trainer or an nn.Module; got {type(model)}")
    if getattr(model, "output_kind", "heatmap") != "heatmap":
        raise ValueError(f"{type(model).__name__} regresses intensities directly; predict needs a heatmap model "
                         "(its peaks give the AU locations)")
    chosen = aus if aus is not None else settings.get("aus", getattr(model, "aus", None))
    num_maps = int(getattr(model, "num_maps", len(chosen) if chosen is not None else len(BP4D_AUS)))
    if chosen is None:
        if num_maps != len(BP4D_AUS):
            raise ValueError(f"the model has {num_maps} output maps: pass aus=[...] with their AU numbers")
        chosen = BP4D_AUS
    chosen = resolve_aus(chosen)
    if len(chosen) != num_maps:
        raise ValueError(f"the model has {num_maps} output maps but {len(chosen)} AUs were given: {chosen}")
    resolved = resolve_device(str(device)) if not isinstance(device, torch.device) else device
    # channels-last: oneDNN and cuDNN convolutions run faster on NHWC tensors (the training default too)
    model = copy.deepcopy(model).to(resolved, memory_format=torch.channels_last).eval()
    return LoadedModel(
        model=model, network=fold_batchnorm(model), aus=chosen,
        input_size=int(getattr(model, "input_size", FRAME_SIZE)),
        alignment=alignment or settings.get("alignment", "paper"),
        crop_size=int(crop_size or settings.get("crop_size", FRAME_SIZE)),
        readout_window=settings.get("readout_window"), device=resolved, heatmap=settings.get("heatmap"),
    )


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An inference copy of ``model`` with every convolution → BatchNorm pair folded into one convolution.

    In eval mode a BatchNorm is an affine map per channel, so ``BN(conv(x))`` is a convolution with rescaled
    weights and a new bias. Folding removes one full pass over every activation (about a sixth of the
    ``paper`` network's CPU time) and changes fp32 outputs by ~1e-6. Folded: the three pairs and the projection
    of each :class:`~aulib.models.blocks.Bottleneck`, and the stem and head pairs of each
    :class:`~aulib.models.hourglass.Hourglass`. FAN's pre-activation ``ConvBlock`` (BN *before* its convolutions,
    whose raw outputs are also concatenated) has nothing to fold, and other modules are copied unchanged.

    Args:
        model: a network in eval mode.

    Returns:
        A folded deep copy (the argument is not modified).

    Example:
        >>> import torch
        >>> from aulib.models import create_model
        >>> model = create_model("tiny").eval()
        >>> x = torch.rand(1, 3, 96, 96)
        >>> folded = fold_batchnorm(model)
        >>> sum(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
        0
        >>> bool(torch.allclose(folded(x), model(x), atol=1e-5))
        True
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    from aulib.models.blocks import Bottleneck
    from aulib.models.hourglass import Hourglass

    if model.training:
        raise ValueError("fold_batchnorm needs a model in eval mode (BatchNorm then uses its running statistics)")
    folded = copy.deepcopy(model)

    def fold(owner: nn.Module, conv_name: str, bn_name: str) -> None:
        conv, bn = owner._modules[conv_name], owner._modules[bn_name]
        if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
            fused = fuse_conv_bn_eval(conv, bn)
            # keep the layout: fuse_conv_bn_eval returns contiguous weights
            owner._modules[conv_name] = fused.to(memory_format=torch.channels_last)
            owner._modules[bn_name] = nn.Identity()

    for module in list(folded.modules()):
        if isinstance(module, Bottleneck):
            for conv_name, bn_name in (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3")):
                fold(module, conv_name, bn_name)
            if module.downsample is not None:
                fold(module.downsample, "0", "1")
        elif isinstance(module, Hourglass):
            fold(module.stem, "0", "1")
            for head in module.heads:
                fold(head, "1", "2")
    return folded


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` (``"auto"``, ``"bf16"``, ``"fp32"``) on ``device``; ``None`` = fp32.

    ``"auto"`` is **bf16 on CUDA** (several times the fp32 throughput on tensor cores) and **fp32 on a CPU**, even
    one with native bf16 (AVX-512 BF16, AMX). Why fp32 there: on the 2-core AVX-512 BF16 EPYC of BENCHMARKS.md,
    bf16 made ``aulib predict`` only 1.5× faster end to end (32 against 22 frames/s: face finding, decoding and
    warping do not speed up), while it moved intensities by up to 0.05 (0.003–0.01 on average) on the 0–5
    scale, beyond the 0.01 this project allows bf16; fp32 reproduces the original code's network to 3e-6. Pass
    ``"bf16"`` for the extra speed when a few hundredths of an intensity level do not matter.
    """
    if precision == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    return autocast_dtype(precision, device)


# ----------------------------------------------------------------------------------------------------------------
# Inputs: images, folders, videos -> frames
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class Frame:
    """One decoded frame (``image is None`` when it could not be read; ``error`` says why).

    ``fps`` is the video's frame rate (NaN for images) and ``count`` the number of frames its source is
    expected to give (set on a source's first frame, for the progress bar).
    """

    source: str
    frame: int
    timestamp: float
    image: np.ndarray | None
    error: str = ""
    video: bool = False
    fps: float = math.nan
    count: int = 1


def _kind(path: Path) -> str:
    return "video" if path.suffix.lower() in VIDEO_EXTENSIONS else "image"


def expand_inputs(inputs: str | os.PathLike | Sequence[str | os.PathLike]) -> list[tuple[Path, str]]:
    """The files behind ``inputs``: ``(path, "image" | "video")`` pairs, a folder's files sorted by name.

    A folder contributes its files with an image or video extension (other files are ignored); a file given
    by name is always read, as a video if its extension is a video one, else as an image.

    Raises:
        FileNotFoundError: for a path that does not exist (a typo should not give an empty table).
    """
    items = [inputs] if isinstance(inputs, str | os.PathLike) else list(inputs)
    files: list[tuple[Path, str]] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            known = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS
            files += [(p, _kind(p)) for p in sorted(path.iterdir()) if p.is_file() and p.suffix.lower() in known]
        elif path.is_file():
            files.append((path, _kind(path)))
        else:
            raise FileNotFoundError(f"input not found: {path}")
    return files


def _to_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """Decoded pixels -> ``H×W×3`` uint8 RGB: drop alpha, replicate grey, rescale 16-bit and float images."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] in (2, 4):  # grey + alpha or RGBA
        image = image[..., :-1]
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype.kind == "f":
        image = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
    elif image.dtype == bool:
        image = image.astype(np.uint8) * 255
    return as_rgb_uint8(image)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as ``H×W×3`` uint8 RGB (first frame of a multi-frame file).

    Raises:
        Exception: whatever the decoder raises for a corrupt or unsupported file.
    """
    import imageio.v3 as iio

    try:
        image = iio.imread(path, index=0)
    except TypeError:  # a plugin without the index argument
        image = iio.imread(path)
    return _to_rgb_uint8(image)


def _image_frames(path: Path) -> Iterator[Frame]:
    try:
        image = read_image(path)
    except Exception as error:  # any decoder failure is a bad file, reported in its row
        yield Frame(str(path), 0, math.nan, None, f"{type(error).__name__}: {error}")
        return
    yield Frame(str(path), 0, math.nan, image)


def _video_frames(path: Path) -> Iterator[Frame]:
    import imageio.v3 as iio

    index, fps, count = 0, math.nan, 0
    try:
        # One open per video, metadata and frames together: imageio's PyAV plugin runs gc.collect() on every
        # close (~0.2 s with torch loaded), so separate immeta + imiter calls would cost that twice.
        with iio.imopen(path, "r", plugin="pyav") as file:
            meta = file.metadata()
            fps = float(meta.get("fps") or math.nan)
            duration = meta.get("duration")
            count = round(duration * fps) if duration and math.isfinite(fps) else 0
            for image in file.iter(format="rgb24"):
                timestamp = index / fps if math.isfinite(fps) and fps > 0 else math.nan
                yield Frame(str(path), index, timestamp, _to_rgb_uint8(image), video=True, fps=fps,
                            count=count if index == 0 else 0)
                index += 1
    except Exception as error:  # unopenable or corrupt stream: report where it broke, go on with the next input
        yield Frame(str(path), index, math.nan, None, f"{type(error).__name__}: {error}", video=True, fps=fps,
                    count=1 if index == 0 else 0)
        return
    if index == 0:
        yield Frame(str(path), 0, math.nan, None, "no frames could be decoded", video=True)


def iter_frames(inputs: str | os.PathLike | np.ndarray | Sequence[Any]) -> Iterator[Frame]:
    """Decode ``inputs`` (see :func:`predict`) frame by frame, in order."""
    if isinstance(inputs, np.ndarray):
        inputs = [inputs]
    items = [inputs] if isinstance(inputs, str | os.PathLike) else list(inputs)
    for number, item in enumerate(items):
        if isinstance(item, np.ndarray):
            yield Frame(f"<array {number}>", 0, math.nan, _to_rgb_uint8(item))
            continue
        for path, kind in expand_inputs(item):
            yield from (_video_frames(path) if kind == "video" else _image_frames(path))


# ----------------------------------------------------------------------------------------------------------------
# Faces: detection and tracking
# ----------------------------------------------------------------------------------------------------------------


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
        for face in self.detector.detect(region):
            # region pixel u covers original [(u - 0.5)/s + 0.5 - 0.5 ...]: pixel centres map as (u + 0.5)/s - 0.5
            box = face.box.copy()
            box[[0, 2]] = (box[[0, 2]] + 0.5) / scale_x - 0.5 + rx0
            box[[1, 3]] = (box[[1, 3]] + 0.5) / scale_y - 0.5 + ry0
            candidates.append((_iou(box, previous.box), box, face.score))
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


# ----------------------------------------------------------------------------------------------------------------
# Prediction
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class PendingFrame:
    """One frame's faces, alignments and crops, waiting for the network (one entry per face, largest first)."""

    frame: Frame
    faces: list[Face]
    matrices: list[np.ndarray]
    crops: list[np.ndarray]
    aligned: list[np.ndarray]
    status: str


def _columns(aus: Sequence[int]) -> list[str]:
    labels = [au_label(a) for a in aus]
    return ["source", "frame", "timestamp", "face", "status", *BOX_COLUMNS, "score", *labels,
            *(f"{label}_{axis}" for label in labels for axis in ("x", "y"))]


class _Outputs:
    """Optional outputs: overlay PNGs per frame and an overlay video per video source."""

    def __init__(self, aus: Sequence[int], overlays_dir: Path | None, video_dir: Path | None) -> None:
        self.labels = [au_label(a) for a in aus]
        self.overlays_dir, self.video_dir = overlays_dir, video_dir
        self.writer: Any = None
        self.writer_source: str | None = None
        self.writer_paths: tuple[Path, Path] | None = None
        for folder in (overlays_dir, video_dir):
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)

    @property
    def wanted(self) -> bool:
        return self.overlays_dir is not None or self.video_dir is not None

    def add(self, frame: Frame, maps: np.ndarray | None, intensities: np.ndarray | None) -> None:
        """``maps``: ``(A, H, W)`` heatmaps in image pixels (max over faces), or None without a face."""
        if frame.image is None:
            return
        if self.overlays_dir is not None and maps is not None:
            panels = [overlay_heatmap(frame.image, maps[k], f"{label} {intensities[k]:.2f}")
                      for k, label in enumerate(self.labels)]
            name = f"{Path(frame.source).stem}_{frame.frame:06d}.png"
            _write_png(self.overlays_dir / name, np.concatenate(panels, axis=1))
        if self.video_dir is not None and frame.video:
            if self.writer_source != frame.source:
                self.close()
                self._open(frame.source, frame.fps)
            combined = maps.max(axis=0) if maps is not None else None
            text = "  ".join(f"{label} {v:.1f}" for label, v in zip(self.labels, intensities, strict=True)) \
                if intensities is not None else "no face"
            image = overlay_heatmap(frame.image, combined, text)
            self.writer.write_frame(_pad_even(image))

    def _open(self, source: str, fps: float) -> None:
        import imageio.v3 as iio

        final = self.video_dir / f"{Path(source).stem}_overlay.mp4"
        partial = final.with_name(f".{final.stem}.partial.mp4")
        self.writer = iio.imopen(partial, "w", plugin="pyav")
        self.writer.init_video_stream("libx264", fps=fps if math.isfinite(fps) and fps > 0 else 25)
        self.writer_source, self.writer_paths = source, (partial, final)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            os.replace(*self.writer_paths)  # the video appears complete or not at all
        self.writer, self.writer_source, self.writer_paths = None, None, None


def _pad_even(image: np.ndarray) -> np.ndarray:
    # H.264 in yuv420p needs even sides
    height, width = image.shape[:2]
    return np.pad(image, ((0, height % 2), (0, width % 2), (0, 0)))


def _write_png(path: Path, image: np.ndarray) -> None:
    import imageio.v3 as iio

    from aulib.io import atomic_write_bytes

    atomic_write_bytes(path, iio.imwrite("<bytes>", image, extension=".png"))


def overlay_heatmap(image: np.ndarray, heatmap: np.ndarray | None, text: str = "",
                    max_intensity: float = 5.0) -> np.ndarray:
    """Blend a heatmap (image pixels, 0–5) onto an RGB image in colour, with an optional caption.

    Args:
        image: ``H×W×3`` uint8 RGB.
        heatmap: ``H×W`` values; ``None`` draws the caption only.
        text: caption drawn in the top-left corner.
        max_intensity: the value drawn fully opaque.

    Returns:
        A new ``H×W×3`` uint8 image.
    """
    from matplotlib import colormaps

    out = image.astype(np.float32)
    if heatmap is not None:
        level = np.clip(np.asarray(heatmap, dtype=np.float32) / max_intensity, 0, 1)
        colour = colormaps["inferno"](level)[..., :3] * 255
        alpha = 0.75 * level[..., None]
        out = out * (1 - alpha) + colour * alpha
    out = out.round().astype(np.uint8)
    if text:
        scale = max(0.4, image.shape[0] / 700)
        for colour, thickness in (((0, 0, 0), 3), ((255, 255, 255), 1)):  # outlined: readable on any background
            cv2.putText(out, text, (6, int(22 * scale) + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness,
                        cv2.LINE_AA)
    return out


def predict(
    inputs: str | os.PathLike | np.ndarray | Sequence[Any],
    model: str | os.PathLike | nn.Module | Any,
    detector: str | LandmarkDetector = "dlib",
    *,
    batch_size: int | None = None,
    device: str = "auto",
    precision: str = "auto",
    track: bool = True,
    redetect_every: int = 30,
    max_faces: int | None = None,
    overlays_dir: str | os.PathLike | None = None,
    overlay_video_dir: str | os.PathLike | None = None,
    plot_path: str | os.PathLike | None = None,
    progress: bool = True,
    checkpoint: str = "best.pt",
    aus: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Predict AU intensities and locations on every face of images, folders and videos.

    Args:
        inputs: an image file, a folder of images/videos (sorted by name), a video file (decoded with
            imageio + PyAV), an ``H×W×3`` uint8 RGB array, or a list of these.
        model: a run folder of ``aulib train``, a standalone model file (``aulib convert-checkpoint``), a
            :class:`aulib.train.Trainer` or an ``nn.Module`` (see :func:`load_model`).
        detector: ``"dlib"`` (offline, CPU), ``"face-alignment"`` (needs its weights), or a backend object with
            ``detect(image)`` (:func:`aulib.landmarks.create_detector`).
        batch_size: faces per forward pass; default 2 on a CPU (the fastest there: larger batches spill out of
            the cache) and 64 on a GPU.
        device: ``"auto"`` (CUDA if present), ``"cpu"``, ``"cuda"``.
        precision: ``"auto"`` (bf16 autocast on CUDA, fp32 on a CPU: see :func:`resolve_precision` for why),
            ``"bf16"`` or ``"fp32"``.
        track: in videos, follow faces from frame to frame instead of detecting every frame in full
            (module docstring: the trade-off).
        redetect_every: while tracking, detect in the whole frame every this many frames.
        max_faces: at most this many faces per frame, largest first (``None``: all).
        overlays_dir: write one PNG per frame with faces: each AU's heatmap mapped back onto the frame.
        overlay_video_dir: write ``<video name>_overlay.mp4`` per video input: the frames with all AUs' maps.
        plot_path: write a figure of the intensities over time (one panel per source with several frames).
        progress: show a tqdm progress bar.
        checkpoint: checkpoint of a run folder.
        aus: AU numbers of an ``nn.Module``'s channels (see :func:`load_model`).

    Returns:
        The table of the module docstring, one row per frame and face, in input order.

    Raises:
        FileNotFoundError: when an input or the model does not exist.
        ValueError, ImportError, RuntimeError: for a bad model or an unavailable detector. Bad *frames*
            never raise: they get a ``no_face`` or ``unreadable`` row.
    """
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be at least 1; got {batch_size}")
    loaded = load_model(model, device=device, checkpoint=checkpoint, aus=aus)
    batch_size = batch_size or (CPU_BATCH_SIZE if loaded.device.type == "cpu" else GPU_BATCH_SIZE)
    amp_dtype = resolve_precision(precision, loaded.device)
    landmarks = create_detector(detector) if isinstance(detector, str) else detector
    tracker = FaceTracker(landmarks, track=track, redetect_every=redetect_every, max_faces=max_faces)
    outputs = _Outputs(loaded.aus, Path(overlays_dir) if overlays_dir else None,
                       Path(overlay_video_dir) if overlay_video_dir else None)
    rows: list[dict] = []
    pending: list[PendingFrame] = []
    bar = tqdm(total=0, unit="frame", desc="predict", disable=not progress)
    previous_source = None
    try:
        for frame in iter_frames(inputs):
            new_sequence = frame.source != previous_source or not frame.video
            previous_source = frame.source
            if frame.count:  # a video's length is known once it is open
                bar.total += frame.count
                bar.refresh()
            pending.append(align_frame_faces(frame, tracker, loaded, new_sequence))
            if sum(len(p.crops) for p in pending) >= batch_size or (not outputs.wanted and len(pending) >= 256):
                rows += _flush(pending, loaded, amp_dtype, outputs)
                pending = []
            bar.update(1)
        rows += _flush(pending, loaded, amp_dtype, outputs)
    finally:
        bar.close()
        outputs.close()
    table = pd.DataFrame(rows, columns=_columns(loaded.aus))
    table["face"] = table["face"].astype("Int64")
    table["frame"] = table["frame"].astype(int)
    if plot_path is not None:
        from aulib.plots import save_figure

        save_figure(intensity_figure(table, loaded.aus), plot_path)
    return table


def align_frame_faces(frame: Frame, tracker: FaceTracker, loaded: LoadedModel, new_sequence: bool) -> PendingFrame:
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


@contextlib.contextmanager
def _without_tf32() -> Iterator[None]:
    previous = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32 = previous


def run_network(loaded: LoadedModel, crops: list[np.ndarray], aligned: list[np.ndarray],
             amp_dtype: torch.dtype | None) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """Intensities ``(B, A)``, peaks ``(B, A, 2)`` in crop pixels and the maps ``(B, A, h, w)``, float32."""
    device = loaded.device
    images = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).to(device)  # (B, 3, S, S) uint8
    points = torch.from_numpy(np.stack(aligned)).to(device)
    # exactly the evaluation path of training: crop / 255, resampled to the input size when it differs
    images, frame_points = resize_batch(images, points, loaded.input_size)
    images = images.contiguous(memory_format=torch.channels_last)
    # fp32 means fp32 on a GPU too: cuDNN would otherwise use TF32 (10-bit mantissa) for the convolutions.
    exact = _without_tf32() if amp_dtype is None and device.type == "cuda" else contextlib.nullcontext()
    with torch.inference_mode(), exact, torch.autocast(device.type, dtype=amp_dtype or torch.float32,
                                                       enabled=amp_dtype is not None):
        maps = loaded.network(images)
    maps = maps.float()
    window = loaded.readout_window
    intensities = read_intensities(maps, landmarks=frame_points.to(maps.dtype) if window else None, aus=loaded.aus,
                                   window=window)
    _, peaks = read_peaks(maps)
    peaks = heatmap_to_frame(peaks.double(), maps.shape[-1], frame_size=loaded.crop_size)
    return intensities.cpu().numpy(), peaks.cpu().numpy(), maps.cpu()


def _flush(pending: list[PendingFrame], loaded: LoadedModel, amp_dtype: torch.dtype | None,
           outputs: _Outputs) -> list[dict]:
    crops = [crop for p in pending for crop in p.crops]
    if crops:
        intensities, peaks, maps = run_network(loaded, crops, [a for p in pending for a in p.aligned], amp_dtype)
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


def intensity_figure(table: pd.DataFrame, aus: Sequence[int] = BP4D_AUS) -> Any:
    """Intensity over time, one panel per source (the largest face of each frame; gaps where there is none).

    Args:
        table: :func:`predict`'s result.
        aus: the AUs to draw.

    Returns:
        A matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    labels = [au_label(a) for a in resolve_aus(aus)]
    sources = list(dict.fromkeys(table["source"]))
    if len(sources) > 1 and (table.groupby("source")["frame"].nunique() == 1).all():
        sources = [None]  # a folder of still images: one panel, images in order
    figure, axes = plt.subplots(len(sources), 1, figsize=(8, 2.4 * len(sources)), squeeze=False, sharey=True)
    for axis, source in zip(axes[:, 0], sources, strict=True):
        rows = table if source is None else table[table["source"] == source]
        rows = rows[rows["face"].isna() | (rows["face"] == 0)].reset_index(drop=True)
        use_time = source is not None and rows["timestamp"].notna().any()
        x = rows["timestamp"] if use_time else np.arange(len(rows))
        for label in labels:
            axis.plot(x, rows[label], label=label, linewidth=1.2)
        axis.set_xlabel("time (s)" if use_time else "image" if source is None else "frame")
        axis.set_ylabel("intensity")
        axis.set_ylim(-0.1, 5.1)
        axis.set_title(Path(source).name if source is not None else "images", fontsize=9)
    axes[0, 0].legend(ncol=len(labels), fontsize=8, loc="upper right")
    figure.tight_layout()
    return figure


# ----------------------------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------------------------


def run_predict(args: argparse.Namespace) -> int:
    from aulib.io import atomic_write_csv

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = predict(
        args.inputs, args.model, detector=args.detector, batch_size=args.batch_size, device=args.device,
        precision=args.precision, track=not args.no_track, redetect_every=args.redetect_every,
        max_faces=args.max_faces, overlays_dir=out / "overlays" if args.overlays else None,
        overlay_video_dir=out if args.overlay_video else None,
        plot_path=out / "intensities.png" if args.plot else None, progress=not args.quiet,
        checkpoint=args.checkpoint,
    )
    atomic_write_csv(out / "predictions.csv", table)
    counts = json.dumps({status: int((table["status"] == status).sum()) for status in STATUSES})
    print(f"wrote {out / 'predictions.csv'}: {len(table)} rows {counts}")
    return 0


def add_predict_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``aulib predict`` to the CLI's subcommands.

    Args:
        subparsers: what ``parser.add_subparsers()`` returned.

    Returns:
        The new subcommand's parser (its handler is :func:`run_predict`).
    """
    parser = subparsers.add_parser(
        "predict", help="AU intensities and locations on images, folders of images and videos",
        description="Detect faces, align them as in training, run the network and write DIR/predictions.csv "
        "(one row per frame and face; peaks in original image pixels).",
    )
    parser.add_argument("inputs", nargs="+", help="image files, folders of images, or videos")
    parser.add_argument("--model", required=True,
                        help="run folder of `aulib train`, or a model file of `aulib convert-checkpoint`")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--detector", choices=["dlib", "face-alignment"], default="dlib")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto")
    parser.add_argument("--batch-size", type=int, help="faces per forward pass (default: 2 on a CPU, 64 on a GPU)")
    parser.add_argument("--checkpoint", default="best.pt", help="checkpoint of a run folder")
    parser.add_argument("--no-track", action="store_true", help="detect every video frame in full")
    parser.add_argument("--redetect-every", type=int, default=30, help="frames between full detections")
    parser.add_argument("--max-faces", type=int, help="at most this many faces per frame (largest first)")
    parser.add_argument("--overlays", action="store_true", help="write DIR/overlays/*.png (heatmaps per AU)")
    parser.add_argument("--overlay-video", action="store_true", help="write DIR/<video>_overlay.mp4 per video")
    parser.add_argument("--plot", action="store_true", help="write DIR/intensities.png (intensity over time)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_predict)
    return parser

