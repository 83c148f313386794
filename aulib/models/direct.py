r"""The Hourglass with a pooled regression head: direct regression at the heatmap network's capacity (RQ2).

The paper's direct-regression baseline is a ResNet-18, a different network with 37 times the parameters of the
course's ``tiny`` Hourglass, so a gap between them mixes two things: *what is supervised* (maps or numbers) and
*which network* learns it. :class:`HourglassRegressor` removes the second. It is the Hourglass itself (stem,
hourglass, head block) up to its last ``width``-channel features; where the Hourglass maps those features to one
heatmap per AU with a 1×1 convolution, the regressor averages them over the image and maps the average to one
intensity per AU with a linear layer of the same size. Both networks therefore have the same parameters (to the
last one) and almost the same cost; only the target differs: 5 numbers instead of 5 maps.

It is trained like the ResNet (``output_kind = "intensity"``: labels, not rendered maps) but with the run's own
loss (Huber by default, as the Hourglass), where the ResNet keeps the paper's MSE.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from aulib.models.hourglass import BlockName, Hourglass, PoolName

__all__ = ["HourglassRegressor"]


class HourglassRegressor(nn.Module):
    r"""An Hourglass whose 1×1 map layer is replaced by global average pooling and a linear layer.

    Args:
        num_outputs: number of intensities ``A`` (one per Action Unit).
        depth, width, block, pool, input_size: as in :class:`~aulib.models.hourglass.Hourglass` (one stack).

    Returns:
        the intensities, :math:`(B, A)`, raw (no clamping), as :class:`~aulib.models.resnet.ResNetRegressor`.

    Shape:
        - Input: :math:`(B, 3, H, W)`, :math:`H` and :math:`W` divisible by :math:`4 \cdot 2^{depth}`
        - Output: :math:`(B, A)`

    Example:
        >>> model = HourglassRegressor(num_outputs=5, depth=3, width=64, input_size=96).eval()
        >>> model(torch.zeros(2, 3, 96, 96)).shape
        torch.Size([2, 5])
        >>> from aulib.models.complexity import count_parameters
        >>> heatmaps = Hourglass(num_maps=5, depth=3, width=64, input_size=96)
        >>> count_parameters(model) == count_parameters(heatmaps), model.output_kind
        (True, 'intensity')
    """

    output_kind = "intensity"

    def __init__(self, *, num_outputs: int = 5, depth: int = 4, width: int = 256, block: BlockName = "bottleneck",
                 pool: PoolName = "max", input_size: int = 256) -> None:
        super().__init__()
        # The body is an Hourglass without its map layer; it checks every argument and the input shape.
        self.body = Hourglass(num_maps=num_outputs, stacks=1, depth=depth, width=width, block=block, pool=pool,
                              input_size=input_size)
        del self.body.to_maps  # replaced by `fc` below: same number of weights, applied after pooling
        self.fc = nn.Linear(width, num_outputs)
        self.num_outputs = self.num_maps = num_outputs
        self.depth, self.width, self.block, self.pool = depth, width, block, pool
        self.stacks, self.input_size = 1, input_size

    def extra_repr(self) -> str:
        return f"num_outputs={self.num_outputs} (pooled linear head)"

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Globally averaged head features, :math:`(B, 3, H, W) \\to (B, width)`."""
        self.body._check_input(x)
        x = self.body.stem(x)  # (B, 3, H, W) -> (B, width, H/4, W/4)
        x = self.body.heads[0](self.body.hourglasses[0](x))  # the Hourglass's last features, same shape
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)  # -> (B, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw intensities, :math:`(B, 3, H, W) \\to (B, A)`."""
        return self.fc(self.features(x))  # (B, width) -> (B, A)
