"""Two public-domain portraits that come with the course's dependencies (no download): the astronaut of
scikit-image and Grace Hopper of matplotlib, with what each shows. Two individual cases beside the London set
(:mod:`aulib.data.london`), never a measurement; and held-out crops for checks that must not see calibration faces.

Example:
    >>> real_face("astronaut").shape
    (512, 512, 3)
"""

from __future__ import annotations

import numpy as np

#: Public-domain real faces shipped with the course's dependencies, and what they show.
REAL_FACES = {
    "astronaut": "skimage.data.astronaut(): NASA portrait, a broad open smile (AU6, AU12 and parted lips)",
    "grace_hopper": "matplotlib's sample grace_hopper.jpg: US Navy portrait, near-neutral with closed lips",
}


def real_face(name: str) -> np.ndarray:
    """One of :data:`REAL_FACES` as an RGB uint8 image (both come with scikit-image and matplotlib: no download)."""
    if name == "astronaut":
        from skimage import data

        return data.astronaut()
    if name == "grace_hopper":
        import matplotlib.cbook as cbook
        import matplotlib.image as mpimg

        return np.asarray(mpimg.imread(cbook.get_sample_data("grace_hopper.jpg")), dtype=np.uint8)
    raise ValueError(f"unknown real face {name!r}; use one of {sorted(REAL_FACES)}")


def held_out_crops() -> tuple[np.ndarray, np.ndarray]:
    """Aligned crops no calibration or training ever saw, with their aligned landmarks: the two portraits (dlib's
    landmarks) and six SynthAU faces of seed 3 showing AUs at several intensities (``tests/test_quantize.py`` and
    ``benchmarks/bench_agreement.py`` compare the int8 graph with fp32 on them).

    Returns:
        ``(8, 256, 256, 3)`` uint8 crops and ``(8, 68, 2)`` float32 landmarks in the crops.
    """
    from aulib.data.synthau import SynthConfig, render_still, subject_identity
    from aulib.detect import create_detector
    from aulib.method.align import alignment_matrix, transform_points, warp_face

    detector = create_detector("dlib")
    pairs = [(real_face(name), detector.detect_largest(real_face(name)).points) for name in REAL_FACES]
    config = SynthConfig(seed=3)
    expressions = [{6: 3.0, 12: 4.0}, {10: 2.0, 14: 1.0}, {17: 5.0}, {12: 1.0}, {6: 5.0, 12: 5.0}, {}]
    pairs += [render_still(subject_identity(config, k), aus, config) for k, aus in enumerate(expressions)]
    crops, points = [], []
    for image, landmarks in pairs:
        matrix = alignment_matrix(landmarks)
        crops.append(warp_face(image, matrix, 256))
        points.append(transform_points(landmarks, matrix).astype(np.float32))
    return np.stack(crops), np.stack(points)
