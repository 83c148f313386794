"""The heatmap explorer, driven in pure Python: each control changes what is drawn as the target design says."""

from __future__ import annotations

import base64

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.transforms import Bbox

from aulib.course.explorer import ExplorerParams, explorer_arrays
from aulib.course.faces import PreparedFaces, SynthFaces, load_faces, load_trained_model
from aulib.course.targets import catalogue_table, centres_figure, combine_maps, extent_figure, extent_maps
from aulib.course.widget import HeatmapExplorer
from aulib.method.aus import AUS, BP4D_AUS, au_centres
from aulib.method.heatmaps import HeatmapConfig, heatmap_to_frame, read_peaks


@pytest.fixture(scope="module")
def faces() -> SynthFaces:
    return SynthFaces(count=3, seed=0)


@pytest.fixture
def explorer(faces) -> HeatmapExplorer:
    return HeatmapExplorer(faces, params=ExplorerParams(au=12, intensity=3.0))


def exact_centres(explorer: HeatmapExplorer) -> np.ndarray:
    """The AU's centres computed independently, by aulib.method.aus.au_centres on the face's landmarks."""
    p = explorer.params
    face = explorer.faces.face(p.index, {p.au: p.intensity})
    centres, valid = au_centres(torch.as_tensor(face.landmarks)[None], (p.au,))
    return centres[0, 0][valid[0]].numpy()


def peak_in_frame(target: np.ndarray) -> np.ndarray:
    _, peaks = read_peaks(torch.as_tensor(target)[None, None])
    return heatmap_to_frame(peaks, target.shape[-1])[0, 0].numpy()


def width_in_frame(target: np.ndarray, centre: np.ndarray) -> float:
    """RMS distance along x of the map's mass from the centre, in frame pixels (≈ σ for a Gaussian)."""
    scale = target.shape[-1] / 256
    xs = (np.arange(target.shape[-1]) - (0.5 * scale - 0.5)) / scale
    weights = target.sum(axis=0)
    return float(np.sqrt((weights * (xs - centre[0]) ** 2).sum() / weights.sum()))


def test_intensity_slider_sets_the_target_maximum_and_the_shown_image(explorer):
    images = {explorer.png}
    for value in (0.0, 1.5, 5.0):
        explorer.controls["intensity"].value = value
        assert explorer.params.intensity == value
        assert explorer.state.target.max() == pytest.approx(value)
        assert explorer.state.target_readout == pytest.approx(value)
        assert f"{value:.2f}" in explorer.status.value
        images.add(explorer.png)
        # The Output widget shows exactly the latest render.
        assert explorer.output.outputs[0]["data"]["image/png"] == base64.b64encode(explorer.png).decode()
    assert len(images) == 4


def test_au_dropdown_moves_the_peak_onto_that_aus_centre(explorer):
    scale = 256 / explorer.state.target.shape[-1]
    for au in BP4D_AUS:
        explorer.controls["au"].value = au
        expected = exact_centres(explorer)
        np.testing.assert_allclose(explorer.state.centres, expected, atol=1e-9)
        assert len(expected) == len(AUS[au].centres)
        distance = np.linalg.norm(expected - peak_in_frame(explorer.state.target), axis=-1).min()
        assert distance < scale / 2, f"AU{au}: peak {distance:.2f} frame px from its nearest centre"


@pytest.mark.parametrize("intensity", [1.0, 5.0])
def test_extent_toggle_sets_the_width_that_heatmapconfig_predicts(explorer, intensity):
    explorer.controls["au"].value = 17  # one centre: the map is a single Gaussian
    explorer.controls["intensity"].value = intensity
    widths = {}
    for extent in ("growing", "fixed"):
        explorer.controls["extent"].value = extent
        predicted = float(HeatmapConfig(extent=extent).sigma(torch.tensor(intensity)))
        assert explorer.state.sigma == pytest.approx(predicted)
        widths[extent] = width_in_frame(explorer.state.target, explorer.state.centres[0])
        # Truncation at 3σ and 4-pixel sampling bias the estimate by a few percent at most.
        assert widths[extent] == pytest.approx(predicted, rel=0.12)
    # Growing is narrower than fixed at low intensity and wider at high intensity.
    assert (widths["growing"] < widths["fixed"]) == (intensity < 2.5)


