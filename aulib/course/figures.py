"""The course's figures (notebooks 01–05 and the README). Each function returns a matplotlib Figure.

:func:`save_figure` writes a figure atomically; :func:`show` saves one and displays it in a notebook.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from matplotlib.figure import Figure

from aulib.course.overlay import overlay_rgb, upsample_map
from aulib.io import atomic_open
from aulib.method.align import FRAME_SIZE
from aulib.method.aus import AUS, BP4D_AUS, au_label

if TYPE_CHECKING:
    from aulib.data.dataset import PreparedDataset
    from aulib.inference.model import AUModel

FIGURES_DIR = Path(__file__).resolve().parents[2] / "figures"


def save_figure(figure: Figure, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Save atomically (write a temporary file, then rename) and return the path.

    In a notebook kernel whose matplotlib backend draws nothing (``MPLBACKEND=agg``, as papermill runs the course
    headless), the saved PNG is also shown as the cell's output, so that executed copies and the book carry every
    figure; with the inline backend of an interactive session ``plt.show()`` shows it instead.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format=path.suffix.lstrip(".") or "png", dpi=dpi, bbox_inches="tight")
    _show_in_headless_kernel(path)
    return path


def _show_in_headless_kernel(path: Path) -> None:
    if path.suffix.lower() != ".png" or "inline" in matplotlib.get_backend().lower():
        return
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:  # a script or a plain IPython terminal
        return
    from IPython.display import Image, display

    display(Image(data=path.read_bytes(), format="png"))


FACS_LETTERS = {1: "A trace", 2: "B slight", 3: "C marked", 4: "D severe", 5: "E maximum"}


def synthau_grid_figure(
    subjects: int | None = None, aus: Sequence[int] = BP4D_AUS, levels: Sequence[float] = (0, 1, 2, 3, 4, 5),
    seed: int = 0, difficulty: float | str = "default", image_size: int = 160,
) -> Figure:
    """SynthAU's AUs (rows) × intensities (columns): each row one AU, from neutral to FACS E, on its own person.

    Args:
        subjects: how many people the rows cycle through (default: one per AU, so every row is another identity).
        aus: the rows.
        levels: the columns (0 = neutral, 1–5 = A–E).
        seed, difficulty, image_size: SynthAU's settings.
    """
    from aulib.data.synthau import sample_grid

    subjects = subjects or len(aus)
    images, names, _ = sample_grid(subjects, aus, levels, seed, difficulty, image_size)
    n_rows, n_cols = len(aus), len(levels)
    figure, axes = plt.subplots(n_rows, n_cols, figsize=(1.5 * n_cols + 0.9, 1.55 * n_rows + 0.5), squeeze=False)
    for r, au in enumerate(aus):
        person = r % subjects
        for c, level in enumerate(levels):
            ax = axes[r, c]
            ax.imshow(images[person, r * n_cols + c])
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title("neutral" if level == 0 else f"{FACS_LETTERS.get(level, '')} (I = {level:g})",
                             fontsize=9)
        axes[r, 0].set_ylabel(f"AU{au}\n{AUS[au].name}\n({names[person]})", fontsize=8)
    figure.suptitle("SynthAU: each AU alone, from neutral to FACS E (intensity 5); one person per row", fontsize=10)
    figure.tight_layout()
    return figure


PAPER_ANCHORS = (8, 36, 45)  # the landmarks the authors' 3-point affine maps onto its template


def _bare(ax: Any, title: str = "") -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def alignment_figure(image: np.ndarray, landmarks: np.ndarray, method: str = "paper", size: int = 256) -> Figure:
    """The alignment step by step: the frame with its landmarks, the template, the aligned crop.

    Args:
        image: RGB uint8 ``(H, W, 3)``.
        landmarks: ``(68, 2)`` points of that image.
        method: ``"paper"`` (landmarks 8, 36, 45 onto a template) or ``"similarity"``.
        size: side of the aligned crop.
    """
    from aulib.method.align import align_face, template_points

    crop, aligned, _ = align_face(image, landmarks, method=method, size=size)
    template = template_points(size, method)
    anchors = list(PAPER_ANCHORS) if method == "paper" else None
    figure, axes = plt.subplots(1, 3, figsize=(11, 3.9))
    axes[0].imshow(image)
    axes[0].scatter(*landmarks.T, s=5, c="cyan")
    if anchors:
        axes[0].scatter(*landmarks[anchors].T, s=40, c="red", marker="x")
    anchor_text = ", anchors 8/36/45" if anchors else ""
    _bare(axes[0], f"1. frame {image.shape[1]}×{image.shape[0]}: 68 landmarks{anchor_text}")
    axes[1].imshow(np.full((size, size, 3), 240, np.uint8))
    axes[1].scatter(*template.T, s=40, c="red", marker="x")
    _bare(axes[1], f"2. template points in the {size}×{size} frame")
    axes[2].imshow(crop)
    axes[2].scatter(*aligned.T, s=5, c="cyan")
    if anchors:
        axes[2].scatter(*template.T, s=60, facecolors="none", edgecolors="red")
    _bare(axes[2], f"3. aligned crop ({method}): anchors land on the template")
    figure.tight_layout()
    return figure


def label_distribution_figure(labels: pd.DataFrame, aus: Sequence[int], by: str = "split") -> Figure:
    """Share of frames at each intensity (0–5) per AU, one bar colour per ``by`` group (e.g. split)."""
    columns = [au_label(a) for a in aus]
    long = labels.melt(id_vars=[by], value_vars=columns, var_name="AU", value_name="intensity").dropna()
    long["intensity"] = long["intensity"].round().astype(int)
    counts = long.groupby([by, "AU", "intensity"]).size().rename("frames").reset_index()
    counts["share"] = counts.frames / counts.groupby([by, "AU"]).frames.transform("sum")
    grid = sns.catplot(data=counts, x="intensity", y="share", hue=by, col="AU", kind="bar", height=2.6,
                       aspect=0.8, col_wrap=min(5, len(columns)))
    grid.set_titles("{col_name}")
    grid.figure.suptitle("Label distribution: share of frames at each intensity", y=1.04)
    return grid.figure


def training_figure(history: pd.DataFrame, reference: pd.DataFrame | None = None) -> Figure:
    """Training loss and validation ICC per AU against the epoch; ``reference``'s mean ICC dashed, for comparison."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
    left.plot(history.epoch, history.train_loss, marker="o", label="this run")
    if reference is not None:
        left.plot(reference.epoch, reference.train_loss, ls="--", color="grey", label="reference run")
        left.legend(fontsize=7)
    left.set(xlabel="epoch", ylabel="training loss", yscale="log", title="Loss")
    icc_columns = [c for c in history.columns if c.startswith("val_icc_") and c != "val_icc_mean"]
    for column in icc_columns:
        right.plot(history.epoch, history[column], marker=".", label=column.removeprefix("val_icc_"), alpha=0.7)
    if "val_icc_mean" in history:
        right.plot(history.epoch, history.val_icc_mean, color="black", lw=2.5, label="mean")
    if reference is not None and "val_icc_mean" in reference:
        right.plot(reference.epoch, reference.val_icc_mean, color="black", ls="--", lw=1.5, label="reference mean")
    right.axhline(0, color="grey", lw=0.5)
    right.set(xlabel="epoch", ylabel="ICC(3,1)", title="Validation ICC (training subjects held out)")
    right.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    return figure


