"""Batched augmentation, checked against images: dots drawn at landmarks must end where the landmarks go."""

from __future__ import annotations

import math
from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch

from aulib.method.align import PAPER_LANDMARKS, frame_scale, scale_matrix, warp_affine
from aulib.method.aus import au_centres
from aulib.method.heatmaps import heatmap_to_frame, read_peaks, render_targets
from aulib.method.shape import FLIP_68, flip_landmarks
from aulib.training.augment import AugmentConfig, augment_batch, flip_permutation, resize_batch

GEOMETRY_ONLY = AugmentConfig(brightness=0.0, contrast=0.0, saturation=0.0, label_jitter=0.0)
# Three landmarks per sample, one per colour channel; the batch cycles through these triples.
TRIPLES = ((36, 45, 8), (48, 54, 30), (17, 26, 57), (0, 16, 33), (39, 42, 51))


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def faces(face68: np.ndarray, batch: int, size: int = 256, layout: int = 68) -> torch.Tensor:
    """``(B, L, 2)`` float32 copies of the mean shape in the ``size`` frame."""
    scale, offset = frame_scale(size)
    face = face68 * scale + offset
    if layout == 66:
        face = np.delete(face, [60, 64], axis=0)
    return torch.tensor(face, dtype=torch.float32).expand(batch, -1, -1).clone()


def blob_images(points: torch.Tensor, size: int, sigma: float = 2.0) -> torch.Tensor:
    """uint8 ``(B, 3, S, S)``: channel ``c`` of sample ``b`` holds one Gaussian dot at ``points[b, c]``."""
    grid = torch.arange(size, dtype=torch.float64)
    x, y = points[..., 0, None, None].double(), points[..., 1, None, None].double()  # (B, 3, 1, 1)
    d2 = (grid[None, None, None, :] - x) ** 2 + (grid[None, None, :, None] - y) ** 2
    return (255 * torch.exp(-d2 / (2 * sigma**2))).round().to(torch.uint8)


def blob_centres(images: torch.Tensor, radius: int = 4) -> torch.Tensor:
    """``(B, C, 2)`` intensity-weighted centroid around each channel's brightest pixel."""
    batch, channels, _, width = images.shape
    flat = images.reshape(batch, channels, -1).argmax(-1)
    rows, cols = flat // width, flat % width
    out = torch.empty(batch, channels, 2, dtype=torch.float64)
    for b in range(batch):
        for c in range(channels):
            r0, c0 = max(int(rows[b, c]) - radius, 0), max(int(cols[b, c]) - radius, 0)
            patch = images[b, c, r0:int(rows[b, c]) + radius + 1, c0:int(cols[b, c]) + radius + 1].double()
            ys, xs = torch.meshgrid(torch.arange(patch.shape[0]) + r0, torch.arange(patch.shape[1]) + c0,
                                    indexing="ij")
            out[b, c, 0] = (patch * xs).sum() / patch.sum()
            out[b, c, 1] = (patch * ys).sum() / patch.sum()
    return out


def to_output_pixels(frame_points: torch.Tensor, out_size: int) -> torch.Tensor:
    scale, offset = frame_scale(out_size)
    return frame_points.double() * scale + offset


def orientation(points: torch.Tensor) -> torch.Tensor:
    """Sign of the triangle ``(B, 3, 2)``: a mirror image has the opposite sign, whatever the rotation."""
    a, b = points[:, 1] - points[:, 0], points[:, 2] - points[:, 0]
    return torch.sign(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])


def affine_residual(source: torch.Tensor, target: torch.Tensor) -> float:
    """Largest residual of the least-squares affine fit ``source -> target`` over a batch of point sets."""
    worst = 0.0
    for src, dst in zip(source.double().numpy(), target.double().numpy(), strict=True):
        design = np.concatenate([src, np.ones((len(src), 1))], axis=1)
        solution, *_ = np.linalg.lstsq(design, dst, rcond=None)
        worst = max(worst, float(np.abs(design @ solution - dst).max()))
    return worst


# -- no augmentation: a plain resize ------------------------------------------------------------------


