"""The course's figures (notebooks 01–05 and the README). Each function returns a matplotlib Figure.

:func:`save_figure` writes a figure atomically; :func:`show` saves one and displays it in a notebook.
"""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Sequence
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
    seed: int = 0, difficulty: float | str = "default", image_size: int = 160, renderer: str = "2d",
) -> Figure:
    """SynthAU's AUs (rows) × intensities (columns): each row one AU, from neutral to FACS E, on its own person.

    Args:
        subjects: how many people the rows cycle through (default: one per AU, so every row is another identity).
        aus: the rows.
        levels: the columns (0 = neutral, 1–5 = A–E).
        seed, difficulty, image_size, renderer: the SynthAU set's settings (renderer ``"3d"``: SynthAU-3D's faces).
    """
    from aulib.data.synthau import Difficulty, SynthConfig, still_face, subject_name

    config = SynthConfig(seed=seed, image_size=image_size, renderer=renderer,
                         difficulty=Difficulty.from_level(difficulty))
    subjects, n_rows, n_cols = subjects or len(aus), len(aus), len(levels)
    figure, axes = plt.subplots(n_rows, n_cols, figsize=(1.5 * n_cols + 0.9, 1.55 * n_rows + 0.5), squeeze=False)
    for r, au in enumerate(aus):
        person = r % subjects
        for c, level in enumerate(levels):
            ax = axes[r, c]
            ax.imshow(still_face(config, person, {au: level})[0])
            ax.set(xticks=[], yticks=[])
            if r == 0:
                ax.set_title("neutral" if level == 0 else f"{FACS_LETTERS.get(level, '')} (I = {level:g})",
                             fontsize=9)
        axes[r, 0].set_ylabel(f"AU{au}\n{AUS[au].name}\n({subject_name(person)})", fontsize=8)
    name = "SynthAU-3D" if renderer == "3d" else "SynthAU"
    figure.suptitle(f"{name}: each AU alone, from neutral to FACS E (intensity 5); one person per row", fontsize=10)
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



# The panels of the robustness figure: each research question's runs beside the Hourglass (their names in
# aulib.training.experiments.RUN_NAMES), so that no panel holds more than a few curves.
ROBUSTNESS_PANELS = (("RQ1, RQ4: a bigger network, one network per AU", ("hourglass-small", "per-au")),
                     ("RQ2: direct regression", ("hourglass-direct", "resnet18")),
                     ("RQ5: the target design", ("fixed-extent", "l2")))


def robustness_run(model: str) -> str:
    """The run a robustness table's model name is of: ``"per-au (reference, 3 seeds)"``, ``"reference per-au"`` and
    ``"per-au"`` are all ``"per-au"``."""
    return model.split(" (reference")[0].removeprefix("reference ")


