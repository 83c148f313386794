"""Draw SynthAU-3D's AU x intensity grid (figures/synthau3d_grid.png): each AU alone at intensities 0-5.

Rows are the five BP4D AUs; columns intensities 0 (absent) to 5 (FACS E). Each row is another person of the
SynthAU-3D set of ``--seed`` (frontal, fixed lights, no distractors, each with their own expressivity): the figure
notebook 01 draws with ``RENDERER = "3d"`` (:func:`aulib.course.figures.synthau_grid_figure`), at a larger size.

Usage:
    python tools/synthau3d_grid.py [--output figures/synthau3d_grid.png] [--size 192] [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("agg")

from aulib.course.figures import save_figure, synthau_grid_figure
from aulib.data.synthau.generate import RENDERER_VERSIONS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path("figures/synthau3d_grid.png"))
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    figure = synthau_grid_figure(seed=args.seed, image_size=args.size, renderer="3d")
    figure.suptitle(f"SynthAU-3D (ICT-FaceKit mesh, renderer version {RENDERER_VERSIONS['3d']}): each AU alone at "
                    "FACS intensities 0-5;\none person of the set per row, whose face moves and folds by their own "
                    "expressivity", fontsize=10)
    figure.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    save_figure(figure, args.output, dpi=110)
    print(args.output)


if __name__ == "__main__":
    main()
