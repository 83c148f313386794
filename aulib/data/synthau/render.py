"""SynthAU rendering: draw a face from its 68 landmarks and AU intensities, with OpenCV anti-aliasing.

The face is drawn at twice the output resolution and downsampled with area averaging. Layers, back to front:

1. the backdrop and its clutter (:func:`aulib.data.synthau.scene.draw_background`);
2. hair behind the head, the neck and the face, with the subject's skin texture (pores, blotches, freckles);
3. brows, eyes, nose and mouth, then facial hair;
4. the AU appearance cues (:mod:`aulib.data.synthau.cues`), as shading on the skin;
5. glasses and occluders (a hand, an object);
6. lighting, then the camera: blur, sensor noise and JPEG compression (:mod:`aulib.data.synthau.scene`).

All geometry arguments are image pixels of the *output* image; :func:`render_face` scales them.
"""

from __future__ import annotations

import cv2
import numpy as np

from aulib.data.synthau.cues import draw_cues
from aulib.data.synthau.draw import FaceFrame, colour, ellipse, fill, line
from aulib.data.synthau.faces import FACIAL_HAIR, HAIR_STYLES, Identity
from aulib.data.synthau.scene import Scene, apply_lighting, camera, draw_background, draw_occluders

__all__ = ["SUPERSAMPLE", "Scene", "render_face"]

SUPERSAMPLE = 2


def _face_outline(frame: FaceFrame) -> np.ndarray:
    jaw = frame.landmarks[:17]
    half_width = (jaw[16] - jaw[0]) / 2
    centre = (jaw[0] + jaw[16]) / 2
    angles = np.linspace(0, np.pi, 15)[1:-1]
    # Forehead: an arc over the brows, 0.95 IOD high, from the left temple back to the right one.
    forehead = centre + np.cos(angles)[:, None] * half_width - np.sin(angles)[:, None] * 0.95 * frame.ey
    return np.concatenate([jaw, forehead])


def _draw_head(canvas: np.ndarray, frame: FaceFrame, identity: Identity) -> np.ndarray:
    """Hair behind the head, the neck, the face and hair over it; returns the face's outline."""
    outline = _face_outline(frame)
    jaw = frame.landmarks[:17]
    hair = colour(identity.hair)
    style = HAIR_STYLES[identity.hair_style]
    head_centre = frame.at((jaw[0] + jaw[16]) / 2, 0.0, -0.15)
    if style != "bald":
        width = {"long": 0.98, "curly": 1.12}.get(style, 0.9)
        ellipse(canvas, head_centre, (width * frame.iod, (1.3 if style == "curly" else 1.2) * frame.iod),
                frame.angle, hair)
    if style == "long":  # down the sides, past the jaw
        for side in (-1, 1):
            fill(canvas, frame.curve(head_centre, [(side * 0.95, 0.0), (side * 1.05, 1.1), (side * 0.7, 1.15),
                                                   (side * 0.7, 0.0)]), hair)
    neck = np.stack([frame.at(5, 0.05, 0.0), frame.at(11, -0.05, 0.0), frame.at(11, 0.05, 1.5),
                     frame.at(5, -0.05, 1.5)])
    fill(canvas, neck, colour(identity.skin, 0.8))
    fill(canvas, outline, colour(identity.skin))
    top = outline[17:]
    middle = (jaw[0] + jaw[16]) / 2
    if style == "fringe":  # hides the upper forehead (and some of AU1/AU2's lines)
        fill(canvas, np.concatenate([top, frame.curve(middle, [(-0.45, -0.62), (0.0, -0.55), (0.45, -0.62)])]),
             hair)
    elif style == "curly":  # a low, uneven hairline
        edge = [(-0.5 * np.cos(t), -0.72 - 0.05 * np.sin(7 * t)) for t in np.linspace(0, np.pi, 12)]
        fill(canvas, np.concatenate([top, frame.curve(middle, edge)]), hair)
    return outline


