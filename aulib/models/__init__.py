"""AU networks: the authors' heatmap-regression hourglass, the paper's baselines, presets, size/cost measures.

* :class:`Hourglass` — heatmap regression, one map per AU (``output_kind = "heatmap"``);
* :class:`PerAUHourglass` — one single-map hourglass per AU, as one model (``"heatmap"``);
* :class:`ResNetRegressor` — ResNet-18 direct regression of the intensities (``"intensity"``);
* :class:`HourglassRegressor` — the Hourglass with a pooled linear head: direct regression at equal capacity.

Example:
    >>> from aulib.models import create_model
    >>> model = create_model("paper", num_maps=5)
    >>> model.input_size, model.heatmap_size
    (256, 64)
"""

from aulib.models.blocks import BLOCKS, Bottleneck, ConvBlock, fold_batchnorm, make_block
from aulib.models.complexity import count_parameters, gflops
from aulib.models.direct import HourglassRegressor
from aulib.models.hourglass import Hourglass, HourglassLevel, fan_to_aulib_state_dict
from aulib.models.per_au import PerAUHourglass
from aulib.models.presets import MODELS, PRESETS, create_model, preset_table
from aulib.models.resnet import BasicBlock, ResNetRegressor, torchvision_to_aulib_state_dict

__all__ = [
    "BLOCKS",
    "MODELS",
    "PRESETS",
    "BasicBlock",
    "Bottleneck",
    "ConvBlock",
    "Hourglass",
    "HourglassLevel",
    "HourglassRegressor",
    "PerAUHourglass",
    "ResNetRegressor",
    "count_parameters",
    "create_model",
    "fan_to_aulib_state_dict",
    "fold_batchnorm",
    "gflops",
    "make_block",
    "preset_table",
    "torchvision_to_aulib_state_dict",
]