def test_none_at_full_size_is_identity(face68):
    images = torch.randint(0, 256, (3, 3, 256, 256), dtype=torch.uint8, generator=seeded(1))
    landmarks = faces(face68, 3)
    labels = torch.tensor([[0.0, 1.5, float("nan")]] * 3)
    out, lms, labs = augment_batch(images, landmarks, labels, out_size=256, config=AugmentConfig.none(),
                                   generator=seeded())
    assert out.dtype == torch.float32 and out.shape == images.shape
    torch.testing.assert_close(out, images.float() / 255, atol=1e-6, rtol=0)
    torch.testing.assert_close(lms, landmarks, atol=1e-6, rtol=0)
    torch.testing.assert_close(labs, labels, equal_nan=True)
    assert images.dtype == torch.uint8  # the input is untouched


def smooth_image(batch: int, size: int) -> torch.Tensor:
    # A smooth pattern: OpenCV's fixed-point bilinear (1/32 px) agrees with exact sampling on it.
    grid = torch.arange(size, dtype=torch.float64) / size
    pattern = [torch.sin(6 * grid[None, :] + k) * torch.cos(4 * grid[:, None] - k) for k in range(3)]
    image = (127.5 + 120 * torch.stack(pattern)).round().to(torch.uint8)
    return image.expand(batch, -1, -1, -1).contiguous()


def test_none_resize_matches_hand_built_scale(face68):
    images = smooth_image(2, 256)
    landmarks = faces(face68, 2)
    out, lms, _ = augment_batch(images, landmarks, torch.zeros(2, 5), out_size=96, config=AugmentConfig.none(),
                                generator=seeded())
    expected = warp_affine(images.float(), scale_matrix(96), 96) / 255
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(lms, landmarks, atol=1e-5, rtol=0)  # still the 256 frame
    # An independent implementation: OpenCV's warpAffine with the same matrix.
    reference = cv2.warpAffine(images[0].permute(1, 2, 0).numpy().astype(np.float32), scale_matrix(96), (96, 96),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT) / 255
    np.testing.assert_allclose(out[0].permute(1, 2, 0).numpy(), reference, atol=2e-3)


def test_resize_batch_keeps_the_256_frame(face68):
    # A 128 crop: landmarks come back in the 256 frame (pixel areas corresponding), whatever the output size.
    small = faces(face68, 2, size=128)
    images = torch.randint(0, 256, (2, 3, 128, 128), dtype=torch.uint8, generator=seeded(2))
    for out_size in (128, 64):
        out, lms = resize_batch(images, small, out_size)
        assert out.shape == (2, 3, out_size, out_size)
        torch.testing.assert_close(lms, faces(face68, 2), atol=1e-4, rtol=0)
    out, _ = resize_batch(images, small, 128)
    torch.testing.assert_close(out, images.float() / 255, atol=0, rtol=0)
    # The same as augment_batch with everything off.
    aug, aug_lms, _ = augment_batch(images, small, torch.zeros(2, 1), out_size=64, config=AugmentConfig.none())
    res, res_lms = resize_batch(images, small, 64)
    assert torch.equal(aug, res) and torch.equal(aug_lms, res_lms)


# -- geometry: dots follow the landmarks ---------------------------------------------------------------


