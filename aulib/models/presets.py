"""Named model configurations and :func:`create_model`.

============== ===== ======= ====== ===== ===== ========== ==== ========== =======
preset         input heatmap stacks depth width block      pool params     GFLOP
============== ===== ======= ====== ===== ===== ========== ==== ========== =======
paper          256   64      1      4     256   bottleneck max   3,416,197 10.278
paper-fan      256   64      1      4     256   convblock  avg   6,233,477 16.404
small          128   32      1      3     128   bottleneck max     784,005  1.125
tiny           96    24      1      3     64    bottleneck max     299,269  0.447
resnet18       256   0       0      18    64    basic      max  11,179,077  4.737
resnet18-small 128   0       0      18    64    basic      max  11,179,077  1.184
per-au-paper   256   64      1      4     256   bottleneck max  17,075,845 51.346
per-au-tiny    96    24      1      3     64    bottleneck max   1,495,045  2.233
paper-direct   256   0       1      4     256   bottleneck max   3,416,197 10.267
tiny-direct    96    0       1      3     64    bottleneck max     299,269  0.447
============== ===== ======= ====== ===== ===== ========== ==== ========== =======

Parameters are trainable ones for 5 AUs; GFLOP is one forward pass of one image at the preset's input
size, measured by :func:`aulib.models.complexity.gflops` (2 FLOP per multiply-accumulate).
``tests/test_hourglass.py`` checks this table against :func:`preset_table`.
The ResNet presets output intensities, not heatmaps: their ``heatmap`` and ``stacks`` are 0 (not
applicable), ``depth`` is the number of weighted layers (18), ``width`` the channels of the stem and
first stage, and ``pool`` the stem's 3×3 max-pool. For the per-AU presets, the columns describe each of
the five single-map hourglasses; parameters and GFLOP are the total.

* ``paper`` — the authors' released network (BMVC 2018), for real training on a GPU.
* ``paper-fan`` — the same layout with FAN's ConvBlock and average pooling, i.e. FAN's network
  (1adrianb/face-alignment), whose checkpoints load through
  :func:`aulib.models.hourglass.fan_to_aulib_state_dict`.
* ``small`` and ``tiny`` — cheaper variants (shallower, narrower, smaller images) that train on a CPU
  in a teaching session; the stem keeps the paper's 64/128 channels.
* ``resnet18`` and ``resnet18-small`` — the paper's direct-regression baseline,
  :class:`~aulib.models.resnet.ResNetRegressor` (ResNet-18 → one intensity per AU), at 256×256 and at
  128×128 (same network, the input size of ``small``).
* ``per-au-paper`` and ``per-au-tiny`` — one single-map ``paper`` / ``tiny`` hourglass per AU,
  :class:`~aulib.models.per_au.PerAUHourglass`: the "one network per AU" side of the comparison with a
  single hourglass for all AUs, which costs about a fifth as much.
* ``paper-direct`` and ``tiny-direct`` — the ``paper`` / ``tiny`` Hourglass with its map layer replaced by global
  average pooling and a linear layer of the same size, :class:`~aulib.models.direct.HourglassRegressor`: direct
  regression with the heatmap network's own parameters (the same count), the fair side of RQ2. Their ``heatmap``
  is 0: they output intensities.

A preset's ``"model"`` key selects the class (a key of :data:`MODELS`; ``"hourglass"`` when absent); its
other keys are constructor arguments.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from aulib.models.complexity import count_parameters, gflops
from aulib.models.direct import HourglassRegressor
from aulib.models.hourglass import Hourglass
from aulib.models.per_au import PerAUHourglass
from aulib.models.resnet import ResNetRegressor

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MODELS", "PRESETS", "create_model", "preset_table"]

#: ``"model"`` value of a preset -> the class it builds.
MODELS: dict[str, type[nn.Module]] = {"hourglass": Hourglass, "per-au": PerAUHourglass, "resnet": ResNetRegressor,
                                      "direct": HourglassRegressor}

_PAPER = {"stacks": 1, "depth": 4, "width": 256, "block": "bottleneck", "pool": "max", "input_size": 256}
_TINY = {"stacks": 1, "depth": 3, "width": 64, "block": "bottleneck", "pool": "max", "input_size": 96}

#: Preset name -> ``"model"`` (a key of :data:`MODELS`, default ``"hourglass"``) and the keyword
#: arguments of that class (all but the number of AUs).
PRESETS: dict[str, dict[str, Any]] = {
    "paper": dict(_PAPER),
    "paper-fan": {"stacks": 1, "depth": 4, "width": 256, "block": "convblock", "pool": "avg",
                  "input_size": 256},
    "small": {"stacks": 1, "depth": 3, "width": 128, "block": "bottleneck", "pool": "max", "input_size": 128},
    "tiny": dict(_TINY),
    "resnet18": {"model": "resnet", "layers": (2, 2, 2, 2), "width": 64, "input_size": 256},
    "resnet18-small": {"model": "resnet", "layers": (2, 2, 2, 2), "width": 64, "input_size": 128},
    "per-au-paper": {"model": "per-au", **_PAPER},
    "per-au-tiny": {"model": "per-au", **_TINY},
    # The Hourglass with a pooled linear head (RQ2 at equal capacity): one stack, so no "stacks" argument.
    "paper-direct": {"model": "direct", **{k: v for k, v in _PAPER.items() if k != "stacks"}},
    "tiny-direct": {"model": "direct", **{k: v for k, v in _TINY.items() if k != "stacks"}},
}

# Name of the "number of AUs" argument of each class; create_model passes its num_maps there.
_COUNT_ARGUMENT = {"hourglass": "num_maps", "per-au": "num_maps", "resnet": "num_outputs", "direct": "num_outputs"}
# Everything each constructor takes but the number of AUs (PerAUHourglass passes its rest to Hourglass).
_OVERRIDABLE = {
    model: sorted(set(inspect.signature((Hourglass if model == "per-au" else cls).__init__).parameters)
                  - {"self", _COUNT_ARGUMENT[model]})
    for model, cls in MODELS.items()
}


def create_model(name: str, num_maps: int = 5, **overrides: Any) -> nn.Module:
    """Build a preset network, optionally changing some of its settings.

    Args:
        name: a key of :data:`PRESETS` (``"paper"``, ``"paper-fan"``, ``"small"``, ``"tiny"``,
            ``"resnet18"``, ``"resnet18-small"``, ``"per-au-paper"``, ``"per-au-tiny"``).
        num_maps: number of Action Units: heatmaps of an hourglass, intensities of a ResNet
            (its ``num_outputs``).
        **overrides: constructor arguments replacing the preset's (``stacks``, ``depth``, ``width``,
            ``block``, ``pool``, ``input_size`` for the hourglasses; ``layers``, ``width``, ``input_size``
            for the ResNets).

    Returns:
        a freshly initialised :class:`~aulib.models.hourglass.Hourglass`,
        :class:`~aulib.models.per_au.PerAUHourglass` or :class:`~aulib.models.resnet.ResNetRegressor`;
        its ``output_kind`` (``"heatmap"`` or ``"intensity"``) says what ``forward`` returns.

    Raises:
        ValueError: unknown preset name (the message lists the valid ones).
        TypeError: unknown override key (the message names it).

    Example:
        >>> model = create_model("tiny", num_maps=12, stacks=2)
        >>> model.num_maps, model.stacks, model.input_size, model.heatmap_size
        (12, 2, 96, 24)
        >>> create_model("resnet18-small", num_maps=12).output_kind
        'intensity'
    """
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; valid presets: {', '.join(PRESETS)}")
    arguments = dict(PRESETS[name])
    model = arguments.pop("model", "hourglass")
    unknown = sorted(set(overrides) - set(_OVERRIDABLE[model]))
    if unknown:
        raise TypeError(
            f"create_model() got unknown override(s) {', '.join(map(repr, unknown))} for preset {name!r}; "
            f"valid overrides: {', '.join(_OVERRIDABLE[model])}"
        )
    return MODELS[model](**{**arguments, **overrides, _COUNT_ARGUMENT[model]: num_maps})


def preset_table(num_maps: int = 5) -> pd.DataFrame:
    """Size and cost of every preset, as in this module's docstring.

    The networks are built on the ``meta`` device, so the table costs no memory or computation
    (about 1 s).

    Args:
        num_maps: number of Action Units (heatmaps or intensities) the counts are for.

    Returns:
        one row per preset with columns ``preset, input_size, heatmap_size, stacks, depth, width, block,
        params, gflops`` (``params``: trainable parameters; ``gflops``: one image, one forward pass).
        ResNet rows have ``heatmap_size = stacks = 0`` (not applicable), ``depth`` = weighted layers and
        ``block = "basic"``; per-AU rows describe each hourglass, with ``params`` and ``gflops`` in total.

    Example:
        >>> table = preset_table().set_index("preset")
        >>> int(table.loc["paper", "params"]), round(float(table.loc["paper", "gflops"]), 2)
        (3416197, 10.28)
        >>> table.loc["resnet18", ["heatmap_size", "depth", "params"]].tolist()
        [0, 18, 11179077]
    """
    import pandas as pd  # only the table needs pandas

    rows = []
    for name in PRESETS:
        with torch.device("meta"):
            model = create_model(name, num_maps=num_maps)
        if isinstance(model, ResNetRegressor):  # intensities: no heatmap, no stacks
            shape = {"heatmap_size": 0, "stacks": 0, "depth": 2 * sum(model.layers) + 2, "width": model.width,
                     "block": "basic"}
        elif isinstance(model, HourglassRegressor):  # intensities from one Hourglass: no heatmap
            shape = {"heatmap_size": 0, "stacks": 1, "depth": model.depth, "width": model.width, "block": model.block}
        else:
            shape = {"heatmap_size": model.heatmap_size, "stacks": model.stacks, "depth": model.depth,
                     "width": model.width, "block": model.block}
        rows.append({"preset": name, "input_size": model.input_size, **shape,
                     "params": count_parameters(model), "gflops": gflops(model)})
    return pd.DataFrame(rows)
