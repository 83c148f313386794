"""Frames to predict on: image files, folders of images or of numbered frames, videos, and arrays.

:func:`iter_frames` decodes every input in order (images with imageio, videos with PyAV) and yields
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
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aulib.method.landmarks import as_rgb_uint8

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".gif"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"})
_NUMBER = re.compile(r"^(.*?)(\d+)$")


@dataclass
class Frame:
    """One decoded frame (``image is None`` when it could not be read; ``error`` says why).

    ``video`` says the frame belongs to a sequence (a video, or a folder of numbered frames), whose name is
    ``sequence``: faces are tracked from one frame of a sequence to the next. ``fps`` is the video's frame rate
    (NaN for images).
    """

    source: str
    frame: int
    timestamp: float
    image: np.ndarray | None
    error: str = ""
    video: bool = False
    fps: float = math.nan
    sequence: str = ""

    def __post_init__(self) -> None:
        self.sequence = self.sequence or self.source



def _kind(path: Path) -> str:
    return "video" if path.suffix.lower() in VIDEO_EXTENSIONS else "image"


def numbered_frames(paths: Sequence[Path]) -> list[Path] | None:
    """``paths`` in frame order when they are numbered frames of one sequence (``0001.png``, ``frame_12.jpg``: one
    name prefix, a number, one extension), else ``None``.

    Example:
        >>> [p.name for p in numbered_frames([Path("f10.png"), Path("f9.png"), Path("f11.png")])]
        ['f9.png', 'f10.png', 'f11.png']
        >>> numbered_frames([Path("alice.png"), Path("bob.png")]) is None
        True
    """
    if len(paths) < 2:
        return None
    parsed = [(_NUMBER.match(p.stem), p) for p in paths]
    if any(match is None for match, _ in parsed):
        return None
    if len({(match.group(1), p.suffix.lower()) for match, p in parsed}) != 1:
        return None
    return [p for _, p in sorted(parsed, key=lambda item: int(item[0].group(2)))]


def expand_inputs(inputs: str | os.PathLike | Sequence[str | os.PathLike]) -> list[tuple[Path, str]]:
    """The files behind ``inputs``: ``(path, "image" | "video" | "frames")`` pairs, a folder's sorted by name.

    A folder contributes its files with an image or video extension (other files are ignored): its images as
    ``"frames"`` (in numeric order) when they are numbered frames of one sequence (:func:`numbered_frames`), else
    as separate images; a file given by name is always read, as a video if its extension is a video one, else as
    an image.

    Raises:
        FileNotFoundError: for a path that does not exist (a typo should not give an empty table).
    """
    items = [inputs] if isinstance(inputs, str | os.PathLike) else list(inputs)
    files: list[tuple[Path, str]] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            known = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS
            found = [p for p in sorted(path.iterdir()) if p.is_file() and p.suffix.lower() in known]
            images = [p for p in found if _kind(p) == "image"]
            ordered = numbered_frames(images) if len(images) == len(found) else None
            files += [(p, "frames") for p in ordered] if ordered else [(p, _kind(p)) for p in found]
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



def _image_frames(path: Path, index: int = 0, sequence: str = "") -> Iterator[Frame]:
    video = bool(sequence)  # a numbered frame of a folder: part of a sequence
    try:
        image = read_image(path)
    except Exception as error:  # any decoder failure is a bad file, reported in its row
        yield Frame(str(path), index, math.nan, None, f"{type(error).__name__}: {error}", video=video,
                    sequence=sequence)
        return
    yield Frame(str(path), index, math.nan, image, video=video, sequence=sequence)



def _video_frames(path: Path) -> Iterator[Frame]:
    import av

    index, fps = 0, math.nan
    try:
        # PyAV directly: imageio's PyAV plugin runs gc.collect() on every close (~0.1-0.2 s with torch loaded).
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            fps = float(rate) if rate else math.nan
            for decoded in container.decode(stream):
                timestamp = index / fps if math.isfinite(fps) and fps > 0 else math.nan
                yield Frame(str(path), index, timestamp, _to_rgb_uint8(decoded.to_ndarray(format="rgb24")),
                            video=True, fps=fps)
                index += 1
    except Exception as error:  # unopenable or corrupt stream: report where it broke, go on with the next input
        yield Frame(str(path), index, math.nan, None, f"{type(error).__name__}: {error}", video=True, fps=fps)
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
        frames_seen: dict[str, int] = {}
        for path, kind in expand_inputs(item):
            if kind == "video":
                yield from _video_frames(path)
            elif kind == "frames":
                sequence = str(path.parent)
                frames_seen[sequence] = frames_seen.get(sequence, -1) + 1
                yield from _image_frames(path, frames_seen[sequence], sequence)
            else:
                yield from _image_frames(path)


def video_frame_count(path: str | os.PathLike) -> int:
    """The number of frames a video's stream declares (its duration × rate when it declares none; 0 if unknown)."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            if stream.frames:
                return int(stream.frames)
            if stream.duration and stream.time_base and stream.average_rate:
                return round(float(stream.duration * stream.time_base * stream.average_rate))
    except Exception:  # an unreadable video: iter_frames reports it as one row
        return 1
    return 0


def count_frames(inputs: str | os.PathLike | np.ndarray | Sequence[Any]) -> int:
    """How many frames :func:`iter_frames` will yield (the progress bar's total); videos by their metadata.

    Example:
        >>> count_frames([np.zeros((4, 4, 3), np.uint8)] * 3)
        3
    """
    if isinstance(inputs, np.ndarray):
        return 1
    items = [inputs] if isinstance(inputs, str | os.PathLike) else list(inputs)
    total = 0
    for item in items:
        if isinstance(item, np.ndarray):
            total += 1
            continue
        for path, kind in expand_inputs(item):
            total += max(1, video_frame_count(path)) if kind == "video" else 1
    return total
