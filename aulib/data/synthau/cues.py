"""SynthAU appearance cues: the wrinkles, furrows, bulges and textures each AU makes, where FACS says they appear.

The landmarks carry each AU's motion (:data:`aulib.data.synthau.faces.AU_MOTION`); this module draws what the
motion does to the skin. Each cue is drawn on one of two 8-bit layers in a frame attached to the face
(:class:`~aulib.data.synthau.draw.FaceFrame`), so it follows the head's pose: ``shade`` darkens (furrows, creases,
pits) and ``light`` brightens (bulges pushed towards the light). The renderer blurs both layers and applies them to
the face.

A cue's contrast is ``intensity / 5`` times the subject's appearance gain for the AU times the scene's cue strength
(the difficulty), so trace (A) to maximum (E) shows as faint to deep. The cues of the five BP4D AUs are sized to
stay visible in a 96-pixel aligned crop (a crease is at least 0.025 inter-ocular distances wide, about 1 pixel
there). Permanent lines of older faces (:attr:`~aulib.data.synthau.faces.Identity.age_lines`) are drawn at the same
places, at rest, so a fold alone does not prove an AU.

Example:
    >>> import numpy as np
    >>> from aulib.data.synthau.cues import draw_cues
    >>> from aulib.data.synthau.draw import FaceFrame
    >>> from aulib.data.synthau.faces import SIMULATED_AUS, pose_points, sample_identity, DEPTH_68
    >>> from aulib.data.synthau.faces import Pose
    >>> identity = sample_identity(np.random.default_rng(0), variation=0.0)
    >>> points = pose_points(identity.shape, DEPTH_68, Pose(centre=np.array([128.0, 110.0]), iod=80.0))
    >>> shade, light = np.zeros((256, 256), np.uint8), np.zeros((256, 256), np.uint8)
    >>> values = np.zeros(len(SIMULATED_AUS)); values[SIMULATED_AUS.index(17)] = 5.0
    >>> draw_cues(shade, light, FaceFrame(points), values, identity, strength=1.0)
    >>> bool(shade[150:220].sum() > 0), int(shade[:90].sum())  # the chin wrinkles, the forehead does not
    (True, 0)
"""

from __future__ import annotations

import numpy as np

from aulib.data.synthau.draw import FaceFrame, ellipse, line, mirror_offsets
from aulib.data.synthau.faces import SIMULATED_AUS, Identity


