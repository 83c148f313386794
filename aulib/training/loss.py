"""The training loss: Huber or L2 on heatmaps (MSE on intensities), masked per label, foreground-weighted."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def masked_loss(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, kind: str,
                foreground_weight: float = 1.0) -> torch.Tensor:
    """Mean loss over valid (sample, AU) pairs; invalid labels contribute nothing.

    Args:
        prediction, target: ``(B, A, H, W)`` heatmaps or ``(B, A)`` intensities.
        mask: ``(B, A)`` booleans, True where the label is valid.
        kind: ``"huber"``, ``"l2"`` or ``"mse"``.
        foreground_weight: weight of heatmap pixels inside a target Gaussian (background pixels weigh 1). A map
            is mostly zeros, so plain pixel-wise regression learns peaks lower than the intensity; weighting the
            Gaussians counters that.
    """
    if kind == "huber":
        per_element = F.huber_loss(prediction, target, reduction="none", delta=1.0)
    elif kind in ("l2", "mse"):
        per_element = F.mse_loss(prediction, target, reduction="none")
    else:
        raise ValueError(f"loss must be 'huber' or 'l2'; got {kind!r}")
    if foreground_weight != 1.0 and per_element.ndim == 4:
        per_element = per_element * (1 + (foreground_weight - 1) * (target > 0))
    per_label = per_element.flatten(2).mean(-1) if per_element.ndim == 4 else per_element  # (B, A)
    weights = mask.to(per_label.dtype)
    return (per_label * weights).sum() / weights.sum().clamp_min(1.0)
