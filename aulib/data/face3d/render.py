"""Render SynthAU-3D faces with OpenGL (moderngl): a perspective camera, per-pixel lighting, procedural skin.

:class:`FaceRenderer` draws one face per call: the ICT mesh posed in numpy (:mod:`aulib.data.face3d.model`), shaded
per pixel under a key and a fill light with a specular skin term, composited on the scene's
background, then given the scene's occluders, blur, sensor noise and JPEG (:mod:`aulib.data.synthau.scene`).

- **Albedo** is procedural: a skin tone per subject, lips, brows, a hair cap above a per-subject hairline, irises
  with pupils, teeth, gums and the mouth's dark socket as vertex colours; pores, blotches, freckles, stubble and
  forehead lines (age, not AU) as noise in ICT's UV space.
- **AU appearance** follows the intensity in UV space: crow's feet and infraorbital furrows (AU6), the nasolabial
  fold (AU12, AU10, AU9), dimples (AU14), wrinkles across the nose (AU9) and the chin's dimpling (AU17) are grooves
  in a height field that bends the normals (bump mapping) and darken the albedo, along segments anchored on landmark
  vertices' UV coordinates, so they move with the face. Age gives everyone a permanent nasolabial fold and crow's
  feet that follow no AU.
- **Landmarks** are the projected landmark vertices, computed in numpy with the same camera as the shader: they do
  not depend on the renderer.

Where OpenGL is missing, :func:`gl_context` fails with a message that names what to install. On headless Linux the
context is EGL: Mesa's software rasteriser (llvmpipe) on a CPU, the GPU's driver where there is one.

Example:
    >>> import numpy as np
    >>> from aulib.data.face3d.render import FaceRenderer, FaceParams
    >>> renderer = FaceRenderer(size=128)  # doctest: +SKIP
    >>> frame = FaceParams(intensities={12: 3.0})  # doctest: +SKIP
    >>> image, landmarks = renderer.render(frame, np.random.default_rng(0))  # doctest: +SKIP
    >>> image.shape, landmarks.shape  # doctest: +SKIP
    ((128, 128, 3), (68, 2))
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from aulib.data.face3d.model import FaceModel3D, triangle_incidence, vertex_normals
from aulib.data.face3d.shaders import FRAGMENT_SHADER, MAX_SEGMENTS, VERTEX_SHADER
from aulib.data.synthau.scene import Scene, camera, draw_background, draw_occluders

INSTALL_HINT = {
    "linux": "install Mesa's EGL and software rasteriser "
             "(Debian/Ubuntu: apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri)",
    # macOS ships OpenGL 4.1 with the system: a failure there is a session without a window server (plain SSH).
    "darwin": "macOS's own OpenGL needs a logged-in desktop session: run from Terminal in that session, not over "
              "plain SSH",
    # Windows' own opengl32.dll is OpenGL 1.1; 3.3 comes with the GPU vendor's driver or Mesa's software build.
    "win32": "install your GPU vendor's current driver (OpenGL 3.3 or newer), or, for software rendering, Mesa for "
             "Windows (opengl32.dll of the mesa-dist-win release, copied beside python.exe)",
}


def gl_context():
    """A standalone OpenGL 3.3+ context: EGL on Linux (headless), the platform's default elsewhere.

    Raises:
        RuntimeError: no context can be made; the message says what to install.
    """
    try:
        import moderngl
    except ImportError as error:
        raise RuntimeError("SynthAU-3D needs moderngl: pip install moderngl") from error
    try:
        if sys.platform.startswith("linux"):
            return moderngl.create_standalone_context(backend="egl")
        return moderngl.create_standalone_context()
    except Exception as error:  # moderngl raises plain Exceptions naming the failing EGL/GL call
        hint = INSTALL_HINT.get(sys.platform, INSTALL_HINT["linux"])
        raise RuntimeError(f"SynthAU-3D cannot create an OpenGL context ({error}); {hint}") from error


@dataclass
class Subject3D:
    """A SynthAU-3D person: identity shape and appearance (sampled by :func:`sample_subject`)."""

    identity: np.ndarray
    skin: tuple[float, float, float] = (0.80, 0.62, 0.52)
    lips: tuple[float, float, float] = (0.70, 0.40, 0.40)
    brows: tuple[float, float, float] = (0.25, 0.18, 0.12)
    hair: tuple[float, float, float] = (0.20, 0.14, 0.10)
    iris: tuple[float, float, float] = (0.30, 0.22, 0.12)
    hairline: float = 4.5  # cm above the brows' highest landmark; inf: bald
    brow_thickness: float = 0.35
    freckles: float = 0.0
    stubble: float = 0.0
    age_lines: float = 0.0
    pores: float = 0.06
    gloss: float = 0.35
    skin_seed: float = 0.0
    background: tuple[tuple[float, float, float], tuple[float, float, float]] = ((90, 100, 110), (40, 45, 55))
    # Expressivity, as SynthAU v2's people have it: AU -> how far this face moves (geometry) and how deep its folds
    # go (appearance) for a given intensity, relative to the documented amounts. Empty: the documented amounts.
    geometry_gain: Mapping[int, float] = field(default_factory=dict)
    appearance_gain: Mapping[int, float] = field(default_factory=dict)


@dataclass
class FaceParams:
    """One frame: the subject, AU intensities (0–5), unlabelled distractor weights, head pose and lights."""

    subject: Subject3D | None = None
    intensities: Mapping[int, float] = field(default_factory=dict)
    distractors: Mapping[str, float] = field(default_factory=dict)
    yaw: float = 0.0  # degrees; positive turns the face to its left (the viewer's right)
    pitch: float = 0.0  # degrees; positive tilts the chin up
    roll: float = 0.0  # degrees
    scale: float = 1.0  # face size relative to the default framing
    shift: tuple[float, float] = (0.0, 0.0)  # face centre offset, fractions of the image
    key_light: tuple[float, float] = (-30.0, 25.0)  # azimuth, elevation in degrees
    key_strength: float = 0.85
    fill_strength: float = 0.30
    ambient: float = 0.18
    light_colour: tuple[float, float, float] = (1.0, 0.97, 0.92)
    scene: Scene = field(default_factory=lambda: Scene(blur_sigma=0.4, noise_sigma=1.5, jpeg_quality=92))


def rotation_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """``(3, 3)``: roll about z after pitch about x after yaw about y (degrees; y up, z towards the viewer)."""
    y, p, r = np.radians([yaw, pitch, roll])
    about_y = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    about_x = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    about_z = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return (about_z @ about_x @ about_y).astype(np.float32)


def _direction(azimuth: float, elevation: float) -> np.ndarray:
    a, e = np.radians([azimuth, elevation])
    return np.array([np.sin(a) * np.cos(e), np.sin(e), np.cos(a) * np.cos(e)], np.float32)


class FaceRenderer:
    """Draws SynthAU-3D frames; one OpenGL context and its buffers, reused for every frame.

    Args:
        size: output side in pixels (square).
        model: the face model (default: the shipped ICT model).
        field_of_view: the camera's vertical field of view, degrees.
        samples: multisampling (anti-aliasing) samples; 0 (the default) leaves edges to the camera's blur,
            because llvmpipe shades every sample and 4 samples cost 3x the frame rate.

    Shape:
        :meth:`render` returns ``(size, size, 3)`` uint8 RGB and ``(68, 2)`` float32 landmarks in pixels
        (x right, y down; pixel centres at integer coordinates).
    """

    def __init__(self, size: int = 256, model: FaceModel3D | None = None, field_of_view: float = 18.0,
                 samples: int = 0):
        if size < 32:
            raise ValueError(f"size must be at least 32 pixels, got {size}")
        self.size = size
        self.model = model or FaceModel3D.load()
        self.field_of_view = field_of_view
        self.ctx = gl_context()
        self.program = self.ctx.program(vertex_shader=VERTEX_SHADER, fragment_shader=FRAGMENT_SHADER)
        vertex_count = len(self.model.neutral)
        self._positions = self.ctx.buffer(reserve=vertex_count * 12, dynamic=True)
        self._normals = self.ctx.buffer(reserve=vertex_count * 12, dynamic=True)
        self._albedo = self.ctx.buffer(reserve=vertex_count * 12, dynamic=True)
        self._masks = self.ctx.buffer(reserve=vertex_count * 16, dynamic=True)
        uv = self.ctx.buffer(self.model.uv.astype("f4").tobytes())
        self._incidence = triangle_incidence(self.model.triangles, vertex_count)
        self._static = _static_masks(self.model)
        visible = ~self._static["cornea"][self.model.triangles].any(axis=1)
        index = self.ctx.buffer(self.model.triangles[visible].astype("i4").tobytes())
        self.vao = self.ctx.vertex_array(self.program, [
            (self._positions, "3f", "position"), (self._normals, "3f", "normal"), (self._albedo, "3f", "albedo"),
            (uv, "2f", "uv"), (self._masks, "4f", "masks")], index_buffer=index)
        samples = min(samples, self.ctx.max_samples)
        self._msaa = self.ctx.framebuffer(
            color_attachments=[self.ctx.renderbuffer((size, size), 4, samples=samples)],
            depth_attachment=self.ctx.depth_renderbuffer((size, size), samples=samples))
        # Without multisampling the drawing framebuffer is read directly.
        self._resolved = (self.ctx.framebuffer(color_attachments=[self.ctx.renderbuffer((size, size), 4)])
                          if samples else self._msaa)
        self._default_subject: Subject3D | None = None
        self._subject: Subject3D | None = None  # whose colours are in the buffers
        self._identity_subject: Subject3D | None = None  # whose identity-shaped neutral vertices are cached
        self._identity_cache: np.ndarray | None = None

    # --- geometry (numpy: identical on every machine) ---------------------------------------------------------

    def posed_vertices(self, params: FaceParams) -> np.ndarray:
        """``(V, 3)`` float32: the face of ``params`` in camera-centred world coordinates."""
        subject = self._subject_of(params)
        base = self._identity_vertices(subject)
        weights = dict(self.model.au_weights(params.intensities, subject.geometry_gain))
        for name, weight in params.distractors.items():
            for shape in _shape_names(name, self.model):
                weights[shape] = weights.get(shape, 0.0) + float(weight)
        vertices = self.model.vertices(base, weights)
        # Rotate about the head's centre (between the ears, behind the eyes), then centre the face in view.
        points = self.model.landmark_points(base)
        pivot = np.array([0.0, points[[36, 45]].mean(0)[1] - 2.0, points[[0, 16]].mean(0)[2] - 2.5], np.float32)
        rotated = (vertices - pivot) @ rotation_matrix(params.yaw, params.pitch, params.roll).T + pivot
        face_centre = (points[[36, 45]].mean(0) + points[8]) / 2
        return (rotated - face_centre).astype(np.float32)

    def camera_matrices(self, params: FaceParams) -> tuple[np.ndarray, float, float]:
        """The model-view-projection matrix, the camera distance and the focal length in pixels."""
        neutral_iod = self.model.iod(self.model.neutral)
        focal = self.size / 2 / np.tan(np.radians(self.field_of_view) / 2)
        # At the default framing the outer-eye-corner distance spans 0.30 of the image.
        distance = focal * neutral_iod / params.scale / (0.30 * self.size)
        near, far = distance * 0.5, distance * 2.0
        shift = np.array(params.shift, np.float32)
        projection = np.array([
            [2 * focal / self.size, 0, 0, 0],
            [0, 2 * focal / self.size, 0, 0],
            [0, 0, -(far + near) / (far - near), -2 * far * near / (far - near)],
            [0, 0, -1, 0]], np.float32)
        view = np.eye(4, dtype=np.float32)
        view[0, 3] = shift[0] * distance * self.size / focal
        view[1, 3] = -shift[1] * distance * self.size / focal
        view[2, 3] = -distance
        return projection @ view, float(distance), float(focal)

    def project(self, points: np.ndarray, params: FaceParams) -> np.ndarray:
        """``(N, 2)`` pixel coordinates (x right, y down) of world points, as the renderer draws them."""
        mvp, _, _ = self.camera_matrices(params)
        clip = np.c_[points, np.ones(len(points), np.float32)] @ mvp.T
        ndc = clip[:, :2] / clip[:, 3:4]
        # NDC -1..1 covers the pixel edges 0..size; pixel centres sit at integer coordinates.
        return np.stack([(ndc[:, 0] + 1) * self.size / 2 - 0.5, (1 - ndc[:, 1]) * self.size / 2 - 0.5], 1)

    def landmarks(self, params: FaceParams) -> np.ndarray:
        """``(68, 2)`` float32: the projected landmark vertices of a frame (no rendering needed)."""
        return self.project(self.model.landmark_points(self.posed_vertices(params)), params).astype(np.float32)

    # --- pixels -------------------------------------------------------------------------------------------------

    def render(self, params: FaceParams, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw a frame.

        Args:
            params: subject, AUs, distractors, pose, lights and scene.
            rng: the frame's generator (sensor noise only: geometry and albedo come from ``params``).

        Returns:
            ``(size, size, 3)`` uint8 RGB and ``(68, 2)`` float32 landmark pixels.
        """
        subject = self._subject_of(params)
        vertices = self.posed_vertices(params)
        # Current for this frame: a context made since (another renderer, a GL check) leaves its own current.
        with self.ctx:
            rgba = self._draw(params, subject, vertices)
        alpha = rgba[..., 3:4].astype(np.float32) / 255
        background = draw_background(self.size, np.asarray(subject.background[0]), np.asarray(subject.background[1]),
                                     params.scene).astype(np.float32)
        # Multisample resolve averages with the transparent clear colour: the RGB is premultiplied by alpha.
        image = rgba[..., :3].astype(np.float32) + background * (1 - alpha)
        image = np.ascontiguousarray(np.clip(image, 0, 255).astype(np.uint8))
        draw_occluders(image, params.scene, tuple(255 * np.asarray(subject.skin)), 1.0)
        image = camera(image.astype(np.float32), params.scene, rng)
        landmarks = self.project(self.model.landmark_points(vertices), params).astype(np.float32)
        return image, landmarks

    def _draw(self, params: FaceParams, subject: Subject3D, vertices: np.ndarray) -> np.ndarray:
        """The face alone, shaded by OpenGL: ``(size, size, 4)`` uint8 RGBA, premultiplied, top row first."""
        self._upload_subject(subject)
        self._positions.write(vertices.tobytes())
        self._normals.write(vertex_normals(vertices, self.model.triangles, self._incidence).astype("f4").tobytes())
        mvp, distance, _ = self.camera_matrices(params)
        program = self.program
        program["mvp"].write(mvp.T.copy().tobytes())  # GLSL matrices are column-major
        program["eye"].value = (0.0, 0.0, distance)
        colour = np.asarray(params.light_colour, np.float32)
        program["key_direction"].value = tuple(_direction(*params.key_light))
        program["key_colour"].value = tuple(colour * params.key_strength)
        program["fill_direction"].value = tuple(_direction(-params.key_light[0] * 1.5, -5.0))
        program["fill_colour"].value = tuple(colour * params.fill_strength)
        program["ambient"].value = tuple(colour * params.ambient)
        for name in ("skin_seed", "freckles", "stubble", "age_lines", "pores"):
            program[name].value = float(getattr(subject, name))
        segments, styles, chin = self._folds(params.intensities, subject)
        program["segment_count"].value = len(segments)
        padded_segments = np.zeros((MAX_SEGMENTS, 4), "f4")
        padded_styles = np.ones((MAX_SEGMENTS, 3), "f4")  # moderngl writes whole uniform arrays
        if segments:
            padded_segments[:len(segments)] = segments
            padded_styles[:len(styles)] = styles
        program["segments"].write(padded_segments.tobytes())
        program["segment_style"].write(padded_styles.tobytes())
        program["chin"].value = chin
        self._msaa.use()
        self.ctx.enable(self.ctx.DEPTH_TEST)
        self.ctx.clear(0.0, 0.0, 0.0, 0.0)
        self.vao.render()
        if self._resolved is not self._msaa:
            self.ctx.copy_framebuffer(self._resolved, self._msaa)
        return np.frombuffer(self._resolved.read(components=4), np.uint8).reshape(self.size, self.size, 4)[::-1]

    def release(self) -> None:
        """Free the OpenGL context (a renderer is unusable afterwards)."""
        self.ctx.release()

    def _subject_of(self, params: FaceParams) -> Subject3D:
        """The frame's subject, or the model's mean face (one object, so that the caches below hold)."""
        if params.subject is not None:
            return params.subject
        if self._default_subject is None:
            self._default_subject = Subject3D(self.model.mean_identity())
        return self._default_subject

    def _identity_vertices(self, subject: Subject3D) -> np.ndarray:
        # Cached by its own key: landmarks() of one subject between render() calls of another must not mix them.
        if self._identity_subject is not subject:
            self._identity_cache = self.model.identity_vertices(subject.identity)
            self._identity_subject = subject
        return self._identity_cache

    def _upload_subject(self, subject: Subject3D) -> None:
        if self._subject is subject:
            return
        base = self._identity_vertices(subject)
        albedo, masks = _vertex_colours(self.model, base, subject, self._static)
        self._albedo.write(albedo.astype("f4").tobytes())
        self._masks.write(masks.astype("f4").tobytes())
        self._subject = subject

    def _folds(self, intensities: Mapping[int, float], subject: Subject3D) -> tuple[list, list, tuple]:
        """The skin's folds as UV segments, and the chin's dimpling, anchored on landmark vertices' UV coordinates.

        Each segment darkens the albedo and is a groove of a depth in a height field that the shader turns into
        bent normals, so a fold shades under the key light as a real one does. Widths and depths are skin sizes
        (1 UV unit is about 24 cm of ICT's face): a nasolabial fold about 3 mm wide each side and up to 2.5 mm deep,
        crow's feet about 1 mm. The AUs' folds follow their intensity times the person's appearance gain; the
        permanent folds of age (a nasolabial fold and crow's feet that everyone has a little of and older faces more)
        follow ``subject.age_lines`` and no AU, so that a fold alone does not mean an AU: its deepening does.

        Returns:
            segments ``[(u0, v0, u1, v1)]``, styles ``[(darkening, half-width in UV, depth in cm)]`` and the chin's
            ``(u, v, radius in UV, depth in cm)``.
        """
        uv = self.model.uv[self.model.landmarks]
        segments, styles = [], []

        def add(start, end, darkening, width, depth):
            if darkening > 0.005 or depth > 0.002:
                segments.append((*start, *end))
                styles.append((darkening, width, depth))

        def level(au: int) -> float:  # the AU's fold strength: intensity / 5 times this person's appearance gain
            return float(intensities.get(au, 0.0)) / 5 * float(subject.appearance_gain.get(au, 1.0))

        age = float(subject.age_lines)
        i6 = level(6)
        for side, corner, lower_lid in ((1, 36, 41), (-1, 45, 46)):
            outward = (uv[corner] - uv[corner + 3 * side]) * 0.35
            crow = 0.6 * i6 + 0.35 * age  # crow's feet: the cheek raiser's, and age's at rest
            for spread in (-0.4, 0.0, 0.4):  # they fan out from the outer eye corner
                direction = outward + np.array([0.0, spread * np.linalg.norm(outward)])
                add(uv[corner] + outward * 0.25, uv[corner] + direction * 1.4, 0.22 * crow, 0.004, 0.06 * crow)
            below = uv[lower_lid] - (uv[27] - uv[30]) * 0.2  # infraorbital furrow under the lower lid
            add(below - outward * 0.6, below + outward * 0.5, 0.20 * i6, 0.007, 0.12 * i6)
        # Nasolabial fold: deepened by AU12 and AU10 (FACS), and by AU9 in its upper part; present a little at rest.
        nasolabial = min(1.0, 0.8 * level(12) + 0.6 * level(10) + 0.3 * level(9))
        rest = 0.1 + 0.4 * age
        for wing, corner in ((31, 48), (35, 54)):
            start = uv[wing] + (uv[wing] - uv[30]) * 0.6
            end = uv[corner] + (uv[corner] - uv[51]) * 0.25 + (uv[corner] - uv[wing]) * 0.15
            add(start, end, 0.10 * rest + 0.28 * nasolabial, 0.012, 0.08 * rest + 0.22 * nasolabial)
        dimple = level(14)
        for corner, inner in ((48, 54), (54, 48)):
            spot = uv[corner] + (uv[corner] - uv[inner]) * 0.12
            add(spot, spot + (uv[corner] - uv[inner]) * 0.05, 0.25 * dimple, 0.008, 0.20 * dimple)
        sneer = level(9)  # AU9's wrinkles across the bridge of the nose
        for k in range(3):
            y = uv[27] + (uv[28] - uv[27]) * (0.3 + 0.35 * k)
            across = np.array([0.025, 0.0])
            add(y - across, y + across, 0.2 * sneer, 0.004, 0.06 * sneer)
        centre = (uv[8] + uv[57]) / 2
        chin = (float(centre[0]), float(centre[1]), 0.035, 0.10 * level(17))
        return segments[:MAX_SEGMENTS], styles[:MAX_SEGMENTS], chin


