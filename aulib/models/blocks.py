"""Residual building blocks of the hourglass networks.

Two interchangeable blocks map ``in_channels`` to ``out_channels`` at constant spatial size:

* :class:`Bottleneck` — the post-activation ResNet bottleneck used by the authors' released code
  (``hourglass.py`` of ESanchezLozano/Action-Units-Heatmaps). This is the block of the ``paper`` preset.
* :class:`ConvBlock` — the pre-activation, multi-scale block of FAN (1adrianb/face-alignment,
  ``face_alignment/models/fan.py``), used by the ``paper-fan`` preset.

Submodule names (``conv1``, ``bn1``, ..., ``downsample``) follow the two reference implementations on
purpose, so that their checkpoints map onto ours by renaming only the outer modules
(see :func:`aulib.models.hourglass.fan_to_aulib_state_dict`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BLOCKS", "Bottleneck", "ConvBlock", "fold_batchnorm", "fuse_conv_bn", "make_block"]


def fuse_conv_bn(owner: nn.Module, conv_name: str, bn_name: str) -> None:
    """Fold ``owner.<bn_name>`` (an eval-mode BatchNorm) into the convolution ``owner.<conv_name>`` before it, in
    place: the convolution gets rescaled weights and a new bias, and the BatchNorm becomes an identity.

    In eval mode a BatchNorm is an affine map per channel, so ``BN(conv(x))`` is one convolution. Pairs that are not
    a ``Conv2d`` followed by a ``BatchNorm2d`` are left alone.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    conv, bn = owner._modules[conv_name], owner._modules[bn_name]
    if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
        # keep the layout: fuse_conv_bn_eval returns contiguous weights
        owner._modules[conv_name] = fuse_conv_bn_eval(conv, bn).to(memory_format=torch.channels_last)
        owner._modules[bn_name] = nn.Identity()


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every BatchNorm that follows a convolution folded into it.

    Each network knows its own convolution–BatchNorm pairs: every module with a ``fold_batchnorm_`` method folds
    them in place (:class:`Bottleneck`, :class:`aulib.models.hourglass.Hourglass`,
    :class:`aulib.models.resnet.ResNetRegressor`). Folding removes one pass over every activation (about a sixth of
    the ``paper`` network's CPU time) and changes fp32 outputs by ~1e-6. FAN's pre-activation :class:`ConvBlock`
    (BN *before* its convolutions, whose raw outputs are also concatenated) has nothing to fold.

    Args:
        model: a network in eval mode.

    Returns:
        A folded deep copy (the argument is not modified).

    Raises:
        ValueError: for a model in training mode (BatchNorm then normalises with batch statistics).

    Example:
        >>> from aulib.models import create_model
        >>> model = create_model("tiny").eval()
        >>> x = torch.rand(1, 3, 96, 96)
        >>> folded = fold_batchnorm(model)
        >>> sum(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
        0
        >>> bool(torch.allclose(folded(x), model(x), atol=1e-5))
        True
    """
    import copy

    if model.training:
        raise ValueError("fold_batchnorm needs a model in eval mode (BatchNorm then uses its running statistics)")
    folded = copy.deepcopy(model)
    for module in list(folded.modules()):
        if hasattr(module, "fold_batchnorm_"):
            module.fold_batchnorm_()
    return folded


class Bottleneck(nn.Module):
    r"""Post-activation bottleneck: 1×1 → 3×3 → 1×1 convolutions with a residual connection.

    ``conv1x1(in→out/2)-BN-ReLU, conv3x3(out/2→out/2)-BN-ReLU, conv1x1(out/2→out)-BN``, plus the input
    (projected by ``conv1x1(in→out)-BN`` when ``in_channels != out_channels``), then ReLU.
    Convolutions have no bias because each is followed by a BatchNorm, whose shift makes a bias redundant.

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output; must be even.

    Returns:
        the block output, same spatial size as the input.

    Shape:
        - Input: :math:`(B, C_{in}, H, W)`
        - Output: :math:`(B, C_{out}, H, W)`

    Example:
        >>> block = Bottleneck(64, 128)
        >>> block(torch.zeros(2, 64, 16, 16)).shape
        torch.Size([2, 128, 16, 16])
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        if out_channels % 2:
            raise ValueError(f"Bottleneck needs an even out_channels, got {out_channels}")
        mid = out_channels // 2
        self.in_channels, self.out_channels = in_channels, out_channels
        self.conv1 = nn.Conv2d(in_channels, mid, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, out_channels, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        # Projection shortcut only when the residual cannot be added as is (authors' layout: conv, BN).
        self.downsample = (
            nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False),
                          nn.BatchNorm2d(out_channels))
            if in_channels != out_channels else None
        )

    def fold_batchnorm_(self) -> None:
        """Fold the three BatchNorms (and the projection's) into their convolutions, in place (eval mode)."""
        for conv_name, bn_name in (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3")):
            fuse_conv_bn(self, conv_name, bn_name)
        if self.downsample is not None:
            fuse_conv_bn(self.downsample, "0", "1")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))  # (B, in, H, W) -> (B, out/2, H, W)
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))  # (B, out/2, H, W) -> (B, out, H, W)
        residual = x if self.downsample is None else self.downsample(x)
        return F.relu(out + residual)