def snapshots_figure(images: np.ndarray, snapshots: dict[int, np.ndarray], aus: Sequence[int],
                     au_index: int = 0, epochs: int = 5, truth: Sequence[float] | None = None) -> Figure:
    """Predicted maps of a few validation faces as training goes (rows: epochs; columns: faces).

    Args:
        images: ``(K, S, S, 3)`` uint8 faces.
        snapshots: ``{epoch: (K, A, h, w)}`` (:func:`aulib.training.runs.load_snapshots`).
        aus: the AUs of the maps.
        au_index: which AU's map to show.
        epochs: how many epochs to show (evenly spread, always the last).
        truth: the faces' true intensity of that AU, shown above the first row.
    """
    from aulib.course.overlay import overlay_rgb, upsample_map

    keys = sorted(snapshots)
    chosen = [keys[i] for i in np.unique(np.linspace(0, len(keys) - 1, min(epochs, len(keys))).round().astype(int))]
    count = images.shape[0]
    figure, axes = plt.subplots(len(chosen), count, figsize=(1.9 * count, 1.9 * len(chosen)), squeeze=False)
    for row, epoch in enumerate(chosen):
        for k in range(count):
            heatmap = upsample_map(snapshots[epoch][k, au_index], images.shape[1])
            axes[row, k].imshow(overlay_rgb(images[k], heatmap, min_peak=1.0))
            title = f"max {snapshots[epoch][k, au_index].max():.2f}"
            if row == 0 and truth is not None:
                title = f"true {truth[k]:g}\n{title}"
            _bare(axes[row, k], title)
        axes[row, 0].set_ylabel(f"epoch {epoch}")
    figure.suptitle(f"{au_label(aus[au_index])} maps of {count} validation faces fixed before training\n(the most "
                    "expressive frames by their labels), epoch by epoch", y=1.0, fontsize=10)
    figure.tight_layout()
    return figure


