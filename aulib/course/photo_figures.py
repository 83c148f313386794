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
    """Each AU's heatmap over the face in the original image (zoomed on the face), with its peak.

    Two rows: on top every map on the same 0–5 scale (heights compare across AUs: a weak AU is faint); below, each
    map scaled to its own peak over a grey photo, so that where a weak AU's map points is visible too.
    """
    x0, y0, x1, y1 = report.face.box
    pad = margin * max(x1 - x0, y1 - y0)
    height, width = report.image.shape[:2]
    top, bottom = int(max(0, y0 - pad)), int(min(height, y1 + pad))
    left_edge, right_edge = int(max(0, x0 - pad)), int(min(width, x1 + pad))
    crop = report.image[top:bottom, left_edge:right_edge]
    grey = np.repeat(crop.mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8)
    count = len(report.aus)
    figure, axes = plt.subplots(2, count, figsize=(2.6 * count, 5.7), squeeze=False, layout="constrained")
    for a, au in enumerate(report.aus):
        heat = report.image_maps[a][top:bottom, left_edge:right_edge]
        peak = (report.peaks[a, 0] - left_edge, report.peaks[a, 1] - top)
        own = max(float(heat.max()), 1e-6)
        for row, (image, vmax) in enumerate(((crop, 5.0), (grey, own))):
            ax = axes[row, a]
            ax.imshow(overlay_heatmap(image, heat, max_intensity=vmax))
            ax.scatter([peak[0]], [peak[1]], marker="+", c="cyan", s=70, linewidths=1.5)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, a].set_title(f"{au_label(au)} {AUS[au].name}\nreadout {report.intensities[a]:.2f}", fontsize=10)
    axes[0, 0].set_ylabel("same scale, 0–5", fontsize=10)
    axes[1, 0].set_ylabel("each map to its own peak", fontsize=10)
    figure.suptitle("The model's heatmaps mapped back onto the photo (+: each map's peak)", fontsize=12)
    return figure


def intensities_figure(report: FaceReport) -> Figure:
    """A bar chart of the predicted intensities."""
    figure, ax = plt.subplots(figsize=(1.45 * len(report.aus) + 1.2, 3.4))
    labels = [f"{au_label(a)}\n{AUS[a].name.replace(' ', chr(10), 1)}" for a in report.aus]
    bars = ax.bar(labels, report.intensities, color="#3182bd")
    ax.bar_label(bars, labels=[f"{v:.2f}" for v in report.intensities], fontsize=8, padding=2)
    ax.set(ylim=(0, 5.4), ylabel="intensity (0–5)", title="Predicted AU intensities")
    ax.tick_params(axis="x", labelsize=8)
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


def pairs_figure(pairs: pd.DataFrame, aus: Sequence[str] = ("AU12", "AU06"),
                 models: Sequence[str] | None = None) -> Figure:
    """The real-face benchmark person by person: one line per person from the neutral to the smiling reading.

    Args:
        pairs: :func:`aulib.predict.benchmark.pair_table`'s table.
        aus: the AU columns to draw (one column of panels each).
        models: the models to draw (one row of panels each; default: all, in table order).

    Returns:
        A Figure: rising lines blue, falling or tied lines red, the mean in black; each title gives the share of
        people whose smiling photo reads higher.
    """
    models = list(models or dict.fromkeys(pairs["model"]))
    figure, axes = plt.subplots(len(models), len(aus), figsize=(3.3 * len(aus), 3.1 * len(models)), squeeze=False,
                                sharey=True)
    for row, model in enumerate(models):
        rows = pairs[pairs["model"] == model]
        for column, au in enumerate(aus):
            ax = axes[row, column]
            neutral, smiling = rows[f"{au}_neutral"].to_numpy(float), rows[f"{au}_smiling"].to_numpy(float)
            rising = smiling > neutral
            for start, end, up in zip(neutral, smiling, rising, strict=True):
                ax.plot([0, 1], [start, end], color="#3182bd" if up else "#de2d26", alpha=0.35 if up else 0.8,
                        linewidth=0.8)
            ax.plot([0, 1], [np.nanmean(neutral), np.nanmean(smiling)], color="black", linewidth=2.5,
                    marker="o", label="mean")
            ax.set(xlim=(-0.15, 1.15), ylim=(-0.1, 5.1), xticks=[0, 1])
            ax.set_xticklabels(["neutral", "smiling"])
            ax.set_title(f"{model}: {au}\nsmiling higher for {int(rising.sum())} of {len(rows)} "
                         f"({100 * rising.mean():.0f}%)", fontsize=8)
            if column == 0:
                ax.set_ylabel("reading (0–5)")
    axes[0, -1].legend(fontsize=7, loc="upper left")
    figure.suptitle("London set, one line per person (blue: reads higher when smiling; red: not)", fontsize=9)
    figure.tight_layout()
    return figure