def test_fixed_sigma_slider_applies_only_to_the_fixed_extent(explorer):
    explorer.controls["extent"].value = "growing"
    assert explorer.controls["sigma_fixed"].disabled
    explorer.controls["extent"].value = "fixed"
    assert not explorer.controls["sigma_fixed"].disabled
    explorer.controls["sigma_fixed"].value = 14.0
    assert explorer.state.sigma == 14.0


def test_fixed_sigma_starts_at_the_designs_own(faces, explorer):
    # The paper's design: σ fixed at 8 frame pixels (2 of a 64×64 map); the slider reaches 20.
    assert explorer.controls["sigma_fixed"].value == 8.0 and explorer.controls["sigma_fixed"].max == 20.0
    # The live model's 24×24 maps: its own fixed σ, 21.3 frame pixels = 2.0 map pixels (21.3 · 24 / 256), and the
    # slider reaches its largest growing σ, 32 frame pixels (3 map pixels)
    from aulib.course.targets import live_heatmap_config

    live = HeatmapExplorer(faces, params=ExplorerParams(au=12, intensity=3.0, extent="fixed"),
                           heatmap=live_heatmap_config())
    assert live.controls["sigma_fixed"].value == pytest.approx(21.3) and live.controls["sigma_fixed"].max == 32.0
    assert live.state.sigma == pytest.approx(21.3)
    assert live.state.sigma * live.state.heatmap.size / 256 == pytest.approx(2.0, abs=0.01)


def test_the_design_toggle_shows_the_papers_maps_beside_the_live_models(faces, explorer):
    """Both scales the course teaches, in one explorer: the live model's 24×24 maps (σ 1–3 map pixels = 32/3–32
    frame pixels) and the paper's 64×64 ones (σ(I) = 4 + 8·I/5 frame pixels, fixed σ 8)."""
    from aulib.course.targets import live_heatmap_config

    assert explorer.controls["design"].layout.display == "none"  # the paper's design already: nothing to toggle
    live = HeatmapExplorer(faces, params=ExplorerParams(au=12, intensity=5.0), heatmap=live_heatmap_config())
    assert live.controls["design"].layout.display != "none"
    assert live.state.target.shape == (24, 24) and live.state.sigma == pytest.approx(32.0)
    live.controls["design"].value = "paper"
    assert live.state.target.shape == (64, 64) and live.state.sigma == pytest.approx(12.0)  # 4 + 8·5/5
    assert live.controls["sigma_fixed"].value == 8.0  # the paper's own fixed σ, 2 of its map pixels
    live.controls["extent"].value = "fixed"
    assert live.state.sigma == 8.0 and live.state.params.design == "paper"
    renders = live.renders
    live.controls["design"].value = "model"  # back: the live design's own fixed σ, one redraw
    assert live.state.sigma == pytest.approx(21.3) and live.state.target.shape == (24, 24)  # 2 map px: 21.3·24/256
    assert live.renders == renders + 1
    with pytest.raises(ValueError, match="design must be 'model' or 'paper'; got 'poster'"):
        explorer_arrays(faces, ExplorerParams(design="poster"))