def scatter_figure(predictions: pd.DataFrame, aus: Sequence[int]) -> Figure:
    """Predicted against true intensity per AU: the spread of predictions at each true level."""
    long = pd.concat([
        pd.DataFrame({"AU": au_label(a), "true": predictions[f"true_{au_label(a)}"],
                      "predicted": predictions[f"pred_{au_label(a)}"]}) for a in aus
    ]).dropna()
    long["true"] = long["true"].round().astype(int)
    figure, axes = plt.subplots(1, len(aus), figsize=(2.6 * len(aus), 2.8), sharey=True, squeeze=False)
    for ax, au in zip(axes[0], aus, strict=True):
        part = long[long.AU == au_label(au)]
        sns.boxplot(data=part, x="true", y="predicted", order=range(6), ax=ax, color="#9ecae1", fliersize=1)
        ax.plot(range(6), range(6), color="red", lw=1, ls="--")  # perfect agreement
        ax.set(title=au_label(au), xlabel="true", ylabel="predicted" if ax is axes[0, 0] else "", ylim=(-0.3, 5.3))
    figure.suptitle("Predicted vs. true intensity (held-out subjects); dashed: perfect agreement", y=1.03)
    figure.tight_layout()
    return figure


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
    present = list(dict.fromkeys(means.run))
    order = [run for run in descriptions if run in present] + [run for run in present if run not in descriptions]
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


def cost_figure(costs: pd.DataFrame) -> Figure:
    """Accuracy against cost: mean ICC against parameters and against GFLOP per image (one dot per network).

    Args:
        costs: rows indexed by label with ``parameters``, ``GFLOP per image`` and ``mean ICC``.
    """
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, column, unit in ((axes[0], "parameters", "parameters (millions)"),
                             (axes[1], "GFLOP per image", "GFLOP per image")):
        x = costs[column].astype(float) / (1e6 if column == "parameters" else 1.0)
        ax.scatter(x, costs["mean ICC"], s=40, color="#3182bd")
        for label, xi, yi in zip(costs.index, x, costs["mean ICC"], strict=True):
            ax.annotate(label, (xi, yi), textcoords="offset points", xytext=(5, 4), fontsize=7)
        ax.set_xscale("log")
        ax.set(xlabel=f"{unit}, log scale", ylabel="mean ICC(3,1)")
        ax.grid(alpha=0.3)
    figure.suptitle("What each network costs, against what it scores", fontsize=10)
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
    try:
        with torch.inference_mode():
            model.eval()(torch.zeros(1, 3, model.input_size, model.input_size))
    finally:
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


