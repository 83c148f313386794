"""SynthAU rendering: draw a face from its 68 landmarks and AU intensities, with OpenCV anti-aliasing.

The face is drawn at twice the output resolution and downsampled with area averaging. AU evidence appears where
the AU centres of :mod:`aulib.aus` say it should: wrinkles, folds and bulges are drawn on a shading layer in a
frame attached to the face (origin and axes from the eye corners), so they follow the head's pose.

All geometry arguments are image pixels of the *output* image; :func:`render_face` scales them.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from aulib.data.synthau_faces import SIMULATED_AUS, Identity

SUPERSAMPLE = 2
_SHIFT = 4  # cv2 fixed-point sub-pixel bits: coordinates are multiplied by 16
_AA = cv2.LINE_AA


@dataclass
class Scene:
    """Per-frame rendering conditions (sampled by the generator, smooth within a sequence).

    Attributes:
        light_angle: direction the light comes from, radians.
        light_strength: relative brightness difference across the face (0 = flat lighting).
        brightness: overall exposure multiplier.
        colour_cast: RGB multipliers of the illuminant.
        blur_sigma: optical blur of the output image, pixels.
        noise_sigma: sensor noise standard deviation, grey levels.
        cue_strength: contrast of the AU appearance cues (difficulty).
        hand: ``None`` or ``(x, y, radius_x, radius_y, angle)`` of a hand occluding the face, output pixels.
        gaze: ``(dx, dy)`` iris offset as a fraction of the eye's width.
    """

    light_angle: float = 0.0
    light_strength: float = 0.2
    brightness: float = 1.0
    colour_cast: tuple[float, float, float] = (1.0, 1.0, 1.0)
    blur_sigma: float = 0.5
    noise_sigma: float = 2.0
    cue_strength: float = 1.0
    hand: tuple[float, float, float, float, float] | None = None
    gaze: tuple[float, float] = (0.0, 0.0)


def _fixed(points: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(points) * (1 << _SHIFT)).astype(np.int32)


def _colour(rgb: np.ndarray, factor: float = 1.0) -> tuple[float, float, float]:
    return tuple(float(c) for c in np.clip(np.asarray(rgb) * factor, 0, 255))


def _fill(canvas: np.ndarray, polygon: np.ndarray, colour) -> None:
    cv2.fillPoly(canvas, [_fixed(polygon)], colour, _AA, _SHIFT)


def _line(canvas: np.ndarray, points: np.ndarray, colour, thickness: float, closed: bool = False) -> None:
    cv2.polylines(canvas, [_fixed(points)], closed, colour, max(1, round(thickness)), _AA, _SHIFT)


def _ellipse(canvas, centre, axes, angle_deg, colour, thickness=-1) -> None:
    cv2.ellipse(canvas, (_fixed(centre)[0].item(), _fixed(centre)[1].item()),
                (max(1, int(axes[0] * (1 << _SHIFT))), max(1, int(axes[1] * (1 << _SHIFT)))),
                angle_deg, 0, 360, colour, thickness, _AA, _SHIFT)


class FaceFrame:
    """Points in a frame attached to the face: origin between the outer eye corners, unit = IOD."""

    def __init__(self, landmarks: np.ndarray) -> None:
        self.landmarks = landmarks
        self.ex = landmarks[45] - landmarks[36]  # one IOD towards the subject's left eye
        self.ey = np.array([-self.ex[1], self.ex[0]])  # one IOD towards the chin
        self.iod = float(np.linalg.norm(self.ex))
        self.angle = float(np.degrees(np.arctan2(self.ex[1], self.ex[0])))

    def at(self, anchor: int | np.ndarray, dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
        base = self.landmarks[anchor] if isinstance(anchor, (int, np.integer)) else anchor
        return base + dx * self.ex + dy * self.ey

    def curve(self, anchor: int | np.ndarray, offsets: list[tuple[float, float]]) -> np.ndarray:
        return np.stack([self.at(anchor, dx, dy) for dx, dy in offsets])


def _mirror_offsets(offsets: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(-dx, dy) for dx, dy in offsets]


def _face_outline(frame: FaceFrame) -> np.ndarray:
    jaw = frame.landmarks[:17]
    half_width = (jaw[16] - jaw[0]) / 2
    centre = (jaw[0] + jaw[16]) / 2
    angles = np.linspace(0, np.pi, 15)[1:-1]
    # Forehead: an arc over the brows, 0.95 IOD high, from the left temple back to the right one.
    forehead = centre + np.cos(angles)[:, None] * half_width - np.sin(angles)[:, None] * 0.95 * frame.ey
    return np.concatenate([jaw, forehead])


def _draw_background_and_head(canvas: np.ndarray, frame: FaceFrame, identity: Identity) -> np.ndarray:
    outline = _face_outline(frame)
    jaw = frame.landmarks[:17]
    hair = _colour(identity.hair)
    # Hair behind the head, neck, then the face itself.
    head_centre = frame.at((jaw[0] + jaw[16]) / 2, 0.0, -0.15)
    hair_width = 0.98 if identity.hair_style == 2 else 0.9
    _ellipse(canvas, head_centre, (hair_width * frame.iod * 1.0, 1.2 * frame.iod), frame.angle, hair)
    if identity.hair_style == 2:  # long hair down the sides
        for side in (-1, 1):
            _fill(canvas, frame.curve(head_centre, [(side * 0.95, 0.0), (side * 1.05, 1.1), (side * 0.7, 1.15),
                                                    (side * 0.7, 0.0)]), hair)
    neck = np.stack([frame.at(5, 0.05, 0.0), frame.at(11, -0.05, 0.0), frame.at(11, 0.05, 1.5),
                     frame.at(5, -0.05, 1.5)])
    _fill(canvas, neck, _colour(identity.skin, 0.8))
    _fill(canvas, outline, _colour(identity.skin))
    if identity.hair_style == 1:  # a fringe hides the upper forehead (and some of AU1/AU2's lines)
        top = outline[17:]
        fringe = np.concatenate([top, frame.curve((jaw[0] + jaw[16]) / 2, [(0.45, -0.62), (0.0, -0.55),
                                                                           (-0.45, -0.62)])])
        _fill(canvas, fringe, hair)
    return outline


def _draw_brows(canvas: np.ndarray, frame: FaceFrame, identity: Identity) -> None:
    colour = _colour(identity.hair, 0.8)
    for indices in (list(range(17, 22)), list(range(26, 21, -1))):
        points = frame.landmarks[indices]
        # Thick at the head (medial end), thin at the tail.
        thickness = identity.brow_thickness * np.linspace(0.55, 1.0, 5)[:, None]
        upper = points - thickness * 0.5 * frame.ey
        lower = points + thickness * 0.5 * frame.ey
        _fill(canvas, np.concatenate([upper, lower[::-1]]), colour)


def _draw_eye(canvas: np.ndarray, frame: FaceFrame, identity: Identity, indices: list[int],
              gaze: tuple[float, float]) -> None:
    points = frame.landmarks[indices]
    x0, y0 = np.floor(points.min(axis=0) - 4).astype(int)
    x1, y1 = np.ceil(points.max(axis=0) + 4).astype(int)
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, canvas.shape[1]), min(y1, canvas.shape[0])
    if x1 - x0 < 3 or y1 - y0 < 3:
        return
    roi = canvas[y0:y1, x0:x1]
    local = points - [x0, y0]
    mask = np.zeros(roi.shape[:2], np.uint8)
    _fill(mask, local, 255)
    eye = roi.copy()
    _fill(eye, local, (236.0, 232.0, 226.0))
    width = np.linalg.norm(local[3] - local[0])
    centre = local.mean(axis=0) + np.array(gaze) * width
    _ellipse(eye, centre, (0.21 * width, 0.21 * width), 0, _colour(identity.iris))
    _ellipse(eye, centre, (0.09 * width, 0.09 * width), 0, (15.0, 12.0, 12.0))
    _ellipse(eye, centre - 0.05 * width, (0.03 * width, 0.03 * width), 0, (250.0, 250.0, 250.0))
    alpha = mask[..., None].astype(np.float32) / 255
    roi[:] = (eye * alpha + roi * (1 - alpha)).astype(roi.dtype)
    lash = _colour(identity.hair, 0.35)
    _line(canvas, points[[0, 1, 2, 3]], lash, 0.022 * frame.iod)  # upper lid with lashes
    _line(canvas, points[[3, 4, 5, 0]], _colour(identity.skin, 0.6), 0.008 * frame.iod)


def _draw_nose(canvas: np.ndarray, frame: FaceFrame, identity: Identity) -> None:
    nostril = _colour(identity.skin, 0.35)
    for index, side in ((32, -1), (34, 1)):
        centre = frame.at(index, side * 0.012, -0.01)
        _ellipse(canvas, centre, (0.045 * frame.iod, 0.022 * frame.iod), frame.angle + side * 15, nostril)
    _line(canvas, frame.landmarks[31:36], _colour(identity.skin, 0.8), 0.01 * frame.iod)
    for side, index in ((-1, 31), (1, 35)):  # the sides of the nose, from the bridge to the wings
        _line(canvas, np.stack([frame.at(27, side * 0.07, 0.02), frame.at(index, side * 0.01, -0.08)]),
              _colour(identity.skin, 0.93), 0.02 * frame.iod)
    _ellipse(canvas, frame.at(30, 0.0, -0.02), (0.035 * frame.iod, 0.03 * frame.iod), 0,
             _colour(identity.skin, 1.08))
    for side, index in ((-1, 31), (1, 35)):  # alar creases
        _line(canvas, frame.curve(index, [(side * 0.0, -0.06), (side * 0.03, -0.01), (side * 0.0, 0.015)]),
              _colour(identity.skin, 0.75), 0.012 * frame.iod)


def _draw_mouth(canvas: np.ndarray, frame: FaceFrame, identity: Identity) -> None:
    lm = frame.landmarks
    inner = lm[60:68]
    opening = np.linalg.norm(lm[66] - lm[62]) / frame.iod
    if opening > 0.015:
        _fill(canvas, inner, (70.0, 25.0, 30.0))
        if opening > 0.03:  # upper teeth show below the upper lip
            teeth = np.concatenate([lm[[60, 61, 62, 63, 64]],
                                    (lm[[64, 63, 62, 61, 60]] + min(opening, 0.05) * frame.ey * 0.8)])
            _fill(canvas, teeth, (232.0, 228.0, 215.0))
    upper = np.concatenate([lm[48:55], lm[[64, 63, 62, 61, 60]]])
    lower = np.concatenate([lm[[54, 55, 56, 57, 58, 59, 48]], lm[[60, 67, 66, 65, 64]]])
    _fill(canvas, upper, _colour(identity.lips, 0.9))
    _fill(canvas, lower, _colour(identity.lips, 1.0))
    _line(canvas, lm[[60, 61, 62, 63, 64]], _colour(identity.lips, 0.5), 0.01 * frame.iod)


def _draw_glasses(canvas: np.ndarray, frame: FaceFrame) -> None:
    rim = (25.0, 25.0, 30.0)
    for eye in (list(range(36, 42)), list(range(42, 48))):
        centre = frame.landmarks[eye].mean(axis=0) + 0.02 * frame.ey
        thickness = max(1, round(0.02 * frame.iod))
        _ellipse(canvas, centre, (0.27 * frame.iod, 0.19 * frame.iod), frame.angle, rim, thickness)
    _line(canvas, np.stack([frame.at(39, 0.05, -0.02), frame.at(42, -0.05, -0.02)]), rim, 0.02 * frame.iod)


def _draw_cues(shade: np.ndarray, light: np.ndarray, frame: FaceFrame, values: np.ndarray,
               identity: Identity, strength: float) -> None:
    """Draw AU appearance cues: darkness on ``shade`` (wrinkles, folds), brightness on ``light`` (bulges)."""
    iod = frame.iod

    def level(au: int, base: float) -> float:
        index = SIMULATED_AUS.index(au)
        return float(np.clip(values[index] / 5 * identity.appearance_gain[index] * strength * base, 0, 1)) * 255

    def lines(anchor, shapes, value, width, mirror_anchor=None):
        if value < 1:
            return
        for offsets in shapes:
            _line(shade, frame.curve(anchor, offsets), value, width * iod)
            if mirror_anchor is not None:
                _line(shade, frame.curve(mirror_anchor, _mirror_offsets(offsets)), value, width * iod)

    # Permanent lines of older faces: present at rest, unrelated to AUs (they make appearance cues ambiguous).
    age = identity.age_lines * strength * 255 * 0.5
    brow_centre = (frame.landmarks[21] + frame.landmarks[22]) / 2
    lines(brow_centre, [[(-0.28, -0.30), (0.0, -0.33), (0.28, -0.30)]], age, 0.012)
    lines(31, [[(-0.05, -0.02), (-0.1, 0.1), (-0.1, 0.22)]], age, 0.015, mirror_anchor=35)

    # AU1: horizontal lines in the centre of the forehead; AU2: lines above the outer brows.
    forehead = [[(-0.22, -0.22 - 0.07 * k), (0.0, -0.25 - 0.07 * k), (0.22, -0.22 - 0.07 * k)] for k in range(3)]
    lines(brow_centre, forehead, level(1, 0.55), 0.014)
    lines(19, [[(-0.14, -0.16 - 0.07 * k), (0.0, -0.19 - 0.07 * k), (0.12, -0.17 - 0.07 * k)] for k in range(2)],
          level(2, 0.5), 0.013, mirror_anchor=24)
    # AU4: vertical furrows between the brows, and shadow under the bunched brow heads.
    lines(brow_centre, [[(-0.045, -0.02), (-0.035, -0.16)], [(0.045, -0.02), (0.035, -0.16)]], level(4, 0.7), 0.016)
    # AU6: crow's feet at the outer corners, bags under the eyes, raised cheeks (bright bulge).
    crow = [[(-0.04, 0.0), (-0.16, -0.05)], [(-0.045, 0.02), (-0.17, 0.03)], [(-0.04, 0.04), (-0.15, 0.11)]]
    lines(36, crow, level(6, 0.6), 0.012, mirror_anchor=45)
    lines(41, [[(-0.04, 0.07), (0.06, 0.1), (0.16, 0.08)]], level(6, 0.45), 0.014, mirror_anchor=46)
    for anchor, side in ((41, 1), (46, -1)):
        _ellipse(light, frame.at(anchor, side * 0.04, 0.2), (0.16 * iod, 0.09 * iod), frame.angle,
                 level(6, 0.5) * 0.6)
    # AU9: wrinkles across the upper nose and at its root.
    lines(28, [[(-0.07, 0.02 * k), (0.07, 0.02 * k)] for k in (-1, 0, 1)], level(9, 0.7), 0.012)
    # AU10 and AU12: the nasolabial fold; AU10 deepens its upper part, AU12 all of it and lifts the cheek.
    upper_fold = [[(-0.04, 0.0), (-0.09, 0.06), (-0.11, 0.12)]]
    lines(31, upper_fold, level(10, 0.7), 0.02, mirror_anchor=35)
    lines(31, [[(-0.04, 0.0), (-0.1, 0.1), (-0.13, 0.2), (-0.13, 0.3)]], level(12, 0.6), 0.02,
          mirror_anchor=35)
    for anchor, side in ((48, 1), (54, -1)):
        _ellipse(light, frame.at(anchor, side * -0.12, -0.16), (0.14 * iod, 0.1 * iod), frame.angle,
                 level(12, 0.45) * 0.6)
    # AU14: dimples lateral to the lip corners.
    for anchor, side in ((48, 1), (54, -1)):
        value = level(14, 0.9)
        if value >= 1:
            _ellipse(shade, frame.at(anchor, -side * 0.09, 0.0), (0.018 * iod, 0.05 * iod), frame.angle, value)
    # AU15: lines running down from the lip corners.
    lines(48, [[(-0.01, 0.03), (-0.04, 0.14)]], level(15, 0.6), 0.016, mirror_anchor=54)
    # AU17: wrinkled chin boss (fixed per subject) and a deeper crease under the lower lip.
    chin_value = level(17, 0.6)
    if chin_value >= 1:
        chin = (frame.landmarks[57] + frame.landmarks[8]) / 2
        dots = np.random.default_rng(identity.texture_seed).uniform(-1, 1, (40, 2)) * [0.12, 0.06]
        for dx, dy in dots:
            _ellipse(shade, frame.at(chin, dx, dy), (0.007 * iod, 0.007 * iod), 0, chin_value * 0.7)
        lines(57, [[(-0.1, 0.05), (0.0, 0.07), (0.1, 0.05)]], chin_value, 0.016)
        _ellipse(light, frame.at(chin, 0, 0.02), (0.12 * iod, 0.07 * iod), frame.angle, chin_value * 0.5)
    # AU20: skin stretched sideways beyond the corners.
    lines(48, [[(-0.03, 0.0), (-0.13, 0.02)], [(-0.03, 0.03), (-0.11, 0.06)]], level(20, 0.5), 0.012,
          mirror_anchor=54)


def render_face(
    landmarks: np.ndarray, identity: Identity, intensities: np.ndarray, scene: Scene, image_size: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Render one frame.

    Args:
        landmarks: ``(68, 2)`` exact landmarks in output-image pixels.
        identity: the subject.
        intensities: ``(len(SIMULATED_AUS),)`` continuous intensities in [0, 5].
        scene: lighting, blur, noise, occluders.
        image_size: output side in pixels (square images).
        rng: the frame's generator (sensor noise).

    Returns:
        RGB uint8 ``(image_size, image_size, 3)``.
    """
    size = image_size * SUPERSAMPLE
    # Pixel centres: output pixel j covers supersampled pixels 2j and 2j+1, whose centre is 2j + 0.5.
    frame = FaceFrame(landmarks * SUPERSAMPLE + (SUPERSAMPLE - 1) / 2)
    gradient = np.linspace(0, 1, size, dtype=np.float32)[:, None, None]
    # Draw in uint8: OpenCV anti-aliases only 8-bit images.
    canvas = (identity.background * (1 - gradient) + identity.background2 * gradient).astype(np.uint8)
    canvas = np.ascontiguousarray(np.broadcast_to(canvas, (size, size, 3)))

    outline = _draw_background_and_head(canvas, frame, identity)
    _draw_brows(canvas, frame, identity)
    _draw_eye(canvas, frame, identity, list(range(36, 42)), scene.gaze)
    _draw_eye(canvas, frame, identity, list(range(42, 48)), scene.gaze)
    _draw_nose(canvas, frame, identity)
    _draw_mouth(canvas, frame, identity)

    shade = np.zeros((size, size), np.uint8)
    light = np.zeros((size, size), np.uint8)
    _draw_cues(shade, light, frame, intensities, identity, scene.cue_strength)
    soft = max(1, round(0.012 * frame.iod)) * 2 + 1
    shade_f = cv2.GaussianBlur(shade, (soft, soft), 0).astype(np.float32) / 255
    light_f = cv2.GaussianBlur(light, (soft * 3, soft * 3), 0).astype(np.float32) / 255
    shaded = canvas * (1 - 0.6 * shade_f)[..., None] + (light_f * 45)[..., None]
    canvas = np.clip(shaded + 0.5, 0, 255).astype(np.uint8)

    if identity.glasses:
        _draw_glasses(canvas, frame)
    if scene.hand is not None:
        x, y, rx, ry, angle = scene.hand
        hand_colour = _colour(identity.skin, 0.95)
        centre = np.array([x, y]) * SUPERSAMPLE
        _ellipse(canvas, centre, (rx * SUPERSAMPLE, ry * SUPERSAMPLE), angle, hand_colour)
        for k in range(-1, 3):  # finger gaps
            offset = np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))]) * k * ry * SUPERSAMPLE * 0.4
            _line(canvas, np.stack([centre + offset, centre + offset * 1.05 + [0, -ry * SUPERSAMPLE]]),
                  _colour(identity.skin, 0.7), 2)

    image = cv2.resize(canvas, (image_size, image_size), interpolation=cv2.INTER_AREA).astype(np.float32)

    # Shading of a rounded face: darker towards the outline, and a directional light across the image.
    mask_u8 = np.zeros((image_size, image_size), np.uint8)
    _fill(mask_u8, (outline - (SUPERSAMPLE - 1) / 2) / SUPERSAMPLE, 255)
    mask = mask_u8.astype(np.float32) / 255
    edge = max(3, round(0.25 * frame.iod / SUPERSAMPLE)) | 1
    roundness = cv2.GaussianBlur(mask, (edge, edge), 0)
    coords = (np.arange(image_size, dtype=np.float32) / image_size - 0.5)
    ramp = np.cos(scene.light_angle) * coords[None, :] + np.sin(scene.light_angle) * coords[:, None]
    illumination = scene.brightness * (1 + scene.light_strength * ramp) * (0.8 + 0.2 * (roundness + 1 - mask))
    image = image * illumination[..., None] * np.asarray(scene.colour_cast, np.float32)
    if scene.blur_sigma > 0.05:
        image = cv2.GaussianBlur(image, (0, 0), scene.blur_sigma)
    image += rng.standard_normal(image.shape, dtype=np.float32) * scene.noise_sigma
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)
