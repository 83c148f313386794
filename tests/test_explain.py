"""One face step by step (notebook 06): the kept intermediate results agree with independent computations."""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
from helpers import KnownFace, RenderedTargets
from matplotlib.figure import Figure

from aulib.course.photo_figures import detection_figure, heatmaps_figure, intensities_figure
from aulib.method.align import alignment_matrix, transform_points
from aulib.method.aus import BP4D_AUS, au_centres
from aulib.method.shape import mean_shape
from aulib.predict.explain import explain_face


def test_report_keeps_crop_maps_intensities_and_peaks():
    angle = math.radians(-8)  # a face rotated, scaled by 1.2 and moved, on a textured 400×460 image
    rotation = 1.2 * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    points = mean_shape() @ rotation.T + [40.0, 20.0]
    image = np.random.default_rng(0).integers(0, 255, (400, 460, 3), dtype=np.uint8)
    matrix = alignment_matrix(points)
    intensities = [0.5, 1.5, 2.5, 3.5, 4.5]
    network = RenderedTargets(transform_points(points, matrix), intensities)

    report = explain_face(image, network, KnownFace(points), precision="fp32")

    np.testing.assert_allclose(report.intensities, intensities, atol=1e-6)
    np.testing.assert_allclose(report.matrix, matrix, atol=1e-9)
    reference = cv2.warpAffine(image, matrix, (256, 256), flags=cv2.INTER_LINEAR)  # an independent warp
    assert np.abs(report.crop.astype(int) - reference.astype(int))[8:-8, 8:-8].max() <= 1
    assert report.maps.shape == (5, 64, 64) and report.image_maps.shape == (5, 400, 460)
    np.testing.assert_allclose(report.image_maps.max(axis=(1, 2)), intensities, rtol=0.1)
    # each peak, in image pixels, lies on one of its AU's centres mapped back with OpenCV's inverse
    centres, valid = au_centres(torch.tensor(transform_points(points, matrix))[None])
    inverse = cv2.invertAffineTransform(matrix)
    pixels_per_frame_pixel = math.sqrt(abs(np.linalg.det(inverse[:, :2])))
    for a in range(len(BP4D_AUS)):
        candidates = cv2.transform(centres[0, a][valid[a]].numpy()[None], inverse)[0]
        assert np.linalg.norm(candidates - report.peaks[a], axis=1).min() < pixels_per_frame_pixel


def test_figures_show_every_au(tmp_path):
    points = mean_shape() + np.array([30.0, 30.0])
    image = np.full((320, 320, 3), 120, np.uint8)
    network = RenderedTargets(transform_points(points, alignment_matrix(points)), [1, 2, 3, 4, 5])
    report = explain_face(image, network, KnownFace(points))
    assert len(detection_figure(report).axes) == 2
    assert len(heatmaps_figure(report).axes) == 2 * len(BP4D_AUS)  # same scale, and each to its own peak
    bars = intensities_figure(report)
    assert isinstance(bars, Figure)
    heights = [patch.get_height() for patch in bars.axes[0].patches]
    np.testing.assert_allclose(heights, [1, 2, 3, 4, 5], atol=1e-3)
