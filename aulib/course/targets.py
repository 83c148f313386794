"""Notebook 02's static figures of the target design: AU centres, fixed against growing extent, max over centres.

Example:
    >>> from aulib.course.faces import SynthFaces
    >>> face = SynthFaces(count=1).face(0, {})
    >>> maps = extent_maps(face.landmarks, 17, (0, 2, 5))
    >>> [round(float(m.max()), 6) for m in maps["growing"]]
    [0.0, 2.0, 5.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, replace

import matplotlib as mpl
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from aulib.course.faces import Face
from aulib.course.overlay import FRAME_EXTENT, HEATMAP_CMAP, centres_of, frame_axes
from aulib.method.align import (
    FRAME_SIZE,
    frame_scale,
)
from aulib.method.aus import AUS, BP4D_AUS, MAX_INTENSITY, Centre, au_label, resolve_aus
from aulib.method.heatmaps import HeatmapConfig, render_gaussians, render_targets


def describe_centre(centre: Centre) -> str:
    """A centre in words: ``'landmark 48'``, ``'mid 40–41, 0.12 IOD down'``."""
    points = "landmark " + str(centre.landmarks[0]) if len(centre.landmarks) == 1 else \
        "mid " + "–".join(str(i) for i in centre.landmarks)
    dx, dy = centre.offset
    moves = []
    if dx:
        moves.append(f"{abs(dx):g} IOD {'towards 45' if dx > 0 else 'towards 36'}")
    if dy:
        moves.append(f"{abs(dy):g} IOD {'down' if dy > 0 else 'up'}")
    return ", ".join([points, *moves])



def catalogue_table(aus: Sequence[int] = BP4D_AUS) -> pd.DataFrame:
    """The AUs' FACS names, muscles, visible changes and centres (from :data:`aulib.method.aus.AUS`)."""
    rows = [
        {"AU": au_label(a), "name": AUS[a].name, "muscle": AUS[a].muscle,
         "centres": "; ".join(describe_centre(c) for c in AUS[a].centres), "appearance": AUS[a].appearance}
        for a in resolve_aus(aus)
    ]
    return pd.DataFrame(rows).set_index("AU")



def centres_figure(face: Face, aus: Sequence[int] = BP4D_AUS) -> Figure:
    """The face with its 68 landmarks and each AU's centres (one colour per AU), numbered landmarks used."""
    aus = resolve_aus(aus)
    figure = Figure(figsize=(5.2, 5.2), layout="constrained")
    ax = figure.subplots()
    ax.imshow(face.image, extent=FRAME_EXTENT)
    ax.scatter(*face.landmarks.T, s=5, c="white", alpha=0.9)
    used = sorted({i for a in aus for c in AUS[a].centres for i in c.landmarks})
    for i in used:
        ax.annotate(str(i), face.landmarks[i], xytext=(2, -2), textcoords="offset points", fontsize=5.5, color="white")
    colours = mpl.colormaps["tab10"]
    for k, au in enumerate(aus):
        centres = centres_of(face.landmarks, au)
        ax.scatter(*centres.T, s=70, marker="o", facecolors="none", edgecolors=[colours(k % 10)], linewidths=2,
                   label=f"{au_label(au)} {AUS[au].name}")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=2, fontsize=7)
    frame_axes(ax, f"{face.name}: landmarks and AU centres")
    return figure



def extent_maps(
    landmarks: np.ndarray, au: int = 17, intensities: Sequence[float] = (0, 1, 2, 3, 4, 5),
    heatmap: HeatmapConfig | None = None,
) -> dict[str, np.ndarray]:
    """Target maps of one AU across intensities, for each extent: ``{"growing": (n, h, w), "fixed": (n, h, w)}``."""
    base = heatmap or HeatmapConfig()
    lms = torch.as_tensor(np.asarray(landmarks, dtype=np.float64))[None].expand(len(intensities), -1, -1)
    values = torch.tensor(list(intensities), dtype=torch.float64)[:, None]
    return {extent: render_targets(lms, values, (au,), **{**asdict(base), "extent": extent})[:, 0].numpy()
            for extent in ("growing", "fixed")}



