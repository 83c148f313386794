"""The interactive heatmap explorer: ipywidgets controls wired to :func:`aulib.course.explorer.explorer_arrays`.

Each control sets one field of :class:`~aulib.course.explorer.ExplorerParams`; each change redraws the view as a
PNG inside an ``ipywidgets.Output``. Outputs saved without a widget manager (papermill, nbconvert, a rendered book)
show the first view as a static PNG.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import fields, replace
from typing import Any

import numpy as np

from aulib.course.explorer import (
    ExplorerParams,
    ExplorerState,
    Predictor,
    draw_explorer,
    explorer_arrays,
    model_predictor,
)
from aulib.course.faces import FaceSource
from aulib.course.figures import figure_png
from aulib.inference.model import AUModel
from aulib.method.aus import AUS, BP4D_AUS, MAX_INTENSITY, au_label, resolve_aus
from aulib.method.heatmaps import HeatmapConfig


class HeatmapExplorer:
    """ipywidgets explorer of the heatmap targets of one face at a time.

    Controls (``self.controls``, keyed by the :class:`ExplorerParams` field they set): ``index`` (face),
    ``au``, ``intensity`` (0–5), ``extent`` (growing / fixed), ``sigma_fixed`` (σ of the fixed extent),
    ``noise`` (landmark noise σ, px), ``realign``, ``overlay`` and ``design`` (the model's maps or the paper's 64×64
    ones; shown only when the two differ). Each change redraws the figure into
    ``self.output`` as a PNG image; :attr:`state` and :attr:`png` hold what is shown.

    Displaying the explorer shows the live widget in Jupyter and, in outputs saved without a widget
    manager (papermill, nbconvert, GitHub), the first render as a static PNG.

    Args:
        faces: face source (:func:`load_faces`).
        model: a trained model (:func:`aulib.course.faces.load_trained_model`), or ``None`` to show targets only.
        aus: AUs offered; the model's, else BP4D's five.
        params: the initial view.
        heatmap: target design (see :func:`explorer_arrays`).
        seed: seed of the landmark noise.
        dpi: resolution of the PNG.

    Example:
        >>> from aulib.course.faces import SynthFaces
        >>> explorer = HeatmapExplorer(SynthFaces(count=2), params=ExplorerParams(intensity=2.0))
        >>> explorer.controls["intensity"].value = 4.0
        >>> round(float(explorer.state.target.max()), 6)
        4.0
    """

    def __init__(
        self,
        faces: FaceSource,
        model: AUModel | None = None,
        *,
        aus: Sequence[int] | None = None,
        params: ExplorerParams | None = None,
        heatmap: HeatmapConfig | None = None,
        seed: int = 0,
        dpi: int = 80,
    ) -> None:
        import ipywidgets as widgets

        self.faces, self.model, self.heatmap, self.seed, self.dpi = faces, model, heatmap, seed, dpi
        self.aus = resolve_aus(aus if aus is not None else getattr(model, "aus", BP4D_AUS))
        params = params or ExplorerParams(au=self.aus[0])
        if params.au not in self.aus:
            params = replace(params, au=self.aus[0])
        design = heatmap or (model.heatmap if model is not None else HeatmapConfig())
        sigma_fixed = design.sigma_fixed if params.sigma_fixed is None else float(params.sigma_fixed)
        predict = model_predictor(model) if model is not None else None
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
            # in frame pixels, from the design's own fixed σ (the live model's 21.3 is 2 of its 24×24 map's pixels)
            # to past its largest growing σ (32 for the live model, 12 for the paper's)
            "sigma_fixed": widgets.FloatSlider(value=sigma_fixed, min=2.0,
                                               max=max(20.0, float(np.ceil(design.sigma_max))), step=0.1,
                                               description="fixed σ (frame px)", style=style,
                                               disabled=params.extent != "fixed", **slow),
            "noise": widgets.FloatSlider(value=params.noise, min=0.0, max=20.0, step=1.0,
                                         description="landmark noise σ (px)", style=style, **slow),
            "realign": widgets.Checkbox(value=params.realign, description="re-align from noisy landmarks",
                                        indent=False),
            "overlay": widgets.Checkbox(value=params.overlay, description="overlay", indent=False),
            # the paper's 64×64 maps beside the model's own (the live model's 24×24): both keep σ at 1–3 map pixels
            "design": widgets.ToggleButtons(
                options=[(f"model's {design.size}×{design.size} maps", "model"), ("paper's 64×64 maps", "paper")],
                value=params.design, description="target design", style=style),
        }
        if design.size == HeatmapConfig().size:  # nothing to compare: the model draws the paper's maps
            self.controls["design"].layout.display = "none"
        self._design_sigma = {"model": design.sigma_fixed, "paper": HeatmapConfig().sigma_fixed}
        self.output = widgets.Output()
        self.status = widgets.HTML()
        c = self.controls
        self.widget = widgets.VBox([
            widgets.HBox([c["index"], c["au"], c["intensity"]]),
            widgets.HBox([c["design"]]),
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
        if change.get("owner") is self.controls["design"]:
            # each design has its own fixed σ (2 map pixels): setting it redraws once more, so let that redraw
            self.controls["sigma_fixed"].value = self._design_sigma[change["new"]]
            if self.state is not None and self.state.params == self.params:
                return
        self.render()

    def render(self) -> ExplorerState:
        """Recompute and redraw the current view; returns its state."""
        state = explorer_arrays(self.faces, self.params, model=self.model, heatmap=self.heatmap,
                                seed=self.seed, predictor=self._predictor)
        self.png = figure_png(draw_explorer(state), dpi=self.dpi)
        self.state = state
        self.renders += 1
        readout = f"; model readout <b>{state.readouts[state.params.au]:.2f}</b>" if state.params.au in state.readouts \
            else ""
        size = state.heatmap.size
        map_sigma = state.sigma * size / state.heatmap.frame_size
        self.status.value = (f"target maximum <b>{state.target.max():.2f}</b>, σ = {state.sigma:.1f} frame px "
                             f"= {map_sigma:.1f} px of the {size}×{size} map{readout}")
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
