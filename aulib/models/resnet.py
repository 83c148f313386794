"""ResNet-18 that regresses the AU intensities directly: the paper's baseline against heatmap regression.

Sanchez-Lozano, Tzimiropoulos & Valstar (BMVC 2018) compare their hourglass, which outputs one heatmap
per AU, with a ResNet-18 that outputs the intensities themselves. :class:`ResNetRegressor` is that
baseline, written here without torchvision:

* stem: 7×7/2 conv 3→64 (no bias), BN, ReLU, 3×3/2 max-pool (1/4 resolution);
* four stages of two :class:`BasicBlock` each, 64, 128, 256, 512 channels, the first block of stages
  2-4 halving the resolution (1/32 in the end);
* global average pooling and a linear layer to one raw intensity per AU (no clamping).

With the defaults it has the layout of torchvision's ``resnet18`` with a 5-output ``fc``:
exactly 11,179,077 trainable parameters and about 4.75 GFLOP per 256×256 image (3.64 at 224×224).
:func:`torchvision_to_aulib_state_dict` renames a torchvision ResNet checkpoint to this module's keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from aulib.models.blocks import fuse_conv_bn

__all__ = ["BasicBlock", "ResNetRegressor", "torchvision_to_aulib_state_dict"]


class BasicBlock(nn.Module):
    r"""ResNet's basic block: two 3×3 convolutions with a residual connection (He et al., 2016).

    ``conv3x3(in→out, stride)-BN-ReLU, conv3x3(out→out)-BN``, plus the input (projected by
    ``conv1x1(in→out, stride)-BN`` when ``stride != 1`` or ``in_channels != out_channels``), then ReLU.
    Convolutions have no bias, since each is followed by a BatchNorm.

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output.
        stride: stride of the first convolution and of the projection (1 or 2).

    Returns:
        the block output.

    Shape:
        - Input: :math:`(B, C_{in}, H, W)`
        - Output: :math:`(B, C_{out}, \lceil H / s \rceil, \lceil W / s \rceil)`

    Example:
        >>> block = BasicBlock(64, 128, stride=2)
        >>> block(torch.zeros(2, 64, 16, 16)).shape
        torch.Size([2, 128, 8, 8])
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        # Projection shortcut only when the identity cannot be added (torchvision's layout: conv, BN).
        self.downsample = (
            nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                          nn.BatchNorm2d(out_channels))
            if stride != 1 or in_channels != out_channels else None
        )

    def fold_batchnorm_(self) -> None:
        """Fold both BatchNorms (and the projection's) into their convolutions, in place (eval mode)."""
        fuse_conv_bn(self, "conv1", "bn1")
        fuse_conv_bn(self, "conv2", "bn2")
        if self.downsample is not None:
            fuse_conv_bn(self.downsample, "0", "1")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))  # (B, in, H, W) -> (B, out, H/s, W/s)
        out = self.bn2(self.conv2(out))
        residual = x if self.downsample is None else self.downsample(x)  # -> (B, out, H/s, W/s)
        return F.relu(out + residual)


