"""Heatmap-regression networks: the authors' hourglass, its presets, and size/cost measures.

Example:
    >>> from aulib.models import create_model
    >>> model = create_model("paper", num_maps=5)
    >>> model.input_size, model.heatmap_size
    (256, 64)
"""

from aulib.models.blocks import BLOCKS, Bottleneck, ConvBlock, make_block
from aulib.models.complexity import count_parameters, gflops
from aulib.models.hourglass import Hourglass, HourglassLevel, fan_to_aulib_state_dict
from aulib.models.presets import PRESETS, create_model, preset_table

__all__ = [
    "BLOCKS",
    "PRESETS",
    "Bottleneck",
    "ConvBlock",
    "Hourglass",
    "HourglassLevel",
    "count_parameters",
    "create_model",
    "fan_to_aulib_state_dict",
    "gflops",
    "make_block",
    "preset_table",
]
