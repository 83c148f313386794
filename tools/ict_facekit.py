"""Convert ICT-FaceKit's Face Model Light (MIT) into the compact array file that SynthAU-3D renders.

For maintainers: users never run this. It reads a checkout of the public repository ``ICT-VGL/ICT-FaceKit``
(its ``FaceXModel/`` folder of ``.obj`` files and ``vertex_indices.json``) and writes
``aulib/data/face3d/ict_face_light.npz``:

- ``neutral`` (V, 3) float32: the generic neutral mesh, centimetres, y up, +z towards the viewer;
- ``triangles`` (T, 3) int32: the quads and triangles of the kept regions, split into triangles;
- ``uv`` (V, 2) float16: one texture coordinate per vertex (the first the ``.obj`` gives it; seams are rare on the
  face and do not matter for procedural textures);
- ``region`` (V,) uint8: which part of the head a vertex belongs to (``REGIONS`` below);
- ``identity`` (K, V, 3) float16: the first K identity modes as deltas from the neutral mesh (ICT samples their
  weights from N(0, 1));
- ``expression`` (E, V, 3) float16 and ``expression_names``: the expression shapes SynthAU-3D uses, as deltas;
- ``landmarks`` (68,) int32: the vertices of the 68 Multi-PIE landmarks (``idx_to_landmark_verts``);
- ``source``: the repository commit the file was made from.

Only vertices 0–24590 are kept: face, head and neck, mouth socket, eye sockets, gums and tongue, teeth and eyeballs.
The lacrimal fluid, eye blend and occlusion meshes and the eyelash strips need a renderer's transparency, which
SynthAU-3D does not use.

Usage:
    python tools/ict_facekit.py PATH/TO/ICT-FaceKit [--identities 40] [--commit SHA]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

KEPT_VERTICES = 24591  # README "Face Model Topology": ordinals #0-#8 end at vertex 24590 (eyeball right)

# Vertex ranges of ICT's README (inclusive start, exclusive end) and the region code each gets.
REGIONS = {
    "face": (0, 9409),
    "head_neck": (9409, 11248),
    "mouth_socket": (11248, 13294),
    "eye_socket": (13294, 14062),
    "gums_tongue": (14062, 17039),
    "teeth": (17039, 21451),
    "sclera_left": (21451, 22221),
    "iris_left": (22221, 23021),
    "sclera_right": (23021, 23791),
    "iris_right": (23791, 24591),
}

# The shapes SynthAU-3D uses: the AUs' shapes and the distractors (aulib/data/face3d/model.py documents which is which).
EXPRESSIONS = (
    "cheekRaiser_L", "cheekRaiser_R", "cheekSquint_L", "cheekSquint_R",  # AU6
    "mouthUpperUp_L", "mouthUpperUp_R",  # AU10
    "mouthSmile_L", "mouthSmile_R",  # AU12
    "mouthDimple_L", "mouthDimple_R",  # AU14
    "mouthShrugLower",  # AU17
    # distractors, unlabeled and independent of the AUs
    "eyeSquint_L", "eyeSquint_R", "eyeBlink_L", "eyeBlink_R", "jawOpen", "mouthPucker",
    "browInnerUp_L", "browInnerUp_R", "browDown_L", "browDown_R", "browOuterUp_L", "browOuterUp_R",
    "mouthShrugUpper", "eyeLookUp_L", "eyeLookUp_R", "eyeLookDown_L", "eyeLookDown_R",
    "eyeLookIn_L", "eyeLookIn_R", "eyeLookOut_L", "eyeLookOut_R",
    # the other AUs SynthAU simulates (shown, labelled, not among BP4D's five): AU5, AU9, AU15, AU20, AU25
    "eyeWide_L", "eyeWide_R", "noseSneer_L", "noseSneer_R", "mouthFrown_L", "mouthFrown_R",
    "mouthStretch_L", "mouthStretch_R", "mouthLowerDown_L", "mouthLowerDown_R",
    # more distractors at the lips (AU24-like press, AU28-like roll): they move the mouth's landmarks too
    "mouthPress_L", "mouthPress_R", "mouthRollLower",
)


def read_vertices(path: Path) -> np.ndarray:
    """The ``v x y z`` rows of an ``.obj`` file, (N, 3) float64."""
    rows = [line.split()[1:4] for line in path.read_text().splitlines() if line.startswith("v ")]
    if not rows:
        raise ValueError(f"{path}: no vertex rows ('v x y z')")
    return np.asarray(rows, dtype=np.float64)


def read_topology(path: Path, kept: int) -> tuple[np.ndarray, np.ndarray]:
    """Triangles and per-vertex texture coordinates of the kept vertices of an ``.obj`` file."""
    texture = []
    triangles = []
    uv_of_vertex = np.full((kept, 2), np.nan)
    for line in path.read_text().splitlines():
        if line.startswith("vt "):
            texture.append([float(value) for value in line.split()[1:3]])
        elif line.startswith("f "):
            corners = [item.split("/") for item in line.split()[1:]]
            vertex = [int(corner[0]) - 1 for corner in corners]
            if max(vertex) >= kept:
                continue
            for corner, index in zip(corners, vertex, strict=True):
                if len(corner) > 1 and corner[1] and np.isnan(uv_of_vertex[index, 0]):
                    uv_of_vertex[index] = texture[int(corner[1]) - 1]
            for k in range(1, len(vertex) - 1):  # fan: quads become two triangles
                triangles.append((vertex[0], vertex[k], vertex[k + 1]))
    uv_of_vertex = np.nan_to_num(uv_of_vertex, nan=0.0)
    return np.asarray(triangles, dtype=np.int32), uv_of_vertex


def convert(source: Path, output: Path, identities: int, commit: str) -> None:
    model = source / "FaceXModel"
    if not (model / "generic_neutral_mesh.obj").is_file():
        raise FileNotFoundError(f"{model}: no generic_neutral_mesh.obj (pass a checkout of ICT-VGL/ICT-FaceKit)")
    neutral = read_vertices(model / "generic_neutral_mesh.obj")
    triangles, uv = read_topology(model / "generic_neutral_mesh.obj", KEPT_VERTICES)
    region = np.zeros(KEPT_VERTICES, np.uint8)
    for code, (start, end) in enumerate(REGIONS.values()):
        region[start:end] = code
    landmarks = np.asarray(json.loads((model / "vertex_indices.json").read_text())["idx_to_landmark_verts"], np.int32)
    identity = np.stack([
        read_vertices(model / f"identity{k:03d}.obj")[:KEPT_VERTICES] - neutral[:KEPT_VERTICES]
        for k in range(identities)])
    expression = np.stack([
        read_vertices(model / f"{name}.obj")[:KEPT_VERTICES] - neutral[:KEPT_VERTICES] for name in EXPRESSIONS])
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_suffix(".tmp.npz")
    np.savez_compressed(
        temporary,
        neutral=neutral[:KEPT_VERTICES].astype(np.float32),
        triangles=triangles,
        uv=uv.astype(np.float16),
        region=region,
        region_names=np.asarray(list(REGIONS)),
        identity=identity.astype(np.float16),
        expression=expression.astype(np.float16),
        expression_names=np.asarray(EXPRESSIONS),
        landmarks=landmarks,
        source=np.asarray(f"https://github.com/ICT-VGL/ICT-FaceKit commit {commit}"),
    )
    temporary.replace(output)
    print(f"{output}: {output.stat().st_size / 1e6:.1f} MB, {KEPT_VERTICES} vertices, {len(triangles)} triangles, "
          f"{identities} identity modes, {len(EXPRESSIONS)} expression shapes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="a checkout of ICT-VGL/ICT-FaceKit")
    parser.add_argument("--identities", type=int, default=40, help="identity modes to keep (of 100)")
    parser.add_argument("--commit", default="unknown", help="the checkout's commit, recorded in the file")
    parser.add_argument("--output", type=Path,
                        default=Path(__file__).resolve().parents[1] / "aulib/data/face3d/ict_face_light.npz")
    args = parser.parse_args()
    convert(args.source, args.output, args.identities, args.commit)


if __name__ == "__main__":
    main()
