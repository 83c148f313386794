"""Stacked hourglass network that regresses one heatmap per Action Unit.

The ``paper`` configuration (``Hourglass()`` with its defaults) is the network released by the authors
of Sanchez-Lozano, Tzimiropoulos & Valstar, BMVC 2018 (``hourglass.py`` of
ESanchezLozano/Action-Units-Heatmaps, itself adapted from FAN, 1adrianb/face-alignment):

* stem: 7×7/2 conv 3→64 (bias), BN, ReLU, block 64→128, 2×2 pool, block 128→128, block 128→width;
* one recursive hourglass of ``depth`` levels, every block ``width``→``width``;
* head: block, 1×1 conv (bias), BN, ReLU, 1×1 conv (bias) → one map per AU;
* with ``stacks > 1``, FAN's merge between stacks: ``x = x + bl(head features) + al(maps)``.

With ``num_maps=5`` it has exactly 3,416,197 trainable parameters and costs about 10.28 GFLOP per
256×256 image. ``block="convblock", pool="avg"`` gives FAN's network instead (preset ``paper-fan``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from aulib.models.blocks import BLOCKS, fuse_conv_bn, make_block

__all__ = ["Hourglass", "HourglassLevel", "fan_to_aulib_state_dict"]

BlockName = Literal["bottleneck", "convblock"]
PoolName = Literal["max", "avg"]
_POOLS: dict[str, type[nn.Module]] = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


class HourglassLevel(nn.Module):
    r"""One level of the recursive hourglass; level ``L`` contains level ``L - 1`` in its lower branch.

    ``upper(x) + upsample(lower_out(inner(lower_in(pool(x)))))`` where ``inner`` is the next level, or a
    single extra block at level 1 (the bottom of the hourglass, at ``1/2**depth`` resolution).

    Args:
        level: levels from here to the bottom (``depth`` for the outermost one); at least 1.
        width: channels of every block.
        block: ``"bottleneck"`` or ``"convblock"``.
        pool: ``"max"`` (authors) or ``"avg"`` (FAN) 2×2 pooling.

    Returns:
        features of the same shape as the input.

    Shape:
        - Input: :math:`(B, C, H, W)` with :math:`H, W` divisible by :math:`2^{level}`
        - Output: :math:`(B, C, H, W)`

    Example:
        >>> level = HourglassLevel(level=2, width=32)
        >>> level(torch.zeros(1, 32, 8, 8)).shape
        torch.Size([1, 32, 8, 8])
    """

    def __init__(self, *, level: int, width: int, block: BlockName = "bottleneck",
                 pool: PoolName = "max") -> None:
        super().__init__()
        self.level = level
        self.upper = make_block(block, width, width)
        self.pool = _POOLS[pool](kernel_size=2)
        self.lower_in = make_block(block, width, width)
        self.inner: nn.Module = (
            HourglassLevel(level=level - 1, width=width, block=block, pool=pool)
            if level > 1 else make_block(block, width, width)
        )
        self.lower_out = make_block(block, width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        upper = self.upper(x)  # (B, C, H, W), keeps the detail of this scale
        lower = self.lower_in(self.pool(x))  # (B, C, H, W) -> (B, C, H/2, W/2)
        lower = self.lower_out(self.inner(lower))
        lower = F.interpolate(lower, scale_factor=2, mode="nearest")  # -> (B, C, H, W)
        return upper + lower


class Hourglass(nn.Module):
    r"""Stacked hourglass heatmap regressor (Sanchez-Lozano et al., BMVC 2018).

    The defaults are the authors' released network (preset ``paper``): 1 stack, depth 4, 256 features,
    bottleneck blocks, max pooling, 256×256 input, 64×64 heatmaps. The stem's channels (64, 128) are
    fixed as in the paper; ``width`` sets the hourglass and head channels.

    Args:
        num_maps: number of output heatmaps ``A`` (one per Action Unit).
        stacks: number of hourglasses; more than one adds FAN's merge between stacks.
        depth: levels of each hourglass (each halves the resolution once).
        width: channels of the hourglass and head; divisible by 4.
        block: ``"bottleneck"`` (authors) or ``"convblock"`` (FAN).
        pool: ``"max"`` (authors) or ``"avg"`` (FAN) 2×2 pooling, in the stem and the hourglass.
        input_size: nominal side of the square input image; divisible by ``4 * 2**depth``.

    Returns:
        ``forward``: the last stack's heatmaps; ``forward_stacks``: every stack's heatmaps.

    Shape:
        - Input: :math:`(B, 3, H, W)`, :math:`H` and :math:`W` divisible by :math:`4 \cdot 2^{depth}`
          (normally ``H = W = input_size``)
        - Output: :math:`(B, A, H/4, W/4)`

    Example:
        >>> model = Hourglass(num_maps=5, depth=3, width=64, input_size=96).eval()
        >>> model(torch.zeros(1, 3, 96, 96)).shape
        torch.Size([1, 5, 24, 24])
        >>> [m.shape[1] for m in Hourglass(stacks=2, depth=2, width=32, input_size=64).forward_stacks(
        ...     torch.zeros(1, 3, 64, 64))]
        [5, 5]
    """

    output_kind = "heatmap"

    def __init__(self, *, num_maps: int = 5, stacks: int = 1, depth: int = 4, width: int = 256,
                 block: BlockName = "bottleneck", pool: PoolName = "max", input_size: int = 256) -> None:
        super().__init__()
        for name, value in (("num_maps", num_maps), ("stacks", stacks), ("depth", depth)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if width < 4 or width % 4:
            raise ValueError(f"width must be a positive multiple of 4, got {width}")
        if block not in BLOCKS:
            raise ValueError(f"unknown block {block!r}; valid blocks: {sorted(BLOCKS)}")
        if pool not in _POOLS:
            raise ValueError(f"unknown pool {pool!r}; valid pools: {sorted(_POOLS)}")
        if input_size % (4 * 2**depth):
            raise ValueError(
                f"input_size must be divisible by 4 * 2**depth = {4 * 2**depth}, got {input_size}"
            )
        self.num_maps, self.stacks, self.depth, self.width = num_maps, stacks, depth, width
        self.block, self.pool = block, pool
        self.input_size, self.heatmap_size = input_size, input_size // 4

        # (B, 3, H, W) -> (B, width, H/4, W/4): stride-2 conv, then a 2×2 pool between the first blocks.
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            make_block(block, 64, 128),
            _POOLS[pool](kernel_size=2),
            make_block(block, 128, 128),
            make_block(block, 128, width),
        )
        self.hourglasses = nn.ModuleList(
            HourglassLevel(level=depth, width=width, block=block, pool=pool) for _ in range(stacks)
        )
        self.heads = nn.ModuleList(
            nn.Sequential(make_block(block, width, width), nn.Conv2d(width, width, kernel_size=1),
                          nn.BatchNorm2d(width), nn.ReLU())
            for _ in range(stacks)
        )
        self.to_maps = nn.ModuleList(nn.Conv2d(width, num_maps, kernel_size=1) for _ in range(stacks))
        # Re-inject each intermediate prediction into the next stack's input (FAN's bl / al convs).
        self.merge_features = nn.ModuleList(
            nn.Conv2d(width, width, kernel_size=1) for _ in range(stacks - 1)
        )
        self.merge_maps = nn.ModuleList(nn.Conv2d(num_maps, width, kernel_size=1) for _ in range(stacks - 1))

    def fold_batchnorm_(self) -> None:
        """Fold the stem's and the heads' BatchNorms into their convolutions, in place (eval mode); the blocks fold
        their own (:func:`aulib.models.blocks.fold_batchnorm` visits every module)."""
        fuse_conv_bn(self.stem, "0", "1")
        for head in self.heads:
            fuse_conv_bn(head, "1", "2")

    def extra_repr(self) -> str:
        return (f"num_maps={self.num_maps}, stacks={self.stacks}, depth={self.depth}, width={self.width}, "
                f"block={self.block!r}, pool={self.pool!r}, input_size={self.input_size}")

    def _check_input(self, x: torch.Tensor) -> None:
        multiple = 4 * 2**self.depth
        shape = tuple(x.shape)
        if x.dim() != 4 or shape[1] != 3 or shape[2] % multiple or shape[3] % multiple:
            raise ValueError(
                f"expected an input of shape (B, 3, H, W) with H and W divisible by {multiple}, "
                f"e.g. (B, 3, {self.input_size}, {self.input_size}); got shape {shape}"
            )

    def forward_stacks(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Heatmaps of every stack, for intermediate supervision.

        Args:
            x: images, :math:`(B, 3, H, W)`.

        Returns:
            a list of ``stacks`` tensors :math:`(B, A, H/4, W/4)`, the last one being ``forward(x)``.
        """
        self._check_input(x)
        x = self.stem(x)  # (B, 3, H, W) -> (B, width, H/4, W/4)
        outputs = []
        for i in range(self.stacks):
            features = self.heads[i](self.hourglasses[i](x))  # (B, width, H/4, W/4)
            maps = self.to_maps[i](features)  # -> (B, A, H/4, W/4)
            outputs.append(maps)
            if i < self.stacks - 1:
                x = x + self.merge_features[i](features) + self.merge_maps[i](maps)
        return outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Heatmaps of the last stack, :math:`(B, 3, H, W) \\to (B, A, H/4, W/4)`."""
        return self.forward_stacks(x)[-1]


# Top-level names of the authors' / FAN's modules -> ours; ``{i}`` is the stack index.
_FAN_TOP_LEVEL = {
    r"conv1\.": "stem.0.", r"bn1\.": "stem.1.", r"conv2\.": "stem.3.", r"conv3\.": "stem.5.",
    r"conv4\.": "stem.6.", r"top_m_(\d+)\.": "heads.{i}.0.", r"conv_last(\d+)\.": "heads.{i}.1.",
    r"bn_end(\d+)\.": "heads.{i}.2.", r"l(\d+)\.": "to_maps.{i}.", r"bl(\d+)\.": "merge_features.{i}.",
    r"al(\d+)\.": "merge_maps.{i}.",
}
_FAN_LEVEL = {"b1": "upper", "b2": "lower_in", "b3": "lower_out"}


def fan_to_aulib_state_dict(
    state_dict: Mapping[str, torch.Tensor], *, depth: int = 4
) -> dict[str, torch.Tensor]:
    """Rename a checkpoint of the authors' ``FullNetwork`` or of FAN to this module's names.

    Both reference implementations name modules by string (``m0.b2_4.conv1.weight``, ``top_m_0...``);
    blocks keep their inner names here, so only the outer part of each key changes. A ``module.`` prefix
    (``nn.DataParallel``) is dropped.

    Args:
        state_dict: the reference network's ``state_dict()``.
        depth: hourglass depth of that network (4 for both released networks).

    Returns:
        a state dict for :class:`Hourglass` with the same ``stacks`` / ``depth`` / ``block``
        (``"bottleneck"`` for the authors' network, ``"convblock"`` with ``pool="avg"`` for FAN).

    Example:
        >>> sd = {"m0.b2_plus_1.conv1.weight": torch.zeros(1), "l0.bias": torch.zeros(1)}
        >>> list(fan_to_aulib_state_dict(sd, depth=2))
        ['hourglasses.0.inner.inner.conv1.weight', 'to_maps.0.bias']
    """
    renamed = {}
    for key, value in state_dict.items():
        key = key.removeprefix("module.")
        match = re.match(r"m(\d+)\.(b[123])(_plus)?_(\d+)\.(.*)", key)
        if match:
            stack, branch, plus, level, rest = match.groups()
            path = ["inner"] * (depth - int(level)) + ["inner" if plus else _FAN_LEVEL[branch]]
            renamed[".".join([f"hourglasses.{stack}", *path, rest])] = value
            continue
        for pattern, target in _FAN_TOP_LEVEL.items():
            match = re.match(pattern, key)
            if match:
                prefix = target.format(i=match.group(1) if match.groups() else "")
                renamed[prefix + key[match.end():]] = value
                break
        else:
            raise KeyError(f"unexpected key {key!r} for an authors'/FAN hourglass checkpoint")
    return renamed
