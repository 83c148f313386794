"""What ``aulib predict`` writes: the table's columns, overlay images and overlay videos.

Example:
    >>> columns([12])[:5], columns([12])[-3:]
    (['source', 'frame', 'timestamp', 'face', 'status'], ['AU12', 'AU12_x', 'AU12_y'])
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from aulib.method.aus import au_label
from aulib.predict.sources import Frame

BOX_COLUMNS = ("x0", "y0", "x1", "y1")



def columns(aus: Sequence[int]) -> list[str]:
    labels = [au_label(a) for a in aus]
    return ["source", "frame", "timestamp", "face", "status", *BOX_COLUMNS, "score", *labels,
            *(f"{label}_{axis}" for label in labels for axis in ("x", "y"))]



class Outputs:
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



def blend_heatmap(image: np.ndarray, heatmap: np.ndarray, *, vmax: float = 5.0, cmap: str = "inferno",
                  opacity: str = "value", min_peak: float = 0.0) -> np.ndarray:
    """Blend one heatmap over an image: the one single-map drawing in aulib (photos, videos, the course's figures
    and explorer; the live view's all-AUs-at-once tint is :func:`au_tint`).

    The colour says the value (``cmap`` over 0–``vmax``); the opacity (at most 0.75) follows either the value itself
    (``opacity="value"``: 0 stays invisible, ``vmax`` is strongest) or its share of the map's peak
    (``opacity="peak"``: a faint intensity-1 Gaussian stays visible; ``min_peak`` keeps a near-flat network map of,
    say, 0.1 everywhere faint instead of painting the whole face).

    Args:
        image: ``H×W×3`` uint8 RGB.
        heatmap: ``H×W`` values on the image's pixels.
        vmax: the value of the colour map's top.
        cmap: a matplotlib colour map.
        opacity: ``"value"`` or ``"peak"``.
        min_peak: with ``opacity="peak"``, the smallest peak the opacity is measured against.

    Returns:
        ``H×W×3`` float64 RGB in [0, 1]; equal to ``image / 255`` where the map is zero.

    Example:
        >>> face = np.full((2, 2, 3), 128, np.uint8)
        >>> bool(np.allclose(blend_heatmap(face, np.zeros((2, 2))), 128 / 255))  # an empty map changes nothing
        True
    """
    from matplotlib import colormaps

    if opacity not in ("value", "peak"):
        raise ValueError(f"opacity must be 'value' or 'peak'; got {opacity!r}")
    values = np.asarray(heatmap, dtype=np.float64)
    if values.shape != image.shape[:2]:
        raise ValueError(f"the heatmap must cover the image's pixels {image.shape[:2]}; got {values.shape}")
    face = image.astype(np.float64) / 255.0
    scale = vmax if opacity == "value" else max(float(values.max()), min_peak)
    if scale <= 0:
        return face
    colours = colormaps[cmap](np.clip(values / vmax, 0, 1))[..., :3]
    alpha = 0.75 * np.clip(values / scale, 0, 1)[..., None]
    return (1 - alpha) * face + alpha * colours


def overlay_heatmap(image: np.ndarray, heatmap: np.ndarray | None, text: str = "",
                    max_intensity: float = 5.0) -> np.ndarray:
    """A heatmap (image pixels, 0–5) blended onto an RGB image by :func:`blend_heatmap`, with an optional caption.

    Args:
        image: ``H×W×3`` uint8 RGB.
        heatmap: ``H×W`` values; ``None`` draws the caption only.
        text: caption drawn in the top-left corner.
        max_intensity: the value drawn most opaque.

    Returns:
        A new ``H×W×3`` uint8 image.
    """
    out = image.copy() if heatmap is None else (blend_heatmap(image, heatmap, vmax=max_intensity) * 255).round(
    ).astype(np.uint8)
    if text:
        scale = max(0.4, image.shape[0] / 700)
        for colour, thickness in (((0, 0, 0), 3), ((255, 255, 255), 1)):  # outlined: readable on any background
            cv2.putText(out, text, (6, int(22 * scale) + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness,
                        cv2.LINE_AA)
    return out


# One colour per AU channel, in channel order (Okabe & Ito's colour-blind-safe palette, without black), RGB.
AU_PALETTE = np.array([(230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (0, 114, 178), (213, 94, 0),
                       (204, 121, 167)], dtype=np.uint8)


def au_colours(count: int) -> np.ndarray:
    """``(count, 3)`` uint8 RGB colours for ``count`` AU channels (the palette repeats after seven).

    Example:
        >>> au_colours(2).tolist()
        [[230, 159, 0], [86, 180, 233]]
    """
    return AU_PALETTE[np.arange(count) % len(AU_PALETTE)]


def au_tint(maps: np.ndarray, colours: np.ndarray, *, max_intensity: float = 5.0,
            opacity: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """Every AU's map drawn at once, each in its own colour (the live view): ``overlay = image · keep + tint``
    (:func:`blend_tint`).

    Each map is blended in turn with an opacity proportional to its value (``opacity`` at ``max_intensity``), so an
    absent AU leaves the image untouched and a strong one tints the skin where it shows. Blending one after another
    (``out ← out + α_k (c_k − out)``) has this closed form: ``keep = Π_k (1 − α_k)`` and
    ``tint = Σ_k c_k α_k Π_{j>k} (1 − α_j)``. Both are smooth where the maps are, so a live view computes them at a
    lower resolution and resizes them.

    Args:
        maps: ``(A, H, W)`` heatmaps in image pixels, values 0–5.
        colours: ``(A, 3)`` RGB colours (:func:`au_colours`).

    Returns:
        ``keep`` ``(H, W)`` and ``tint`` ``(H, W, 3)``, float32.

    Example:
        >>> face = np.full((2, 2, 3), 100, np.uint8)
        >>> maps = np.zeros((1, 2, 2)); maps[0, 0, 0] = 5.0
        >>> keep, tint = au_tint(maps, np.array([[200, 0, 0]]))
        >>> blend_tint(face, keep, tint)[:, :, 0].tolist()  # 0.8·200 + 0.2·100 at the peak
        [[180, 100], [100, 100]]
    """
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3 or len(colours) != len(maps):
        raise ValueError(f"maps must be (A, H, W) with one colour per map; got {maps.shape} and {len(colours)} colours")
    alpha = opacity * np.clip(maps / max_intensity, 0, 1)
    after = np.cumprod((1 - alpha)[::-1], axis=0)[::-1]  # Π_{j≥k} (1 − α_j)
    later = np.concatenate([after[1:], np.ones_like(after[:1])])  # Π_{j>k} (1 − α_j)
    tint = np.tensordot(alpha * later, np.asarray(colours, dtype=np.float32), axes=(0, 0))
    return after[0], tint.astype(np.float32)


def blend_tint(image: np.ndarray, keep: np.ndarray, tint: np.ndarray) -> np.ndarray:
    """``image · keep + tint`` as uint8 (:func:`au_tint`)."""
    return np.clip((image.astype(np.float32) * keep[..., None] + tint).round(), 0, 255).astype(np.uint8)


def write_video(path: str | os.PathLike, frames: Sequence[np.ndarray], fps: float = 30.0) -> Path:
    """Write RGB frames as a video with PyAV, atomically: H.264 for ``.mp4``, MPEG-4 part 2 for ``.avi`` (DISFA's
    kind), raw 4:2:0 for ``.y4m``.

    A ``.y4m`` is what Chromium's fake camera plays (``--use-file-for-fake-video-capture``); its sides must be even.

    Raises:
        ValueError: for an empty clip, frames of different sizes, odd sides, or another extension.
    """
    import av

    path = Path(path)
    frames = [np.ascontiguousarray(f, dtype=np.uint8) for f in frames]
    if not frames:
        raise ValueError(f"{path}: no frames to write")
    height, width = frames[0].shape[:2]
    if any(f.shape != frames[0].shape for f in frames) or frames[0].ndim != 3 or height % 2 or width % 2:
        raise ValueError(f"{path}: frames must share one H×W×3 shape with even sides; got {frames[0].shape}")
    formats = {".mp4": ("mp4", "libx264"), ".avi": ("avi", "mpeg4"), ".y4m": ("yuv4mpegpipe", "rawvideo")}
    if path.suffix.lower() not in formats:
        raise ValueError(f"{path}: write {', '.join(formats)}, not {path.suffix!r}")
    container_format, codec = formats[path.suffix.lower()]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.partial{path.suffix}")
    from fractions import Fraction

    with av.open(str(partial), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    os.replace(partial, path)
    return path


def table_aus(table: pd.DataFrame) -> tuple[int, ...]:
    """The AU numbers of a prediction table's intensity columns (``AU06``, …), in column order.

    Example:
        >>> table_aus(pd.DataFrame(columns=columns([6, 12])))
        (6, 12)
    """
    return tuple(int(c[2:]) for c in table.columns if c.startswith("AU") and c[2:].isdigit())
