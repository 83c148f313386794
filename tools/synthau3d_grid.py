"""Draw SynthAU-3D's AU x intensity grid (figures/synthau3d_grid.png): each AU alone at intensities 0-5.

Rows are the five BP4D AUs; columns intensities 0 (absent) to 5 (FACS E). Each row is a different random person
(frontal, fixed lights, no distractors), so the figure shows identities as well as the AUs.

Usage:
    python tools/synthau3d_grid.py [--output figures/synthau3d_grid.png] [--size 192]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("agg")
import matplotlib.pyplot as plt
import numpy as np

from aulib.data.face3d.render import FaceParams, FaceRenderer
from aulib.data.face3d.sample import sample_subject
from aulib.data.synthau.scene import Scene
from aulib.method.aus import AUS, BP4D_AUS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path("figures/synthau3d_grid.png"))
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    renderer = FaceRenderer(args.size)
    figure, axes = plt.subplots(len(BP4D_AUS), 6, figsize=(6 * 1.6, len(BP4D_AUS) * 1.75))
    for row, au in enumerate(BP4D_AUS):
        subject = sample_subject(np.random.default_rng([args.seed, row]))
        for column in range(6):
            params = FaceParams(subject=subject, intensities={au: float(column)}, scale=1.15, shift=(0.0, 0.05),
                                scene=Scene(blur_sigma=0.3, noise_sigma=0.0))
            image, _ = renderer.render(params, np.random.default_rng(0))
            axis = axes[row, column]
            axis.imshow(image)
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(f"intensity {column}" + (" (absent)" if column == 0 else ""), fontsize=9)
            if column == 0:
                axis.set_ylabel(f"AU{au}\n{AUS[au].name}", fontsize=9)
    figure.suptitle("SynthAU-3D (ICT-FaceKit mesh, renderer version 3): each AU alone at FACS intensities 0-5;\n"
                    "one person per row, whose face moves and folds by their own expressivity", fontsize=10)
    figure.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.output, dpi=110)
    print(args.output)


if __name__ == "__main__":
    main()
