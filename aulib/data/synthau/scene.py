"""SynthAU scenes: what surrounds a face and what the camera does to it (domain randomisation).

A :class:`Scene` holds one frame's conditions: lighting, background clutter, occluders and the camera's blur,
sensor noise and JPEG compression. The generator draws one scene per task clip with small changes per frame;
:mod:`aulib.data.synthau.render` calls the drawing functions here before (background, clutter) and after (occluders,
lighting, camera) it draws the face.

These variations carry no AU information on purpose: they make a network trained on SynthAU rely on the face itself
(domain randomisation), and they make the task harder than reading landmark geometry.

Example:
    >>> import numpy as np
    >>> from aulib.data.synthau.scene import Scene, camera
    >>> image = np.full((64, 64, 3), 128.0, np.float32)
    >>> out = camera(image, Scene(jpeg_quality=60, noise_sigma=2.0), np.random.default_rng(0))
    >>> out.dtype, out.shape
    (dtype('uint8'), (64, 64, 3))
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from aulib.data.synthau.draw import colour, ellipse, fill, line


@dataclass
class Scene:
    """Per-frame rendering conditions (sampled by the generator, nearly constant within a clip).

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
        background: ``None`` (the subject's own gradient) or two RGB colours of a vertical gradient.
        clutter: number of shapes drawn behind the head (a cluttered room).
        clutter_seed: seed of the clutter's shapes, so that a clip's background stays put.
        occluder: ``None`` or ``(x, y, width, height, angle, r, g, b)`` of an object in front of the face (a cup, a
            phone, a microphone), output pixels.
        shadow: strength of a hard shadow over one side of the face (0 none).
        jpeg_quality: ``None`` (no compression) or the JPEG quality the frame is compressed with.
        gamma: the camera's tone curve exponent (1 linear).
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
    background: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None
    clutter: int = 0
    clutter_seed: int = 0
    occluder: tuple[float, float, float, float, float, float, float, float] | None = None
    shadow: float = 0.0
    jpeg_quality: int | None = None
    gamma: float = 1.0


def draw_background(canvas_size: int, top: np.ndarray, bottom: np.ndarray, scene: Scene) -> np.ndarray:
    """The backdrop: a vertical gradient, with ``scene.clutter`` blurred shapes of a room behind the head.

    Returns:
        ``(canvas_size, canvas_size, 3)`` uint8 RGB.
    """
    if scene.background is not None:
        top, bottom = np.asarray(scene.background[0]), np.asarray(scene.background[1])
    gradient = np.linspace(0, 1, canvas_size, dtype=np.float32)[:, None, None]
    canvas = (np.asarray(top) * (1 - gradient) + np.asarray(bottom) * gradient).astype(np.uint8)
    canvas = np.ascontiguousarray(np.broadcast_to(canvas, (canvas_size, canvas_size, 3)))
    if scene.clutter:
        rng = np.random.default_rng(scene.clutter_seed)
        for _ in range(scene.clutter):
            value = colour(rng.uniform(20, 235, 3))
            kind = rng.integers(3)
            centre = rng.uniform(0, canvas_size, 2)
            size = rng.uniform(0.05, 0.35, 2) * canvas_size
            if kind == 0:  # shelves, frames, doors
                corners = centre + np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * size / 2
                fill(canvas, corners, value)
            elif kind == 1:  # lamps, plants
                ellipse(canvas, centre, size / 2, rng.uniform(0, 180), value)
            else:  # cables, edges
                line(canvas, centre + rng.normal(0, 0.2 * canvas_size, (3, 2)), value,
                     rng.uniform(0.005, 0.02) * canvas_size)
        canvas = cv2.GaussianBlur(canvas, (0, 0), 0.004 * canvas_size + 0.5)  # behind the focal plane
    return canvas


def draw_occluders(canvas: np.ndarray, scene: Scene, skin: tuple[float, float, float], scale: float) -> None:
    """A hand resting on the face and objects held in front of it, drawn over the face (``scale``: supersampling)."""
    if scene.hand is not None:
        x, y, rx, ry, angle = scene.hand
        hand_colour = colour(np.asarray(skin), 0.95)
        centre = np.array([x, y]) * scale
        ellipse(canvas, centre, (rx * scale, ry * scale), angle, hand_colour)
        for k in range(-1, 3):  # finger gaps
            offset = np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))]) * k * ry * scale * 0.4
            line(canvas, np.stack([centre + offset, centre + offset * 1.05 + [0, -ry * scale]]),
                 colour(np.asarray(skin), 0.7), 2)
    if scene.occluder is not None:
        x, y, width, height, angle, r, g, b = scene.occluder
        rotation = np.radians(angle)
        axes = np.array([[np.cos(rotation), np.sin(rotation)], [-np.sin(rotation), np.cos(rotation)]])
        corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * [width / 2, height / 2]
        polygon = (corners @ axes + [x, y]) * scale
        fill(canvas, polygon, (r, g, b))
        line(canvas, polygon, colour(np.array([r, g, b]), 0.6), 0.01 * scale * width, closed=True)


def apply_lighting(image: np.ndarray, face_mask: np.ndarray, scene: Scene, iod: float) -> np.ndarray:
    """Shading of a rounded face, a directional light across the image, a cast shadow and the illuminant's colour.

    Args:
        image: ``(S, S, 3)`` float32 RGB, 0–255.
        face_mask: ``(S, S)`` float32 in [0, 1], 1 on the face.
        scene: the frame's conditions.
        iod: inter-ocular distance in output pixels (sets how soft the face's rim shading is).
    """
    size = image.shape[0]
    edge = max(3, round(0.25 * iod)) | 1
    roundness = cv2.GaussianBlur(face_mask, (edge, edge), 0)
    coords = np.arange(size, dtype=np.float32) / size - 0.5
    ramp = np.cos(scene.light_angle) * coords[None, :] + np.sin(scene.light_angle) * coords[:, None]
    illumination = scene.brightness * (1 + scene.light_strength * ramp) * (0.8 + 0.2 * (roundness + 1 - face_mask))
    if scene.shadow > 0:
        # A hard-edged shadow (a side lamp, a window frame): one side of the light direction is darker.
        side = cv2.GaussianBlur((ramp < 0).astype(np.float32), (0, 0), 0.02 * size + 0.5)
        illumination = illumination * (1 - scene.shadow * side)
    return image * illumination[..., None] * np.asarray(scene.colour_cast, np.float32)


def camera(image: np.ndarray, scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """What the camera does: tone curve, optical blur, sensor noise, 8-bit quantisation and JPEG compression.

    Args:
        image: ``(S, S, 3)`` float32 RGB, 0–255 (values outside are clipped).
        scene: blur, noise, gamma and JPEG settings.
        rng: the frame's generator (sensor noise).

    Returns:
        uint8 RGB of the same size.
    """
    if scene.gamma != 1.0:
        image = 255.0 * np.power(np.clip(image, 0, 255) / 255.0, scene.gamma, dtype=np.float32)
    if scene.blur_sigma > 0.05:
        image = cv2.GaussianBlur(image, (0, 0), scene.blur_sigma)
    image = image + rng.standard_normal(image.shape, dtype=np.float32) * scene.noise_sigma
    out = np.clip(image + 0.5, 0, 255).astype(np.uint8)
    if scene.jpeg_quality is not None:
        ok, encoded = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(scene.jpeg_quality)])
        if ok:
            out = np.ascontiguousarray(cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1])
    return out