def draw_cues(shade: np.ndarray, light: np.ndarray, frame: FaceFrame, values: np.ndarray, identity: Identity,
              strength: float) -> None:
    """Draw every AU's appearance cues for one frame.

    Args:
        shade: ``(H, W)`` uint8 darkness layer, drawn into.
        light: ``(H, W)`` uint8 brightness layer, drawn into.
        frame: the face frame in the layers' pixels.
        values: ``(len(SIMULATED_AUS),)`` intensities in [0, 5].
        identity: the subject (appearance gains, age lines, texture seed).
        strength: cue contrast of the scene (the difficulty).
    """
    iod = frame.iod

    def level(au: int, base: float) -> float:
        index = SIMULATED_AUS.index(au)
        return float(np.clip(values[index] / 5 * identity.appearance_gain[index] * strength * base, 0, 1)) * 255

    def lines(anchor, shapes, value, width, mirror_anchor=None, layer=shade):
        if value < 1:
            return
        for offsets in shapes:
            line(layer, frame.curve(anchor, offsets), value, width * iod)
            if mirror_anchor is not None:
                line(layer, frame.curve(mirror_anchor, mirror_offsets(offsets)), value, width * iod)

    def blobs(anchor_pairs, axes, value, layer):
        if value < 1:
            return
        for anchor, dx, dy in anchor_pairs:
            ellipse(layer, frame.at(anchor, dx, dy), (axes[0] * iod, axes[1] * iod), frame.angle, value)

    lm = frame.landmarks
    brow_centre = (lm[21] + lm[22]) / 2
    chin = (lm[57] + lm[8]) / 2

    # Permanent lines of older faces, present at rest and unrelated to AUs: forehead lines, nasolabial and marionette
    # folds, crow's feet and lower-lid bags at the very places of the AU cues, so that a fold alone does not prove
    # an AU; the AU's motion and the change of the fold do.
    age = identity.age_lines * strength * 255 * 0.6
    lines(brow_centre, [[(-0.28, -0.30 - 0.08 * k), (0.0, -0.33 - 0.08 * k), (0.28, -0.30 - 0.08 * k)]
                        for k in range(2)], age, 0.016)
    lines(31, [[(-0.05, -0.02), (-0.1, 0.1), (-0.13, 0.22), (-0.13, 0.3)]], age, 0.026, mirror_anchor=35)
    lines(48, [[(-0.01, 0.04), (-0.03, 0.16)]], age * 0.8, 0.02, mirror_anchor=54)
    lines(36, [[(-0.04, 0.01), (-0.15, -0.02)], [(-0.04, 0.035), (-0.14, 0.07)]], age * 0.8, 0.016,
          mirror_anchor=45)
    lines(41, [[(-0.06, 0.06), (0.03, 0.09), (0.13, 0.07)]], age * 0.7, 0.02, mirror_anchor=46)
    if age >= 1:  # and fine wrinkles anywhere on an older face: lines are not AU evidence in themselves
        rng = np.random.default_rng(identity.texture_seed + 4)
        middle = (lm[36] + lm[45]) / 2
        for _ in range(int(30 * identity.age_lines)):
            start = rng.uniform([-0.6, -0.5], [0.6, 1.1])
            heading = rng.uniform(0, np.pi)
            bend = rng.normal(0, 0.03, 2)
            length = rng.uniform(0.06, 0.18)
            offsets = [tuple(start), tuple(start + length / 2 * np.array([np.cos(heading), np.sin(heading)]) + bend),
                       tuple(start + length * np.array([np.cos(heading), np.sin(heading)]))]
            line(shade, frame.curve(middle, offsets), age * rng.uniform(0.4, 0.9), 0.012 * iod)

    # AU1: horizontal lines in the centre of the forehead; AU2: lines above the outer brows.
    forehead = [[(-0.22, -0.22 - 0.07 * k), (0.0, -0.25 - 0.07 * k), (0.22, -0.22 - 0.07 * k)] for k in range(3)]
    lines(brow_centre, forehead, level(1, 0.6), 0.018)
    lines(19, [[(-0.14, -0.16 - 0.07 * k), (0.0, -0.19 - 0.07 * k), (0.12, -0.17 - 0.07 * k)] for k in range(2)],
          level(2, 0.55), 0.016, mirror_anchor=24)
    # AU4: vertical furrows between the brows, and shadow under the bunched brow heads.
    lines(brow_centre, [[(-0.045, -0.02), (-0.035, -0.16)], [(0.045, -0.02), (0.035, -0.16)]], level(4, 0.75), 0.02)
    blobs([(21, 0.0, 0.04), (22, 0.0, 0.04)], (0.07, 0.03), level(4, 0.4), shade)

    # AU6, cheek raiser: crow's feet fanning from the outer eye corners, the lower-lid furrow, and the raised
    # cheek (a bright bulge under the eye with a shadow beneath it).
    crow = [[(-0.03, -0.02), (-0.17, -0.08)], [(-0.035, 0.01), (-0.19, 0.01)], [(-0.03, 0.04), (-0.17, 0.11)],
            [(-0.02, 0.06), (-0.12, 0.16)]]
    lines(36, crow, level(6, 0.85), 0.024, mirror_anchor=45)
    lines(41, [[(-0.08, 0.05), (0.02, 0.085), (0.14, 0.07)]], level(6, 0.7), 0.026, mirror_anchor=46)
    blobs([(41, 0.03, 0.17), (46, -0.03, 0.17)], (0.17, 0.09), level(6, 0.8), light)
    lines(41, [[(-0.12, 0.24), (0.02, 0.29), (0.16, 0.25)]], level(6, 0.5), 0.03, mirror_anchor=46)

    # AU9: wrinkles across the upper nose and at its root.
    lines(28, [[(-0.07, 0.025 * k), (0.07, 0.025 * k)] for k in (-1, 0, 1)], level(9, 0.75), 0.016)

    # AU10, upper lip raiser: the upper part of the nasolabial furrow deepens beside the nose wing, the wing rises
    # and the upper lip's skin bunches under the nose.
    lines(31, [[(-0.03, -0.03), (-0.08, 0.04), (-0.11, 0.13)]], level(10, 0.9), 0.032, mirror_anchor=35)
    blobs([(31, -0.02, -0.02), (35, 0.02, -0.02)], (0.04, 0.03), level(10, 0.6), shade)
    blobs([(50, 0.0, -0.06), (52, 0.0, -0.06)], (0.06, 0.035), level(10, 0.55), light)

    # AU12, lip corner puller: the whole nasolabial fold deepens and curves out round the lifted cheek, the
    # corners dig in, and the cheeks bulge up towards the eyes.
    lines(31, [[(-0.04, 0.0), (-0.11, 0.1), (-0.15, 0.21), (-0.15, 0.32)]], level(12, 0.85), 0.032,
          mirror_anchor=35)
    blobs([(48, 0.12, -0.2), (54, -0.12, -0.2)], (0.15, 0.1), level(12, 0.75), light)
    blobs([(48, -0.01, 0.0), (54, 0.01, 0.0)], (0.025, 0.02), level(12, 0.7), shade)

    # AU14, dimpler: the buccinator pulls the corners in and presses them: a deep dimple crease forms just outside
    # each corner, the bunched skin bulges beside it, and the pressed corner darkens.
    for anchor, side in ((48, 1), (54, -1)):
        value = level(14, 1.3)
        if value >= 1:
            line(shade, frame.curve(anchor, [(-side * 0.055, -0.08), (-side * 0.085, -0.01), (-side * 0.07, 0.07)]),
                 value, 0.05 * iod)
            line(shade, frame.curve(anchor, [(side * 0.01, 0.0), (-side * 0.06, 0.0)]), value * 0.8, 0.03 * iod)
            ellipse(light, frame.at(anchor, -side * 0.16, 0.0), (0.06 * iod, 0.09 * iod), frame.angle, value)

    # AU15: lines running down from the lip corners.
    lines(48, [[(-0.01, 0.03), (-0.04, 0.14)]], level(15, 0.65), 0.02, mirror_anchor=54)

    # AU17, chin raiser: the chin boss bulges and wrinkles (orange-peel texture, fixed per subject), and the
    # furrow between the lower lip and the chin deepens.
    chin_value = level(17, 0.9)
    if chin_value >= 1:
        dots = np.random.default_rng(identity.texture_seed).uniform(-1, 1, (45, 2)) * [0.13, 0.07]
        for dx, dy in dots:
            ellipse(shade, frame.at(chin, dx, dy + 0.02), (0.012 * iod, 0.012 * iod), 0, chin_value * 0.8)
        line(shade, frame.curve(57, [(-0.13, 0.035), (-0.06, 0.06), (0.0, 0.065), (0.06, 0.06), (0.13, 0.035)]),
             chin_value, 0.034 * iod)
        ellipse(light, frame.at(chin, 0, 0.04), (0.14 * iod, 0.08 * iod), frame.angle, chin_value * 0.8)

    # AU20: skin stretched sideways beyond the corners.
    lines(48, [[(-0.03, 0.0), (-0.13, 0.02)], [(-0.03, 0.03), (-0.11, 0.06)]], level(20, 0.55), 0.016,
          mirror_anchor=54)
