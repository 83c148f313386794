"""Helpers shared by several test modules (imported as ``from helpers import ...``)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from aulib.method.heatmaps import render_targets
from aulib.method.landmarks import Face


def randomise_batchnorm(model: torch.nn.Module) -> None:
    """Give every BatchNorm layer random affine parameters and running statistics.

    Fresh BN layers are identities in eval mode, which would hide a misplaced or shared BN.
    """
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            for tensor, low in ((module.weight.data, 0.5), (module.bias.data, -0.5),
                                (module.running_mean, -0.5), (module.running_var, 0.5)):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + low)


class KnownFace:
    """A 'detector' that returns known landmarks, so the expected AU locations are known exactly."""

    def __init__(self, points: np.ndarray) -> None:
        self.points = points

    def detect(self, image: np.ndarray) -> list[Face]:
        return [Face(box=np.r_[self.points.min(0), self.points.max(0)], points=self.points, score=1.0)]


class RenderedTargets(nn.Module):
    """A 'network' whose output is the target heatmaps of the known aligned landmarks."""

    output_kind = "heatmap"
    input_size = 256
    num_maps = 5

    def __init__(self, aligned: np.ndarray, intensities: list[float]) -> None:
        super().__init__()
        self.register_buffer("maps", render_targets(torch.tensor(aligned)[None], torch.tensor([intensities],
                                                                                              dtype=torch.float64)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.maps.float().expand(x.shape[0], -1, -1, -1)


def prepared_synthau(root, subjects: int, frames: int, seed: int):
    """Generate a small SynthAU set in ``root/synth`` and prepare it in ``root/prepared``; returns the latter."""
    from aulib.data.prepare import prepare
    from aulib.data.synthau import generate

    generate(root / "synth", subjects=subjects, frames=frames, seed=seed, progress=False, workers=1)
    prepare("synthau", root / "synth", root / "prepared", progress=False)
    return root / "prepared"


def pingouin_icc3(ratings: np.ndarray) -> float:
    """ICC(3,1) of an (N targets, k raters) matrix according to pingouin, the independent oracle of every ICC check.

    pingouin >= 0.7 labels the row "ICC(C,1)" (McGraw & Wong naming); older versions "ICC3". NaN rows are dropped
    (pingouin would refuse them), as aulib's masks do.
    """
    import warnings

    import pandas as pd
    import pingouin

    ratings = np.asarray(ratings, dtype=float)
    ratings = ratings[np.isfinite(ratings).all(axis=1)]
    n, k = ratings.shape
    long = pd.DataFrame({"target": np.repeat(np.arange(n), k), "rater": np.tile(np.arange(k), n),
                         "rating": ratings.ravel()})
    with warnings.catch_warnings():
        # pingouin 0.7 + pandas 3 emit deprecation noise from inside pingouin.
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        warnings.simplefilter("ignore", category=RuntimeWarning)
        out = pingouin.intraclass_corr(data=long, targets="target", raters="rater", ratings="rating")
    row = out[out["Type"].isin(["ICC3", "ICC(C,1)"])]
    assert len(row) == 1, out
    return float(row["ICC"].iloc[0])


def pingouin_icc_columns(truth: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """:func:`pingouin_icc3` of each AU column of ``(N, A)`` truth and predictions (NaN for a constant pair)."""
    scores = []
    for a in range(truth.shape[1]):
        pair = np.column_stack([truth[:, a], prediction[:, a]])
        constant = np.nanstd(pair[:, 0]) == 0 and np.nanstd(pair[:, 1]) == 0
        scores.append(np.nan if constant else pingouin_icc3(pair))
    return np.array(scores)


def pingouin_mean_icc(path) -> float:
    """Mean over AUs of pingouin's ICC(3,1) for a per-frame prediction table (``true_AU…``/``pred_AU…`` columns)."""
    import pandas as pd

    table = pd.read_csv(path)
    labels = [c.removeprefix("true_") for c in table.columns if c.startswith("true_")]
    return float(np.nanmean(pingouin_icc_columns(table[[f"true_{x}" for x in labels]].to_numpy(),
                                                 table[[f"pred_{x}" for x in labels]].to_numpy())))