class ResNetRegressor(nn.Module):
    r"""ResNet that maps a face image to one intensity per AU (the paper's direct-regression baseline).

    The defaults are ResNet-18 (presets ``resnet18`` and, at 128×128, ``resnet18-small``). ``layers``
    sets the blocks per stage and ``width`` the channels of the stem and first stage; stage ``i`` has
    ``width * 2**i`` channels. The output is raw: no clamping to the intensity range, no sigmoid.

    Unlike the hourglasses (``output_kind = "heatmap"``), ``output_kind`` is ``"intensity"``, so generic
    training and evaluation code can tell what ``forward`` returns; ``num_maps`` equals ``num_outputs``
    for code that only needs the number of AUs.

    Args:
        num_outputs: number of intensities ``A`` (one per Action Unit).
        layers: basic blocks in each stage; ``(2, 2, 2, 2)`` is ResNet-18, ``(3, 4, 6, 3)`` ResNet-34.
        width: channels of the stem and of the first stage.
        input_size: nominal side of the square input image (used for the cost and by data pipelines);
            at least ``2**(len(layers) + 1)``.

    Returns:
        the intensities, :math:`(B, A)`.

    Shape:
        - Input: :math:`(B, 3, H, W)` with :math:`H, W \ge 2^{stages + 1}` (32 for ResNet-18)
        - Output: :math:`(B, A)`

    Example:
        >>> model = ResNetRegressor(num_outputs=5, input_size=64).eval()
        >>> model(torch.zeros(2, 3, 64, 64)).shape
        torch.Size([2, 5])
        >>> model.output_kind, model.num_maps
        ('intensity', 5)
    """

    output_kind = "intensity"
    intensity_loss = "mse"  # the paper's baseline trains with MSE, whatever loss a run's heatmaps use

    def __init__(self, *, num_outputs: int = 5, layers: Sequence[int] = (2, 2, 2, 2), width: int = 64,
                 input_size: int = 256) -> None:
        super().__init__()
        layers = tuple(layers)
        if num_outputs < 1:
            raise ValueError(f"num_outputs must be at least 1, got {num_outputs}")
        if not layers or any(n < 1 for n in layers):
            raise ValueError(f"layers must be a non-empty sequence of positive block counts, got {layers}")
        if width < 1:
            raise ValueError(f"width must be positive, got {width}")
        self.min_size = 2 ** (len(layers) + 1)  # total stride of the network
        if input_size < self.min_size:
            raise ValueError(f"input_size must be at least {self.min_size}, got {input_size}")
        self.num_outputs = self.num_maps = num_outputs
        self.layers, self.width, self.input_size = layers, width, input_size

        # (B, 3, H, W) -> (B, width, H/4, W/4)
        self.stem = nn.Sequential(
            nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )
        # stage i: (B, width * 2**(i-1), h, w) -> (B, width * 2**i, h/2, w/2); the first keeps the size.
        stages = []
        in_channels = width
        for i, blocks in enumerate(layers):
            out_channels = width * 2**i
            stride = 1 if i == 0 else 2
            stages.append(nn.Sequential(
                BasicBlock(in_channels, out_channels, stride=stride),
                *(BasicBlock(out_channels, out_channels) for _ in range(blocks - 1)),
            ))
            in_channels = out_channels
        self.stages = nn.ModuleList(stages)
        self.fc = nn.Linear(in_channels, num_outputs)

        # torchvision's initialisation: He (fan-out) for convolutions, BN as the identity.
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def extra_repr(self) -> str:
        return (f"num_outputs={self.num_outputs}, layers={self.layers}, width={self.width}, "
                f"input_size={self.input_size}")

    def _check_input(self, x: torch.Tensor) -> None:
        shape = tuple(x.shape)
        if x.dim() != 4 or shape[1] != 3 or shape[2] < self.min_size or shape[3] < self.min_size:
            raise ValueError(
                f"expected an input of shape (B, 3, H, W) with H and W at least {self.min_size}, "
                f"e.g. (B, 3, {self.input_size}, {self.input_size}); got shape {shape}"
            )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Globally pooled features before the last layer, :math:`(B, 3, H, W) \\to (B, C)`."""
        self._check_input(x)
        x = self.stem(x)  # (B, 3, H, W) -> (B, width, H/4, W/4)
        for stage in self.stages:
            x = stage(x)  # -> (B, C, H/32, W/32) after the last stage of ResNet-18
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)  # -> (B, C)

    def fold_batchnorm_(self) -> None:
        """Fold the stem's BatchNorm into its convolution, in place (eval mode); the blocks fold their own."""
        fuse_conv_bn(self.stem, "0", "1")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw intensities, :math:`(B, 3, H, W) \\to (B, A)`."""
        return self.fc(self.features(x))  # (B, C) -> (B, A)


def torchvision_to_aulib_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a torchvision ResNet checkpoint (``resnet18`` etc. with basic blocks) to this module's keys.

    ``conv1``/``bn1`` become ``stem.0``/``stem.1`` and ``layer{i}`` becomes ``stages.{i-1}``; the blocks'
    inner names and ``fc`` are unchanged, and a ``module.`` prefix (``nn.DataParallel``) is dropped. An ImageNet
    ``fc`` (1000 outputs) does not fit an AU regressor: drop it before loading, and load with
    ``strict=False``.

    Args:
        state_dict: the torchvision model's ``state_dict()``.

    Returns:
        a state dict for :class:`ResNetRegressor` with the same ``layers`` and ``width``.

    Example:
        >>> sd = {"conv1.weight": torch.zeros(1), "layer3.1.downsample.0.weight": torch.zeros(1)}
        >>> list(torchvision_to_aulib_state_dict(sd))
        ['stem.0.weight', 'stages.2.1.downsample.0.weight']
    """
    renamed = {}
    for key, value in state_dict.items():
        key = key.removeprefix("module.")
        if key.startswith("conv1."):
            renamed["stem.0." + key.removeprefix("conv1.")] = value
        elif key.startswith("bn1."):
            renamed["stem.1." + key.removeprefix("bn1.")] = value
        elif match := re.match(r"layer(\d+)\.(.*)", key):
            renamed[f"stages.{int(match.group(1)) - 1}.{match.group(2)}"] = value
        elif key.startswith("fc."):
            renamed[key] = value
        else:
            raise KeyError(f"unexpected key {key!r} for a torchvision ResNet checkpoint")
    return renamed
