"""Alignment: the paper's template, the similarity alternative, warping, and landmark noise."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from skimage.transform import estimate_transform

from aulib.method.align import (
    PAPER_TEMPLATE,
    SIMILARITY_LANDMARKS,
    add_landmark_noise,
    alignment_matrix,
    compose_affine,
    heatmap_to_image,
    inter_ocular_distance,
    invert_affine,
    transform_points,
    warp_affine,
    warp_face,
)
from aulib.method.aus import au_centres
from aulib.method.heatmaps import read_peaks, render_targets


def random_similarity(rng: np.random.Generator) -> np.ndarray:
    angle, scale = rng.uniform(-0.6, 0.6), rng.uniform(0.5, 2.5)
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[scale * c, -scale * s, rng.uniform(-60, 60)], [scale * s, scale * c, rng.uniform(-60, 60)]])


def test_template_points_map_exactly(face68, rng):
    faces = np.stack([face68 + rng.normal(0, 5, face68.shape) for _ in range(8)])  # (8, 68, 2)
    matrices = alignment_matrix(faces)
    assert matrices.shape == (8, 2, 3)
    np.testing.assert_allclose(transform_points(faces[:, [8, 36, 45]], matrices),
                               np.broadcast_to(PAPER_TEMPLATE, (8, 3, 2)), atol=1e-9)
    # Same answer as OpenCV's three-point solver, an independent implementation.
    expected = cv2.getAffineTransform(faces[0, [8, 36, 45]].astype(np.float32), PAPER_TEMPLATE.astype(np.float32))
    np.testing.assert_allclose(matrices[0], expected, atol=1e-3)


def test_template_scales_with_crop_size(face68):
    # A 64-pixel crop is the 256 crop shrunk by 4, pixel areas corresponding.
    small = transform_points(face68[[8, 36, 45]], alignment_matrix(face68, size=64))
    np.testing.assert_allclose(small, (PAPER_TEMPLATE + 0.5) / 4 - 0.5, atol=1e-9)


def test_forward_then_inverse_is_identity(face68, rng):
    matrix = alignment_matrix(face68 * 1.7 + 20)
    points = rng.uniform(0, 300, (50, 2))
    np.testing.assert_allclose(transform_points(transform_points(points, matrix), invert_affine(matrix)), points)
    torch_points = torch.tensor(points)
    back = transform_points(transform_points(torch_points, torch.tensor(matrix)), invert_affine(torch.tensor(matrix)))
    np.testing.assert_allclose(back.numpy(), points)


def test_known_similarity_is_recovered(face68, rng):
    # The mean shape's stable points are the similarity template, so aligning a face that is the mean
    # shape moved by S must give exactly S⁻¹.
    for _ in range(5):
        similarity = random_similarity(rng)
        face = transform_points(face68, similarity)
        np.testing.assert_allclose(alignment_matrix(face, "similarity"), invert_affine(similarity), atol=1e-9)


def test_similarity_matches_scikit_image_on_noisy_points(face68, rng):
    face = transform_points(face68, random_similarity(rng)) + rng.normal(0, 3, face68.shape)
    ours = alignment_matrix(face, "similarity")
    reference = estimate_transform("similarity", face[list(SIMILARITY_LANDMARKS)], face68[list(SIMILARITY_LANDMARKS)])
    np.testing.assert_allclose(ours, reference.params[:2], atol=1e-8)


def test_warp_matches_opencv(face68, rng):
    image = rng.integers(0, 256, (300, 360, 3), dtype=np.uint8)
    matrix = alignment_matrix(face68 * 1.1 + [40, 10])
    ours = warp_face(image, matrix).astype(int)
    reference = cv2.warpAffine(image, matrix, (256, 256), flags=cv2.INTER_LINEAR).astype(int)
    assert ours.shape == (256, 256, 3)
    # OpenCV rounds its interpolation weights to 1/32 pixel: allow one grey level away from the edges.
    assert np.abs(ours - reference)[2:-2, 2:-2].max() <= 1


def test_batched_torch_warp_equals_per_image(face68, rng):
    images = rng.integers(0, 256, (3, 200, 220, 3), dtype=np.uint8)
    matrices = alignment_matrix(np.stack([face68 * 0.7 + k * 5 for k in range(3)]), size=128)
    batch = warp_affine(torch.from_numpy(images).permute(0, 3, 1, 2), matrices, 128)
    assert batch.shape == (3, 3, 128, 128) and batch.dtype == torch.uint8
    for k in range(3):
        np.testing.assert_array_equal(batch[k].permute(1, 2, 0).numpy(), warp_face(images[k], matrices[k], 128))


def test_heatmap_maps_back_onto_the_landmark(face68):
    # A face in a 400×300 photo: the AU12 map of its aligned crop, warped back onto the photo, must
    # peak on the photo's lip corner.
    photo_face = transform_points(face68, np.array([[0.8, -0.2, 60.0], [0.2, 0.8, 30.0]]))
    matrix = alignment_matrix(photo_face)
    aligned = torch.tensor(transform_points(photo_face, matrix))[None]
    maps = render_targets(aligned, torch.tensor([[0.0, 0.0, 5.0, 0.0, 0.0]], dtype=torch.float64))
    left_half = maps[:, 2:3].clone()
    left_half[..., 32:] = 0  # keep only the right lip corner (48, image left)
    back = heatmap_to_image(left_half, matrix, (300, 400))[0, 0]
    assert back.shape == (300, 400)
    # The centroid moves with an affine map exactly, so the back-projected Gaussian's centroid must
    # land on the corner (bilinear resampling and the 64-pixel grid cost a fraction of a pixel).
    ys, xs = torch.meshgrid(torch.arange(300.0), torch.arange(400.0), indexing="ij")
    centroid = np.array([(back * xs).sum() / back.sum(), (back * ys).sum() / back.sum()])
    assert np.linalg.norm(centroid - photo_face[48]) < 0.5
    _, peak = read_peaks(back[None, None].float())
    assert np.linalg.norm(peak[0, 0].numpy() - photo_face[48]) < 4.0  # one heatmap pixel ≈ 3.3 photo pixels


def test_compose_affine_applies_first_then_second(rng):
    first, second = random_similarity(rng), random_similarity(rng)
    points = rng.uniform(0, 100, (10, 2))
    np.testing.assert_allclose(transform_points(points, compose_affine(second, first)),
                               transform_points(transform_points(points, first), second))


def test_landmark_noise_is_seeded_and_has_the_requested_size(face68):
    faces = np.broadcast_to(face68, (2000, 68, 2))
    noisy = add_landmark_noise(faces, 3.0, seed=7)
    np.testing.assert_array_equal(noisy, add_landmark_noise(faces, 3.0, seed=7))
    assert not np.array_equal(noisy, add_landmark_noise(faces, 3.0, seed=8))
    assert abs((noisy - faces).std() - 3.0) < 0.03
    np.testing.assert_array_equal(add_landmark_noise(faces[:2], 0.0), faces[:2])
    # As a fraction of the inter-ocular distance, the noise scales with the face.
    big = face68 * 2
    noise_small = add_landmark_noise(np.broadcast_to(face68, (500, 68, 2)), 0.05, "iod", seed=1) - face68
    noise_big = add_landmark_noise(np.broadcast_to(big, (500, 68, 2)), 0.05, "iod", seed=1) - big
    np.testing.assert_allclose(noise_big, 2 * noise_small)
    assert abs(noise_small.std() - 0.05 * inter_ocular_distance(face68)) < 0.05


def test_bad_landmarks_are_reported(face68):
    with pytest.raises(ValueError, match=r"\(68, 2\)"):
        alignment_matrix(face68[:10])
    broken = face68.copy()
    broken[36] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        alignment_matrix(broken)
    collinear = face68.copy()
    collinear[[8, 36, 45]] = [[0, 0], [1, 1], [2, 2]]
    with pytest.raises(ValueError, match="collinear"):
        alignment_matrix(collinear)
    with pytest.raises(ValueError, match="method"):
        alignment_matrix(face68, method="procrustes")
    with pytest.raises(ValueError, match="sigma"):
        add_landmark_noise(face68, -1.0)


def test_au_centres_agree_between_numpy_and_torch(face68):
    centres_t, valid_t = au_centres(torch.tensor(face68)[None])  # a batch of one, as targets are rendered
    centres_n, valid_n = au_centres(face68)
    np.testing.assert_array_equal(valid_t.numpy(), valid_n)
    np.testing.assert_allclose(centres_t[0].numpy()[valid_n], centres_n[valid_n])
