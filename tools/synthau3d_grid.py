"""Draw SynthAU-3D's AU x intensity grid (figures/synthau3d_grid.png): each AU alone at intensities 0-5.

Rows are the five BP4D AUs; columns intensities 0 (absent) to 5 (FACS E). Each row is another person of the
SynthAU-3D set of ``--seed`` (fixed lights, no distractors, each with their own expressivity) in another head pose
(``POSES``: the set's frames turn up to ±30° yaw and ±20° pitch and roll), so that a row shows one AU growing on one
face, and the rows show it on five people and five poses. Notebook 01 draws the frontal version with
``RENDERER = "3d"`` (:func:`aulib.course.figures.synthau_grid_figure`).

Usage:
    python tools/synthau3d_grid.py [--output figures/synthau3d_grid.png] [--size 192] [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("agg")

import matplotlib.pyplot as plt

from aulib.course.figures import FACS_LETTERS, save_figure
from aulib.data.synthau import Difficulty, SynthConfig, subject_name
from aulib.data.synthau.generate import RENDERER_VERSIONS
from aulib.method.aus import AUS, BP4D_AUS

# (yaw, pitch, roll) in degrees per row: frontal, turned left and right, looking up and down, a tilt
POSES = ((0.0, 0.0, 0.0), (-25.0, 5.0, 0.0), (20.0, -10.0, 5.0), (10.0, 15.0, -8.0), (-12.0, -15.0, 10.0))
LEVELS = (0, 1, 2, 3, 4, 5)


def main() -> None:
    from aulib.data.face3d.sequence import render_still_3d

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path("figures/synthau3d_grid.png"))
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    config = SynthConfig(seed=args.seed, image_size=args.size, renderer="3d",
                         difficulty=Difficulty.from_level("default"))
    size = (1.5 * len(LEVELS) + 1.1, 1.55 * len(BP4D_AUS) + 0.8)
    figure, axes = plt.subplots(len(BP4D_AUS), len(LEVELS), figsize=size, squeeze=False)
    for row, (au, pose) in enumerate(zip(BP4D_AUS, POSES, strict=True)):
        for column, level in enumerate(LEVELS):
            ax = axes[row, column]
            ax.imshow(render_still_3d(config, row, {au: level}, pose=pose)[0])
            ax.set(xticks=[], yticks=[])
            if row == 0:
                ax.set_title("neutral" if level == 0 else f"{FACS_LETTERS.get(level, '')} (I = {level})", fontsize=9)
        axes[row, 0].set_ylabel(f"AU{au}\n{AUS[au].name}\n({subject_name(row)}; yaw {pose[0]:+.0f}°,\n"
                                f"pitch {pose[1]:+.0f}°, roll {pose[2]:+.0f}°)", fontsize=7)
    figure.suptitle(f"SynthAU-3D (ICT-FaceKit mesh, renderer version {RENDERER_VERSIONS['3d']}): each AU alone at "
                    "FACS intensities 0-5;\none person and one head pose per row, the face moving and folding by "
                    "that person's own expressivity", fontsize=10)
    figure.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    save_figure(figure, args.output, dpi=110)
    print(args.output)


if __name__ == "__main__":
    main()