def _skin_texture(image: np.ndarray, face_mask: np.ndarray, frame: FaceFrame, identity: Identity) -> None:
    """Pores and blotches (multiplicative noise) on the face, fixed to the subject's face and moving with it.

    Args:
        image: ``(S, S, 3)`` float32 output image, changed in place.
        face_mask: ``(S, S)`` float32 in [0, 1].
        frame: the face frame in output pixels.
        identity: the subject (texture strength and seed).
    """
    if identity.pores <= 0:
        return
    rng = np.random.default_rng(identity.texture_seed + 1)
    # Noise on a 3×3 IOD patch centred on the face (fine: pores; coarse: blotches), warped with the face's pose.
    fine = rng.standard_normal((72, 72)).astype(np.float32)
    coarse = cv2.resize(rng.standard_normal((6, 6)).astype(np.float32), (72, 72), interpolation=cv2.INTER_CUBIC)
    texture = 0.05 * fine + 0.06 * coarse
    origin = frame.at((frame.landmarks[36] + frame.landmarks[45]) / 2, -1.5, -1.2)
    to_image = np.column_stack([frame.ex * 3 / 72, frame.ey * 3 / 72, origin]).astype(np.float64)
    size = image.shape[0]
    warped = cv2.warpAffine(texture, to_image, (size, size), flags=cv2.INTER_LINEAR, borderValue=0.0)
    image *= (1 + identity.pores * warped * face_mask)[..., None]


def _draw_freckles(canvas: np.ndarray, frame: FaceFrame, identity: Identity) -> None:
    count = int(120 * identity.freckles)
    if not count:
        return
    rng = np.random.default_rng(identity.texture_seed + 3)
    spots = rng.uniform(-1, 1, (count, 2)) * [0.55, 0.35] + [0.0, 0.45]
    radii = rng.uniform(0.006, 0.014, count) * frame.iod
    shades = rng.uniform(0.7, 0.85, count)
    middle = (frame.landmarks[36] + frame.landmarks[45]) / 2
    for (dx, dy), radius, shade in zip(spots, radii, shades, strict=True):
        ellipse(canvas, frame.at(middle, dx, dy), (radius, radius), 0, colour(identity.skin, shade))


def _draw_facial_hair(canvas: np.ndarray, frame: FaceFrame, identity: Identity) -> None:
    style = FACIAL_HAIR[identity.facial_hair]
    if style == "none":
        return
    lm = frame.landmarks
    hair = colour(identity.hair, 0.9)
    if style == "stubble":
        rng = np.random.default_rng(identity.texture_seed + 2)
        region = np.concatenate([lm[3:14], lm[[54, 35, 33, 31, 48]]])
        lo, hi = region.min(axis=0), region.max(axis=0)
        mask = np.zeros(canvas.shape[:2], np.uint8)
        fill(mask, region, 255)
        dots = rng.uniform(lo, hi, (900, 2))
        inside = mask[np.clip(dots[:, 1].astype(int), 0, mask.shape[0] - 1),
                      np.clip(dots[:, 0].astype(int), 0, mask.shape[1] - 1)] > 0
        for x, y in dots[inside]:
            ellipse(canvas, (x, y), (0.006 * frame.iod, 0.006 * frame.iod), 0, hair)
        return
    if style in ("moustache", "goatee", "beard"):  # every style but stubble has a moustache
        fill(canvas, np.stack([frame.at(48, -0.02, 0.0), frame.at(31, 0.0, 0.03), frame.at(33, 0.0, 0.04),
                               frame.at(35, 0.0, 0.03), frame.at(54, 0.02, 0.0), frame.at(52, 0.0, -0.01),
                               frame.at(51, 0.0, -0.015), frame.at(50, 0.0, -0.01)]), hair)
    if style == "goatee":
        fill(canvas, np.stack([frame.at(59, -0.02, 0.02), frame.at(57, 0.0, 0.03), frame.at(55, 0.02, 0.02),
                               frame.at(10, 0.0, 0.0), frame.at(8, 0.0, 0.02), frame.at(6, 0.0, 0.0)]), hair)
    elif style == "beard":
        fill(canvas, np.concatenate([lm[2:15], np.stack([frame.at(54, 0.04, 0.04), frame.at(57, 0.0, 0.04),
                                                         frame.at(48, -0.04, 0.04)])]), hair)