def _shape_names(name: str, model: FaceModel3D) -> list[str]:
    """A distractor's shapes: ``name`` itself, or its ``_L``/``_R`` pair."""
    if name in model.expression_names:
        return [name]
    pair = [f"{name}_L", f"{name}_R"]
    if all(shape in model.expression_names for shape in pair):
        return pair
    raise ValueError(f"unknown distractor {name!r}; the model has {list(model.expression_names)}")


def _static_masks(model: FaceModel3D) -> dict[str, np.ndarray]:
    """Per-vertex masks from the neutral mesh: lips, brows, pupils (they move with the vertices they are on)."""
    from matplotlib.path import Path as Polygon

    neutral = model.neutral
    points = model.landmark_points(neutral)
    face = model.region_mask("face")
    front = neutral[:, 2] > points[[48, 54], 2].min() - 1.0
    lips = face & front & Polygon(points[48:60, :2]).contains_points(neutral[:, :2])
    brow_distance = np.full(len(neutral), np.inf)
    for start, end in ((17, 21), (22, 26)):
        for a, b in zip(points[start:end, :2], points[start + 1:end + 1, :2], strict=True):
            ab = b - a
            t = np.clip(((neutral[:, :2] - a) @ ab) / (ab @ ab), 0, 1)
            brow_distance = np.minimum(brow_distance, np.linalg.norm(neutral[:, :2] - a - t[:, None] * ab, axis=1))
    # ICT's eyeball: the "iris" mesh is the front of the eye, the sclera's front bulge is a clear cornea over it.
    # Colour the iris mesh by distance from the eye's axis (iris 0.6 cm, pupil 0.22 cm in radius: adult eyes)
    # and leave the cornea's triangles out (they would need transparency).
    axis_distance = np.full(len(neutral), np.inf)
    cornea = np.zeros(len(neutral), bool)
    for iris_name, sclera_name in (("iris_left", "sclera_left"), ("iris_right", "sclera_right")):
        iris = model.region_mask(iris_name)
        centre = neutral[iris].mean(0)
        distance = np.linalg.norm(neutral[:, :2] - centre[:2], axis=1)
        axis_distance = np.where(iris, distance, axis_distance)
        cornea |= model.region_mask(sclera_name) & (distance < 0.75) & (neutral[:, 2] > centre[2])
    return {"lips": lips, "brow_distance": np.where(face & front, brow_distance, np.inf),
            "iris": axis_distance < 0.6, "pupil": axis_distance < 0.22, "cornea": cornea}


