"""Figures that the notebooks and the README share. Each function returns a matplotlib Figure."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from aulib.aus import AUS, BP4D_AUS
from aulib.io import atomic_open

FIGURES_DIR = Path(__file__).resolve().parents[1] / "figures"


def save_figure(figure: Figure, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Save atomically (write a temporary file, then rename) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format=path.suffix.lstrip(".") or "png", dpi=dpi, bbox_inches="tight")
    return path


def synthau_grid_figure(
    subjects: int = 4, aus: Sequence[int] = BP4D_AUS, levels: Sequence[float] = (0, 2.5, 5), seed: int = 0,
    difficulty: float | str = "default", image_size: int = 160,
) -> Figure:
    """A grid of SynthAU subjects (rows) × AU intensities (columns), frontal and evenly lit."""
    from aulib.data.synthau import sample_grid

    images, rows, _ = sample_grid(subjects, aus, levels, seed, difficulty, image_size)
    n_rows, n_cols = images.shape[:2]
    figure, axes = plt.subplots(n_rows, n_cols, figsize=(1.25 * n_cols, 1.35 * n_rows), squeeze=False)
    for i in range(n_rows):
        for j in range(n_cols):
            axes[i, j].imshow(images[i, j])
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
            if i == 0:
                au = aus[j // len(levels)]
                level = levels[j % len(levels)]
                title = f"AU{au}\n{AUS[au].name}" if j % len(levels) == 0 else ""
                axes[i, j].set_title(f"{title}\nI = {level:g}" if title else f"\n\nI = {level:g}", fontsize=7)
            if j == 0:
                axes[i, j].set_ylabel(rows[i], fontsize=8)
    figure.suptitle("SynthAU: one subject per row, one AU at a time at intensity 0, 2.5 and 5", fontsize=9)
    figure.tight_layout()
    return figure


def main() -> None:
    """Regenerate the README's figures: ``python -m aulib.plots``."""
    path = save_figure(synthau_grid_figure(image_size=128), FIGURES_DIR / "synthau_grid.png", dpi=90)
    print(f"wrote {path}")
    plt.close("all")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
