"""Named model configurations and :func:`create_model`.

========= ====== ======= ====== ===== ===== ========== ==== ========= =======
preset    input  heatmap stacks depth width block      pool params    GFLOP
========= ====== ======= ====== ===== ===== ========== ==== ========= =======
paper     256    64      1      4     256   bottleneck max  3,416,197 10.278
paper-fan 256    64      1      4     256   convblock  avg  6,233,477 16.404
small     128    32      1      3     128   bottleneck max    784,005  1.125
tiny      96     24      1      3     64    bottleneck max    299,269  0.447
========= ====== ======= ====== ===== ===== ========== ==== ========= =======

Parameters are trainable ones for 5 maps; GFLOP is one forward pass of one image at the preset's input
size, measured by :func:`aulib.models.complexity.gflops` (2 FLOP per multiply-accumulate).
``tests/test_hourglass.py`` checks this table against :func:`preset_table`.

* ``paper`` — the authors' released network (BMVC 2018), for real training on a GPU.
* ``paper-fan`` — the same layout with FAN's ConvBlock and average pooling, i.e. FAN's network
  (1adrianb/face-alignment), whose checkpoints load through
  :func:`aulib.models.hourglass.fan_to_aulib_state_dict`.
* ``small`` and ``tiny`` — cheaper variants (shallower, narrower, smaller images) that train on a CPU
  in a teaching session; the stem keeps the paper's 64/128 channels.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import torch

from aulib.models.complexity import count_parameters, gflops
from aulib.models.hourglass import Hourglass

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PRESETS", "create_model", "preset_table"]

#: Preset name -> keyword arguments of :class:`~aulib.models.hourglass.Hourglass` (all but ``num_maps``).
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"stacks": 1, "depth": 4, "width": 256, "block": "bottleneck", "pool": "max", "input_size": 256},
    "paper-fan": {"stacks": 1, "depth": 4, "width": 256, "block": "convblock", "pool": "avg",
                  "input_size": 256},
    "small": {"stacks": 1, "depth": 3, "width": 128, "block": "bottleneck", "pool": "max", "input_size": 128},
    "tiny": {"stacks": 1, "depth": 3, "width": 64, "block": "bottleneck", "pool": "max", "input_size": 96},
}

# Everything the constructor takes; num_maps has its own argument in create_model.
_OVERRIDABLE = sorted(set(inspect.signature(Hourglass.__init__).parameters) - {"self", "num_maps"})


def create_model(name: str, num_maps: int = 5, **overrides: Any) -> Hourglass:
    """Build a preset network, optionally changing some of its settings.

    Args:
        name: a key of :data:`PRESETS` (``"paper"``, ``"paper-fan"``, ``"small"``, ``"tiny"``).
        num_maps: number of heatmaps (one per Action Unit).
        **overrides: constructor arguments replacing the preset's (``stacks``, ``depth``, ``width``,
            ``block``, ``pool``, ``input_size``).

    Returns:
        a freshly initialised :class:`~aulib.models.hourglass.Hourglass`.

    Raises:
        ValueError: unknown preset name (the message lists the valid ones).
        TypeError: unknown override key (the message names it).

    Example:
        >>> model = create_model("tiny", num_maps=12, stacks=2)
        >>> model.num_maps, model.stacks, model.input_size, model.heatmap_size
        (12, 2, 96, 24)
    """
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; valid presets: {', '.join(PRESETS)}")
    unknown = sorted(set(overrides) - set(_OVERRIDABLE))
    if unknown:
        raise TypeError(
            f"create_model() got unknown override(s) {', '.join(map(repr, unknown))}; "
            f"valid overrides: {', '.join(_OVERRIDABLE)}"
        )
    return Hourglass(**{**PRESETS[name], **overrides, "num_maps": num_maps})


def preset_table(num_maps: int = 5) -> pd.DataFrame:
    """Size and cost of every preset, as in this module's docstring.

    The networks are built on the ``meta`` device, so the table costs no memory or computation
    (about 0.3 s).

    Args:
        num_maps: number of heatmaps the counts are for.

    Returns:
        one row per preset with columns ``preset, input_size, heatmap_size, stacks, depth, width, block,
        params, gflops`` (``params``: trainable parameters; ``gflops``: one image, one forward pass).

    Example:
        >>> table = preset_table().set_index("preset")
        >>> int(table.loc["paper", "params"]), round(float(table.loc["paper", "gflops"]), 2)
        (3416197, 10.28)
    """
    import pandas as pd  # only the table needs pandas

    rows = []
    for name in PRESETS:
        with torch.device("meta"):
            model = create_model(name, num_maps=num_maps)
        rows.append({
            "preset": name, "input_size": model.input_size, "heatmap_size": model.heatmap_size,
            "stacks": model.stacks, "depth": model.depth, "width": model.width, "block": model.block,
            "params": count_parameters(model), "gflops": gflops(model),
        })
    return pd.DataFrame(rows)