def groups_figure(groups: pd.DataFrame, au: str = "AU12", model: str | None = None) -> Figure:
    """Share of people whose smiling photo reads higher, per group, with its interval and n.

    The intervals are Wilson's: a group whose few people all read higher has a bootstrap interval of zero width,
    which would claim a certainty nine people cannot give.

    Args:
        groups: :func:`aulib.predict.benchmark.group_table`'s table.
        au: the AU to draw.
        model: the model to draw (default: the first).

    Returns:
        A Figure with one panel per grouping; groups under the benchmark's minimum size are drawn hollow.
    """
    rows = groups[groups["AU"] == au]
    model = model or rows["model"].iloc[0]
    rows = rows[rows["model"] == model]
    groupings = list(dict.fromkeys(rows["group_by"]))
    figure, axes = plt.subplots(1, len(groupings), figsize=(3.6 * len(groupings), 2.9), squeeze=False, sharey=True)
    for ax, grouping in zip(axes[0], groupings, strict=True):
        part = rows[rows["group_by"] == grouping].reset_index(drop=True)
        x = np.arange(len(part))
        share, low, high = (100 * part[c].to_numpy(float) for c in ("share_higher", "wilson_low", "wilson_high"))
        errors = np.clip([share - low, high - share], 0, None)  # rounding can put 100% a hair above its bound
        ax.errorbar(x, share, yerr=errors, fmt="none", ecolor="#555555", capsize=3)
        small = part["too_few"].to_numpy(bool)
        ax.scatter(x[~small], share[~small], color="#3182bd", zorder=3)
        ax.scatter(x[small], share[small], facecolors="white", edgecolors="#3182bd", zorder=3,
                   label="fewer than 10 people")
        ax.set_xticks(x)
        names = [str(g).replace("_", " ").replace("/", "/\n") for g in part["group"]]
        ax.set_xticklabels([f"{g}\nn={n}" for g, n in zip(names, part["n"], strict=True)], fontsize=7)
        ax.set_xlim(-0.6, len(part) - 0.4)
        ax.set(ylim=(0, 105), title=grouping.replace("_", " "))
        ax.axhline(50, color="#bbbbbb", linewidth=0.8, linestyle=":")
    axes[0, 0].set_ylabel(f"{au}: smiling reads higher (%)")
    if rows["too_few"].any():
        axes[0, -1].legend(fontsize=7, loc="lower right")
    figure.suptitle(f"{model}: {au} direction by group (95% Wilson intervals; hollow: fewer than 10 people)",
                    fontsize=9)
    figure.tight_layout()
    return figure


def clip_traces_figure(table: pd.DataFrame, switch_frame: int) -> Figure:
    """AU traces of a clip that switches from a neutral to a smiling face (:meth:`aulib.predict.live.LiveAU.run`).

    Args:
        table: one row per frame with an intensity column per AU.
        switch_frame: the first smiling frame (the background is shaded from there on).

    Returns:
        A Figure with one line per AU, in the live view's colours.
    """
    from aulib.predict.outputs import au_colours, table_aus

    aus = table_aus(table)
    figure, ax = plt.subplots(figsize=(7, 2.8))
    ax.axvspan(switch_frame - 0.5, len(table) - 0.5, color="#f0f0f0", zorder=0)
    for label, colour in zip((au_label(a) for a in aus), au_colours(len(aus)) / 255, strict=True):
        ax.plot(table["frame"], table[label], color=colour, linewidth=1.8, label=label)
    top = 5.1
    ax.text(switch_frame / 2, top - 0.3, "neutral", ha="center", va="top", fontsize=8)
    ax.text((switch_frame + len(table)) / 2, top - 0.3, "smiling", ha="center", va="top", fontsize=8)
    ax.set(xlim=(-0.5, len(table) - 0.5), ylim=(-0.1, top), xlabel="frame", ylabel="intensity (0–5)",
           title=f"{table['source'].iloc[0]}: the live view's per-frame readings")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    figure.tight_layout()
    return figure