@pytest.mark.parametrize("out_size", [256, 96])
def test_dots_end_on_returned_landmarks(face68, out_size):
    batch = 10
    landmarks = faces(face68, batch)
    indices = torch.tensor([TRIPLES[b % len(TRIPLES)] for b in range(batch)])  # (B, 3)
    drawn_at = landmarks.gather(1, indices[..., None].expand(-1, -1, 2))  # (B, 3, 2)
    images = blob_images(drawn_at, 256)
    config = AugmentConfig(scale=0.08, rotation=10, translation=0.04, flip=0.5, brightness=0, contrast=0,
                           saturation=0, label_jitter=0)
    out, lms, _ = augment_batch(images, landmarks, torch.zeros(batch, 5), out_size=out_size, config=config,
                                generator=seeded(3))
    assert out.shape == (batch, 3, out_size, out_size) and lms.shape == landmarks.shape
    found = blob_centres(out, radius=max(2, out_size // 32))  # (B, 3, 2) output pixels

    # Which samples were mirrored, read off the image alone: the dots' triangle changes orientation.
    flipped = orientation(found) != orientation(drawn_at.double())
    assert 0 < int(flipped.sum()) < batch, "the seed should give flipped and unflipped samples"

    perm = torch.tensor(FLIP_68)
    inverse = torch.argsort(perm)  # FLIP_68 is an involution, but do not rely on it here
    for b in range(batch):
        for c, k in enumerate(indices[b].tolist()):
            # After a mirror, the dot drawn at landmark k is where the mirrored face's point perm⁻¹[k] is
            # (e.g. the dot of 36 ends on the returned 45).
            returned = int(inverse[k]) if flipped[b] else k
            expected = to_output_pixels(lms[b, returned], out_size)
            error = float((found[b, c] - expected).norm())
            assert error < 0.25, f"sample {b} (flipped={bool(flipped[b])}) landmark {k}: {error:.2f} px off"

    # The returned landmarks are one affine image of the input (re-indexed where flipped).
    index = torch.where(flipped[:, None], perm, torch.arange(68))
    unpermuted = torch.empty_like(lms)
    unpermuted.scatter_(1, index[..., None].expand(-1, -1, 2), lms)
    assert affine_residual(landmarks, unpermuted) < 1e-3
    # And a mirrored face keeps the subject's right eye corner on the image's left.
    assert bool((lms[:, 36, 0] < lms[:, 45, 0]).all())


def test_flip_puts_dot_36_on_returned_45(face68):
    landmarks = faces(face68, 2)
    images = blob_images(landmarks[:, [36, 45, 8]], 256)
    config = replace(AugmentConfig.none(), flip=1.0)
    out, lms, _ = augment_batch(images, landmarks, torch.zeros(2, 5), out_size=256, config=config,
                                generator=seeded())
    found = blob_centres(out)
    torch.testing.assert_close(found[:, 0], lms[:, 45].double(), atol=0.3, rtol=0)  # dot of 36 → returned 45
    torch.testing.assert_close(found[:, 1], lms[:, 36].double(), atol=0.3, rtol=0)
    torch.testing.assert_close(found[:, 2], lms[:, 8].double(), atol=0.3, rtol=0)
    # A pure flip is the hand-made mirror: x → 255 − x and FLIP_68 (aulib.method.shape.flip_landmarks).
    expected = torch.tensor(flip_landmarks(landmarks.numpy(), 256), dtype=torch.float32)
    torch.testing.assert_close(lms, expected, atol=1e-4, rtol=0)
    torch.testing.assert_close(out, images.flip(-1).float() / 255, atol=1e-4, rtol=0)  # float32 grid


def test_rendered_target_peaks_on_the_dot(face68):
    batch, out_size = 6, 96
    landmarks = faces(face68, batch)
    centre, _ = au_centres(landmarks.double(), aus=(17,))  # AU17: one centre, between 57 and the chin
    drawn_at = centre[:, 0, 0:1].expand(-1, 3, -1).float()  # the same dot in every channel
    images = blob_images(drawn_at, 256)
    config = AugmentConfig(flip=0.5, brightness=0, contrast=0, saturation=0, label_jitter=0)
    out, lms, _ = augment_batch(images, landmarks, torch.zeros(batch, 1), out_size=out_size, config=config,
                                generator=seeded(4))
    dot = blob_centres(out[:, :1], radius=3)[:, 0]  # (B, 2) output pixels
    size = out_size // 4
    maps = render_targets(lms, torch.full((batch, 1), 3.0), aus=(17,), size=size)
    _, peaks = read_peaks(maps)  # (B, 1, 2) heatmap pixels
    peak = to_output_pixels(heatmap_to_frame(peaks[:, 0].double(), size), out_size)
    error = (peak - dot).norm(dim=-1)
    assert float(error.max()) < 0.25, error  # output pixels: a sixteenth of a heatmap pixel


def test_landmark_jitter_moves_image_and_landmarks_together(face68):
    batch, sigma = 8, 3.0
    landmarks = faces(face68, batch)
    images = blob_images(landmarks[:, list(PAPER_LANDMARKS)], 256)
    config = replace(AugmentConfig.none(), landmark_jitter=sigma)
    out, lms, _ = augment_batch(images, landmarks, torch.zeros(batch, 5), out_size=256, config=config,
                                generator=seeded(5))
    points = lms[:, list(PAPER_LANDMARKS)].double()
    deviation = (points - landmarks[:, list(PAPER_LANDMARKS)].double()).norm(dim=-1)  # (B, 3)
    # The alignment points leave the template by about the tracker noise (σ√2 on average per point).
    assert sigma / 4 < float(deviation.mean()) < 4 * sigma
    assert bool((deviation.amax(dim=1) > 0.1).all())
    torch.testing.assert_close(blob_centres(out), points, atol=0.3, rtol=0)  # the image moved with them
    assert affine_residual(landmarks, lms) < 1e-3  # one affine per face, not per-point noise


def test_landmark_jitter_scales_with_crop_size(face68):
    # σ is in pixels of the 256 frame: a 128 crop with the same seed gives the same 256-frame landmarks.
    config = AugmentConfig(landmark_jitter=2.0, label_jitter=0)
    big = augment_batch(torch.zeros(4, 3, 256, 256, dtype=torch.uint8), faces(face68, 4), torch.zeros(4, 1),
                        out_size=64, config=config, generator=seeded(6))[1]
    small = augment_batch(torch.zeros(4, 3, 128, 128, dtype=torch.uint8), faces(face68, 4, size=128),
                          torch.zeros(4, 1), out_size=64, config=config, generator=seeded(6))[1]
    torch.testing.assert_close(small, big, atol=1e-3, rtol=0)


# -- 66-point layout -----------------------------------------------------------------------------------


def test_flip_permutation_66():
    perm = flip_permutation(66)
    assert len(perm) == 66 and sorted(perm) == list(range(66))
    assert all(perm[perm[i]] == i for i in range(66))  # an involution
    assert perm[36] == 45 and perm[45] == 36 and perm[8] == 8
    # 68 → 66 drops 60 and 64: 61..63 become 60..62 and 65..67 become 63..65.
    assert (perm[60], perm[61], perm[62]) == (62, 61, 60) and (perm[63], perm[64], perm[65]) == (65, 64, 63)
    assert perm[48] == 54 and perm[31] == 35
    assert flip_permutation(68) == FLIP_68
    with pytest.raises(ValueError, match="layout"):
        flip_permutation(49)


def test_flip_66_matches_the_68_mirror(face68):
    landmarks = faces(face68, 2, layout=66)
    images = torch.randint(0, 256, (2, 3, 256, 256), dtype=torch.uint8, generator=seeded(7))
    config = replace(AugmentConfig.none(), flip=1.0)
    out, lms, _ = augment_batch(images, landmarks, torch.zeros(2, 5), out_size=256, config=config)
    expected = np.delete(flip_landmarks(faces(face68, 2).numpy(), 256), [60, 64], axis=1)
    np.testing.assert_allclose(lms.numpy(), expected, atol=1e-4)
    torch.testing.assert_close(out, images.flip(-1).float() / 255, atol=1e-4, rtol=0)  # float32 grid


# -- colour --------------------------------------------------------------------------------------------


def colour_only(**ranges: float) -> AugmentConfig:
    return replace(AugmentConfig.none(), **ranges)


def mid_range_images(batch: int, size: int = 32) -> torch.Tensor:
    # Values in [64, 160]: no jitter used below can push them out of [0, 255], so nothing clips.
    return torch.randint(64, 161, (batch, 3, size, size), dtype=torch.uint8, generator=seeded(8))


GREY = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)


def test_brightness_scales_each_sample_by_one_factor(face68):
    images = mid_range_images(16)
    out, _, _ = augment_batch(images, faces(face68, 16, size=32), torch.zeros(16, 1), out_size=32,
                              config=colour_only(brightness=0.5), generator=seeded(9))
    ratio = out / (images.float() / 255)  # (B, 3, H, W)
    factor = ratio.flatten(1).mean(1)
    torch.testing.assert_close(ratio, factor.view(-1, 1, 1, 1).expand_as(ratio), atol=1e-5, rtol=0)
    assert bool(((factor >= 0.5) & (factor <= 1.5)).all()) and float(factor.std()) > 0.05


def test_contrast_keeps_mean_grey_and_saturation_keeps_grey(face68):
    images = mid_range_images(16)
    source = images.float() / 255
    kwargs = {"landmarks": faces(face68, 16, size=32), "labels": torch.zeros(16, 1), "out_size": 32}
    out, _, _ = augment_batch(images, config=colour_only(contrast=0.3), generator=seeded(10), **kwargs)
    mean_grey = (source * GREY).sum(1).mean(dim=(-2, -1))  # (B,)
    torch.testing.assert_close((out * GREY).sum(1).mean(dim=(-2, -1)), mean_grey, atol=1e-5, rtol=0)
    # Contrast stretches every value about that mean by one factor per sample.
    factor = (out - mean_grey.view(-1, 1, 1, 1)) / (source - mean_grey.view(-1, 1, 1, 1))
    keep = (source - mean_grey.view(-1, 1, 1, 1)).abs() > 0.05
    per_sample = [f[k] for f, k in zip(factor, keep, strict=True)]
    assert all(float(f.max() - f.min()) < 1e-3 and 0.7 - 1e-4 <= float(f.mean()) <= 1.3 + 1e-4 for f in per_sample)

    out, _, _ = augment_batch(images, config=colour_only(saturation=0.3), generator=seeded(11), **kwargs)
    grey_in, grey_out = (source * GREY).sum(1, keepdim=True), (out * GREY).sum(1, keepdim=True)
    torch.testing.assert_close(grey_out, grey_in, atol=1e-5, rtol=0)
    chroma_ratio = (out - grey_out).flatten(1).norm(dim=1) / (source - grey_in).flatten(1).norm(dim=1)
    assert bool(((chroma_ratio > 0.7 - 1e-4) & (chroma_ratio < 1.3 + 1e-4)).all())
    assert float(chroma_ratio.std()) > 0.02


def test_combined_colour_jitter_is_brightness_then_contrast_then_saturation(face68):
    # Sequentially, b·x, then contrast c about the mean grey m, then saturation s about the pixel grey g,
    # give A·x + B·g + C per sample with A = b·c·s, B = b·c·(1 − s), C = b·(1 − c)·m. Fit A, B, C by least
    # squares, check the fit is exact, and read b, c, s back: each must lie in its range.
    batch, r = 12, 0.3
    images = mid_range_images(batch)
    source = (images.float() / 255).double()
    out, _, _ = augment_batch(images, faces(face68, batch, size=32), torch.zeros(batch, 1), out_size=32,
                              config=colour_only(brightness=r, contrast=r, saturation=r), generator=seeded(23))
    grey = (source * GREY.double()).sum(1, keepdim=True).expand_as(source)
    design = torch.stack([source.flatten(1), grey.flatten(1), torch.ones_like(grey.flatten(1))], dim=-1)
    coef = torch.linalg.lstsq(design, out.double().flatten(1)[..., None]).solution[..., 0]  # (B, 3)
    residual = design @ coef[..., None] - out.double().flatten(1)[..., None]
    assert float(residual.abs().max()) < 1e-5
    a, b_term, c_term = coef.unbind(-1)
    mean_grey = grey[:, 0].mean(dim=(-2, -1))
    bc = a + b_term
    brightness = bc + c_term / mean_grey
    contrast, saturation = bc / brightness, a / bc
    for factor in (brightness, contrast, saturation):
        assert bool(((factor > 1 - r - 1e-4) & (factor < 1 + r + 1e-4)).all()) and float(factor.std()) > 0.02


def test_colour_jitter_leaves_geometry_alone_and_stays_in_range(face68):
    batch = 6
    landmarks = faces(face68, batch)
    images = blob_images(landmarks[:, [36, 45, 8]], 256)
    geometric = AugmentConfig(label_jitter=0, brightness=0, contrast=0, saturation=0)
    coloured = AugmentConfig(label_jitter=0, brightness=0.9, contrast=0.9, saturation=0.9)
    plain, plain_lms, _ = augment_batch(images, landmarks, torch.zeros(batch, 1), out_size=96, config=geometric,
                                        generator=seeded(12))
    out, lms, _ = augment_batch(images, landmarks, torch.zeros(batch, 1), out_size=96, config=coloured,
                                generator=seeded(12))
    assert torch.equal(lms, plain_lms)  # the same seed draws the same geometry whatever the colours
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    assert not torch.allclose(out, plain)
    # Brightness alone rescales the dots without moving them.
    bright, _, _ = augment_batch(images, landmarks, torch.zeros(batch, 1), out_size=96,
                                 config=AugmentConfig(label_jitter=0, brightness=0.5, contrast=0, saturation=0),
                                 generator=seeded(12))
    torch.testing.assert_close(blob_centres(bright, 3), blob_centres(plain, 3), atol=1e-3, rtol=0)
    noisy = torch.randint(0, 256, (batch, 3, 64, 64), dtype=torch.uint8, generator=seeded(13))
    out, _, _ = augment_batch(noisy, faces(face68, batch, size=64), torch.zeros(batch, 1), out_size=64,
                              config=coloured, generator=seeded(14))
    assert float(out.min()) == 0 and float(out.max()) == 1  # clamped, and the extremes are reached


# -- labels --------------------------------------------------------------------------------------------


def test_label_jitter_statistics(face68):
    batch, n_labels = 64, 2000
    labels = torch.full((batch, n_labels), 2.0)
    labels[:, :100] = 0.0
    labels[:, 100:200] = float("nan")
    labels[:, 200:300] = torch.linspace(0.0, 5.0, 100)
    config = replace(AugmentConfig.none(), label_jitter=0.2)
    _, _, out = augment_batch(torch.zeros(batch, 3, 8, 8, dtype=torch.uint8), faces(face68, batch, size=8),
                              labels, out_size=8, config=config, generator=seeded(15))
    assert out.dtype == labels.dtype and out.shape == labels.shape
    finite = torch.isfinite(labels)
    assert bool((out[finite] >= labels[finite]).all())  # never lowers a label
    assert bool((out[:, :100] == 0).all())  # absent stays absent
    assert bool(out[:, 100:200].isnan().all())  # uncodeable stays uncodeable
    increase = (out[:, 300:] - 2.0).mean()
    expected = 0.2 * 2.0 * math.sqrt(2 / math.pi)  # E|z| = √(2/π) ≈ 0.798
    assert abs(float(increase) / expected - 1) < 0.05


# -- randomness ----------------------------------------------------------------------------------------


def test_same_seed_same_batch(face68):
    images = torch.randint(0, 256, (4, 3, 64, 64), dtype=torch.uint8, generator=seeded(16))
    landmarks = faces(face68, 4, size=64)
    labels = torch.rand(4, 5, generator=seeded(17)) * 5
    config = AugmentConfig(landmark_jitter=1.0)

    def run(seed: int):
        return augment_batch(images, landmarks, labels, out_size=48, config=config, generator=seeded(seed))

    first, second, other = run(21), run(21), run(22)
    for a, b, c in zip(first, second, other, strict=True):
        assert torch.equal(a, b)
        assert not torch.equal(a, c)


def test_bad_inputs_are_refused(face68):
    with pytest.raises(ValueError, match="flip"):
        AugmentConfig(flip=1.5)
    with pytest.raises(ValueError, match="scale"):
        AugmentConfig(scale=1.0)
    with pytest.raises(ValueError, match="rotation"):
        AugmentConfig(rotation=-1.0)
    with pytest.raises(TypeError, match="Unknown augmentation option"):
        AugmentConfig.from_options(zoom=0.1)
    images = torch.zeros(2, 3, 32, 32, dtype=torch.uint8)
    with pytest.raises(ValueError, match="68- or 66-point"):
        augment_batch(images, torch.zeros(2, 5, 2), torch.zeros(2, 1), out_size=32)
    with pytest.raises(ValueError, match="labels"):
        augment_batch(images, faces(face68, 2, size=32), torch.zeros(3, 1), out_size=32)
    # Without flip and landmark jitter any point layout is fine.
    config = AugmentConfig(flip=0.0)
    assert augment_batch(images, torch.zeros(2, 5, 2), torch.zeros(2, 1), out_size=16, config=config)[1].shape == (
        2, 5, 2)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(face68):
    batch = 8
    landmarks = faces(face68, batch)
    images = torch.randint(0, 256, (batch, 3, 256, 256), dtype=torch.uint8, generator=seeded(18))
    labels = torch.rand(batch, 5, generator=seeded(19)) * 5
    labels[0, 0] = float("nan")
    config = AugmentConfig(landmark_jitter=2.0)
    cpu = augment_batch(images, landmarks, labels, out_size=96, config=config, generator=seeded(20))
    gpu = augment_batch(images.cuda(), landmarks.cuda(), labels.cuda(), out_size=96, config=config,
                        generator=seeded(20))
    for a, b in zip(cpu, gpu, strict=True):
        assert b.device.type == "cuda"
        torch.testing.assert_close(b.cpu(), a, atol=1e-4, rtol=0, equal_nan=True)
