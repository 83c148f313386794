"""Heatmap targets and readout, checked against hand-computed Gaussians."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from aulib.method.align import frame_scale
from aulib.method.aus import BP4D_AUS, au_centres
from aulib.method.heatmaps import (
    HeatmapConfig,
    HeatmapRenderer,
    heatmap_to_frame,
    localisation_error,
    read_intensities,
    read_peaks,
    render_gaussians,
    render_targets,
)

AU12 = BP4D_AUS.index(12)  # centres on landmarks 48 and 54


def face_with_lip_corners(face68: np.ndarray, left_hm: tuple[float, float], right_hm: tuple[float, float]):
    """The mean face with the lip corners (AU12's centres) moved to the given heatmap-pixel positions."""
    scale, offset = frame_scale(64)
    face = face68.copy()
    face[48] = (np.array(left_hm) - offset) / scale
    face[54] = (np.array(right_hm) - offset) / scale
    return torch.tensor(face)[None]


def only_au12(value: float, dtype=torch.float64) -> torch.Tensor:
    intensities = torch.zeros(1, 5, dtype=dtype)
    intensities[0, AU12] = value
    return intensities


def hand_gaussian(centre: tuple[float, float], amplitude: float, sigma: float, size: int = 64,
                  truncate: float = 3.0) -> np.ndarray:
    """The documented target written out pixel by pixel, with plain Python floats."""
    cx, cy = centre
    nearest = (cx - round(cx)) ** 2 + (cy - round(cy)) ** 2
    out = np.zeros((size, size))
    for y in range(size):
        for x in range(size):
            d2 = (x - cx) ** 2 + (y - cy) ** 2
            if d2 <= (truncate * sigma) ** 2:
                out[y, x] = amplitude * math.exp(-(d2 - nearest) / (2 * sigma**2))
    return out


@pytest.mark.parametrize("centre", [(20.0, 30.0), (20.3, 30.8), (41.5001, 12.25)])
def test_target_equals_the_hand_computed_gaussian(face68, centre):
    landmarks = face_with_lip_corners(face68, centre, (50.0, 50.0))
    maps = render_targets(landmarks, only_au12(2.5))
    sigma = (4.0 + 8.0 * 2.5 / 5) / 4  # σ(2.5) = 8 frame pixels = 2 heatmap pixels
    expected = np.maximum(hand_gaussian(centre, 2.5, sigma), hand_gaussian((50.0, 50.0), 2.5, sigma))
    np.testing.assert_allclose(maps[0, AU12].numpy(), expected, atol=1e-12)


@pytest.mark.parametrize(("centre", "pixel"), [((20.0, 30.0), (20, 30)), ((20.3, 30.8), (20, 31)),
                                                ((7.6, 55.45), (8, 55))])
def test_peak_lands_on_the_nearest_pixel_and_equals_the_intensity(face68, centre, pixel):
    landmarks = face_with_lip_corners(face68, centre, centre)
    maps = render_targets(landmarks, only_au12(3.7))
    au_map = maps[0, AU12]
    y, x = divmod(int(au_map.argmax()), 64)
    assert (x, y) == pixel
    assert au_map.max().item() == pytest.approx(3.7, abs=1e-12)


def test_subpixel_peak_location_is_recovered_exactly(face68):
    centre = (20.3, 30.8)
    maps = render_targets(face_with_lip_corners(face68, centre, (50.0, 50.0)), only_au12(4.0))
    _, peaks = read_peaks(maps[:, AU12:AU12 + 1])
    np.testing.assert_allclose(peaks[0, 0].numpy(), centre, atol=1e-9)
    # ...and converted back to the aligned frame, it is the landmark itself.
    frame = heatmap_to_frame(peaks, 64)[0, 0].numpy()
    np.testing.assert_allclose(frame, face_with_lip_corners(face68, centre, (50, 50))[0, 48].numpy(), atol=1e-8)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_readout_of_render_is_the_identity(face68, dtype, rng):
    # Random faces with sub-pixel landmarks, intensities across [0, 5].
    faces = torch.tensor(face68[None] + rng.normal(0, 3, (11, 68, 2)), dtype=dtype)
    intensities = torch.tensor(np.linspace(0, 5, 11)[:, None] * np.ones((1, 5)), dtype=dtype)
    readout = read_intensities(render_targets(faces, intensities))
    tolerance = 1e-6 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(readout, intensities, atol=tolerance, rtol=0)


def test_zero_intensity_gives_an_all_zero_map(face68):
    maps = render_targets(torch.tensor(face68)[None], torch.tensor([[0.0, 2.0, 0.0, 0.0, 0.0]]))
    assert maps[0, 0].abs().max() == 0 and maps[0, 2].abs().max() == 0 and maps[0, 1].max() > 0


def test_centres_combine_by_maximum_not_sum(face68):
    # The two lip corners half a pixel apart: a sum would read almost twice the intensity.
    maps = render_targets(face_with_lip_corners(face68, (30.0, 40.0), (30.5, 40.0)), only_au12(4.0))
    assert maps[0, AU12].max().item() == pytest.approx(4.0, abs=1e-12)
    single = render_targets(face_with_lip_corners(face68, (30.0, 40.0), (30.0, 40.0)), only_au12(4.0))
    torch.testing.assert_close(maps[0, AU12, 40, 20:29], single[0, AU12, 40, 20:29])  # left of both


def test_extent_grows_with_intensity_or_stays_fixed(face68):
    # At one pixel from an on-grid centre the value is I·exp(−1 / (2σ²)), σ in heatmap pixels.
    landmarks = face_with_lip_corners(face68, (20.0, 20.0), (45.0, 45.0))
    for intensity in (1.0, 3.0, 5.0):
        growing = render_targets(landmarks, only_au12(intensity))[0, AU12]
        sigma = (4.0 + 8.0 * intensity / 5) / 4
        assert growing[20, 21].item() == pytest.approx(intensity * math.exp(-1 / (2 * sigma**2)), rel=1e-12)
        fixed = render_targets(landmarks, only_au12(intensity), extent="fixed")[0, AU12]
        assert fixed[20, 21].item() == pytest.approx(intensity * math.exp(-1 / (2 * 2.0**2)), rel=1e-12)
    # Truncation: exactly zero beyond 3σ, positive inside.
    strong = render_targets(landmarks, only_au12(5.0))[0, AU12]  # σ = 3 heatmap pixels, radius 9
    assert strong[20, 20 + 9].item() > 0 and strong[20, 20 + 10].item() == 0


def test_other_heatmap_sizes_keep_the_frame_geometry(face68):
    maps = render_targets(torch.tensor(face68)[None], torch.full((1, 5), 3.0, dtype=torch.float64), size=24)
    assert maps.shape == (1, 5, 24, 24)
    _, peaks = read_peaks(maps)
    centres, _ = au_centres(torch.tensor(face68)[None])
    # AU17 has a single centre, so its peak must sit on it.
    np.testing.assert_allclose(heatmap_to_frame(peaks, 24)[0, 4].numpy(), centres[0, 4, 0].numpy(), atol=1e-6)


def test_local_readout_ignores_responses_away_from_the_centres(face68):
    face = torch.tensor(face68)[None]
    maps = render_targets(face, torch.tensor([[0.0, 0.0, 2.0, 0.0, 0.0]], dtype=torch.float64))
    maps[0, 2, 2, 2] = 4.5  # a spurious response in a corner of the AU12 map
    assert read_intensities(maps)[0, 2].item() == pytest.approx(4.5)
    local = read_intensities(maps, landmarks=face, window=16.0)
    assert local[0, 2].item() == pytest.approx(2.0)
    with pytest.raises(ValueError, match="landmarks"):
        read_intensities(maps, window=16.0)


def test_readout_clamps_to_the_intensity_range():
    maps = torch.zeros(2, 5, 64, 64)
    maps[0, :, 10, 10] = 7.0
    maps[1] = -1.0
    readout = read_intensities(maps)
    assert readout[0].tolist() == [5.0] * 5 and readout[1].tolist() == [0.0] * 5


def test_localisation_error_is_zero_on_targets_and_measures_shifts(face68):
    face = torch.tensor(face68)[None]
    maps = render_targets(face, torch.full((1, 5), 3.0, dtype=torch.float64))
    torch.testing.assert_close(localisation_error(maps, face), torch.zeros(1, 5, dtype=torch.float64))
    # Two heatmap pixels down: every AU's centres sit side by side, so the nearest is 2 pixels away.
    shifted = torch.roll(maps, shifts=2, dims=-2)
    torch.testing.assert_close(localisation_error(shifted, face), torch.full((1, 5), 2.0, dtype=torch.float64))


def test_float32_matches_float64(face68, rng):
    faces = face68[None] + rng.normal(0, 4, (6, 68, 2))
    intensities = rng.uniform(0, 5, (6, 5))
    high = render_targets(torch.tensor(faces), torch.tensor(intensities))
    low = render_targets(torch.tensor(faces, dtype=torch.float32), torch.tensor(intensities, dtype=torch.float32))
    assert low.dtype == torch.float32
    torch.testing.assert_close(low.double(), high, atol=2e-5, rtol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(face68, rng):
    faces = torch.tensor(face68[None] + rng.normal(0, 4, (16, 68, 2)), dtype=torch.float32)
    intensities = torch.tensor(rng.uniform(0, 5, (16, 5)), dtype=torch.float32)
    cpu = render_targets(faces, intensities)
    gpu = render_targets(faces.cuda(), intensities.cuda())
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-5, rtol=0)
    torch.testing.assert_close(read_intensities(gpu).cpu(), read_intensities(cpu), atol=1e-5, rtol=0)


def test_module_form_matches_the_function(face68):
    renderer = HeatmapRenderer(aus=(6, 12), extent="fixed", size=32)
    face = torch.tensor(face68)[None]
    intensities = torch.tensor([[1.5, 4.0]], dtype=torch.float64)
    torch.testing.assert_close(renderer(face, intensities),
                               render_targets(face, intensities, (6, 12), extent="fixed", size=32))


def test_render_gaussians_low_level_broadcasts():
    centres = torch.tensor([[[10.0, 10.0], [20.0, 5.0]]])  # (1, 2, 2)
    maps = render_gaussians(centres, torch.tensor([[1.0, 2.0]]), torch.tensor([[1.0, 1.0]]), 32)
    assert maps.shape == (1, 32, 32)
    assert maps[0, 10, 10] == 1.0 and maps[0, 5, 20] == 2.0


@pytest.mark.parametrize(
    ("landmarks", "intensities", "message"),
    [
        (torch.zeros(2, 10, 2), torch.zeros(2, 5), r"\(B, 68, 2\)"),
        (torch.zeros(2, 68, 2), torch.zeros(2, 4), r"intensities must be \(B, A\) = \(2, 5\)"),
        (torch.full((1, 68, 2), float("nan")), torch.zeros(1, 5), "NaN"),
        (None, torch.tensor([[0.0, 0.0, 5.5, 0.0, 0.0]]), r"intensity 5.5 of sample 0, AU12 is outside \[0, 5\]"),
        (None, torch.tensor([[0.0, -1.0, 0.0, 0.0, 0.0]]), "AU10 is outside"),
        (None, torch.tensor([[0.0, float("nan"), 0.0, 0.0, 0.0]]), "mask them out"),
    ],
)
def test_bad_input_is_reported(face68, landmarks, intensities, message):
    landmarks = torch.tensor(face68)[None].float() if landmarks is None else landmarks
    with pytest.raises(ValueError, match=message):
        render_targets(landmarks, intensities)


def test_jittered_labels_above_five_are_accepted_when_asked(face68):
    face = torch.tensor(face68)[None]
    maps = render_targets(face, torch.full((1, 5), 6.2, dtype=torch.float64), max_intensity=None)
    assert maps.amax().item() == pytest.approx(6.2)
    with pytest.raises(TypeError, match="Unknown heatmap option"):
        render_targets(face, torch.zeros(1, 5), sigma=3)
    with pytest.raises(ValueError, match="extent"):
        HeatmapConfig(extent="shrinking")
