"""Figures of the networks and their comparison (notebooks 03 and 04): the Hourglass drawn from the model itself, the
models' scores as one dot per seed, accuracy against cost, and the training-set-size regime. Each function returns a
matplotlib Figure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import matplotlib.patches
import matplotlib.pyplot as plt
import matplotlib.transforms
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure


def described_order(runs: Iterable[str], descriptions: Mapping[str, str]) -> list[str]:
    """The runs present, in the descriptions' order (the course's order of the questions), then any others."""
    present = list(dict.fromkeys(runs))
    return [run for run in descriptions if run in present] + [run for run in present if run not in descriptions]


def comparison_dots_figure(long: pd.DataFrame, descriptions: Mapping[str, str] | None = None,
                           floor: tuple[str, float] | None = None,
                           title: str = "Mean ICC(3,1) on held-out subjects") -> Figure:
    """Each model's mean ICC as one dot per training seed, with the mean and ± 1 sd over seeds, on an axis zoomed
    to the models (a floor far below, e.g. ridge on the landmarks, is noted at the edge rather than drawn to scale).

    Args:
        long: ``run, seed, AU, ICC`` rows (:func:`aulib.course.reference.comparison_long`); the ``Mean`` AU rows
            are drawn.
        descriptions: run name → label.
        floor: ``(label, value)`` of a baseline to note.
        title: the figure's title.
    """
    means = long[long.AU == "Mean"]
    descriptions = descriptions or {}
    order = described_order(means.run, descriptions)
    labels = [descriptions.get(run, run) for run in order]
    figure, ax = plt.subplots(figsize=(7.5, 0.55 * len(order) + 1.6))
    values = means.ICC.to_numpy(dtype=float)
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    pad = max(0.01, 0.15 * (high - low))
    for y, run in enumerate(order):
        seeds = means[means.run == run].ICC.to_numpy(dtype=float)
        ax.scatter(seeds, np.full(len(seeds), y), s=28, color="#3182bd", zorder=3,
                   label="one training seed" if y == 0 else None)
        centre = float(np.mean(seeds))
        spread = float(np.std(seeds, ddof=1)) if len(seeds) > 1 else 0.0
        ax.errorbar(centre, y, xerr=spread, fmt="|", color="black", markersize=14, capsize=4, zorder=2,
                    label="mean ± 1 sd over seeds" if y == 0 else None)
        ax.annotate(f"{centre:.3f}", (centre, y), textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8)
    ax.set_yticks(range(len(order)), labels, fontsize=9)
    ax.set_ylim(len(order) - 0.4, -0.6)
    ax.set_xlim(low - pad, high + pad)
    ax.set_xlabel("mean ICC(3,1) over the AUs (zoomed axis)")
    ax.grid(axis="x", alpha=0.3)
    if floor is not None:
        name, value = floor
        if low - pad <= value <= high + pad:
            ax.axvline(value, color="#636363", ls="--", lw=1)
        title += f"\n{name}: {value:.3f}" + (" (below this axis)" if value < low - pad else "")
    ax.legend(fontsize=8, loc="best")
    ax.set_title(title, fontsize=10)
    figure.tight_layout()
    return figure


VERDICT_COLOURS = {"better": "#31a354", "worse": "#de2d26", "level": "#636363"}


def paired_figure(paired: pd.DataFrame, descriptions: Mapping[str, str] | None = None,
                  title: str = "Each run minus the Hourglass of the same seed, paired by test subject",
                  xlabel: str = "difference in mean ICC(3,1), run − Hourglass") -> Figure:
    """The paired differences of :func:`aulib.evaluation.paired.icc_difference`: for each run and seed, the
    difference in mean ICC against the Hourglass with its 95% bootstrap interval over test subjects, coloured by the
    course's one wording rule (``level`` when the interval covers 0). A run far off the axis (ridge on the landmarks,
    about −0.23) is named in the title rather than drawn to scale.

    Args:
        paired: ``run, seed, difference, low, high, verdict`` rows (``paired.csv``).
        descriptions: run name → label.
        title: the figure's title.
        xlabel: what is subtracted from what; the interval's description is appended.

    Returns:
        one row of marks per run, one mark per seed.
    """
    descriptions = descriptions or {}
    # a run far below every model (all its seeds) would squash the axis: named in the title instead
    far = paired[paired.groupby("run").high.transform("max") < -0.1]
    shown = paired.drop(far.index)
    order = described_order(shown.run, descriptions)
    seeds = sorted(shown.seed.unique())
    figure, ax = plt.subplots(figsize=(7.5, 0.6 * len(order) + 1.7))
    for y, run in enumerate(order):
        rows = shown[shown.run == run].set_index("seed")
        for k, seed in enumerate(seeds):
            if seed not in rows.index:
                continue
            row = rows.loc[seed]
            offset = (k - (len(seeds) - 1) / 2) * 0.2
            colour = VERDICT_COLOURS.get(str(row.verdict), VERDICT_COLOURS["level"])
            # a percentile interval of a non-linear statistic need not contain its estimate: never a negative bar
            below, above = max(0.0, row.difference - row.low), max(0.0, row.high - row.difference)
            ax.errorbar(row.difference, y + offset, xerr=[[below], [above]],
                        fmt="o", markersize=4, color=colour, capsize=2, lw=1.2)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(order)), [descriptions.get(run, run) for run in order], fontsize=9)
    ax.set_ylim(len(order) - 0.5, -0.5)
    ax.set_xlabel(f"{xlabel} (95% paired bootstrap over test subjects)")
    ax.grid(axis="x", alpha=0.3)
    handles = [plt.Line2D([], [], marker="o", ls="", color=colour, label=verdict)
               for verdict, colour in VERDICT_COLOURS.items()]
    ax.legend(handles=handles, fontsize=8, loc="best", title=f"seeds {', '.join(map(str, seeds))}, top to bottom",
              title_fontsize=7)
    for run, rows in far.groupby("run", sort=False):
        span = f"{rows.difference.min():+.3f} to {rows.difference.max():+.3f}"
        title += f"\n{descriptions.get(run, run)}: {span} (off this axis)"
    ax.set_title(title, fontsize=10)
    figure.tight_layout()
    return figure


def cost_figure(costs: pd.DataFrame) -> Figure:
    """Accuracy against cost: mean ICC against parameters and against GFLOP per image (one dot per network).

    Args:
        costs: rows indexed by label with ``parameters``, ``GFLOP per image`` and ``mean ICC``; an optional
            ``ICC sd`` column (the spread over training seeds) is drawn as ± 1 sd bars.
    """
    # drawn at the dpi it is saved at (save_figure's 110), so that the labels are placed on the pixels they will cover
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.8), dpi=110)
    spread = costs["ICC sd"].astype(float) if "ICC sd" in costs else None
    for ax, column, unit in ((axes[0], "parameters", "parameters (millions)"),
                             (axes[1], "GFLOP per image", "GFLOP per image")):
        x = costs[column].astype(float) / (1e6 if column == "parameters" else 1.0)
        ax.scatter(x, costs["mean ICC"], s=40, color="#3182bd", zorder=3)
        if spread is not None:
            ax.errorbar(x, costs["mean ICC"], yerr=spread, fmt="none", color="black", capsize=3, lw=1, zorder=2,
                        label="± 1 sd over training seeds")
            ax.legend(fontsize=7, loc="lower right")
        ax.set_xscale("log")
        ax.set(xlabel=f"{unit}, log scale", ylabel="mean ICC(3,1)")
        ax.grid(alpha=0.3)
    figure.suptitle("What each network costs, against what it scores", fontsize=10)
    figure.tight_layout()
    for ax in axes:  # after the layout, so that the labels are placed where they will be drawn
        place_point_labels(ax, list(costs.index))
    return figure


# Where a point's label may go, in points from the point, tried in this order: right above, left above, right below,
# left below, a line further down or up on either side, then above or below the point, centred on it or slid
# sideways by up to 45 points (for a label wider than about 90 points it still spans the point: the small
# Hourglass's, between the panel's left edge and the per-AU Hourglasses' bar, is wider than either gap).
LABEL_OFFSETS = ((5, 4, "left"), (-5, 4, "right"), (5, -10, "left"), (-5, -10, "right"),
                 (5, -22, "left"), (-5, -22, "right"), (5, 16, "left"), (-5, 16, "right"),
                 *((slide, dy, "center") for dy in (7, -15) for slide in (0, -15, 15, -30, 30, -45, 45)))


def place_point_labels(ax: plt.Axes, labels: list[str], fontsize: float = 7) -> list[plt.Annotation]:
    """Label the points of ``ax``'s first collection (a scatter; one label per point, in its order) where no label
    covers another label, a marker, an error bar or the legend, and each stays inside the axes: the first free place
    of :data:`LABEL_OFFSETS`, else the one inside that covers the fewest, else (nowhere inside) the first. Networks of
    about the same cost and score (the Hourglass and its pooled-head twin; the small Hourglass beside the per-AU
    ones) would otherwise print over each other or across a bar.

    The axes' later collections are taken as error bars and its lines as their caps (what ``errorbar(fmt="none")``
    draws). Call it after the figure's layout (``tight_layout``), since places are measured on the canvas.
    """
    figure = ax.figure
    renderer = figure.canvas.get_renderer()
    scatter = ax.collections[0]
    points = scatter.get_offset_transform().transform(scatter.get_offsets())
    radius = np.sqrt(float(np.max(scatter.get_sizes()))) / 2 * figure.dpi / 72  # s is the marker's area in pt²
    obstacles = [matplotlib.transforms.Bbox.from_extents(x - radius, y - radius, x + radius, y + radius)
                 for x, y in points]
    for collection in ax.collections[1:]:  # error bars: a thin box around each segment
        for segment in getattr(collection, "get_segments", list)():
            if not len(segment):  # a run without a seed spread (one seed trained here) has an empty bar
                continue
            corners = collection.get_transform().transform(np.asarray(segment))
            (x0, y0), (x1, y1) = corners.min(axis=0), corners.max(axis=0)
            obstacles.append(matplotlib.transforms.Bbox.from_extents(x0 - 1, y0 - 1, x1 + 1, y1 + 1))
    for line in ax.lines:  # the bars' caps, drawn as markers markersize wide
        cap = line.get_markersize() / 2 * figure.dpi / 72
        for x, y in line.get_transform().transform(line.get_xydata()):
            obstacles.append(matplotlib.transforms.Bbox.from_extents(x - cap, y - 1, x + cap, y + 1))
    if ax.get_legend() is not None:
        obstacles.append(ax.get_legend().get_window_extent(renderer))
    frame = ax.bbox  # a label past the axes would be hidden under the next panel
    placed: list[plt.Annotation] = []
    for label, (x, y) in zip(labels, scatter.get_offsets(), strict=True):
        best: tuple[int, tuple[float, float, str]] | None = None
        for dx, dy, align in LABEL_OFFSETS:
            text = ax.annotate(label, (x, y), textcoords="offset points", xytext=(dx, dy), ha=align, fontsize=fontsize)
            box = text.get_window_extent(renderer)
            text.remove()
            if not (frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1):
                continue
            covered = sum(box.overlaps(other) for other in obstacles)
            if best is None or covered < best[0]:
                best = covered, (dx, dy, align)
            if covered == 0:
                break
        dx, dy, align = best[1] if best is not None else LABEL_OFFSETS[0]
        chosen = ax.annotate(label, (x, y), textcoords="offset points", xytext=(dx, dy), ha=align, fontsize=fontsize)
        obstacles.append(chosen.get_window_extent(renderer))
        placed.append(chosen)
    return placed


def data_size_figure(paired: pd.DataFrame, title: str = "Fewer training people, as many updates") -> Figure:
    """The training-set-size regime (:mod:`aulib.course.data_size`): both networks' mean ICC against the number of
    training subjects (and geometry alone, ridge on the same people's landmarks, where the table has it), and the
    pooled head minus the Hourglass with its paired 95% interval, one mark per seed.

    Args:
        paired: ``train_subjects, seed, hourglass_icc, pooled_icc, difference, low, high`` rows, optionally
            ``ridge_icc`` (``models/reference-data-size/paired.csv``).
        title: the figure's title.
    """
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4.4))
    sizes = sorted(paired.train_subjects.unique())
    seeds = sorted(paired.seed.unique())
    offsets = {seed: 1.0 + 0.04 * (k - (len(seeds) - 1) / 2) for k, seed in enumerate(seeds)}  # seeds side by side
    for column, label, colour in (("hourglass_icc", "Hourglass (heatmaps)", "#3182bd"),
                                  ("pooled_icc", "same network, pooled head", "#e6550d")):
        means = paired.groupby("train_subjects")[column].mean()
        left.plot(means.index, means.to_numpy(), color=colour, lw=1, alpha=0.6)
        left.scatter(paired.train_subjects * paired.seed.map(offsets), paired[column], s=28, color=colour,
                     zorder=3, label=label)
    if "ridge_icc" in paired:  # one fit per size (no seed): a line with its points
        ridge = paired.groupby("train_subjects").ridge_icc.mean()
        left.plot(ridge.index, ridge.to_numpy(), color="#636363", lw=1, ls="--", marker="s", markersize=4,
                  label="ridge on the same people's landmarks (no pixels)")
    left.set(xlabel="training subjects (log scale)", ylabel="mean ICC(3,1), 30 test subjects")
    # below the axes: inside, "best" still covered a point (the ridge at 30 people on dlib's landmarks)
    left.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    right.axhline(0, color="#636363", lw=1, ls="--")
    for row in paired.itertuples():
        x = row.train_subjects * offsets[row.seed]
        right.errorbar(x, row.difference, yerr=[[row.difference - row.low], [row.high - row.difference]], fmt="o",
                       color="black", capsize=3, markersize=4)
    right.set(xlabel="training subjects (log scale)", ylabel="pooled head − Hourglass (mean ICC)")
    right.set_title("paired by test subject, 95% bootstrap interval; one mark per seed", fontsize=9)
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.minorticks_off()
        ax.grid(alpha=0.3)
    seeds_named = ("seed " if len(seeds) == 1 else "seeds ") + ", ".join(str(seed) for seed in seeds)
    figure.suptitle(f"{title}; {seeds_named}", fontsize=10)
    figure.tight_layout()
    return figure


def hourglass_shapes(model: torch.nn.Module) -> list[dict[str, Any]]:
    """The tensor shapes inside a one-stack Hourglass, measured by a forward pass with hooks (not from the config).

    Returns:
        ``[{"part", "channels", "size", "parameters"}]`` from the input through the stem, each level of the
        hourglass on its way down (the bottom last) and the head, to the maps.
    """
    from aulib.models.hourglass import HourglassLevel

    seen: list[tuple[str, tuple[int, ...], torch.nn.Module]] = []
    hooks = [model.stem.register_forward_hook(lambda m, i, o: seen.append(("stem", tuple(o.shape), m)))]
    for module in model.hourglasses[0].modules():
        if isinstance(module, HourglassLevel):
            hooks.append(module.register_forward_hook(
                lambda m, i, o: seen.append((f"level {m.level}", tuple(i[0].shape), m))))
    hooks.append(model.heads[0].register_forward_hook(lambda m, i, o: seen.append(("head", tuple(o.shape), m))))
    hooks.append(model.to_maps[0].register_forward_hook(lambda m, i, o: seen.append(("maps", tuple(o.shape), m))))
    training = model.training
    try:
        with torch.inference_mode():
            model.eval()(torch.zeros(1, 3, model.input_size, model.input_size))
    finally:
        model.train(training)  # leave the caller's model as it was
        for hook in hooks:
            hook.remove()
    levels = sorted((s for s in seen if s[0].startswith("level")), key=lambda s: -int(s[0].split()[1]))
    ordered = [s for s in seen if s[0] == "stem"] + levels + [s for s in seen if s[0] in ("head", "maps")]

    def own_parameters(module: torch.nn.Module, name: str) -> int:
        if name.startswith("level"):  # a level's own blocks, without the next level inside it
            inner = getattr(module, "inner", None)
            inside = sum(p.numel() for p in inner.parameters()) if isinstance(inner, HourglassLevel) else 0
            return sum(p.numel() for p in module.parameters()) - inside
        return sum(p.numel() for p in module.parameters())

    rows = [{"part": "input", "channels": 3, "size": model.input_size, "parameters": 0}]
    rows += [{"part": name, "channels": shape[1], "size": shape[2], "parameters": own_parameters(module, name)}
             for name, shape, module in ordered]
    return rows


def hourglass_figure(model: torch.nn.Module, title: str = "") -> Figure:
    """A diagram of a one-stack Hourglass drawn from the model itself: each stage's resolution and channels (measured
    by :func:`hourglass_shapes`), the levels going down by 2×2 pooling and back up with a skip at each level, and the
    parameters each stage holds."""
    rows = hourglass_shapes(model)
    levels = [r for r in rows if r["part"].startswith("level")]
    figure, ax = plt.subplots(figsize=(11, 4.6))
    ax.set_axis_off()
    top = max(r["size"] for r in rows)

    def box(x: float, row: dict, colour: str, label: str) -> tuple[float, float]:
        height = 0.6 + 2.4 * row["size"] / top
        ax.add_patch(matplotlib.patches.FancyBboxPatch((x, 3 - height / 2), 0.8, height, boxstyle="round,pad=0.03",
                                                fc=colour, ec="black", lw=0.8))
        ax.text(x + 0.4, 3 - height / 2 - 0.25, label, ha="center", va="top", fontsize=7.5)
        return x + 0.8, height

    x = 0.0
    positions = {}
    sequence = [rows[0], next(r for r in rows if r["part"] == "stem"), *levels]
    colours = {"input": "#d9d9d9", "stem": "#9ecae1", "head": "#fdae6b", "maps": "#fd8d3c"}
    def count(parameters: int) -> str:
        return f"\n{parameters / 1e3:,.0f} k params" if parameters >= 1000 else f"\n{parameters} params"

    bottom = levels[-1]["size"] // 2 if levels else 0
    for row in sequence:
        name = row["part"]
        label = (f"{name}\n{row['size']}×{row['size']}×{row['channels']}"
                 + (f"\n(bottom {bottom}×{bottom})" if row is levels[-1] else "")
                 + (count(row["parameters"]) if row["parameters"] else ""))
        right, _ = box(x, row, colours.get(name, "#c7e9c0"), label)
        positions[name] = (x, right)
        ax.annotate("", (right + 0.5, 3), (right, 3), arrowprops={"arrowstyle": "->", "lw": 1})
        x = right + 0.55
    # back up: one upsampling per level, joined by each level's skip (the upper branch)
    for row in reversed(levels):
        size = row["size"]
        up = {"size": size, "channels": row["channels"]}
        right, _ = box(x, up, "#a1d99b", f"up to\n{size}×{size}×{row['channels']}")
        left_of_level = positions[row["part"]][0] + 0.4
        ax.annotate("", (x + 0.4, 4.65), (left_of_level, 4.65),
                    arrowprops={"arrowstyle": "->", "lw": 0.8, "color": "#31a354",
                                "connectionstyle": "arc3,rad=-0.15"})
        ax.annotate("", (right + 0.5, 3), (right, 3), arrowprops={"arrowstyle": "->", "lw": 1})
        x = right + 0.55
    for name in ("head", "maps"):
        row = next(r for r in rows if r["part"] == name)
        label = f"{name}\n{row['size']}×{row['size']}×{row['channels']}" + count(row["parameters"])
        right, _ = box(x, row, colours[name], label)
        if name == "head":
            ax.annotate("", (right + 0.5, 3), (right, 3), arrowprops={"arrowstyle": "->", "lw": 1})
        x = right + 0.55
    ax.text(0.0, 5.3, "green arcs: each level's skip branch (same resolution), added after upsampling",
            fontsize=8, color="#31a354")
    total = sum(p.numel() for p in model.parameters())
    ax.set_xlim(-0.3, x)
    ax.set_ylim(0.3, 5.6)
    ax.set_title(title or f"The Hourglass as built: {model.depth} levels, width {model.width}, {total:,} parameters "
                          f"({model.input_size}-px input, {model.heatmap_size}×{model.heatmap_size} maps)", fontsize=10)
    figure.tight_layout()
    return figure