def extent_figure(
    face: Face, au: int = 17, intensities: Sequence[float] = (0, 1, 2, 3, 4, 5), heatmap: HeatmapConfig | None = None,
    crop: float = 70.0,
) -> Figure:
    """Growing vs fixed extent side by side (rows) across intensities (columns), with a profile per row.

    Args:
        face: the face whose AU centre is used.
        au: a single-centre AU reads best (AU17 by default).
        intensities: the columns.
        heatmap: target design (defaults of :class:`aulib.method.heatmaps.HeatmapConfig`).
        crop: half-width, in frame pixels, of the window shown around the centre.
    """
    config = heatmap or HeatmapConfig()
    maps = extent_maps(face.landmarks, au, intensities, config)
    centre = centres_of(face.landmarks, au)[0]
    # Keep the window inside the frame (AU17 sits near the chin) by sliding it, not shrinking it.
    view = np.clip(centre, crop - 0.5, FRAME_SIZE - 0.5 - crop)
    n = len(intensities)
    figure = Figure(figsize=(1.45 * (n + 1.6), 3.5), layout="constrained")
    axes = figure.subplots(2, n + 1, gridspec_kw={"width_ratios": [1] * n + [1.6]})
    size = config.size
    scale = size / config.frame_size
    row_index = round(float(centre[1]) * scale + 0.5 * scale - 0.5)  # the heatmap row through the centre
    xs = (np.arange(size) - (0.5 * scale - 0.5)) / scale  # heatmap columns in frame pixels
    for r, extent in enumerate(("growing", "fixed")):
        sigmas = replace(config, extent=extent).sigma(torch.tensor(list(intensities), dtype=torch.float64))
        for j, intensity in enumerate(intensities):
            ax = axes[r, j]
            ax.imshow(maps[extent][j], extent=FRAME_EXTENT, cmap=HEATMAP_CMAP, vmin=0, vmax=MAX_INTENSITY,
                      interpolation="nearest")
            ax.set_xlim(view[0] - crop, view[0] + crop)
            ax.set_ylim(view[1] + crop, view[1] - crop)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"I = {intensity:g}, σ = {float(sigmas[j]):.1f} px", fontsize=7)  # frame pixels (suptitle)
            if j == 0:
                ax.set_ylabel(f"{extent} extent", fontsize=8)
            profile = maps[extent][j][min(max(row_index, 0), size - 1)]
            axes[r, n].plot(xs - centre[0], profile, color=mpl.colormaps["viridis"](j / max(n - 1, 1)),
                            label=f"I = {intensity:g}")
        axes[r, n].set_xlim(-crop, crop)
        axes[r, n].set_ylim(0, MAX_INTENSITY + 0.3)
        axes[r, n].tick_params(labelsize=6)
        axes[r, n].set_title(f"{extent}: profile through the centre", fontsize=7)
    axes[1, n].set_xlabel("frame pixels from the centre", fontsize=7)
    axes[0, n].legend(fontsize=5, ncol=2)
    figure.suptitle(f"{au_label(au)} {AUS[au].name}: the map's maximum is the intensity; the extent grows or not "
                    f"({size}×{size} map; σ in pixels of the {config.frame_size}-pixel aligned face)", fontsize=9)
    return figure



def combine_maps(landmarks: np.ndarray, au: int = 4, intensity: float = 3.0,
                 heatmap: HeatmapConfig | None = None) -> dict[str, np.ndarray]:
    """One Gaussian per centre, and the two ways to combine them: ``{"centres": (C, h, w), "max", "sum"}``.

    The target is the maximum (:func:`aulib.method.heatmaps.render_targets`); the sum would exceed the intensity
    where Gaussians overlap, and the readout would then report a wrong intensity.
    """
    config = replace(heatmap or HeatmapConfig(), max_intensity=MAX_INTENSITY)
    scale, offset = frame_scale(config.size, config.frame_size)
    centres = torch.as_tensor(centres_of(landmarks, au)) * scale + offset  # (C, 2) heatmap pixels
    value = torch.tensor([float(intensity)], dtype=torch.float64)
    sigma = config.sigma(value) * scale
    singles = torch.stack([render_gaussians(c[None], value, sigma, config.size, config.truncate) for c in centres])
    target = render_targets(torch.as_tensor(np.asarray(landmarks, dtype=np.float64))[None], value[None], (au,),
                            **asdict(config))[0, 0]
    return {"centres": singles.numpy(), "max": target.numpy(), "sum": singles.sum(0).numpy()}