def test_noise_moves_the_centres_and_zero_noise_keeps_them_exact(explorer):
    explorer.controls["au"].value = 12
    assert explorer.params.noise == 0
    np.testing.assert_allclose(explorer.state.centres, exact_centres(explorer), atol=1e-9)
    np.testing.assert_array_equal(explorer.state.centres, explorer.state.exact_centres)
    clean_face = explorer.state.face.copy()

    explorer.controls["noise"].value = 6.0
    moved = np.linalg.norm(explorer.state.centres - explorer.state.exact_centres, axis=-1)
    assert (moved > 0.5).all()
    assert not np.array_equal(explorer.state.face, clean_face)  # re-aligned from the noisy landmarks
    scale = 256 / explorer.state.target.shape[-1]
    # The target follows the noisy centres, not the exact ones.
    assert np.linalg.norm(explorer.state.centres - peak_in_frame(explorer.state.target), axis=-1).min() < scale / 2

    explorer.controls["realign"].value = False
    np.testing.assert_array_equal(explorer.state.face, clean_face)  # only the centres move
    np.testing.assert_allclose(explorer.state.exact_centres, exact_centres(explorer), atol=1e-9)
    assert (np.linalg.norm(explorer.state.centres - explorer.state.exact_centres, axis=-1) > 0.5).all()

    explorer.controls["noise"].value = 0.0
    np.testing.assert_array_equal(explorer.state.centres, explorer.state.exact_centres)


def test_overlay_toggles_the_heatmap_over_the_face(explorer):
    plain = explorer.state.face.astype(np.float64) / 255
    assert explorer.params.overlay and not np.allclose(explorer.state.face_panel, plain)
    shown = explorer.png
    explorer.controls["overlay"].value = False
    np.testing.assert_allclose(explorer.state.face_panel, plain)
    assert explorer.png != shown


def test_face_slider_changes_the_face_and_synthau_shows_the_intensity(explorer):
    first = explorer.state.face
    explorer.controls["index"].value = 1
    assert explorer.state.name == "SynthAU S002" and not np.array_equal(first, explorer.state.face)
    smile = explorer.state.face
    explorer.controls["intensity"].value = 0.0
    assert not np.array_equal(smile, explorer.state.face)  # the rendered face relaxes with the slider


def test_displaying_carries_a_static_png_for_headless_outputs(explorer):
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"]) == explorer.png


def test_missing_data_and_run_fall_back_to_synthau_and_targets_only(tmp_path, monkeypatch):
    assert load_faces(tmp_path / "none", count=2, renderer="2d").config.renderer == "2d"
    assert load_trained_model(tmp_path / "none") is None
    with pytest.raises(ValueError, match="'4d'"):
        load_faces(tmp_path / "none", renderer="4d")

    # Without OpenGL, the course's SynthAU-3D people give way to SynthAU v2's, and the warning says why.
    from aulib.data.face3d import render

    def no_gl():
        raise RuntimeError("SynthAU-3D cannot create an OpenGL context (test); apt-get install libegl1")

    monkeypatch.setattr(render, "gl_context", no_gl)
    with pytest.warns(UserWarning, match="SynthAU v2's faces instead.*libegl1"):
        faces = load_faces(tmp_path / "none", count=2)
    assert isinstance(faces, SynthFaces) and faces.config.renderer == "2d"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from aulib.data.prepare import prepare
    from aulib.data.synthau import generate
    from aulib.training.config import TrainConfig
    from aulib.training.trainer import train

    root = tmp_path_factory.mktemp("viz")
    generate(root / "synth", subjects=4, frames=8, seed=3, progress=False, workers=1)
    prepare("synthau", root / "synth", root / "prepared", progress=False)
    config = TrainConfig.from_profile("smoke", data=str(root / "prepared"), out=str(root / "run"), epochs=1,
                                      batch_size=4, max_steps=1, device="cpu")
    train(config, progress=False)
    return root


def test_prepared_faces_and_a_trained_model_add_the_prediction_and_readout(tiny_run):
    faces = PreparedFaces(tiny_run / "prepared", split="test", count=3)
    assert len(faces) == 3
    model = load_trained_model(tiny_run / "run", device="cpu")
    explorer = HeatmapExplorer(faces, model)
    state = explorer.state
    assert set(state.readouts) == set(model.aus) and state.label is not None
    # The target uses the model's design (its heatmap size and σ range), so the two maps compare directly.
    assert state.prediction.shape == state.target.shape == (model.heatmap.size,) * 2
    assert state.heatmap.sigma_min == model.heatmap.sigma_min == 10.7
    assert state.readouts[state.params.au] == pytest.approx(float(np.clip(state.prediction.max(), 0, 5)), abs=1e-5)
    assert len(explorer.output.outputs) == 1
    # A real photo cannot change expression: intensity only changes the target, and the prediction is cached.
    face, prediction = state.face, state.prediction
    explorer.controls["intensity"].value = 5.0
    np.testing.assert_array_equal(explorer.state.face, face)
    assert explorer.state.prediction is prediction and explorer.state.target.max() == pytest.approx(5.0)