def _draw_brows(canvas: np.ndarray, frame: FaceFrame, identity: Identity) -> None:
    brow = colour(identity.hair, 0.8)
    for indices in (list(range(17, 22)), list(range(26, 21, -1))):
        points = frame.landmarks[indices]
        # Thick at the head (medial end), thin at the tail.
        thickness = identity.brow_thickness * np.linspace(0.55, 1.0, 5)[:, None]
        upper = points - thickness * 0.5 * frame.ey
        lower = points + thickness * 0.5 * frame.ey
        fill(canvas, np.concatenate([upper, lower[::-1]]), brow)


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
    fill(mask, local, 255)
    eye = roi.copy()
    fill(eye, local, (236.0, 232.0, 226.0))
    width = np.linalg.norm(local[3] - local[0])
    centre = local.mean(axis=0) + np.array(gaze) * width
    ellipse(eye, centre, (0.21 * width, 0.21 * width), 0, colour(identity.iris))
    ellipse(eye, centre, (0.09 * width, 0.09 * width), 0, (15.0, 12.0, 12.0))
    ellipse(eye, centre - 0.05 * width, (0.03 * width, 0.03 * width), 0, (250.0, 250.0, 250.0))
    alpha = mask[..., None].astype(np.float32) / 255
    roi[:] = (eye * alpha + roi * (1 - alpha)).astype(roi.dtype)
    lash = colour(identity.hair, 0.35)
    line(canvas, points[[0, 1, 2, 3]], lash, 0.022 * frame.iod)  # upper lid with lashes
    line(canvas, points[[3, 4, 5, 0]], colour(identity.skin, 0.6), 0.008 * frame.iod)


def _draw_nose(canvas: np.ndarray, frame: FaceFrame, identity: Identity) -> None:
    nostril = colour(identity.skin, 0.35)
    for index, side in ((32, -1), (34, 1)):
        centre = frame.at(index, side * 0.012, -0.01)
        ellipse(canvas, centre, (0.045 * frame.iod, 0.022 * frame.iod), frame.angle + side * 15, nostril)
    line(canvas, frame.landmarks[31:36], colour(identity.skin, 0.8), 0.01 * frame.iod)
    for side, index in ((-1, 31), (1, 35)):  # the sides of the nose, from the bridge to the wings
        line(canvas, np.stack([frame.at(27, side * 0.07, 0.02), frame.at(index, side * 0.01, -0.08)]),
              colour(identity.skin, 0.93), 0.02 * frame.iod)
    ellipse(canvas, frame.at(30, 0.0, -0.02), (0.035 * frame.iod, 0.03 * frame.iod), 0,
             colour(identity.skin, 1.08))
    for side, index in ((-1, 31), (1, 35)):  # alar creases
        line(canvas, frame.curve(index, [(side * 0.0, -0.06), (side * 0.03, -0.01), (side * 0.0, 0.015)]),
              colour(identity.skin, 0.75), 0.012 * frame.iod)


def _draw_mouth(canvas: np.ndarray, frame: FaceFrame, identity: Identity) -> None:
    lm = frame.landmarks
    inner = lm[60:68]
    opening = np.linalg.norm(lm[66] - lm[62]) / frame.iod
    if opening > 0.015:
        fill(canvas, inner, (70.0, 25.0, 30.0))
        if opening > 0.03:  # upper teeth show below the upper lip
            teeth = np.concatenate([lm[[60, 61, 62, 63, 64]],
                                    (lm[[64, 63, 62, 61, 60]] + min(opening, 0.05) * frame.ey * 0.8)])
            fill(canvas, teeth, (232.0, 228.0, 215.0))
    upper = np.concatenate([lm[48:55], lm[[64, 63, 62, 61, 60]]])
    lower = np.concatenate([lm[[54, 55, 56, 57, 58, 59, 48]], lm[[60, 67, 66, 65, 64]]])
    fill(canvas, upper, colour(identity.lips, 0.9))
    fill(canvas, lower, colour(identity.lips, 1.0))
    line(canvas, lm[[60, 61, 62, 63, 64]], colour(identity.lips, 0.5), 0.01 * frame.iod)


