"""What the SynthAU-3D Hourglass reads: an AU's shape, its folds, or both (``models/reference-3d/cue_probe.csv``).

On SynthAU-3D, ridge regression on the landmarks scores as well as the Hourglass (RESULTS.md), as if the network
read only what the landmarks carry. This probe measures it directly. For each of BP4D's five AUs, 30 people of the
course set's SynthAU-3D config (``seed`` 0: people the reference Hourglasses never trained on) are rendered frontal
and clean (:func:`aulib.data.face3d.sequence.render_still_3d`) with that AU alone at intensities 0-5, three ways:

- ``both``: the AU as the data sets show it, the face's motion and its folds;
- ``shape``: the motion without the AU's folds (the landmarks move as in ``both``);
- ``folds``: the folds on a face that does not move (the landmarks stay at rest).

Each frame is aligned from its exact landmarks as the prepared sets are (the paper's three points) and read by the
three committed reference Hourglasses (``models/reference-3d/hourglass/seed*``, fp32 on the CPU). The table holds
every reading: ``au, cue, intensity, person, seed, reading``. ``python tools/results_tables.py`` summarises it in
RESULTS.md: the rise of the AU's own reading from intensity 0 to 5 under each cue, with a bootstrap interval over
people.

Neither cue exists alone in a real face; the probe asks what the network learnt to use, not what is true.

Usage:
    python tools/synthau3d_probe.py [--people 30] [--out models/reference-3d/cue_probe.csv]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from aulib.data.face3d.sequence import CUES, render_still_3d
from aulib.data.synthau import SynthConfig
from aulib.inference.model import AUModel
from aulib.io import atomic_write_csv
from aulib.method.align import align_face
from aulib.method.aus import BP4D_AUS

ROOT = Path(__file__).resolve().parents[1]
LEVELS = (0, 1, 2, 3, 4, 5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=30)
    parser.add_argument("--reference", type=Path, default=ROOT / "models" / "reference-3d")
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "reference-3d" / "cue_probe.csv")
    args = parser.parse_args()

    config = SynthConfig(seed=0, image_size=256, renderer="3d")  # the course set's people (notebook 01's seed)
    runs = sorted((args.reference / "hourglass").glob("seed*"))
    models = {int(run.name.removeprefix("seed")): AUModel.from_run(run, device="cpu", precision="fp32")
              for run in runs}
    first = next(iter(models.values()))
    crops, aligned, keys = [], [], []
    total = len(BP4D_AUS) * len(CUES) * len(LEVELS) * args.people
    with tqdm(total=total, desc="render", unit="frame") as bar:
        for au in BP4D_AUS:
            for cue in CUES:
                for level in LEVELS:
                    for person in range(args.people):
                        image, landmarks = render_still_3d(config, person, {au: float(level)}, cues=cue)
                        crop, points, _ = align_face(image, landmarks.astype(np.float64), method=first.alignment,
                                                     size=first.crop_size)
                        crops.append(crop)
                        aligned.append(points)
                        keys.append((au, cue, level, person))
                        bar.update()
    rows = []
    for seed, model in models.items():
        column = {au: list(model.aus).index(au) for au in BP4D_AUS}
        for start in range(0, len(crops), 256):
            readings = model.predict_crops(crops[start:start + 256], aligned[start:start + 256]).intensities.numpy()
            for (au, cue, level, person), reading in zip(keys[start:start + 256], readings, strict=True):
                rows.append({"au": au, "cue": cue, "intensity": level, "person": person, "seed": seed,
                             "reading": float(reading[column[au]])})
    table = pd.DataFrame(rows)
    atomic_write_csv(args.out, table, index=False)
    summary = table.groupby(["au", "cue", "intensity"]).reading.mean().unstack("intensity").round(2)
    print(summary.to_string())


if __name__ == "__main__":
    main()