def robustness_figure(table: pd.DataFrame, detail_model: str = "hourglass",
                      live_models: Sequence[str] = ()) -> Figure:
    """Mean ICC against landmark noise, one panel per research question, and per AU for one model (last panel).

    Each question's panel (:data:`ROBUSTNESS_PANELS`) draws its runs beside the Hourglass (every curve of the run
    ``hourglass``: the reference seeds and the live run), on a shared ICC axis; runs of no question get a panel of
    their own, and a table with the Hourglass alone gets one panel. The bottom axis is σ as a fraction of the
    inter-ocular distance (IOD), the unit that compares across face sizes; the top axis gives the pixels of these
    frames. Rows of several seeds of a model (a ``seed`` column) are drawn as their mean with a ± 1 sd band over
    seeds. ``live_models`` (the runs trained live in the notebooks) are drawn thick and labelled as such (the live
    Hourglass black); a model that appears both alone and as three seeds is drawn once, as three seeds.

    Args:
        table: :func:`aulib.evaluation.robustness.robustness` rows of every model (``model, sigma, unit, AU, ICC``,
            optionally ``sigma_iod`` and ``seed``).
        detail_model: the model of the per-AU panel.
        live_models: the models trained live.

    Returns:
        the figure: the questions' panels, then the per-AU panel.
    """
    table = table.copy()
    iod = "sigma_iod" in table and bool((table.unit == "px").all())
    table["x"] = table.sigma_iod if iod else table.sigma
    means = table[table.AU == "Mean"]
    seeded = {m.split(" (reference")[0] for m in means.model if " (reference, " in m}
    drawn = [m for m in dict.fromkeys(means.model)
             if not (m.startswith("reference ") and m.removeprefix("reference ") in seeded)]
    names = {m: (f"your live run: {m}" if m in live_models else m) for m in drawn}
    runs = {m: robustness_run(m) for m in drawn}
    panels = [(title, [m for m in drawn if runs[m] in members]) for title, members in ROBUSTNESS_PANELS]
    grouped = {run for _, members in ROBUSTNESS_PANELS for run in members}
    panels.append(("other runs", [m for m in drawn if runs[m] not in grouped and runs[m] != "hourglass"]))
    panels = [(title, members) for title, members in panels if members]
    baseline = [m for m in drawn if runs[m] == "hourglass"]
    if not panels:  # the Hourglass alone (a live run, or a licensed set without baselines)
        panels = [("Robustness to landmark noise", [])]
    # one colour per run (its reference seeds thin, its live run thick), the same in every panel; the Hourglass's
    # reference seeds grey, the live Hourglass black
    others = [run for run in dict.fromkeys(runs.values()) if run != "hourglass"]
    by_run = dict(zip(others, itertools.cycle(sns.color_palette("tab10")), strict=False))
    colours = {m: ("black" if m in live_models and runs[m] == "hourglass" else
                   "0.45" if runs[m] == "hourglass" else by_run[runs[m]]) for m in drawn}
    columns = 2
    rows = (len(panels) + 1 + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(12.5, 4.3 * rows), squeeze=False)
    axes = axes.ravel()
    xlabel = "landmark noise σ / inter-ocular distance" if iod else f"landmark noise σ ({table.unit.iloc[0]})"
    mean_axes = []
    for ax, (title, members) in zip(axes, panels, strict=False):
        for model in [*baseline, *members]:
            part = means[means.model == model]
            curve = part.groupby("x").ICC.agg(["mean", "std"]).reset_index()
            live = model in live_models
            ax.plot(curve.x, curve["mean"], marker="o", markersize=3, color=colours[model], lw=2.2 if live else 1.4,
                    label=names[model])
            if "seed" in part and part.seed.notna().any():
                ax.fill_between(curve.x, curve["mean"] - curve["std"].fillna(0),
                                curve["mean"] + curve["std"].fillna(0), color=colours[model], alpha=0.2, lw=0)
        ax.set(xlabel=xlabel, ylabel="mean ICC(3,1) (± 1 sd over seeds)", title=title)
        ax.legend(fontsize=7.5, loc="lower left")
        ax.grid(alpha=0.3)
        mean_axes.append(ax)
    low = min(ax.get_ylim()[0] for ax in mean_axes)
    high = max(ax.get_ylim()[1] for ax in mean_axes)
    for ax in mean_axes:  # one ICC scale, so that panels compare
        ax.set_ylim(low, high)
    right = axes[len(panels)]
    models = list(dict.fromkeys(table.model))
    detail = detail_model if detail_model in models else (models[0] if models else "")
    per_au = table[(table.AU != "Mean") & (table.model == detail)]
    sns.lineplot(data=per_au, x="x", y="ICC", hue="AU", marker="o", errorbar="sd", ax=right)
    right.set(xlabel=xlabel, ylabel="ICC(3,1)", title=f"Per AU: {names.get(detail, detail)}")
    right.grid(alpha=0.3)
    for ax in axes[len(panels) + 1:]:
        ax.set_visible(False)
    positive = table[table.sigma > 0]
    if iod and len(positive):
        px_per_iod = float((positive.sigma / positive.sigma_iod).median())
        for ax in [*mean_axes, right]:
            top = ax.secondary_xaxis("top", functions=(lambda f: f * px_per_iod, lambda s: s / px_per_iod))
            top.set_xlabel("σ in pixels of these frames", fontsize=8)
    figure.suptitle("Robustness to landmark noise: each question's runs beside the Hourglass", fontsize=11)
    figure.tight_layout()
    return figure


