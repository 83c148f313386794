"""The heatmap explorer's views: every array one view shows, and its drawing (:mod:`~aulib.course.widget` is the
widget).

How an AU's intensity becomes a target map (:mod:`aulib.method.heatmaps`), shown on an aligned face:

- :func:`explorer_arrays` computes everything one view shows (the face as drawn, the exact and the noisy
  AU centres, the target map, the model's map and readout) from an :class:`ExplorerParams`;
- :func:`draw_explorer` draws those arrays as a matplotlib Figure, and :func:`explorer_figure` does both.

Drawing is a pure function of the parameters, so the tests check the arrays and the widget only sets parameters.
Everything is in the 256×256 aligned frame; heatmaps are drawn over the same extent, so a heatmap pixel ``j`` covers
frame pixels ``[j·k − 0.5, (j + 1)·k − 0.5)`` with ``k = 256 / size`` (:func:`aulib.method.align.frame_scale`).

Landmark noise follows the robustness study (:mod:`aulib.evaluation.robustness`): noise of σ pixels perturbs the
aligned landmarks, the AU centres are re-derived from them (so the target Gaussian moves away from where the AU
shows), and with ``realign`` the face is also re-aligned from the noisy landmarks, as a tracker's errors would do.
The same seed draws the same noise direction, so moving σ scales one perturbation.

Example:
    >>> from aulib.course.faces import SynthFaces
    >>> state = explorer_arrays(SynthFaces(count=2), ExplorerParams(au=12, intensity=3.0))
    >>> round(float(state.target.max()), 6), state.target.shape
    (3.0, (64, 64))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np
import torch
from matplotlib.figure import Figure

from aulib.course.faces import Face, FaceSource
from aulib.course.overlay import FRAME_EXTENT, HEATMAP_CMAP, centres_of, frame_axes, overlay_rgb
from aulib.inference.model import AUModel
from aulib.method.align import (
    add_landmark_noise,
    alignment_matrix,
    transform_points,
    warp_face,
)
from aulib.method.aus import AUS, MAX_INTENSITY, au_label, resolve_aus
from aulib.method.heatmaps import HeatmapConfig, read_intensities, render_targets


@dataclass(frozen=True)
class ExplorerParams:
    """Everything one explorer view depends on (the widget's controls).

    Attributes:
        index: which face.
        au: which AU (a key of :data:`aulib.method.aus.AUS`).
        intensity: the target intensity, 0–5.
        extent: ``"growing"`` (σ grows with intensity) or ``"fixed"``.
        sigma_fixed: σ of the fixed extent, aligned-frame pixels; ``None``: the target design's own (a model's: 21.3
            for the live 24×24 model, whose σ is 1–3 map pixels; else the paper's 8).
        noise: standard deviation of the landmark noise, aligned-frame pixels.
        realign: re-align the face from the noisy landmarks (else only the centres move).
        overlay: draw the target map and the landmarks over the face.
        design: whose target design to draw: ``"model"``, the model's own (the live ``tiny`` model's 24×24 maps with
            σ of 10.7–32 frame pixels; the paper's without a model), or ``"paper"``, the paper's 64×64 maps with σ
            of 4–12 frame pixels. Both keep σ at 1–3 *map* pixels.
    """

    index: int = 0
    au: int = 12
    intensity: float = 3.0
    extent: Literal["growing", "fixed"] = "growing"
    sigma_fixed: float | None = None
    noise: float = 0.0
    realign: bool = True
    overlay: bool = True
    design: Literal["model", "paper"] = "model"



@dataclass(frozen=True)
class ExplorerState:
    """The arrays one explorer view draws (what the tests check).

    Attributes:
        params: the parameters that produced it.
        face: ``(256, 256, 3)`` uint8 face as drawn (re-aligned when noise and ``realign`` apply).
        face_panel: ``(256, 256, 3)`` float RGB in [0, 1] of the first panel (with the overlay, if on).
        landmarks: ``(L, 2)`` landmarks the target was built from (noisy when ``noise > 0``).
        exact_centres: ``(C, 2)`` the AU's centres from the noise-free landmarks, in the drawn frame.
        centres: ``(C, 2)`` the AU's centres from ``landmarks``: where the target's Gaussians sit.
        sigma: σ of the target's Gaussians, aligned-frame pixels.
        target: ``(h, w)`` target map of the AU.
        target_readout: the target's readout (its maximum clamped to [0, 5]).
        prediction: ``(h', w')`` the model's map of the AU, or ``None`` without a model (or AU).
        readouts: the model's readout of each of its AUs (empty without a model).
        name: the face's description.
        label: the dataset's intensity of the AU for this face, when known.
        heatmap: the target design used.
    """

    params: ExplorerParams
    face: np.ndarray
    face_panel: np.ndarray
    landmarks: np.ndarray
    exact_centres: np.ndarray
    centres: np.ndarray
    sigma: float
    target: np.ndarray
    target_readout: float
    prediction: np.ndarray | None
    readouts: dict[int, float]
    name: str
    label: float | None
    heatmap: HeatmapConfig



def heatmap_config(params: ExplorerParams, base: HeatmapConfig | None = None) -> HeatmapConfig:
    """The target design of a view: ``base`` (a model's, or the default) with the view's extent and fixed σ; the
    paper's own design (:class:`aulib.method.heatmaps.HeatmapConfig`'s defaults) when ``params.design`` is
    ``"paper"``.

    Example:
        >>> live = HeatmapConfig(size=24, sigma_min=32 / 3, sigma_max=32.0, sigma_fixed=64 / 3)
        >>> paper = heatmap_config(ExplorerParams(design="paper", extent="fixed"), live)
        >>> paper.size, paper.sigma_fixed, heatmap_config(ExplorerParams(), live).size
        (64, 8.0, 24)
    """
    if params.design not in ("model", "paper"):
        raise ValueError(f"design must be 'model' or 'paper'; got {params.design!r}")
    base = HeatmapConfig() if params.design == "paper" or base is None else base
    # A model's config may disable the range check (its training labels are jittered); a view stays in 0–5.
    sigma_fixed = base.sigma_fixed if params.sigma_fixed is None else float(params.sigma_fixed)
    return replace(base, extent=params.extent, sigma_fixed=sigma_fixed, max_intensity=MAX_INTENSITY)




def _perturbed(face: Face, params: ExplorerParams, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(image, landmarks, exact_landmarks)`` after landmark noise (and re-alignment), in the drawn frame."""
    exact = np.asarray(face.landmarks, dtype=np.float64)
    if params.noise <= 0:
        return face.image, exact, exact
    # One generator per (seed, face): σ only scales the same draw, so the centres move smoothly with it.
    noisy = add_landmark_noise(exact, params.noise, unit="px", seed=np.random.default_rng([seed, params.index]))
    if not params.realign:
        return face.image, noisy, exact
    # The noisy landmarks define a new alignment (crop -> noisy crop), as a tracker's errors would.
    matrix = alignment_matrix(noisy, method=face.method)
    return warp_face(face.image, matrix), transform_points(noisy, matrix), transform_points(exact, matrix)



Predictor = Callable[[np.ndarray, np.ndarray], tuple[dict[int, float], dict[int, np.ndarray]]]



def model_predictor(model: AUModel) -> Predictor:
    """Wrap a model as ``(image, landmarks) -> (readouts, maps)`` of one aligned face.

    The face runs exactly as ``aulib predict`` runs a crop (:meth:`aulib.inference.model.AUModel.predict_crops`);
    maps come only from heatmap models.
    """

    def predict(image: np.ndarray, landmarks: np.ndarray) -> tuple[dict[int, float], dict[int, np.ndarray]]:
        result = model.predict_crops(np.ascontiguousarray(image)[None], np.asarray(landmarks, np.float32)[None])
        readouts = {int(a): float(v) for a, v in zip(model.aus, result.intensities[0].cpu(), strict=True)}
        if result.maps is None:
            return readouts, {}
        return readouts, {int(a): m.cpu().numpy() for a, m in zip(model.aus, result.maps[0], strict=True)}

    return predict


def explorer_arrays(
    faces: FaceSource,
    params: ExplorerParams,
    *,
    model: AUModel | None = None,
    heatmap: HeatmapConfig | None = None,
    seed: int = 0,
    predictor: Predictor | None = None,
) -> ExplorerState:
    """Compute every array one explorer view draws.

    Args:
        faces: where the faces come from (:func:`load_faces`).
        params: the view.
        model: a trained model (:func:`aulib.course.faces.load_trained_model`); its map and readouts are added.
        heatmap: the target design; defaults to the model's (so the target matches what it learnt) or
            :class:`aulib.method.heatmaps.HeatmapConfig`'s defaults. The view's extent and fixed σ override it.
        seed: seed of the landmark noise.
        predictor: precomputed :func:`model_predictor` (the widget passes a cached one).

    Returns:
        The view's :class:`ExplorerState`.

    Example:
        >>> from aulib.course.faces import SynthFaces
        >>> state = explorer_arrays(SynthFaces(count=1), ExplorerParams(au=17, intensity=5.0, extent="fixed"))
        >>> state.sigma, len(state.centres)
        (8.0, 1)
    """
    aus = resolve_aus([params.au])
    if not 0 <= params.intensity <= MAX_INTENSITY:
        raise ValueError(f"intensity must be in [0, {MAX_INTENSITY:g}]; got {params.intensity}")
    if params.noise < 0:
        raise ValueError(f"noise must be >= 0; got {params.noise}")
    if heatmap is None and model is not None:
        heatmap = model.heatmap
    config = heatmap_config(params, heatmap)
    face = faces.face(params.index, {params.au: params.intensity})
    image, landmarks, exact = _perturbed(face, params, seed)

    intensity = torch.tensor([[float(params.intensity)]], dtype=torch.float64)
    target = render_targets(torch.as_tensor(landmarks)[None], intensity, aus, **asdict(config))[0, 0]
    readout = float(read_intensities(target[None, None])[0, 0])

    prediction, readouts = None, {}
    if predictor is None and model is not None:
        predictor = model_predictor(model)
    if predictor is not None:
        readouts, maps = predictor(image, landmarks)
        prediction = maps.get(params.au)

    target = target.numpy()
    panel = overlay_rgb(image, target) if params.overlay else image.astype(np.float64) / 255.0
    return ExplorerState(
        params=params,
        face=image,
        face_panel=panel,
        landmarks=landmarks,
        exact_centres=centres_of(exact, params.au),
        centres=centres_of(landmarks, params.au),
        sigma=float(config.sigma(intensity)[0, 0]),
        target=target,
        target_readout=readout,
        prediction=prediction,
        readouts=readouts,
        name=face.name,
        label=face.labels.get(params.au) if not faces.shows_intensity else None,
        heatmap=config,
    )




def _mark_centres(ax: Any, state: ExplorerState) -> None:
    moved = state.params.noise > 0
    if moved:
        ax.scatter(*state.exact_centres.T, marker="x", s=46, c="#4dd0e1", linewidths=1.6, label="exact centre")
    ax.scatter(*state.centres.T, marker="o", s=40, facecolors="none", edgecolors="#76ff03", linewidths=1.6,
               label="centre from noisy landmarks" if moved else "AU centre")



def draw_explorer(state: ExplorerState, figsize: tuple[float, float] | None = None) -> Figure:
    """Draw an :class:`ExplorerState`: face with centres | target map | model map | model readouts.

    Uses :class:`matplotlib.figure.Figure` directly (no pyplot), so nothing is shown or kept alive behind
    the caller's back; display it with :func:`figure_png` or save it with :func:`aulib.course.figures.save_figure`.
    """
    p = state.params
    has_model = bool(state.readouts)
    n_panels = 4 if has_model else 2
    figure = Figure(figsize=figsize or (3.0 * n_panels, 3.35), layout="constrained")
    axes = figure.subplots(1, n_panels, squeeze=False)[0]

    ax = axes[0]
    ax.imshow(state.face_panel, extent=FRAME_EXTENT, interpolation="bilinear")
    if p.overlay:
        ax.scatter(*state.landmarks.T, s=3, c="white", alpha=0.8)
    _mark_centres(ax, state)
    label = f", label {state.label:g}" if state.label is not None else ""
    frame_axes(ax, f"{state.name}{label}\n{au_label(p.au)} {AUS[p.au].name}")
    if p.noise > 0:
        ax.legend(loc="lower center", fontsize=6, framealpha=0.7)

    ax = axes[1]
    ax.imshow(state.target, extent=FRAME_EXTENT, cmap=HEATMAP_CMAP, vmin=0, vmax=MAX_INTENSITY, interpolation="nearest")
    _mark_centres(ax, state)
    extent = "growing" if p.extent == "growing" else "fixed"
    size = state.heatmap.size
    map_sigma = state.sigma * size / state.heatmap.frame_size
    # three short lines: one long line ran into the prediction panel's title
    frame_axes(ax, f"target ({size}×{size} map), I = {p.intensity:g}\n{extent} σ = {state.sigma:.1f} frame px "
                   f"= {map_sigma:.1f} map px\nmax {state.target.max():.2f}, readout {state.target_readout:.2f}")

    if has_model:
        ax = axes[2]
        if state.prediction is not None:
            ax.imshow(state.prediction, extent=FRAME_EXTENT, cmap=HEATMAP_CMAP, vmin=0, vmax=MAX_INTENSITY,
                      interpolation="nearest")
            _mark_centres(ax, state)
            title = f"prediction: readout {state.readouts.get(p.au, float('nan')):.2f}\n(max clamped to [0, 5])"
        else:
            title = f"the model has no {au_label(p.au)} map"
        frame_axes(ax, title)

        ax = axes[3]
        aus = list(state.readouts)
        colours = ["#e65100" if a == p.au else "#90a4ae" for a in aus]
        ax.barh([au_label(a) for a in aus], [state.readouts[a] for a in aus], color=colours)
        if p.au in state.readouts:
            ax.axvline(p.intensity, color="#e65100", linestyle="--", linewidth=1, label="target intensity")
            ax.legend(fontsize=6, loc="lower right")
        ax.set_xlim(0, MAX_INTENSITY)
        ax.invert_yaxis()
        ax.tick_params(labelsize=7)
        ax.set_title("model readout per AU", fontsize=9)
    return figure



def explorer_figure(
    faces: FaceSource,
    params: ExplorerParams | None = None,
    *,
    model: AUModel | None = None,
    heatmap: HeatmapConfig | None = None,
    seed: int = 0,
) -> Figure:
    """Parameters → Figure: :func:`explorer_arrays` then :func:`draw_explorer` (the static explorer figure)."""
    return draw_explorer(explorer_arrays(faces, params or ExplorerParams(), model=model, heatmap=heatmap,
                                         seed=seed))