def _vertex_colours(model: FaceModel3D, base: np.ndarray, subject: Subject3D,
                    static: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-vertex albedo (sRGB 0–1) and masks (stubble or -1 for hair, forehead, skin, gloss) of a subject."""
    count = len(base)
    albedo = np.tile(np.asarray(subject.skin, np.float32), (count, 1))
    skin = model.region_mask("face", "head_neck")
    points = model.landmark_points(base)
    brow_y = points[17:27, 1].max()
    albedo[static["lips"]] = subject.lips
    brows = static["brow_distance"] < subject.brow_thickness
    albedo[brows] = subject.brows
    hair = skin & (base[:, 1] > brow_y + subject.hairline)
    behind = model.region_mask("head_neck") & (base[:, 1] > points[36, 1] - 1.0) & (base[:, 2] < points[0, 2] - 1.5)
    if np.isfinite(subject.hairline):
        hair |= behind
        albedo[hair] = subject.hair
    albedo[model.region_mask("mouth_socket", "eye_socket")] = (0.18, 0.06, 0.06)
    albedo[model.region_mask("gums_tongue")] = (0.72, 0.36, 0.38)
    albedo[model.region_mask("teeth")] = (0.90, 0.87, 0.78)
    albedo[model.region_mask("sclera_left", "sclera_right")] = (0.92, 0.90, 0.88)
    albedo[model.region_mask("iris_left", "iris_right")] = (0.92, 0.90, 0.88)
    albedo[static["iris"]] = subject.iris
    albedo[static["pupil"]] = (0.03, 0.03, 0.03)
    lower_face = (base[:, 1] < points[33, 1]) & (base[:, 1] > points[8, 1] - 1.5) & ~static["lips"]
    forehead = (base[:, 1] > brow_y + 0.8) & (base[:, 1] < brow_y + min(subject.hairline, 5.0) - 0.5)
    masks = np.zeros((count, 4), np.float32)
    masks[:, 0] = np.where(hair, -1.0, lower_face)  # -1: hair (the shader draws strands)
    masks[:, 1] = forehead
    masks[:, 2] = skin & ~hair & ~brows & ~static["lips"]
    masks[:, 3] = np.where(skin & ~hair, subject.gloss, 0.0)
    masks[model.region_mask("sclera_left", "sclera_right", "teeth"), 3] = 0.9
    masks[static["lips"], 3] = min(1.0, subject.gloss + 0.3)
    return albedo, masks
