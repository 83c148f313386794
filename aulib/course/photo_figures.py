"""Notebook 06's figures: one face step by step, its heatmaps back on the photo, and intensities over time.

They draw what :func:`aulib.predict.explain.explain_face` and :func:`aulib.predict.predict` return.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from aulib.method.aus import AUS, BP4D_AUS, au_label, resolve_aus
from aulib.predict.explain import FaceReport
from aulib.predict.outputs import overlay_heatmap


def detection_figure(report: FaceReport) -> Figure:
    """The detection box and 68 landmarks on the image, beside the aligned crop."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4.6), gridspec_kw={"width_ratios": [1.4, 1]})
    left.imshow(report.image)
    x0, y0, x1, y1 = report.face.box
    left.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="yellow", lw=1.5))
    left.scatter(*report.face.points.T, s=4, c="cyan")
    left.set_title(f"detection (score {report.face.score:.2f}) and 68 landmarks", fontsize=9)
    right.imshow(report.crop)
    right.scatter(*report.aligned_points.T, s=4, c="cyan")
    right.set_title(f"aligned {report.crop.shape[0]}×{report.crop.shape[1]} crop", fontsize=9)
    for ax in (left, right):
        ax.set_xticks([])
        ax.set_yticks([])
    figure.tight_layout()
    return figure


def heatmaps_figure(report: FaceReport, margin: float = 0.6) -> Figure:
    """Each AU's heatmap over the face in the original image (zoomed on the face), with its peak."""
    x0, y0, x1, y1 = report.face.box
    pad = margin * max(x1 - x0, y1 - y0)
    height, width = report.image.shape[:2]
    top, bottom = int(max(0, y0 - pad)), int(min(height, y1 + pad))
    left_edge, right_edge = int(max(0, x0 - pad)), int(min(width, x1 + pad))
    count = len(report.aus)
    figure, axes = plt.subplots(1, count, figsize=(2.6 * count, 3.0), squeeze=False)
    for a, (ax, au) in enumerate(zip(axes[0], report.aus, strict=True)):
        overlay = overlay_heatmap(report.image, report.image_maps[a])
        ax.imshow(overlay[top:bottom, left_edge:right_edge])
        ax.scatter([report.peaks[a, 0] - left_edge], [report.peaks[a, 1] - top], marker="+", c="cyan", s=60)
        ax.set_title(f"{au_label(au)} {AUS[au].name}\n{report.intensities[a]:.2f}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    figure.suptitle("Heatmaps mapped back onto the photo (+: peak)", y=1.02)
    figure.tight_layout()
    return figure


def intensities_figure(report: FaceReport) -> Figure:
    """A bar chart of the predicted intensities."""
    figure, ax = plt.subplots(figsize=(5, 2.8))
    labels = [f"{au_label(a)}\n{AUS[a].name}" for a in report.aus]
    ax.bar(labels, report.intensities, color="#3182bd")
    ax.set(ylim=(0, 5), ylabel="intensity (0–5)", title="Predicted AU intensities")
    ax.tick_params(axis="x", labelsize=7)
    figure.tight_layout()
    return figure


def intensity_figure(table: pd.DataFrame, aus: Sequence[int] = BP4D_AUS) -> Figure:
    """Intensity over time, one panel per source (the largest face of each frame; gaps where there is none).

    Args:
        table: :func:`predict`'s result.
        aus: the AUs to draw.

    Returns:
        A matplotlib Figure.
    """
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