def test_a_prepared_synthau_set_is_rendered_live_so_the_slider_changes_the_expression(tiny_run):
    from aulib.data.dataset import PreparedDataset

    faces = load_faces(tiny_run / "prepared", split="test", count=3)
    assert isinstance(faces, SynthFaces)
    tested = PreparedDataset(tiny_run / "prepared", split="test").subjects
    assert [faces.face(i, {}).name.removeprefix("SynthAU ") for i in range(len(faces))] == tested
    assert faces.config.seed == 3  # the set's own people, from its synthau.json
    explorer = HeatmapExplorer(faces, load_trained_model(tiny_run / "run", device="cpu"),
                               params=ExplorerParams(au=12, intensity=0.0))
    neutral, readout = explorer.state.face, explorer.state.readouts[12]
    explorer.controls["intensity"].value = 5.0
    # The face is re-rendered with the smile, and the model's answer is for that new face.
    assert np.abs(explorer.state.face.astype(int) - neutral).sum() > 1000
    assert explorer.state.readouts[12] != readout
    # Without the generated folder (only the prepared copy), the explorer shows the prepared frames instead.
    (tiny_run / "synth").rename(tiny_run / "synth-away")
    try:
        assert isinstance(load_faces(tiny_run / "prepared", split="test", count=3), PreparedFaces)
    finally:
        (tiny_run / "synth-away").rename(tiny_run / "synth")


def test_notebook_figures_and_their_arrays(faces):
    face = faces.face(0, {})
    maps = extent_maps(face.landmarks, 17, (0, 2, 5))
    for extent in ("growing", "fixed"):
        np.testing.assert_allclose(maps[extent].max(axis=(1, 2)), [0, 2, 5], atol=1e-9)
    combined = combine_maps(face.landmarks, au=4, intensity=3.0)
    assert combined["centres"].shape[0] == 3
    assert combined["max"].max() == pytest.approx(3.0) and combined["sum"].max() > 3.5  # overlapping centres
    np.testing.assert_allclose(combined["max"], combined["centres"].max(axis=0), atol=1e-9)
    assert list(catalogue_table().index) == ["AU06", "AU10", "AU12", "AU14", "AU17"]
    assert len(centres_figure(face).axes) >= 1 and len(extent_figure(face).axes) == 14
    with pytest.raises(ValueError, match="intensity"):
        explorer_arrays(faces, ExplorerParams(intensity=6.0))
    # the figures name their σ's unit and map size: σ(I) = 4 + 8·I/5 frame pixels, so 5.6 at I = 1, 8.8 at I = 3
    titles = [ax.get_title() for ax in extent_figure(face, intensities=(0, 1)).axes]
    assert "I = 1, σ = 5.6 px" in titles and "I = 1, σ = 8.0 px" in titles  # growing, then fixed (8)
    from aulib.course.targets import combine_figure
    assert "(64×64 map, growing σ = 8.8 px of the 256-pixel aligned face)" in combine_figure(face)._suptitle.get_text()


