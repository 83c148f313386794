"""One single-map hourglass per Action Unit, trained and evaluated as one model.

Sanchez-Lozano et al. (BMVC 2018) regress the heatmaps of all AUs with a single hourglass, and compare
it with training one network per AU: the single network shares its features between AUs and costs about
a fifth of five separate ones. :class:`PerAUHourglass` is the "one per AU" side of that comparison: ``A``
independent :class:`~aulib.models.hourglass.Hourglass` networks with one output map each (no shared
weights), run side by side, whose maps are concatenated so that the model is a drop-in replacement for
an ``A``-map hourglass in training and evaluation code.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from aulib.models.hourglass import Hourglass

__all__ = ["PerAUHourglass"]


class PerAUHourglass(nn.Module):
    r"""``A`` independent single-map hourglasses, one per Action Unit, with concatenated outputs.

    Channel ``a`` of the output is exactly ``Hourglass(num_maps=1, **hourglass_kwargs)`` applied to the
    image with the weights of ``networks[a]``; no layer is shared between AUs. Parameters and FLOPs are
    therefore ``A`` times those of a single-map hourglass.

    Args:
        num_maps: number of Action Units ``A``, i.e. of hourglasses and of output maps.
        **hourglass_kwargs: the other arguments of :class:`~aulib.models.hourglass.Hourglass`
            (``stacks``, ``depth``, ``width``, ``block``, ``pool``, ``input_size``), the same for every AU.

    Returns:
        ``forward``: the last stack's heatmaps; ``forward_stacks``: every stack's heatmaps.

    Shape:
        - Input: :math:`(B, 3, H, W)`, :math:`H` and :math:`W` divisible by :math:`4 \cdot 2^{depth}`
        - Output: :math:`(B, A, H/4, W/4)`

    Example:
        >>> model = PerAUHourglass(num_maps=3, depth=2, width=32, input_size=64).eval()
        >>> model(torch.zeros(1, 3, 64, 64)).shape
        torch.Size([1, 3, 16, 16])
        >>> len(model.networks), model.networks[0].num_maps, model.output_kind
        (3, 1, 'heatmap')
    """

    output_kind = "heatmap"

    def __init__(self, *, num_maps: int = 5, **hourglass_kwargs: Any) -> None:
        super().__init__()
        if num_maps < 1:
            raise ValueError(f"num_maps must be at least 1, got {num_maps}")
        self.networks = nn.ModuleList(Hourglass(num_maps=1, **hourglass_kwargs) for _ in range(num_maps))
        first = self.networks[0]
        self.num_maps = num_maps
        self.stacks, self.depth, self.width = first.stacks, first.depth, first.width
        self.block, self.pool = first.block, first.pool
        self.input_size, self.heatmap_size = first.input_size, first.heatmap_size

    def extra_repr(self) -> str:
        return f"num_maps={self.num_maps} (one single-map hourglass each)"

    def forward_stacks(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Heatmaps of every stack, for intermediate supervision.

        Args:
            x: images, :math:`(B, 3, H, W)`.

        Returns:
            a list of ``stacks`` tensors :math:`(B, A, H/4, W/4)`, the last one being ``forward(x)``.

        Raises:
            ValueError: the input shape does not fit (the message names it).
        """
        # per_au[a][s]: (B, 1, H/4, W/4), stack s of AU a; each network checks the input shape.
        per_au = [network.forward_stacks(x) for network in self.networks]
        return [torch.cat([maps[s] for maps in per_au], dim=1) for s in range(self.stacks)]  # (B, A, H/4, W/4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Heatmaps of the last stack, :math:`(B, 3, H, W) \\to (B, A, H/4, W/4)`."""
        return self.forward_stacks(x)[-1]
