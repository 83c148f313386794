"""Helpers shared by several test modules (imported as ``from helpers import ...``)."""

from __future__ import annotations

import torch


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
