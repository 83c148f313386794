"""Model size and cost: trainable parameters and forward GFLOPs.

FLOPs are counted by :class:`torch.utils.flop_counter.FlopCounterMode`, which counts 2 FLOP per
multiply-accumulate of convolutions and matrix products and ignores the cheap element-wise work
(BatchNorm, ReLU, pooling, additions, biases). 1 GFLOP = 1e9 FLOP.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["count_parameters", "gflops"]


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (shared tensors counted once).

    Args:
        model: any module.

    Returns:
        the total ``numel`` of the parameters with ``requires_grad``.

    Example:
        >>> count_parameters(nn.Conv2d(3, 8, kernel_size=3))  # 3*8*3*3 weights + 8 biases
        224
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def gflops(
    model: nn.Module, input_size: int | tuple[int, int] | None = None, *, in_channels: int = 3
) -> float:
    """Forward cost of one image in GFLOP, measured with ``FlopCounterMode`` (2 FLOP per MAC).

    The model runs once in eval mode without autograd, on a zero image on the device and dtype of its
    parameters (the ``meta`` device works, for a count without computation); its train/eval mode is
    restored afterwards, so BatchNorm running statistics are not touched.

    Args:
        model: the network.
        input_size: side (or ``(H, W)``) of the image; defaults to ``model.input_size``.
        in_channels: channels of the image.

    Returns:
        GFLOP for one forward pass of a single image.

    Example:
        >>> round(gflops(nn.Conv2d(3, 8, kernel_size=3, padding=1), input_size=32), 6)  # 2*3*8*9*32*32/1e9
        0.000442
    """
    if input_size is None:
        input_size = getattr(model, "input_size", None)
        if input_size is None:
            raise ValueError("input_size is required for a model without an input_size attribute")
    height, width = (input_size, input_size) if isinstance(input_size, int) else input_size
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None else torch.float32
    x = torch.zeros(1, in_channels, height, width, device=device, dtype=dtype)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        model.train(was_training)
    return counter.get_total_flops() / 1e9
