"""The paper's experiments as named runs: one place that says which models and ablations are compared.

Every run lives in ``RUNS_DIR/<name>`` and is trained with the resume pattern: a finished run is loaded, an
interrupted one continues, a missing one is trained. Notebooks 03–05 use these names.

====================  ========================================================  ==========
name                  what it is                                                question
====================  ========================================================  ==========
``hourglass``         one Hourglass, 5 heatmaps, growing extent, Huber          the method
``hourglass-small``   the same recipe at the next size (``small``: 2.6× the     RQ1
                      parameters, 2.5× the GFLOPs, 128-px input, 32×32 maps)
``per-au``            one single-map Hourglass per AU                           RQ4
``resnet18``          ResNet-18 regressing the 5 intensities directly (MSE)     RQ2
``hourglass-direct``  the same Hourglass with a pooled regression head (Huber)  RQ2
``fixed-extent``      the Hourglass with fixed-σ Gaussians                      RQ5
``l2``                the Hourglass trained with an L2 loss                     RQ5
====================  ========================================================  ==========

The local-readout ablation (RQ5) needs no training: it re-reads the ``hourglass`` maps near each AU's centre.

Example:
    >>> configs = {name: run_config(name, "smoke", data="prep", runs_dir="runs", epochs=8) for name in RUN_NAMES}
    >>> {name: config.model for name, config in configs.items()}  # doctest: +NORMALIZE_WHITESPACE
    {'hourglass': 'tiny', 'hourglass-small': 'small', 'per-au': 'per-au-tiny', 'resnet18': 'resnet18-small',
     'hourglass-direct': 'tiny-direct', 'fixed-extent': 'tiny', 'l2': 'tiny'}
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from aulib.training.config import TrainConfig
from aulib.training.trainer import Trainer

RUN_NAMES = ("hourglass", "hourglass-small", "per-au", "resnet18", "hourglass-direct", "fixed-extent", "l2")
# Runs whose network outputs intensities, not maps: no peak, so no localisation.
INTENSITY_RUNS = ("resnet18", "hourglass-direct")
LOCAL_READOUT_SUFFIX = "_local"
# Model presets of the comparison in each profile: the paper's sizes on a GPU, CPU-sized ones for the smoke profile.
PRESETS = {
    "smoke": {"hourglass": "tiny", "hourglass-small": "small", "per-au": "per-au-tiny", "resnet18": "resnet18-small",
              "hourglass-direct": "tiny-direct"},
    "full": {"hourglass": "paper", "hourglass-small": "small", "per-au": "per-au-paper", "resnet18": "resnet18",
             "hourglass-direct": "paper-direct"},
}
DESCRIPTIONS = {
    "hourglass": "Hourglass: one net, all AUs",
    "hourglass-small": "Hourglass, small size (RQ1)",
    "per-au": "per-AU Hourglasses (RQ4)",
    "resnet18": "ResNet-18 regression (RQ2)",
    "hourglass-direct": "Hourglass, regression head (RQ2)",
    "fixed-extent": "fixed σ (RQ5)",
    "l2": "L2 loss (RQ5)",
    "hourglass-local": "local readout (RQ5)",
}


def run_config(name: str, profile: str, *, data: str | os.PathLike, runs_dir: str | os.PathLike,
               **overrides: Any) -> TrainConfig:
    """The :class:`TrainConfig` of one named run (see the module table); ``overrides`` set epochs, device, …"""
    if name not in RUN_NAMES:
        raise ValueError(f"unknown run {name!r}; use one of {RUN_NAMES}")
    if profile not in PRESETS:
        raise ValueError(f"unknown profile {profile!r}; use one of {tuple(PRESETS)}")
    presets = PRESETS[profile]
    options: dict[str, Any] = {"model": presets.get(name, presets["hourglass"])}
    base = TrainConfig.from_profile(profile, data=str(data), out="")
    if name == "fixed-extent":
        options["heatmap"] = {**base.heatmap, "extent": "fixed"}
    if name == "l2":
        options["loss"] = "l2"
    options.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig.from_profile(profile, data=str(data), out=str(Path(runs_dir) / name), **options)


def train_or_load(config: TrainConfig, progress: bool = True) -> pd.DataFrame:
    """Train the run, continue it exactly if it was interrupted, or just return its history if it is finished.

    A folder that holds a run with other settings is refused (:meth:`Trainer.fit` checks ``config.json``).

    Returns:
        the per-epoch table (as in ``training.csv``).
    """
    return Trainer(config, progress=progress).fit(resume=True)


def comparison_table(runs_dir: str | os.PathLike, names: tuple[str, ...] = (*RUN_NAMES, "hourglass-local"),
                     ) -> pd.DataFrame:
    """Per-AU ICC of every evaluated run (rows: runs, columns: AUs and Mean), from each run's ``metrics.csv``."""
    rows = {}
    for name in names:
        run, suffix = (name.removesuffix("-local"), LOCAL_READOUT_SUFFIX) if name.endswith("-local") else (name, "")
        path = Path(runs_dir) / run / f"metrics{suffix}.csv"
        if path.exists():
            metrics = pd.read_csv(path, index_col=0)
            rows[name] = metrics["ICC"]
    if not rows:
        raise FileNotFoundError(f"no evaluated run in {runs_dir}: run notebook 03/04 (or aulib evaluate) first")
    table = pd.DataFrame(rows).T
    table.index.name = "run"
    return table
