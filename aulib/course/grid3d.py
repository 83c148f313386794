"""SynthAU-3D's AU × intensity grid with head poses: the README's ``figures/synthau3d_grid.png``.

Rows are the five BP4D AUs; columns intensities 0 (absent) to 5 (FACS E). Each row is another person of the
SynthAU-3D set of ``seed`` (fixed lights, no distractors, each with their own expressivity) in another head pose
(:data:`POSES`: the set's frames turn up to ±30° yaw and ±20° pitch and roll), so that a row shows one AU growing on
one face, and the rows show it on five people and five poses. Notebook 01 draws the frontal version
(:func:`aulib.course.figures.synthau_grid_figure` with ``renderer="3d"``); ``aulib figures`` draws this one.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from aulib.course.figures import FACS_LETTERS
from aulib.method.aus import AUS, BP4D_AUS

# (yaw, pitch, roll) in degrees per row: frontal, turned left and right, looking up and down, a tilt
POSES = ((0.0, 0.0, 0.0), (-25.0, 5.0, 0.0), (20.0, -10.0, 5.0), (10.0, 15.0, -8.0), (-12.0, -15.0, 10.0))
LEVELS = (0, 1, 2, 3, 4, 5)


def synthau3d_grid_figure(seed: int = 0, image_size: int = 192) -> Figure:
    """Each BP4D AU alone at intensities 0–5 on SynthAU-3D, one person and one head pose per row.

    Args:
        seed: the SynthAU-3D set whose people are drawn (row ``r`` is its person ``r``).
        image_size: side of each rendered face, pixels.

    Returns:
        The figure (5 rows × 6 columns).

    Raises:
        RuntimeError: no OpenGL context can be made (the message names what to install).
    """
    from aulib.data.face3d.sequence import render_still_3d
    from aulib.data.synthau import Difficulty, SynthConfig, subject_name
    from aulib.data.synthau.generate import RENDERER_VERSIONS

    config = SynthConfig(seed=seed, image_size=image_size, renderer="3d", difficulty=Difficulty.from_level("default"))
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
    return figure
