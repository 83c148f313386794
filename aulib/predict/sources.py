"""Frames to predict on: image files, folders of images or of numbered frames, videos, and arrays.

:func:`iter_frames` decodes every input in order (images with imageio, videos with imageio's PyAV plugin) and yields
:class:`Frame` objects; a file that cannot be decoded yields one frame with ``image is None`` and the reason, so a
bad file never stops a run.

Example:
    >>> import numpy as np
    >>> [f.source for f in iter_frames(np.zeros((4, 4, 3), np.uint8))]
    ['<array 0>']
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aulib.method.landmarks import as_rgb_uint8

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".gif"})



VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"})



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
