"""Interactive explorer of the heatmap targets, and the figures of notebook 02.

How an AU's intensity becomes a target map (:mod:`aulib.heatmaps`), shown on a real aligned face:

- :func:`explorer_arrays` computes everything one view shows (the face as drawn, the exact and the noisy
  AU centres, the target map, the model's map and readout) from an :class:`ExplorerParams`;
- :func:`draw_explorer` draws those arrays as a matplotlib Figure, and :func:`explorer_figure` does both;
- :class:`HeatmapExplorer` wires ipywidgets controls (face, AU, intensity, extent, fixed σ, landmark noise,
  re-alignment, overlay) to them and shows each redraw as a PNG inside an ``ipywidgets.Output``.

Drawing is a pure function of the parameters, so the tests check the arrays and the widget only sets
parameters. Faces come from a prepared dataset (:class:`PreparedFaces`) or, when none exists, are rendered
with SynthAU on the fly (:class:`SynthFaces`, which also shows the AU at the chosen intensity).
Everything is in the 256×256 aligned frame; heatmaps are drawn over the same extent, so a heatmap pixel
``j`` covers frame pixels ``[j·k − 0.5, (j + 1)·k − 0.5)`` with ``k = 256 / size`` (:func:`aulib.align.frame_scale`).

Landmark noise follows the robustness study (:mod:`aulib.robustness`): noise of σ pixels perturbs the
aligned landmarks, the AU centres are re-derived from them (so the target Gaussian moves away from where
the AU shows), and with ``realign`` the face is also re-aligned from the noisy landmarks, as a tracker's
errors would do. The same seed draws the same noise direction, so moving σ scales one perturbation.

Example:
    >>> from aulib.viz import ExplorerParams, SynthFaces, explorer_arrays
    >>> faces = SynthFaces(count=2)
    >>> state = explorer_arrays(faces, ExplorerParams(au=12, intensity=3.0))
    >>> round(float(state.target.max()), 6), state.target.shape
    (3.0, (64, 64))
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol

import matplotlib as mpl
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from aulib.align import (
    FRAME_SIZE,
    add_landmark_noise,
    alignment_matrix,
    frame_scale,
    invert_affine,
    scale_matrix,
    transform_points,
    warp_affine,
    warp_face,
)
from aulib.aus import AUS, BP4D_AUS, MAX_INTENSITY, Centre, au_label, resolve_aus
from aulib.heatmaps import HeatmapConfig, au_centres, read_intensities, render_gaussians, render_targets

# imshow extent that puts an image of any size onto the 256 frame's pixel coordinates (pixel centres at
# integers, as in aulib.align), so landmarks, centres and heatmaps of any size overlay exactly.
FRAME_EXTENT = (-0.5, FRAME_SIZE - 0.5, FRAME_SIZE - 0.5, -0.5)
HEATMAP_CMAP = "magma"

Method = Literal["paper", "similarity"]


# -- faces ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Face:
    """One aligned face in the 256 frame.

    Attributes:
        image: ``(256, 256, 3)`` uint8 RGB aligned crop.
        landmarks: ``(L, 2)`` float64 landmarks in the crop's pixels.
        name: a short description for titles.
        labels: the dataset's intensity of each AU (empty when unknown).
        method: the alignment method that produced the crop (re-alignment uses the same).
    """

    image: np.ndarray
    landmarks: np.ndarray
    name: str
    labels: Mapping[int, float] = field(default_factory=dict)
    method: Method = "paper"


class FaceSource(Protocol):
    """What the explorer needs from a set of faces."""

    #: whether :meth:`face` draws the AU at the requested intensity (SynthAU) or ignores it (real data).
    shows_intensity: bool

    def __len__(self) -> int: ...

    def face(self, index: int, intensities: Mapping[int, float]) -> Face: ...


class SynthFaces:
    """Frontal SynthAU faces rendered on the fly, showing the requested AU intensities.

    The explorer's intensity slider re-renders the subject with the AU at that intensity, so a student sees the
    expression, its target and the model's map change together. Nothing is read from or written to disk, and
    renders are cached.

    Args:
        count: number of subjects (face indices ``0 … count − 1``).
        seed: SynthAU seed (which identities).
        difficulty: SynthAU difficulty (a level or a :class:`~aulib.data.synthau.Difficulty`); ``"easy"`` draws
            clear cues, best for teaching.
        image_size: render size before alignment.
        subjects: which subjects of the seed's set (0-based indices); default the first ``count``.

    Example:
        >>> face = SynthFaces(count=1).face(0, {12: 5.0})
        >>> face.image.shape, face.landmarks.shape
        ((256, 256, 3), (68, 2))
    """

    shows_intensity = True

    def __init__(self, count: int = 8, seed: int = 0, difficulty: float | str = "easy", image_size: int = 256,
                 subjects: Sequence[int] | None = None) -> None:
        from aulib.data.synthau import Difficulty, SynthConfig

        if count < 1:
            raise ValueError(f"count must be >= 1; got {count}")
        self.subjects = list(subjects)[:count] if subjects is not None else list(range(count))
        self.count = len(self.subjects)
        level = difficulty if isinstance(difficulty, Difficulty) else Difficulty.from_level(difficulty)
        self.config = replace(SynthConfig(seed=seed, image_size=image_size), difficulty=level)
        # lru_cache on a bound method would keep self alive; a per-instance cache does not.
        self._render = lru_cache(maxsize=64)(self._render_uncached)

    @classmethod
    def from_prepared(cls, prepared_dir: str | os.PathLike, split: str | None = "test",
                      count: int = 8) -> SynthFaces | None:
        """The subjects of a prepared SynthAU set's ``split``, rendered live; ``None`` if it is not SynthAU.

        The set's ``synthau.json`` (found through the prepared ``meta.json``'s source folder) gives the seed and
        difficulty, so the explorer draws the very people the model is tested on.
        """
        from aulib.data.dataset import load_meta
        from aulib.data.synthau import load_config, subject_name

        meta = load_meta(prepared_dir)
        source = Path(meta.get("source", ""))
        if meta.get("dataset") != "synthau" or not (source / "synthau.json").is_file():
            return None
        config = load_config(source)
        names = sorted(s for s, name in meta["splits"].items() if split is None or name == split)
        indices = [k for k in range(config.subjects) if subject_name(k) in set(names)]
        if not indices:
            return None
        return cls(count=count, seed=config.seed, difficulty=config.difficulty, subjects=indices)

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        return f"SynthFaces(count={self.count}, seed={self.config.seed})"

    def _render_uncached(self, index: int, intensities: tuple[tuple[int, float], ...]) -> Face:
        from aulib.data.synthau import render_still, subject_identity, subject_name

        subject = self.subjects[index]
        identity = subject_identity(self.config, subject)
        image, points = render_still(identity, dict(intensities), self.config)
        matrix = alignment_matrix(points, "paper")
        return Face(
            image=warp_face(image, matrix),
            landmarks=transform_points(points, matrix),
            name=f"SynthAU {subject_name(subject)}",
            labels=dict(intensities),
        )

    def face(self, index: int, intensities: Mapping[int, float]) -> Face:
        if not 0 <= index < self.count:
            raise IndexError(f"face index {index} out of range 0..{self.count - 1}")
        # SynthAU simulates a fixed AU list; AUs outside it are ignored rather than failing the view.
        from aulib.data.synthau_faces import SIMULATED_AUS

        key = tuple(sorted((int(a), float(v)) for a, v in intensities.items() if a in SIMULATED_AUS and v > 0))
        return self._render(index, key)


class PreparedFaces:
    """A few frames of a prepared dataset (``aulib prepare``'s output), as aligned faces.

    Args:
        path: the prepared folder.
        split: split to draw from; when the dataset has no such split, all frames are used.
        count: number of frames, spread evenly over the split (frames with an active AU first).
        seed: unused for now beyond tie-breaking; kept for a uniform signature with :class:`SynthFaces`.

    Raises:
        FileNotFoundError / RuntimeError: for a missing or unfinished preparation.
    """

    shows_intensity = False

    def __init__(self, path: str | os.PathLike, split: str | None = "test", count: int = 8, seed: int = 0) -> None:
        from aulib.data.dataset import PreparedDataset

        try:
            dataset = PreparedDataset(path, split=split)
        except ValueError:  # no such split in this dataset: use every frame
            dataset = PreparedDataset(path)
        if len(dataset) == 0:
            raise ValueError(f"{path} holds no usable frames")
        labels = np.nan_to_num(dataset.labels_array(), nan=0.0)
        # Frames that show some AU teach more than neutral ones; keep the order stable for a given seed.
        order = np.lexsort((np.random.default_rng(seed).random(len(dataset)), -labels.max(axis=1)))
        chosen = np.sort(order[: min(count, len(dataset))])
        batch = dataset.batch(chosen)
        size = int(batch["image"].shape[-1])
        to_frame = scale_matrix(FRAME_SIZE, size)  # crop of side S -> 256 frame
        images = batch["image"].permute(0, 2, 3, 1).numpy()
        landmarks = batch["landmarks"].numpy().astype(np.float64)
        method = dataset.meta.get("alignment", {}).get("method", "paper")
        frames = dataset.frames.iloc[chosen]
        self.faces: list[Face] = []
        for i in range(len(chosen)):
            image = images[i] if size == FRAME_SIZE else warp_affine(images[i], to_frame, FRAME_SIZE)
            row = frames.iloc[i]
            name = f"{row['subject']} {row['sequence']} frame {row['frame']}"
            self.faces.append(Face(
                image=np.ascontiguousarray(image),
                landmarks=transform_points(landmarks[i], to_frame),
                name=name,
                labels={a: float(v) for a, v in zip(dataset.aus, labels[chosen[i]], strict=True)},
                method=method,
            ))

    def __len__(self) -> int:
        return len(self.faces)

    def __repr__(self) -> str:
        return f"PreparedFaces({len(self.faces)} faces)"

    def face(self, index: int, intensities: Mapping[int, float]) -> Face:
        return self.faces[index]  # a photo cannot change its expression: the intensity only sets the target


def load_faces(
    prepared_dir: str | os.PathLike | None = None, *, split: str | None = "test", count: int = 8, seed: int = 0
) -> SynthFaces | PreparedFaces:
    """The faces the explorer shows: live SynthAU renders where possible, else frames of a prepared dataset.

    - a prepared **SynthAU** set whose generated folder is still there: its ``split`` subjects, rendered live
      (:meth:`SynthFaces.from_prepared`), so that the face shows the chosen AU intensity;
    - any other prepared dataset (BP4D, DISFA): a few of its aligned frames (:class:`PreparedFaces`), whose
      expression cannot change;
    - nothing prepared: SynthAU faces of ``seed`` rendered in memory.

    Args:
        prepared_dir: a prepared folder, or ``None``.
        split: split of the prepared dataset.
        count: number of faces.
        seed: which faces.

    Returns:
        A face source for :func:`explorer_arrays` and :class:`HeatmapExplorer`.

    Example:
        >>> load_faces("/no/such/folder", count=2)
        SynthFaces(count=2, seed=0)
    """
    if prepared_dir is not None and (Path(prepared_dir) / "meta.json").is_file():
        live = SynthFaces.from_prepared(prepared_dir, split=split, count=count)
        return live if live is not None else PreparedFaces(prepared_dir, split=split, count=count, seed=seed)
    return SynthFaces(count=count, seed=seed)


def load_model(run_dir: str | os.PathLike, device: str = "auto") -> Any | None:
    """The trained run in ``run_dir``, ready to predict (:func:`aulib.predict.load_model`), or ``None`` without one.

    Only the run's own files are read (``config.json``, ``best.pt``): a run trained elsewhere, such as the course's
    reference run, loads without its training data.

    Example:
        >>> load_model("/no/such/run") is None
        True
    """
    if not (Path(run_dir) / "best.pt").is_file():
        return None
    from aulib.predict import load_model as load_network

    return load_network(run_dir, device=device)


# -- the explorer's state ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExplorerParams:
    """Everything one explorer view depends on (the widget's controls).

    Attributes:
        index: which face.
        au: which AU (a key of :data:`aulib.aus.AUS`).
        intensity: the target intensity, 0–5.
        extent: ``"growing"`` (σ grows with intensity) or ``"fixed"``.
        sigma_fixed: σ of the fixed extent, aligned-frame pixels.
        noise: standard deviation of the landmark noise, aligned-frame pixels.
        realign: re-align the face from the noisy landmarks (else only the centres move).
        overlay: draw the target map and the landmarks over the face.
    """

    index: int = 0
    au: int = 12
    intensity: float = 3.0
    extent: Literal["growing", "fixed"] = "growing"
    sigma_fixed: float = HeatmapConfig.sigma_fixed
    noise: float = 0.0
    realign: bool = True
    overlay: bool = True


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
    """The target design of a view: ``base`` (a model's, or the default) with the view's extent and fixed σ."""
    base = base or HeatmapConfig()
    # A model's config may disable the range check (its training labels are jittered); a view stays in 0–5.
    return replace(base, extent=params.extent, sigma_fixed=float(params.sigma_fixed), max_intensity=MAX_INTENSITY)


def centres_of(landmarks: np.ndarray, au: int) -> np.ndarray:
    """``(C, 2)`` centres of one AU from ``(L, 2)`` landmarks, via :func:`aulib.heatmaps.au_centres`."""
    centres, valid = au_centres(torch.as_tensor(np.asarray(landmarks, dtype=np.float64))[None], (au,))
    return centres[0, 0][valid[0]].numpy()


def upsample_map(heatmap: np.ndarray, size: int = FRAME_SIZE) -> np.ndarray:
    """Resample an ``(h, w)`` map onto the ``size`` frame (bilinear, with the frame's pixel convention)."""
    heatmap = np.asarray(heatmap, dtype=np.float32)
    return warp_affine(heatmap, invert_affine(scale_matrix(heatmap.shape[-1], size)), size)


def overlay_rgb(image: np.ndarray, heatmap: np.ndarray, vmax: float = MAX_INTENSITY, min_peak: float = 0.0,
                ) -> np.ndarray:
    """Blend a heatmap over a uint8 face: colour encodes the value (0–``vmax``), opacity its share of the peak.

    ``min_peak`` sets the smallest peak opacity is measured against: 0 shows any map at full strength (targets);
    1 keeps a network's near-flat map of, say, 0.1 everywhere faint instead of painting the whole face.

    Returns:
        ``(S, S, 3)`` float RGB in [0, 1]; equal to ``image / 255`` where the map is zero.
    """
    face = image.astype(np.float64) / 255.0
    values = upsample_map(heatmap, image.shape[0]).astype(np.float64)
    peak = values.max()
    if peak <= 0:
        return face
    colours = mpl.colormaps[HEATMAP_CMAP](np.clip(values / vmax, 0, 1))[..., :3]
    # Opacity relative to the peak, so a faint intensity-1 Gaussian stays visible; colour still says how high.
    alpha = 0.75 * np.clip(values / max(peak, min_peak), 0, 1)[..., None]
    return (1 - alpha) * face + alpha * colours


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


def model_predictor(trainer: Any) -> Predictor:
    """Wrap a model as ``(image, landmarks) -> (readouts, maps)`` of one aligned face.

    ``trainer`` is what :func:`load_model` returns (:class:`aulib.predict.LoadedModel`, run exactly as
    ``aulib predict`` runs it) or a trained run (:func:`aulib.train.load_run`), whose face is resized to the model's
    input (:func:`aulib.augment.resize_batch`) and run through ``trainer.predict``. Maps come only from heatmap
    models.
    """
    from aulib.augment import resize_batch
    from aulib.predict import LoadedModel, run_network

    if isinstance(trainer, LoadedModel):
        def run_loaded(image: np.ndarray, landmarks: np.ndarray) -> tuple[dict[int, float], dict[int, np.ndarray]]:
            points = np.asarray(landmarks, dtype=np.float32)
            intensities, _, maps = run_network(trainer, [np.ascontiguousarray(image)], [points], None)
            readouts = {int(a): float(v) for a, v in zip(trainer.aus, intensities[0], strict=True)}
            return readouts, {int(a): m.numpy() for a, m in zip(trainer.aus, maps[0], strict=True)}

        return run_loaded

    def predict(image: np.ndarray, landmarks: np.ndarray) -> tuple[dict[int, float], dict[int, np.ndarray]]:
        device = getattr(trainer, "device", "cpu")
        images = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]
        points = torch.as_tensor(landmarks, dtype=torch.float32)[None]
        images, points = resize_batch(images.to(device), points.to(device), trainer.input_size)
        intensities, maps = trainer.predict(images, points)
        readouts = {int(a): float(v) for a, v in zip(trainer.aus, intensities[0].cpu(), strict=True)}
        if maps is None:
            return readouts, {}
        return readouts, {int(a): m.float().cpu().numpy() for a, m in zip(trainer.aus, maps[0], strict=True)}

    return predict


def explorer_arrays(
    faces: FaceSource,
    params: ExplorerParams,
    *,
    trainer: Any | None = None,
    heatmap: HeatmapConfig | None = None,
    seed: int = 0,
    predictor: Predictor | None = None,
) -> ExplorerState:
    """Compute every array one explorer view draws.

    Args:
        faces: where the faces come from (:func:`load_faces`).
        params: the view.
        trainer: a trained run (:func:`load_model`); its map and readouts are added.
        heatmap: the target design; defaults to the trainer's (so the target matches what it learnt) or
            :class:`aulib.heatmaps.HeatmapConfig`'s defaults. The view's extent and fixed σ override it.
        seed: seed of the landmark noise.
        predictor: precomputed :func:`model_predictor` (the widget passes a cached one).

    Returns:
        The view's :class:`ExplorerState`.

    Example:
        >>> state = explorer_arrays(SynthFaces(count=1), ExplorerParams(au=17, intensity=5.0, extent="fixed"))
        >>> state.sigma, len(state.centres)
        (8.0, 1)
    """
    aus = resolve_aus([params.au])
    if not 0 <= params.intensity <= MAX_INTENSITY:
        raise ValueError(f"intensity must be in [0, {MAX_INTENSITY:g}]; got {params.intensity}")
    if params.noise < 0:
        raise ValueError(f"noise must be >= 0; got {params.noise}")
    if heatmap is None and trainer is not None:
        heatmap = getattr(trainer, "heatmap", None)
        if isinstance(heatmap, dict):  # a loaded model carries its training run's options
            heatmap = HeatmapConfig.from_options(**heatmap)
    config = heatmap_config(params, heatmap)
    face = faces.face(params.index, {params.au: params.intensity})
    image, landmarks, exact = _perturbed(face, params, seed)

    intensity = torch.tensor([[float(params.intensity)]], dtype=torch.float64)
    target = render_targets(torch.as_tensor(landmarks)[None], intensity, aus, **asdict(config))[0, 0]
    readout = float(read_intensities(target[None, None])[0, 0])

    prediction, readouts = None, {}
    if predictor is None and trainer is not None:
        predictor = model_predictor(trainer)
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


# -- drawing -------------------------------------------------------------------------------------------


def _frame_axes(ax: Any, title: str) -> None:
    ax.set_xlim(FRAME_EXTENT[0], FRAME_EXTENT[1])
    ax.set_ylim(FRAME_EXTENT[2], FRAME_EXTENT[3])
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)


def _mark_centres(ax: Any, state: ExplorerState) -> None:
    moved = state.params.noise > 0
    if moved:
        ax.scatter(*state.exact_centres.T, marker="x", s=46, c="#4dd0e1", linewidths=1.6, label="exact centre")
    ax.scatter(*state.centres.T, marker="o", s=40, facecolors="none", edgecolors="#76ff03", linewidths=1.6,
               label="centre from noisy landmarks" if moved else "AU centre")


def draw_explorer(state: ExplorerState, figsize: tuple[float, float] | None = None) -> Figure:
    """Draw an :class:`ExplorerState`: face with centres | target map | model map | model readouts.

    Uses :class:`matplotlib.figure.Figure` directly (no pyplot), so nothing is shown or kept alive behind
    the caller's back; display it with :func:`figure_png` or save it with :func:`aulib.plots.save_figure`.
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
    _frame_axes(ax, f"{state.name}{label}\n{au_label(p.au)} {AUS[p.au].name}")
    if p.noise > 0:
        ax.legend(loc="lower center", fontsize=6, framealpha=0.7)

    ax = axes[1]
    ax.imshow(state.target, extent=FRAME_EXTENT, cmap=HEATMAP_CMAP, vmin=0, vmax=MAX_INTENSITY, interpolation="nearest")
    _mark_centres(ax, state)
    extent = "growing" if p.extent == "growing" else "fixed"
    _frame_axes(ax, f"target: I = {p.intensity:g}, {extent} σ = {state.sigma:.1f} px\n"
                    f"max = {state.target.max():.2f}, readout {state.target_readout:.2f}")

    if has_model:
        ax = axes[2]
        if state.prediction is not None:
            ax.imshow(state.prediction, extent=FRAME_EXTENT, cmap=HEATMAP_CMAP, vmin=0, vmax=MAX_INTENSITY,
                      interpolation="nearest")
            _mark_centres(ax, state)
            title = f"prediction: readout {state.readouts.get(p.au, float('nan')):.2f}\n(max clamped to [0, 5])"
        else:
            title = f"the model has no {au_label(p.au)} map"
        _frame_axes(ax, title)

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
    trainer: Any | None = None,
    heatmap: HeatmapConfig | None = None,
    seed: int = 0,
) -> Figure:
    """Parameters → Figure: :func:`explorer_arrays` then :func:`draw_explorer` (the static explorer figure)."""
    return draw_explorer(explorer_arrays(faces, params or ExplorerParams(), trainer=trainer, heatmap=heatmap,
                                         seed=seed))


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

    from aulib.plots import save_figure

    saved = save_figure(figure, path, dpi=dpi) if path is not None else None
    display(Image(data=figure_png(figure, dpi=dpi)))
    return saved


# -- the widget ----------------------------------------------------------------------------------------


class HeatmapExplorer:
    """ipywidgets explorer of the heatmap targets of one face at a time.

    Controls (``self.controls``, keyed by the :class:`ExplorerParams` field they set): ``index`` (face),
    ``au``, ``intensity`` (0–5), ``extent`` (growing / fixed), ``sigma_fixed`` (σ of the fixed extent),
    ``noise`` (landmark noise σ, px), ``realign`` and ``overlay``. Each change redraws the figure into
    ``self.output`` as a PNG image; :attr:`state` and :attr:`png` hold what is shown.

    Displaying the explorer shows the live widget in Jupyter and, in outputs saved without a widget
    manager (papermill, nbconvert, GitHub), the first render as a static PNG.

    Args:
        faces: face source (:func:`load_faces`).
        trainer: a trained run (:func:`load_model`), or ``None`` to show targets only.
        aus: AUs offered; the trainer's, else BP4D's five.
        params: the initial view.
        heatmap: target design (see :func:`explorer_arrays`).
        seed: seed of the landmark noise.
        dpi: resolution of the PNG.

    Example:
        >>> explorer = HeatmapExplorer(SynthFaces(count=2), params=ExplorerParams(intensity=2.0))
        >>> explorer.controls["intensity"].value = 4.0
        >>> round(float(explorer.state.target.max()), 6)
        4.0
    """

    def __init__(
        self,
        faces: FaceSource,
        trainer: Any | None = None,
        *,
        aus: Sequence[int] | None = None,
        params: ExplorerParams | None = None,
        heatmap: HeatmapConfig | None = None,
        seed: int = 0,
        dpi: int = 80,
    ) -> None:
        import ipywidgets as widgets

        self.faces, self.trainer, self.heatmap, self.seed, self.dpi = faces, trainer, heatmap, seed, dpi
        self.aus = resolve_aus(aus if aus is not None else getattr(trainer, "aus", BP4D_AUS))
        params = params or ExplorerParams(au=self.aus[0])
        if params.au not in self.aus:
            params = replace(params, au=self.aus[0])
        predict = model_predictor(trainer) if trainer is not None else None
        # The model's output depends only on the face as drawn: cache it across target-only changes.
        self._predictor = None if predict is None else _cached_predictor(predict)

        slow = {"continuous_update": False}  # a redraw takes ~0.1–0.3 s: redraw on release, not on every step
        style = {"description_width": "initial"}
        self.controls: dict[str, widgets.ValueWidget] = {
            "index": widgets.IntSlider(value=params.index, min=0, max=len(faces) - 1, description="face",
                                       style=style, **slow),
            "au": widgets.Dropdown(options=[(f"{au_label(a)} {AUS[a].name}", a) for a in self.aus],
                                   value=params.au, description="AU", style=style),
            "intensity": widgets.FloatSlider(value=params.intensity, min=0.0, max=MAX_INTENSITY, step=0.5,
                                             description="intensity", style=style, **slow),
            "extent": widgets.ToggleButtons(options=[("growing σ", "growing"), ("fixed σ", "fixed")],
                                            value=params.extent, description="extent", style=style),
            "sigma_fixed": widgets.FloatSlider(value=params.sigma_fixed, min=2.0, max=20.0, step=1.0,
                                               description="fixed σ (px)", style=style,
                                               disabled=params.extent != "fixed", **slow),
            "noise": widgets.FloatSlider(value=params.noise, min=0.0, max=20.0, step=1.0,
                                         description="landmark noise σ (px)", style=style, **slow),
            "realign": widgets.Checkbox(value=params.realign, description="re-align from noisy landmarks",
                                        indent=False),
            "overlay": widgets.Checkbox(value=params.overlay, description="overlay", indent=False),
        }
        self.output = widgets.Output()
        self.status = widgets.HTML()
        c = self.controls
        self.widget = widgets.VBox([
            widgets.HBox([c["index"], c["au"], c["intensity"]]),
            widgets.HBox([c["extent"], c["sigma_fixed"]]),
            widgets.HBox([c["noise"], c["realign"], c["overlay"]]),
            self.status,
            self.output,
        ])
        self.state: ExplorerState | None = None
        self.png: bytes = b""
        self.renders = 0
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.render()

    @property
    def params(self) -> ExplorerParams:
        """The view the controls describe."""
        return ExplorerParams(**{f.name: self.controls[f.name].value for f in fields(ExplorerParams)})

    def _on_change(self, change: dict) -> None:
        self.controls["sigma_fixed"].disabled = self.controls["extent"].value != "fixed"
        self.render()

    def render(self) -> ExplorerState:
        """Recompute and redraw the current view; returns its state."""
        state = explorer_arrays(self.faces, self.params, trainer=self.trainer, heatmap=self.heatmap,
                                seed=self.seed, predictor=self._predictor)
        self.png = figure_png(draw_explorer(state), dpi=self.dpi)
        self.state = state
        self.renders += 1
        readout = f"; model readout <b>{state.readouts[state.params.au]:.2f}</b>" if state.params.au in state.readouts \
            else ""
        self.status.value = (f"target maximum <b>{state.target.max():.2f}</b>, σ = {state.sigma:.1f} px"
                             f"{readout}")
        # Replace the Output's contents through its synced state rather than `with self.output:` capture: it
        # works the same from a callback, at construction, outside a kernel (tests) and under papermill.
        self.output.outputs = ({
            "output_type": "display_data",
            "data": {"image/png": base64.b64encode(self.png).decode("ascii"), "text/plain": "<explorer figure>"},
            "metadata": {},
        },)
        return state

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        # The widget for live frontends, plus the current render as a PNG: frontends without a widget
        # manager (papermill's saved notebook, nbconvert, GitHub) fall back to the image.
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle = dict(bundle) if bundle else {}
        bundle["image/png"] = base64.b64encode(self.png).decode("ascii")
        return bundle


def _cached_predictor(predict: Predictor) -> Predictor:
    cache: dict[tuple, tuple[dict[int, float], dict[int, np.ndarray]]] = {}

    def cached(image: np.ndarray, landmarks: np.ndarray) -> tuple[dict[int, float], dict[int, np.ndarray]]:
        # The model reads only the image (and the landmarks for a local readout); key on both.
        key = (hash(image.tobytes()), hash(np.asarray(landmarks).tobytes()))
        if key not in cache:
            if len(cache) > 64:
                cache.clear()
            cache[key] = predict(image, landmarks)
        return cache[key]

    return cached


# -- the notebook's figures ----------------------------------------------------------------------------


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


def au_table(aus: Sequence[int] = BP4D_AUS) -> pd.DataFrame:
    """The AUs' FACS names, muscles, visible changes and centres (from :data:`aulib.aus.AUS`)."""
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
    _frame_axes(ax, f"{face.name}: landmarks and AU centres")
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
        heatmap: target design (defaults of :class:`aulib.heatmaps.HeatmapConfig`).
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
            ax.set_title(f"I = {intensity:g}, σ = {float(sigmas[j]):.1f}", fontsize=7)
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
    figure.suptitle(f"{au_label(au)} {AUS[au].name}: the map's maximum is the intensity; the extent grows or not",
                    fontsize=9)
    return figure


def combine_maps(landmarks: np.ndarray, au: int = 4, intensity: float = 3.0,
                 heatmap: HeatmapConfig | None = None) -> dict[str, np.ndarray]:
    """One Gaussian per centre, and the two ways to combine them: ``{"centres": (C, h, w), "max", "sum"}``.

    The target is the maximum (:func:`aulib.heatmaps.render_targets`); the sum would exceed the intensity
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
    figure.suptitle(f"{au_label(au)} {AUS[au].name} at I = {intensity:g}: {len(singles)} centres", fontsize=9)
    return figure
