"""Draw SynthAU-3D's AU x intensity grid (figures/synthau3d_grid.png): each AU alone at intensities 0-5, one person
and one head pose per row (:func:`aulib.course.grid3d.synthau3d_grid_figure`; ``aulib figures`` draws it too).

Usage:
    python tools/synthau3d_grid.py [--output figures/synthau3d_grid.png] [--size 192] [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("agg")

from aulib.course.figures import save_figure
from aulib.course.grid3d import synthau3d_grid_figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path("figures/synthau3d_grid.png"))
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    save_figure(synthau3d_grid_figure(seed=args.seed, image_size=args.size), args.output, dpi=110)
    print(args.output)


if __name__ == "__main__":
    main()