def figure_png(figure: Figure, dpi: int = 80) -> bytes:
    """The figure as PNG bytes (for widgets and static outputs)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()



def show(figure: Figure, path: str | os.PathLike | None = None, dpi: int = 100) -> Path | None:
    """Display a figure as a PNG (works live and under papermill with any backend) and save it to ``path``.

    Returns:
        The saved path, or ``None`` when no path was given.
    """
    from IPython.display import Image, display

    from aulib.course.figures import save_figure

    saved = save_figure(figure, path, dpi=dpi) if path is not None else None
    display(Image(data=figure_png(figure, dpi=dpi)))
    return saved



def robustness_figure(table: pd.DataFrame, detail_model: str = "hourglass",
                      live_models: Sequence[str] = ()) -> Figure:
    """Mean ICC against landmark noise for each model (left), and per AU for one model (right).

    The bottom axis is σ as a fraction of the inter-ocular distance (IOD), the unit that compares across face sizes;
    the top axis gives the pixels of these frames. Rows of several seeds of a model (a ``seed`` column) are drawn as
    their mean with a ± 1 sd band over seeds. ``live_models`` (the runs trained live in the notebooks) are drawn
    black and labelled as such; a model that appears both alone and as three seeds is drawn once, as three seeds.
    """
    table = table.copy()
    iod = "sigma_iod" in table and bool((table.unit == "px").all())
    table["x"] = table.sigma_iod if iod else table.sigma
    means = table[table.AU == "Mean"]
    seeded = {m.split(" (reference")[0] for m in means.model if "(reference, 3 seeds)" in m}
    drawn = [m for m in dict.fromkeys(means.model)
             if not (m.startswith("reference ") and m.removeprefix("reference ") in seeded)]
    names = {m: (f"your live run: {m}" if m in live_models else m) for m in drawn}
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 4.6), gridspec_kw={"width_ratios": [1.35, 1]})
    palette = iter(sns.color_palette("tab10"))
    for model in drawn:
        part = means[means.model == model]
        curve = part.groupby("x").ICC.agg(["mean", "std"]).reset_index()
        live = model in live_models
        colour = "black" if live else next(palette)
        left.plot(curve.x, curve["mean"], marker="o", markersize=3.5, color=colour, lw=2.2 if live else 1.4,
                  label=names[model])
        if "seed" in part and part.seed.notna().any():
            left.fill_between(curve.x, curve["mean"] - curve["std"].fillna(0), curve["mean"] + curve["std"].fillna(0),
                              color=colour, alpha=0.2, lw=0)
    xlabel = "landmark noise σ / inter-ocular distance" if iod else f"landmark noise σ ({table.unit.iloc[0]})"
    left.set(xlabel=xlabel, ylabel="mean ICC(3,1) (± 1 sd over seeds)", title="Robustness to landmark noise")
    left.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    models = list(dict.fromkeys(table.model))
    detail = detail_model if detail_model in models else (models[0] if models else "")
    per_au = table[(table.AU != "Mean") & (table.model == detail)]
    sns.lineplot(data=per_au, x="x", y="ICC", hue="AU", marker="o", errorbar="sd", ax=right)
    right.set(xlabel=xlabel, ylabel="ICC(3,1)", title=f"Per AU: {names.get(detail, detail)}")
    positive = table[table.sigma > 0]
    if iod and len(positive):
        px_per_iod = float((positive.sigma / positive.sigma_iod).median())
        for ax in (left, right):
            top = ax.secondary_xaxis("top", functions=(lambda f: f * px_per_iod, lambda s: s / px_per_iod))
            top.set_xlabel("σ in pixels of these frames", fontsize=8)
    figure.tight_layout()
    return figure


@torch.inference_mode()
def noise_examples_figure(model: AUModel, dataset: PreparedDataset, row: int | Sequence[int], sigmas: Sequence[float],
                          au: int, unit: str = "px", seed: int = 0) -> Figure:
    """Test faces re-aligned under growing landmark noise, each with the model's map of ``au`` below it.

    Args:
        model: the model whose maps are drawn.
        dataset: the prepared test frames.
        row: the frames' row numbers (one or several: e.g. a strong and a weak AU, chosen by their labels).
        sigmas: the noise levels (columns).
        au: the AU whose map is drawn.
        unit: ``"px"`` or ``"iod"`` (the robustness study's units).
        seed: the noise seed (the same draw for every face and level).
    """
    from aulib.evaluation.robustness import noisy_inputs

    rows = [int(row)] if np.ndim(row) == 0 else [int(r) for r in row]
    a = list(model.aus).index(au)
    labels = dataset.labels_array()
    figure, axes = plt.subplots(2 * len(rows), len(sigmas), figsize=(1.9 * len(sigmas) + 0.8, 4.0 * len(rows)),
                                squeeze=False)
    for k, frame in enumerate(rows):
        truth = labels[frame, a]
        top, bottom = axes[2 * k], axes[2 * k + 1]
        for j, sigma in enumerate(sigmas):
            _, images, landmarks = next(noisy_inputs(model, dataset, float(sigma), unit, seed, rows=[frame]))
            result = model.predict(images, landmarks)
            intensities, maps = result.intensities, result.maps
            face = (images[0].permute(1, 2, 0).cpu().numpy() * 255).astype(np.uint8)
            top[j].imshow(face)
            top[j].scatter(*(landmarks[0].cpu().numpy() * face.shape[0] / FRAME_SIZE).T, s=2, c="cyan")
            top[j].set_title(f"σ = {sigma:g} {unit}", fontsize=9)
            if maps is not None:
                bottom[j].imshow(overlay_rgb(face, upsample_map(maps[0, a].float().cpu().numpy(), face.shape[0]),
                                             min_peak=1.0))
            bottom[j].set_title(f"read {float(intensities[0, a]):.2f}", fontsize=9)
            for ax in (top[j], bottom[j]):
                ax.set_xticks([])
                ax.set_yticks([])
        top[0].set_ylabel(f"true {au_label(au)} = {truth:g}\naligned from\nnoisy landmarks", fontsize=9)
        bottom[0].set_ylabel(f"the model's\n{au_label(au)} map", fontsize=9)
    figure.suptitle(f"Test faces re-aligned from noisy landmarks (cyan), and the model's {au_label(au)} map and "
                    "readout", y=1.0)
    figure.tight_layout()
    return figure

