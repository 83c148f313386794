"""The 3D face model of SynthAU-3D: ICT-FaceKit's Face Model Light, and FACS AUs as its expression shapes.

The mesh, its identity modes and its expression shapes come from ICT-FaceKit (MIT licence, USC Institute for
Creative Technologies; ``LICENSE-ICT-FaceKit.md`` beside this module), converted once by ``tools/ict_facekit.py``
into ``ict_face_light.npz``. Everything here is numpy: for a fixed seed the vertices, and so the 68 landmarks and
the labels, are the same on every machine, whatever renders the pixels.

**AUs as shapes** (:data:`AU_SHAPES`). Intensity ``I`` in [0, 5] sets each listed shape's weight to
``I / 5 * gain``:

- AU6 (cheek raiser): ``cheekSquint_L/R`` (ICT's own FACS table's AU6) and ``cheekRaiser_L/R`` (not in ICT's
  table; added by its name and its motion, which lifts the cheek below the eye).
  ``eyeSquint_L/R``, which ICT maps to AU7 (lid tightener), is a distractor;
- AU10 (upper lip raiser): ``mouthUpperUp_L/R``. Measured on the mesh at weight 1, it raises the upper lip
  (landmarks 49/53 by 0.091 IOD, 50/52 by 0.064) and the nostril wings (31/35 by 0.057): FACS's AU10 signs.
  ``mouthShrugUpper`` (ICT's table's AU10) lifts the middle of the lip by 0.06 without the nostril wings; it stays
  a distractor;
- AU12 (lip corner puller): ``mouthSmile_L/R``, gain 1.55. At weight 1 the corners (48, 54) rise 0.118 IOD and
  move out 0.079; py-feat's real-video AU model (py-feat 2.1.5's ``au_to_mesh_pls_v4.npz``, read 2026-12-02) moves
  them up 0.11 IOD at intensity 3, so intensity 3 gets weight 0.93 and intensity 5 weight 1.55;
- AU14 (dimpler): ``mouthDimple_L/R``;
- AU17 (chin raiser): ``mouthShrugLower`` (chin, landmark 8, up 0.091 IOD at weight 1).

AUs without a real-face reference keep ICT's full activation (weight 1) at FACS E (intensity 5).

**The other AUs SynthAU simulates** (1, 2, 4, 5, 9, 15, 20, 25, 26) are shown too, so that a SynthAU-3D face moves
as a BP4D face does, with the protocol's co-occurrences: AU9 raises the upper lip as AU10 does, AU20 pulls the lip
corners out as AU12 and AU14 do, AU15 pulls them down. ``browInnerUp``/``browOuterUp``/``browDown`` (AU1, AU2, AU4),
``eyeWide`` (AU5), ``noseSneer`` (AU9), ``mouthFrown`` (AU15), ``mouthStretch`` (AU20), ``mouthLowerDown`` (AU25)
and ``jawOpen`` (AU26). Gains: py-feat's real-video model moves the brows 0.10-0.13 IOD at intensity 3 (AU1, AU4),
about twice ICT's full shape (1.7-2.0x); blend shapes do not extrapolate that far without folding the mesh, so AU1 and
AU4 stop at 1.5 (the AU12 gain). AU26 drops the lower lip 0.26 IOD at intensity 3 in py-feat's model and 0.393 at
ICT's full ``jawOpen``: gain 0.66 at intensity 3, 1.1 at 5. IOD here is the
distance between the outer eye corners (landmarks 36 and 45), 8.92 cm on the neutral mesh.

Example:
    >>> from aulib.data.face3d.model import FaceModel3D
    >>> model = FaceModel3D.load()
    >>> neutral = model.vertices(model.mean_identity(), {})
    >>> smile = model.vertices(model.mean_identity(), model.au_weights({12: 5.0}))
    >>> rise = (smile - neutral)[model.landmarks[[48, 54]], 1] / model.iod(neutral)
    >>> [round(float(r), 3) for r in rise]  # the lip corners rise by about 1.55 x 0.118 IOD
    [0.182, 0.182]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

ASSET = Path(__file__).with_name("ict_face_light.npz")

# AU -> ((shape, gain), ...): the weight of a shape at intensity I is I / 5 * gain (module docstring: why).
AU_SHAPES: dict[int, tuple[tuple[str, float], ...]] = {
    # BP4D's five, the AUs the course's models read
    6: (("cheekRaiser_L", 1.0), ("cheekRaiser_R", 1.0), ("cheekSquint_L", 1.0), ("cheekSquint_R", 1.0)),
    10: (("mouthUpperUp_L", 1.0), ("mouthUpperUp_R", 1.0)),
    12: (("mouthSmile_L", 1.55), ("mouthSmile_R", 1.55)),
    14: (("mouthDimple_L", 1.0), ("mouthDimple_R", 1.0)),
    17: (("mouthShrugLower", 1.0),),
    # the other AUs SynthAU's protocol simulates: shown and labelled as in the 2D generator, read by no model
    1: (("browInnerUp_L", 1.5), ("browInnerUp_R", 1.5)),
    2: (("browOuterUp_L", 1.0), ("browOuterUp_R", 1.0)),
    4: (("browDown_L", 1.5), ("browDown_R", 1.5)),
    5: (("eyeWide_L", 1.0), ("eyeWide_R", 1.0)),
    9: (("noseSneer_L", 1.0), ("noseSneer_R", 1.0)),
    15: (("mouthFrown_L", 1.0), ("mouthFrown_R", 1.0)),
    20: (("mouthStretch_L", 1.0), ("mouthStretch_R", 1.0)),
    25: (("mouthLowerDown_L", 1.0), ("mouthLowerDown_R", 1.0)),
    26: (("jawOpen", 1.1),),
}

# Movements that are not labelled: sampled independently of the AUs, so that no AU can be read from them.
# name -> the largest weight sampled (symmetric pairs share one draw). Several move the same landmarks as a labelled
# AU (eyeSquint the lower lid as AU6 does, mouthShrugUpper the upper lip as AU10, mouthPress and mouthRollLower the
# lower lip and chin as AU17): where the landmarks cannot tell them apart, only the skin's appearance can.
DISTRACTORS: dict[str, float] = {
    "eyeSquint": 0.8, "eyeBlink": 1.0, "jawOpen": 0.35, "mouthPucker": 0.6, "browInnerUp": 0.8,
    "browDown": 0.7, "browOuterUp": 0.7, "mouthShrugUpper": 0.5, "mouthPress": 0.6, "mouthRollLower": 0.4,
}


@dataclass(frozen=True)
class FaceModel3D:
    """The mesh and its shape bases (arrays from ``ict_face_light.npz``).

    Attributes:
        neutral: ``(V, 3)`` the generic neutral mesh, centimetres, y up, +z towards the viewer.
        triangles: ``(T, 3)`` vertex indices.
        uv: ``(V, 2)`` texture coordinates (ICT's UV layout; the face lies in the unit square).
        region: ``(V,)`` region codes, named by :attr:`region_names`.
        region_names: the regions' names (face, head_neck, mouth_socket, …).
        identity: ``(K, V, 3)`` identity modes (deltas; weights ~ N(0, 1)).
        expression: ``(E, V, 3)`` expression shapes (deltas; weights 0–1).
        expression_names: the shapes' ARKit-style names.
        landmarks: ``(68,)`` the vertices of the 68 Multi-PIE landmarks.
    """

    neutral: np.ndarray
    triangles: np.ndarray
    uv: np.ndarray
    region: np.ndarray
    region_names: tuple[str, ...]
    identity: np.ndarray
    expression: np.ndarray
    expression_names: tuple[str, ...]
    landmarks: np.ndarray

    @staticmethod
    def load(path: str | Path | None = None) -> FaceModel3D:
        """Read the converted model (cached: every caller in a process shares one copy)."""
        return _load(str(path or ASSET))

    @property
    def identity_modes(self) -> int:
        return self.identity.shape[0]

    def region_mask(self, *names: str) -> np.ndarray:
        """``(V,)`` bool: the vertices of the named regions."""
        unknown = set(names) - set(self.region_names)
        if unknown:
            raise ValueError(f"unknown region(s) {sorted(unknown)}; the model has {list(self.region_names)}")
        codes = [self.region_names.index(name) for name in names]
        return np.isin(self.region, codes)

    def mean_identity(self) -> np.ndarray:
        """The identity weights of ICT's generic face (all zero)."""
        return np.zeros(self.identity_modes, np.float32)

    def shape_index(self, name: str) -> int:
        try:
            return self.expression_names.index(name)
        except ValueError:
            known = list(self.expression_names)
            raise ValueError(f"unknown expression shape {name!r}; the model has {known}") from None

    def au_weights(self, intensities: Mapping[int, float],
                   person_gains: Mapping[int, float] | None = None) -> dict[str, float]:
        """Expression-shape weights of AU intensities (0–5), by :data:`AU_SHAPES`.

        Args:
            intensities: AU -> intensity (0–5).
            person_gains: AU -> how far this person's face moves for an intensity, relative to the documented
                amount (SynthAU's expressivity: the same FACS intensity moves different faces by different amounts);
                an AU left out moves by the documented amount.

        Raises:
            ValueError: an AU without a shape, an intensity outside [0, 5], or a gain that is not positive.
        """
        weights: dict[str, float] = {}
        person_gains = person_gains or {}
        for au, intensity in intensities.items():
            if au not in AU_SHAPES:
                raise ValueError(f"AU{au} has no expression shape; SynthAU-3D renders AUs {sorted(AU_SHAPES)}")
            if not 0.0 <= float(intensity) <= 5.0:
                raise ValueError(f"AU{au} intensity {intensity} is outside [0, 5]")
            person = float(person_gains.get(au, 1.0))
            if not person > 0.0:
                raise ValueError(f"AU{au} person gain {person} must be positive")
            for shape, gain in AU_SHAPES[au]:
                weights[shape] = weights.get(shape, 0.0) + float(intensity) / 5.0 * gain * person
        return weights

    def identity_vertices(self, identity_weights: np.ndarray) -> np.ndarray:
        """``(V, 3)`` float32: the neutral mesh of one identity."""
        identity_weights = np.asarray(identity_weights, np.float32)
        if identity_weights.shape != (self.identity_modes,):
            raise ValueError(f"identity weights must have shape ({self.identity_modes},), got {identity_weights.shape}")
        flat = self.identity.reshape(self.identity_modes, -1)
        return self.neutral + (identity_weights @ flat).reshape(self.neutral.shape)

    def vertices(self, identity: np.ndarray, shape_weights: Mapping[str, float]) -> np.ndarray:
        """``(V, 3)`` float32: a face, from identity weights (or an identity's vertices) and expression weights."""
        base = identity if np.ndim(identity) == 2 else self.identity_vertices(identity)
        active = [(self.shape_index(name), weight) for name, weight in shape_weights.items() if weight != 0.0]
        if not active:
            return np.array(base, np.float32)
        indices, weights = zip(*active, strict=True)
        delta = np.tensordot(np.asarray(weights, np.float32), self.expression[list(indices)], axes=1)
        return (base + delta).astype(np.float32)

    def landmark_points(self, vertices: np.ndarray) -> np.ndarray:
        """``(68, 3)``: the landmark vertices of a face."""
        return vertices[self.landmarks]

    def iod(self, vertices: np.ndarray) -> float:
        """Outer-eye-corner distance (landmarks 36 and 45) of a face, in its units."""
        points = self.landmark_points(vertices)
        return float(np.linalg.norm(points[36] - points[45]))


@lru_cache(maxsize=2)
def _load(path: str) -> FaceModel3D:
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: the converted ICT face model is missing (make it with tools/ict_facekit.py)")
    with np.load(path) as data:
        return FaceModel3D(
            neutral=data["neutral"].astype(np.float32),
            triangles=data["triangles"].astype(np.int32),
            uv=data["uv"].astype(np.float32),
            region=data["region"],
            region_names=tuple(str(name) for name in data["region_names"]),
            # float16 on disk (half the size); float32 in memory, where the arithmetic happens.
            identity=data["identity"].astype(np.float32),
            expression=data["expression"].astype(np.float32),
            expression_names=tuple(str(name) for name in data["expression_names"]),
            landmarks=data["landmarks"].astype(np.int64),
        )


def triangle_incidence(triangles: np.ndarray, vertex_count: int) -> csr_matrix:
    """``(V, T)`` sparse matrix with a 1 where vertex ``v`` is a corner of triangle ``t``: multiplying it by the
    triangles' normals sums them round each vertex (:func:`vertex_normals`). Build it once per mesh."""
    from scipy.sparse import csr_matrix

    triangles = np.asarray(triangles)
    if triangles.ndim != 2 or triangles.shape[1] != 3:
        raise ValueError(f"triangles must have shape (T, 3), got {triangles.shape}")
    rows = triangles.reshape(-1)
    columns = np.repeat(np.arange(len(triangles)), 3)
    # float64, as np.bincount sums: the sums, in triangle order, are then those of the earlier scatter-add, bit for bit
    return csr_matrix((np.ones(len(rows)), (rows, columns)), shape=(vertex_count, len(triangles)))


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray, incidence: csr_matrix | None = None) -> np.ndarray:
    """``(V, 3)`` unit normals: the area-weighted mean of the normals of the triangles round each vertex.

    Args:
        vertices: ``(V, 3)`` positions.
        triangles: ``(T, 3)`` vertex indices.
        incidence: :func:`triangle_incidence` of ``triangles`` (built here when missing; a renderer that draws many
            frames of one mesh builds it once and passes it).

    Example:
        >>> square = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], np.float32)
        >>> vertex_normals(square, np.array([[0, 1, 2], [0, 2, 3]])).round(3).tolist()[0]
        [0.0, 0.0, 1.0]
    """
    if incidence is None:
        incidence = triangle_incidence(triangles, len(vertices))
    first, second, third = (vertices[triangles[:, k]] for k in range(3))
    u, v = second - first, third - first
    # The cross product written out, term by term as np.cross computes it (the same float32 results, less overhead).
    face_normals = np.empty((len(triangles), 3), np.float32)  # length = 2 x area
    face_normals[:, 0] = u[:, 1] * v[:, 2] - u[:, 2] * v[:, 1]
    face_normals[:, 1] = u[:, 2] * v[:, 0] - u[:, 0] * v[:, 2]
    face_normals[:, 2] = u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]
    normals = np.asarray(incidence @ face_normals, np.float32)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return normals / np.maximum(length, 1e-12)