def test_the_live_design_is_the_one_the_reference_run_was_trained_with(faces):
    """Notebook 02's "two scales" shows the live model's maps: the size and σ the reference Hourglass (the same
    smoke recipe, trained by `make weights`) recorded and was built with, 1-3 map pixels as on the paper's maps."""
    import json

    from aulib.course.reference import reference_model
    from aulib.course.targets import live_heatmap_config, scales_figure
    from aulib.inference.model import AUModel

    run = reference_model()
    recorded = json.loads((run / "config.json").read_text())["heatmap"]
    live = live_heatmap_config()
    assert (live.sigma_min, live.sigma_max, live.sigma_fixed) == (recorded["sigma_min"], recorded["sigma_max"],
                                                                  recorded["sigma_fixed"])
    assert live.size == AUModel.from_run(run, device="cpu").heatmap.size == 24
    # 1 and 3 map pixels of a 24-pixel map over the 256 frame: 10.67 and 32 frame pixels (10.7 as recorded)
    assert live.sigma_min * 24 / 256 == pytest.approx(1.0, abs=0.01) and live.sigma_max * 24 / 256 == 3.0
    figure = scales_figure(faces.face(0, {}))
    titles = [ax.get_title() for ax in figure.axes]
    assert any("64×64" in t and "= 2.2 map px" in t for t in titles)  # I = 3: σ = 8.8 frame px on 64×64 maps
    assert any("24×24" in t and "= 2.2 map px" in t for t in titles)  # and 23.5 frame px on 24×24 maps


def test_the_hourglass_diagram_is_measured_from_the_network():
    from aulib.course.network_figures import hourglass_figure, hourglass_shapes
    from aulib.models import create_model

    # The paper's network: the authors' 3,416,197 parameters, 64×64 maps from a 256 input, four levels halving.
    rows = {r["part"]: r for r in hourglass_shapes(create_model("paper"))}
    assert sum(r["parameters"] for r in rows.values()) == 3_416_197
    assert [rows[f"level {k}"]["size"] for k in (4, 3, 2, 1)] == [64, 32, 16, 8]
    assert (rows["maps"]["size"], rows["maps"]["channels"], rows["stem"]["channels"]) == (64, 5, 256)
    # The live model: 96-pixel input, 24×24 maps, three levels.
    tiny = create_model("tiny")
    rows = {r["part"]: r for r in hourglass_shapes(tiny)}
    assert [rows[f"level {k}"]["size"] for k in (3, 2, 1)] == [24, 12, 6] and rows["maps"]["size"] == 24
    ax = hourglass_figure(tiny).axes[0]
    assert any("level 1\n6×6×64\n(bottom 3×3)" in t.get_text() for t in ax.texts)
    assert "299,269 parameters" in ax.get_title()


def test_the_comparison_dots_are_the_seeds_and_the_bars_their_sample_sd():
    from aulib.course.network_figures import comparison_dots_figure

    long = pd.DataFrame({"run": ["a"] * 3 + ["b"] * 3, "seed": [0, 1, 2] * 2, "AU": "Mean",
                         "ICC": [0.80, 0.82, 0.84, 0.90, 0.90, 0.93]})
    ax = comparison_dots_figure(long, {"b": "run B", "a": "run A"}, floor=("ridge", 0.5)).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["run B", "run A"]  # the descriptions' order
    dots = np.concatenate([c.get_offsets() for c in ax.collections if len(c.get_offsets()) == 3])
    np.testing.assert_allclose(sorted(dots[:, 0]), sorted(long.ICC))
    # run A: mean 0.82, sample sd 0.02 by hand; its bar spans 0.80 to 0.84 at y = 1
    bars = [seg for c in ax.collections if hasattr(c, "get_segments") for seg in c.get_segments()]
    assert any(np.allclose(seg, [[0.80, 1], [0.84, 1]]) for seg in bars)
    assert "ridge: 0.500 (below this axis)" in ax.get_title()


def test_the_cost_figure_puts_each_network_at_its_cost_with_its_seed_spread():
    from aulib.course.network_figures import cost_figure

    costs = pd.DataFrame({"parameters": [299_269, 784_005], "GFLOP per image": [0.45, 1.13],
                          "mean ICC": [0.88, 0.90], "ICC sd": [0.004, 0.01]}, index=["tiny", "small"])
    left, right = cost_figure(costs).axes
    np.testing.assert_allclose(left.collections[0].get_offsets(), [[0.299269, 0.88], [0.784005, 0.90]])
    np.testing.assert_allclose(right.collections[0].get_offsets(), [[0.45, 0.88], [1.13, 0.90]])
    bars = [seg for c in right.collections if hasattr(c, "get_segments") for seg in c.get_segments()]
    assert any(np.allclose(seg, [[1.13, 0.89], [1.13, 0.91]]) for seg in bars)
    assert {t.get_text() for t in left.texts} == {"tiny", "small"}