class ConvBlock(nn.Module):
    r"""FAN's pre-activation multi-scale residual block (Bulat & Tzimiropoulos, 2017).

    Three ``BN-ReLU-conv3x3`` stages with ``out/2``, ``out/4`` and ``out/4`` channels, each feeding the
    next; their outputs are concatenated (``out`` channels) and added to the input, which is projected by
    ``BN-ReLU-conv1x1`` when ``in_channels != out_channels``. No activation after the sum
    (pre-activation design: the next block starts with BN-ReLU).

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output; must be divisible by 4.

    Returns:
        the block output, same spatial size as the input.

    Shape:
        - Input: :math:`(B, C_{in}, H, W)`
        - Output: :math:`(B, C_{out}, H, W)`

    Example:
        >>> block = ConvBlock(64, 128)
        >>> block(torch.zeros(2, 64, 16, 16)).shape
        torch.Size([2, 128, 16, 16])
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        if out_channels % 4:
            raise ValueError(f"ConvBlock needs out_channels divisible by 4, got {out_channels}")
        half, quarter = out_channels // 2, out_channels // 4
        self.in_channels, self.out_channels = in_channels, out_channels
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, half, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(half)
        self.conv2 = nn.Conv2d(half, quarter, kernel_size=3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(quarter)
        self.conv3 = nn.Conv2d(quarter, quarter, kernel_size=3, padding=1, bias=False)
        # FAN's layout (BN, ReLU, conv) keeps the state-dict keys downsample.0 / downsample.2.
        self.downsample = (
            nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(),
                          nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False))
            if in_channels != out_channels else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out1 = self.conv1(F.relu(self.bn1(x)))  # (B, in, H, W) -> (B, out/2, H, W)
        out2 = self.conv2(F.relu(self.bn2(out1)))  # -> (B, out/4, H, W)
        out3 = self.conv3(F.relu(self.bn3(out2)))  # -> (B, out/4, H, W)
        out = torch.cat((out1, out2, out3), dim=1)  # -> (B, out, H, W)
        residual = x if self.downsample is None else self.downsample(x)
        return out + residual


#: Block name -> class, the values accepted by ``Hourglass(block=...)``.
BLOCKS: dict[str, type[nn.Module]] = {"bottleneck": Bottleneck, "convblock": ConvBlock}


def make_block(kind: str, in_channels: int, out_channels: int) -> nn.Module:
    """Build a residual block by name.

    Args:
        kind: ``"bottleneck"`` or ``"convblock"`` (keys of :data:`BLOCKS`).
        in_channels: channels of the input.
        out_channels: channels of the output.

    Returns:
        the block module.

    Example:
        >>> make_block("convblock", 32, 32).__class__.__name__
        'ConvBlock'
    """
    try:
        cls = BLOCKS[kind]
    except KeyError:
        raise ValueError(f"unknown block {kind!r}; valid blocks: {sorted(BLOCKS)}") from None
    return cls(in_channels, out_channels)
