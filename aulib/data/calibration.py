"""Calibration crops for the int8 graph (:mod:`aulib.inference.quantize`): aligned SynthAU faces, rendered on demand.

Static quantisation needs the activations' ranges on inputs like the real ones. SynthAU renders them with its domain
randomisation (pose, light, clutter, blur, noise), so no face data is shipped or downloaded; the crops are aligned
with the paper's affine on the tracker-like landmarks, as ``aulib predict`` aligns a detected face. The seed is not
one of the course's sets, so calibration never sees a test face.

Example:
    >>> crops = calibration_crops(subjects=1, frames=2)
    >>> crops.shape, crops.dtype.name
    ((2, 256, 256, 3), 'uint8')
"""

from __future__ import annotations

import numpy as np

from aulib.data.synthau import SynthConfig
from aulib.data.synthau.generate import render_sequence
from aulib.data.synthau.protocol import TASKS
from aulib.method.align import FRAME_SIZE, alignment_matrix, warp_face

CALIBRATION_SUBJECTS, CALIBRATION_FRAMES, CALIBRATION_SEED = 16, 2, 11  # 32 crops: ~5 s for the paper network


def calibration_crops(*, subjects: int = CALIBRATION_SUBJECTS, frames: int = CALIBRATION_FRAMES,
                      seed: int = CALIBRATION_SEED, size: int = FRAME_SIZE) -> np.ndarray:
    """``frames`` aligned crops of each of ``subjects`` SynthAU subjects, each subject in a different task.

    Returns:
        ``(subjects * frames, size, size, 3)`` uint8 RGB crops.
    """
    config = SynthConfig(seed=seed)
    crops = []
    for subject in range(subjects):
        clip = render_sequence(config, subject, subject % len(TASKS), frames)
        for image, landmarks in zip(clip["images"], clip["landmarks"], strict=True):
            crops.append(warp_face(image, alignment_matrix(landmarks, size=size), size))
    return np.stack(crops)