def test_the_cost_figure_keeps_labels_off_the_neighbours_bars_and_inside_the_panel():
    # The small Hourglass's label, put right of its dot as before, ran across the per-AU Hourglasses' error bar.
    from aulib.course.network_figures import cost_figure

    costs = pd.DataFrame({"parameters": [1.0e6, 1.3e6, 9.0e6], "GFLOP per image": [1.0, 1.3, 9.0],
                          "mean ICC": [0.900, 0.900, 0.880], "ICC sd": [0.0, 0.001, 0.0]},
                         index=["a network with a long label", "neighbour", "far right"])
    figure = cost_figure(costs)
    renderer = figure.canvas.get_renderer()
    for ax in figure.axes:
        assert sorted(t.get_text() for t in ax.texts) == sorted(costs.index)  # one label each, no trial left over
        labels = {t.get_text(): t.get_window_extent(renderer) for t in ax.texts}
        # the neighbour's bar by hand: x = 1.3 (millions or GFLOP), from 0.899 to 0.901
        (x0, y0), (x1, y1) = ax.transData.transform([[1.3, 0.899], [1.3, 0.901]])
        assert not labels["a network with a long label"].overlaps(Bbox.from_extents(x0 - 1, y0, x1 + 1, y1))
        for box in labels.values():
            assert ax.bbox.x0 <= box.x0 and box.x1 <= ax.bbox.x1  # "far right" goes left of its dot
        assert not any(a.overlaps(b) for i, a in enumerate(labels.values()) for b in list(labels.values())[i + 1:])
    # a network trained here with one seed has no spread (NaN): no bar, still a label (notebook 04 off SynthAU)
    costs.loc["neighbour", "ICC sd"] = float("nan")
    assert sorted(t.get_text() for t in cost_figure(costs).axes[0].texts) == sorted(costs.index)


def test_the_cost_figure_centres_a_label_hemmed_in_by_the_panel_edge_and_a_neighbours_bar():
    # notebook 04's left panel (2026-12-05): the small Hourglass, 0.78 M parameters, between the panel's left edge
    # (past the tiny Hourglass at 0.30 M) and the per-AU Hourglasses' long bar at 1.5 M, at about its score; its label
    # fits neither right nor left of the dot, and ran across that bar.
    from aulib.course.network_figures import cost_figure

    costs = pd.DataFrame({"parameters": [299_269, 301_000, 784_005, 1_496_345, 11_177_541],
                          "GFLOP per image": [0.45, 0.45, 1.13, 2.26, 1.14],
                          "mean ICC": [0.8797, 0.8792, 0.9029, 0.9033, 0.8968],
                          "ICC sd": [0.0041, 0.0073, 0.0005, 0.0037, 0.0131]},
                         index=["Hourglass: one net, all AUs", "Hourglass, regression head (RQ2)",
                                "Hourglass, small size (RQ1)", "per-AU Hourglasses (RQ4)",
                                "ResNet-18 regression (RQ2)"])
    figure = cost_figure(costs)
    renderer = figure.canvas.get_renderer()
    left = figure.axes[0]
    labels = {t.get_text(): t.get_window_extent(renderer) for t in left.texts}
    # the per-AU bar by hand: x = 1.496345 million parameters, 0.9033 ± 0.0037
    (x0, y0), (x1, y1) = left.transData.transform([[1.496345, 0.9033 - 0.0037], [1.496345, 0.9033 + 0.0037]])
    small = labels["Hourglass, small size (RQ1)"]
    assert not small.overlaps(Bbox.from_extents(x0 - 1, y0, x1 + 1, y1))
    assert left.bbox.x0 <= small.x0 and small.x1 <= left.bbox.x1 and small.y1 <= left.bbox.y1
    assert not any(a.overlaps(b) for i, a in enumerate(labels.values()) for b in list(labels.values())[i + 1:])