def noise_bands_figure(bands: pd.DataFrame, crossings: pd.DataFrame, title: str = "Reference Hourglass",
                       others: Sequence[tuple[str, pd.DataFrame, pd.DataFrame]] = ()) -> Figure:
    """RQ3 with intervals: the mean ICC against landmark noise in inter-ocular distances, with a 95% band.

    Args:
        bands, crossings: :func:`aulib.evaluation.noise_bands.noise_bands`'s tables (``noise_bands.csv`` and
            ``noise_crossings.csv`` of the reference folder).
        title: what the curve is (the band is over test subjects; thin lines are the single runs).
        others: ``(label, bands, crossings)`` of other models on the same grid (the `small` Hourglass), drawn as
            their seed-mean curve with its band, the crossings in the legend.
    """
    figure, ax = plt.subplots(figsize=(8.5, 5.2 if others else 4.4))
    for colour, (label, other_bands, other_crossings) in zip(("C1", "C4", "C5"), others, strict=False):
        ax.fill_between(other_bands.sigma_iod, other_bands.low, other_bands.high, color=colour, alpha=0.18, lw=0)
        said = "\n".join(f"{row.what} {row.sigma_iod:.3f} IOD [{row.low:.3f}, {row.high:.3f}]"
                          for row in other_crossings.itertuples() if np.isfinite(row.sigma_iod))
        ax.plot(other_bands.sigma_iod, other_bands.ICC, color=colour, marker="s", markersize=2.5, lw=1.4,
                label=f"{label}, mean of {sum(c.startswith('ICC ') for c in other_bands.columns)} seeds, with its "
                      f"band:\n{said}")
    ax.fill_between(bands.sigma_iod, bands.low, bands.high, color="C0", alpha=0.25, lw=0,
                    label=f"{'Hourglass: ' if others else ''}95% band (bootstrap over test subjects)")
    for column in [c for c in bands.columns if c.startswith("ICC ")]:
        ax.plot(bands.sigma_iod, bands[column], color="C0", lw=0.7, alpha=0.6)
    ax.plot(bands.sigma_iod, bands.ICC, color="C0", marker="o", markersize=3, lw=1.8,
            label=f"{'Hourglass, ' if others else ''}mean of {sum(c.startswith('ICC ') for c in bands.columns)} "
                  "seeds (thin: each seed)")
    clean = float(bands.ICC.iloc[0])
    right_end = float(bands.sigma_iod.max())
    for colour, row in zip(("C2", "C3"), crossings.itertuples(), strict=False):
        ax.axhline(row.fraction * clean, color=colour, ls=":", lw=1)
        if not np.isfinite(row.sigma_iod):  # the curve never fell that far inside the grid (or had nothing to lose)
            ax.plot([], [], color=colour, label=f"{row.what} ({row.fraction:.0%} of clean): not within the grid")
            continue
        ax.axvspan(row.low, min(row.high, right_end), color=colour, alpha=0.15, lw=0)  # high may be inf: open
        ax.axvline(row.sigma_iod, color=colour, lw=1.2,
                   label=f"{'Hourglass: ' if others else ''}{row.what} ({row.fraction:.0%} of clean): "
                         f"{row.sigma_iod:.3f} IOD [{row.low:.3f}, {row.high:.3f}]")
    ax.set(xlabel="landmark noise σ / each face's inter-ocular distance (IOD)", ylabel="mean ICC(3,1)",
           title=f"{title}: landmark noise in inter-ocular distances", ylim=(0, 1))
    if others:  # the curves fill the panel's lower right: the longer legend goes under the axes
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    else:
        ax.legend(fontsize=8, loc="lower left", frameon=False)
    positive = bands[bands.sigma_iod > 0]
    px_per_iod = float((positive.sigma_px / positive.sigma_iod).median())
    top = ax.secondary_xaxis("top", functions=(lambda f: f * px_per_iod, lambda s: s / px_per_iod))
    top.set_xlabel(f"σ in pixels of these frames (mean IOD {px_per_iod:.1f} px)", fontsize=8)
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

