"""Drawing on the 256 aligned frame: heatmaps resampled and blended over faces, AU centres, frame-sized axes.

Shared by the explorer, the notebook-02 figures, the training snapshots and the noise figures.

Example:
    >>> import numpy as np
    >>> face = np.full((256, 256, 3), 128, np.uint8)
    >>> blended = overlay_rgb(face, np.zeros((64, 64)))
    >>> bool(np.allclose(blended, 128 / 255))  # an empty map leaves the face as it is
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from aulib.method.align import (
    FRAME_SIZE,
    invert_affine,
    scale_matrix,
    warp_affine,
)
from aulib.method.aus import MAX_INTENSITY, au_centres
from aulib.predict.outputs import blend_heatmap

# imshow extent that puts an image of any size onto the 256 frame's pixel coordinates (pixel centres at
# integers, as in aulib.method.align), so landmarks, centres and heatmaps of any size overlay exactly.
FRAME_EXTENT = (-0.5, FRAME_SIZE - 0.5, FRAME_SIZE - 0.5, -0.5)



HEATMAP_CMAP = "magma"



def upsample_map(heatmap: np.ndarray, size: int = FRAME_SIZE) -> np.ndarray:
    """Resample an ``(h, w)`` map onto the ``size`` frame (bilinear, with the frame's pixel convention)."""
    heatmap = np.asarray(heatmap, dtype=np.float32)
    return warp_affine(heatmap, invert_affine(scale_matrix(heatmap.shape[-1], size)), size)



def overlay_rgb(image: np.ndarray, heatmap: np.ndarray, vmax: float = MAX_INTENSITY, min_peak: float = 0.0,
                ) -> np.ndarray:
    """A map of any size blended over a square uint8 face by :func:`aulib.predict.outputs.blend_heatmap`: colour
    encodes the value (0–``vmax``), opacity its share of the peak (at least ``min_peak``).

    ``min_peak`` 0 shows any map at full strength (targets); 1 keeps a network's near-flat map of, say, 0.1
    everywhere faint instead of painting the whole face.

    Returns:
        ``(S, S, 3)`` float RGB in [0, 1]; equal to ``image / 255`` where the map is zero.
    """
    return blend_heatmap(image, upsample_map(heatmap, image.shape[0]), vmax=vmax, cmap=HEATMAP_CMAP, opacity="peak",
                         min_peak=min_peak)


def centres_of(landmarks: np.ndarray, au: int) -> np.ndarray:
    """``(C, 2)`` centres of one AU from ``(L, 2)`` landmarks, via :func:`aulib.method.aus.au_centres`."""
    centres, valid = au_centres(torch.as_tensor(np.asarray(landmarks, dtype=np.float64))[None], (au,))
    return centres[0, 0][valid[0]].numpy()


def frame_axes(ax: Any, title: str) -> None:
    """Set an axis to the 256 frame's extent (no ticks) with a title."""
    ax.set_xlim(FRAME_EXTENT[0], FRAME_EXTENT[1])
    ax.set_ylim(FRAME_EXTENT[2], FRAME_EXTENT[3])
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