def test_the_paired_figure_draws_each_seeds_interval_coloured_by_its_verdict():
    from aulib.course.network_figures import VERDICT_COLOURS, paired_figure

    paired = pd.DataFrame({"run": ["a", "a", "b", "b", "ridge on landmarks", "ridge on landmarks"], "seed": [0, 1] * 3,
                           "difference": [0.02, -0.01, 0.001, 0.003, -0.23, -0.22],
                           "low": [0.01, -0.02, -0.004, -0.002, -0.26, -0.25],
                           "high": [0.03, -0.001, 0.006, 0.008, -0.19, -0.18],
                           "verdict": ["better", "worse", "level", "level", "worse", "worse"]})
    figure = paired_figure(paired, {"b": "run B", "a": "run A"})
    (ax,) = figure.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["run B", "run A"]  # the descriptions' order
    assert "ridge on landmarks: -0.230 to -0.220 (off this axis)" in ax.get_title()
    lines = [c for c in ax.containers]  # one errorbar per run and seed drawn: ridge is not
    assert len(lines) == 4
    # run A, seed 0 (row 1, the first of two seeds: 0.1 above the row): its dot and its interval 0.01–0.03
    first_of_a = lines[2]
    np.testing.assert_allclose(first_of_a.lines[0].get_xydata(), [[0.02, 0.9]])
    (bar,) = first_of_a.lines[2]
    np.testing.assert_allclose(bar.get_segments()[0], [[0.01, 0.9], [0.03, 0.9]])
    colours = [matplotlib.colors.to_hex(c.lines[0].get_color()) for c in lines]
    assert colours == [VERDICT_COLOURS[v] for v in ("level", "level", "better", "worse")]


def robustness_rows(model: str, icc: list[float], seed: int | None = None) -> pd.DataFrame:
    """A robustness table's Mean rows (σ 0 and 39 px, an IOD of 78 px), with one AU row that mirrors them."""
    rows = [{"model": model, "sigma": sigma, "unit": "px", "sigma_iod": sigma / 78, "AU": au, "ICC": value}
            for sigma, value in zip((0.0, 39.0), icc, strict=True) for au in ("Mean", "AU12")]
    return pd.DataFrame(rows).assign(seed=seed) if seed is not None else pd.DataFrame(rows)