def _draw_glasses(canvas: np.ndarray, frame: FaceFrame, identity: Identity) -> None:
    rim = (25.0, 25.0, 30.0)
    for eye in (list(range(36, 42)), list(range(42, 48))):
        centre = frame.landmarks[eye].mean(axis=0) + 0.02 * frame.ey
        if identity.glasses_tint > 0:  # tinted lenses darken what is behind them
            x0, y0 = np.maximum(np.floor(centre - 0.3 * frame.iod).astype(int), 0)
            x1, y1 = np.ceil(centre + 0.3 * frame.iod).astype(int)
            roi = canvas[y0:y1, x0:x1]
            lens = np.zeros(roi.shape[:2], np.uint8)
            ellipse(lens, centre - [x0, y0], (0.27 * frame.iod, 0.19 * frame.iod), frame.angle, 255)
            roi[:] = (roi * (1 - identity.glasses_tint * lens[..., None] / 255)).astype(np.uint8)
        thickness = max(1, round(0.02 * frame.iod))
        ellipse(canvas, centre, (0.27 * frame.iod, 0.19 * frame.iod), frame.angle, rim, thickness)
    line(canvas, np.stack([frame.at(39, 0.05, -0.02), frame.at(42, -0.05, -0.02)]), rim, 0.02 * frame.iod)


def render_face(
    landmarks: np.ndarray, identity: Identity, intensities: np.ndarray, scene: Scene, image_size: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Render one frame.

    Args:
        landmarks: ``(68, 2)`` exact landmarks in output-image pixels.
        identity: the subject.
        intensities: ``(len(SIMULATED_AUS),)`` continuous intensities in [0, 5].
        scene: lighting, background, occluders and camera.
        image_size: output side in pixels (square images).
        rng: the frame's generator (sensor noise).

    Returns:
        RGB uint8 ``(image_size, image_size, 3)``.
    """
    size = image_size * SUPERSAMPLE
    # Pixel centres: output pixel j covers supersampled pixels 2j and 2j+1, whose centre is 2j + 0.5.
    frame = FaceFrame(landmarks * SUPERSAMPLE + (SUPERSAMPLE - 1) / 2)
    # Draw in uint8: OpenCV anti-aliases only 8-bit images.
    canvas = draw_background(size, identity.background, identity.background2, scene)
    outline = _draw_head(canvas, frame, identity)
    _draw_freckles(canvas, frame, identity)
    _draw_brows(canvas, frame, identity)
    _draw_eye(canvas, frame, identity, list(range(36, 42)), scene.gaze)
    _draw_eye(canvas, frame, identity, list(range(42, 48)), scene.gaze)
    _draw_nose(canvas, frame, identity)
    _draw_mouth(canvas, frame, identity)

    shade = np.zeros((size, size), np.uint8)
    light = np.zeros((size, size), np.uint8)
    draw_cues(shade, light, frame, intensities, identity, scene.cue_strength)
    soft = max(1, round(0.012 * frame.iod)) * 2 + 1
    shade_f = cv2.GaussianBlur(shade, (soft, soft), 0).astype(np.float32) / 255
    light_f = cv2.GaussianBlur(light, (soft * 3, soft * 3), 0).astype(np.float32) / 255
    shaded = canvas * (1 - 0.65 * shade_f)[..., None] + (light_f * 32)[..., None]
    canvas = np.clip(shaded + 0.5, 0, 255).astype(np.uint8)
    _draw_facial_hair(canvas, frame, identity)  # over the cues: a beard hides the chin's wrinkles

    if identity.glasses:
        _draw_glasses(canvas, frame, identity)
    draw_occluders(canvas, scene, tuple(identity.skin), SUPERSAMPLE)

    image = cv2.resize(canvas, (image_size, image_size), interpolation=cv2.INTER_AREA).astype(np.float32)
    mask = np.zeros((image_size, image_size), np.uint8)
    outline_out = (outline - (SUPERSAMPLE - 1) / 2) / SUPERSAMPLE
    fill(mask, outline_out, 255)
    face_mask = mask.astype(np.float32) / 255
    _skin_texture(image, face_mask, FaceFrame(landmarks), identity)
    image = apply_lighting(image, face_mask, scene, frame.iod / SUPERSAMPLE)
    return camera(image, scene, rng)