def combine_figure(face: Face, au: int = 4, intensity: float = 3.0, heatmap: HeatmapConfig | None = None) -> Figure:
    """Each centre's Gaussian, their maximum (the target) and their sum, for an AU with several centres."""
    maps = combine_maps(face.landmarks, au, intensity, heatmap)
    centres = centres_of(face.landmarks, au)
    singles = list(maps["centres"])
    panels = [*(("centre " + str(i + 1), m) for i, m in enumerate(singles)), ("maximum (the target)", maps["max"]),
              ("sum (not used)", maps["sum"])]
    figure = Figure(figsize=(2.3 * len(panels), 2.7), layout="constrained")
    axes = figure.subplots(1, len(panels))
    vmax = max(MAX_INTENSITY, float(maps["sum"].max()))
    mid, half = centres.mean(axis=0), max(60.0, float(np.ptp(centres, axis=0).max()) / 2 + 45)
    for ax, (title, heat) in zip(axes, panels, strict=True):
        image = ax.imshow(heat, extent=FRAME_EXTENT, cmap=HEATMAP_CMAP, vmin=0, vmax=vmax, interpolation="nearest")
        ax.scatter(*centres.T, marker="+", c="#76ff03", s=30)
        ax.set_xlim(mid[0] - half, mid[0] + half)
        ax.set_ylim(mid[1] + half, mid[1] - half)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{title}\npeak {heat.max():.2f}", fontsize=8)
    figure.colorbar(image, ax=axes[-1], fraction=0.046)
    config = heatmap or HeatmapConfig()
    sigma = float(config.sigma(torch.tensor([intensity], dtype=torch.float64))[0])
    figure.suptitle(f"{au_label(au)} {AUS[au].name} at I = {intensity:g}: {len(singles)} centres "
                    f"({config.size}×{config.size} map, {config.extent} σ = {sigma:.1f} px of the "
                    f"{config.frame_size}-pixel aligned face)", fontsize=9)
    return figure


def live_heatmap_config() -> HeatmapConfig:
    """The target design of the live model notebook 03 trains (the smoke profile's ``tiny`` preset): 24×24 maps
    with σ of 1–3 map pixels, i.e. 10.7–32 pixels of the aligned frame."""
    from aulib.models.presets import create_model
    from aulib.training.config import TrainConfig

    profile = TrainConfig.from_profile("smoke", data="", out="")  # only the recipe is read
    size = int(create_model(profile.model).heatmap_size)  # a property of the built network
    return HeatmapConfig(size=size, **profile.heatmap)


def scales_figure(face: Face, au: int = 12, intensity: float = 3.0,
                  configs: Sequence[tuple[str, HeatmapConfig]] | None = None) -> Figure:
    """One AU's target at two map sizes: the paper's 64×64 maps and the live model's 24×24, on the same face.

    Both use σ of 1–3 *map* pixels; in pixels of the aligned face the live model's Gaussians are 2.7× wider.
    Titles give σ in both units.
    """
    configs = configs or [("the paper's maps", HeatmapConfig()), ("the live model's maps", live_heatmap_config())]
    lms = torch.as_tensor(np.asarray(face.landmarks, dtype=np.float64))[None]
    value = torch.tensor([[float(intensity)]], dtype=torch.float64)
    figure = Figure(figsize=(3.0 * (len(configs) + 1), 3.4), layout="constrained")
    axes = figure.subplots(1, len(configs) + 1)
    axes[0].imshow(face.image, extent=FRAME_EXTENT)
    frame_axes(axes[0], f"the aligned face ({FRAME_SIZE}×{FRAME_SIZE})")
    for ax, (name, config) in zip(axes[1:], configs, strict=True):
        target = render_targets(lms, value, (au,), **asdict(config))[0, 0].numpy()
        sigma = float(config.sigma(value[0])[0])
        per_pixel = config.frame_size / config.size
        ax.imshow(face.image, extent=FRAME_EXTENT)
        # zeros transparent, so the face shows through away from the Gaussians; map pixels drawn as squares
        ax.imshow(np.ma.masked_less(target, 0.05), extent=FRAME_EXTENT, cmap=HEATMAP_CMAP, vmin=0,
                  vmax=MAX_INTENSITY, alpha=0.8, interpolation="nearest")
        frame_axes(ax, f"{name}: {config.size}×{config.size}\nσ = {sigma:.1f} frame px = {sigma / per_pixel:.1f} "
                       f"map px")
    figure.suptitle(f"{au_label(au)} at I = {intensity:g}: the same σ in map pixels, different sizes on the face",
                    fontsize=9)
    return figure