def test_the_robustness_figure_draws_each_questions_runs_beside_the_hourglass():
    from aulib.course.figures import robustness_figure

    table = pd.concat([
        robustness_rows("hourglass", [0.70, 0.30]),  # the live run
        robustness_rows("reference hourglass", [0.88, 0.28]),  # drawn once, as its three seeds
        *[robustness_rows("hourglass (reference, 3 seeds)", [0.86 + 0.02 * k, 0.26 + 0.02 * k], k) for k in range(3)],
        *[robustness_rows("per-au (reference, 3 seeds)", [0.90, 0.20 + 0.1 * k], k) for k in range(3)],
        robustness_rows("resnet18 (reference, 1 seed)", [0.89, 0.19], 0),
        robustness_rows("mystery", [0.5, 0.1]),
    ], ignore_index=True)
    figure = robustness_figure(table, detail_model="reference hourglass", live_models=["hourglass"])
    panels = {ax.get_title(): ax for ax in figure.axes if ax.get_visible() and ax.get_title()}
    # RQ5 has no run here: no empty panel; a run of no question gets its own; the per-AU panel comes last
    assert list(panels) == ["RQ1, RQ4: a bigger network, one network per AU", "RQ2: direct regression", "other runs",
                            "Per AU: reference hourglass"]
    expected = {"RQ1, RQ4: a bigger network, one network per AU": "per-au (reference, 3 seeds)",
                "RQ2: direct regression": "resnet18 (reference, 1 seed)", "other runs": "mystery"}
    for title, run in expected.items():
        lines = {line.get_label(): line for line in panels[title].lines}
        assert list(lines) == ["your live run: hourglass", "hourglass (reference, 3 seeds)", run]
        np.testing.assert_allclose(lines["your live run: hourglass"].get_xydata(), [[0, 0.70], [0.5, 0.30]])
        # the seeds' mean by hand: (0.86 + 0.88 + 0.90) / 3 and (0.26 + 0.28 + 0.30) / 3
        np.testing.assert_allclose(lines["hourglass (reference, 3 seeds)"].get_xydata(), [[0, 0.88], [0.5, 0.28]])
        assert lines["your live run: hourglass"].get_color() == "black"
    np.testing.assert_allclose(panels["RQ1, RQ4: a bigger network, one network per AU"].lines[2].get_xydata(),
                               [[0, 0.90], [0.5, 0.30]])
    # one ICC scale across the questions' panels
    assert len({panels[title].get_ylim() for title in expected}) == 1
    per_au = panels["Per AU: reference hourglass"]
    assert [t.get_text() for t in per_au.get_legend().get_texts()] == ["AU12"]
    # a live per-AU run shares its reference's colour, drawn thicker; more runs than colours still draw (notebook 05
    # with every baseline trained live beside the seven reference runs)
    crowded = pd.concat([table, robustness_rows("per-au", [0.8, 0.3]),
                         *[robustness_rows(f"extra {k}", [0.5, 0.2]) for k in range(12)]], ignore_index=True)
    first = robustness_figure(crowded, live_models=["hourglass", "per-au"]).axes[0]
    lines = {line.get_label(): line for line in first.lines}
    assert lines["your live run: per-au"].get_color() == lines["per-au (reference, 3 seeds)"].get_color()
    assert lines["your live run: per-au"].get_linewidth() > lines["per-au (reference, 3 seeds)"].get_linewidth()


def test_the_data_size_figure_draws_each_seed_and_its_paired_interval():
    from aulib.course.network_figures import data_size_figure

    paired = pd.DataFrame({"train_subjects": [10, 102], "seed": [0, 0], "hourglass_icc": [0.70, 0.888],
                           "pooled_icc": [0.60, 0.883], "difference": [-0.10, -0.005], "low": [-0.15, -0.016],
                           "high": [-0.04, 0.004]})
    left, right = data_size_figure(paired).axes
    dots = [c.get_offsets() for c in left.collections]
    np.testing.assert_allclose(dots[0], [[10, 0.70], [102, 0.888]])  # the Hourglass, one seed: no offset
    np.testing.assert_allclose(dots[1], [[10, 0.60], [102, 0.883]])
    # the interval bars by hand: from low to high at each size
    bars = [seg for c in right.collections if hasattr(c, "get_segments") for seg in c.get_segments()]
    assert any(np.allclose(seg, [[10, -0.15], [10, -0.04]]) for seg in bars)
    assert any(np.allclose(seg, [[102, -0.016], [102, 0.004]]) for seg in bars)
    assert [t.get_text() for t in right.get_xticklabels()] == ["10", "102"]
    assert left.figure._suptitle.get_text().endswith("; seed 0")


def test_the_data_size_figure_draws_geometry_alone_where_it_was_measured():
    from aulib.course.network_figures import data_size_figure

    paired = pd.DataFrame({"train_subjects": [10, 10, 102], "seed": [0, 1, 0], "hourglass_icc": [0.70, 0.72, 0.888],
                           "pooled_icc": [0.60, 0.62, 0.883], "difference": [-0.10, -0.1, -0.005],
                           "low": [-0.15, -0.15, -0.016], "high": [-0.04, -0.04, 0.004],
                           "ridge_icc": [0.54, 0.54, 0.636]})
    left = data_size_figure(paired).axes[0]
    (ridge,) = [line for line in left.lines if line.get_label().startswith("ridge")]
    np.testing.assert_allclose(ridge.get_xydata(), [[10, 0.54], [102, 0.636]])  # one point per size
    assert "ridge on the same people's landmarks (no pixels)" in [t.get_text() for t in left.get_legend().texts]
