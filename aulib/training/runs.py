"""Finished runs, read back: the trainer of a run with its weights (:func:`load_run`), the maps saved while it
trained (:func:`load_snapshots`), and a slim copy of a checkpoint and its configuration for shipping
(:func:`slim_checkpoint`, :func:`committed_config`)."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aulib.io import atomic_open
from aulib.training.config import TrainConfig
from aulib.training.trainer import Trainer


def load_snapshots(run_dir: str | os.PathLike) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """The maps saved at each epoch's end: ``(indices, {epoch: (K, A, h, w)})``.

    ``indices`` are the faces' positions in the run's validation set (:meth:`Trainer.snapshot_indices`).
    """
    folder = Path(run_dir) / "snapshots"
    indices = np.load(folder / "indices.npy") if (folder / "indices.npy").exists() else np.zeros(0, int)
    maps = {int(p.stem.split("_")[1]): np.load(p).astype(np.float32) for p in sorted(folder.glob("epoch_*.npy"))}
    return indices, maps


def load_run(run_dir: str | os.PathLike, checkpoint: str = "best.pt", device: str = "auto",
             data: str | os.PathLike | None = None) -> Trainer:
    """Rebuild a run's trainer with the weights of ``checkpoint`` (for evaluation and notebooks).

    Args:
        run_dir: the run folder (``config.json`` and the checkpoint).
        checkpoint: ``best.pt`` (the selected epoch) or ``last.pt``.
        device: where to put the model.
        data: a prepared dataset to use instead of the one the run was trained on (a run trained elsewhere, such as
            a reference run, names a folder this machine may not have).

    A checkpoint may hold the model's weights only (:func:`slim_checkpoint`): it loads for inference, not to resume.
    """
    run_dir = Path(run_dir)
    path = run_dir / checkpoint
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: train first with `aulib train --out {run_dir}`")
    config = TrainConfig(**json.loads((run_dir / "config.json").read_text()))
    config = replace(config, device=device, **({"data": str(data)} if data is not None else {}))
    trainer = Trainer(config, progress=False)
    state = torch.load(path, map_location=trainer.device, weights_only=True)
    if "optimizer" in state:
        trainer.load_state(state)
    else:
        trainer.model.load_state_dict(state["model"])
        trainer.history = list(state.get("history", []))
    trainer.model.eval()
    return trainer


def slim_checkpoint(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Write a copy of a checkpoint with the model's weights and history only (no optimiser: a third the size).

    For shipping trained runs (the course's reference models); :func:`load_run` reads it.
    """
    state = torch.load(source, map_location="cpu", weights_only=True)
    keys = ("model", "step", "best_icc", "history", "config", "aus", "model_name", "alignment")
    slim = {key: state[key] for key in keys if key in state}
    with atomic_open(Path(target), "wb") as handle:
        torch.save(slim, handle)
    return Path(target)


def committed_config(config: dict[str, Any], work: str | os.PathLike) -> dict[str, Any]:
    """A run's ``config.json`` as committed: its ``data`` and ``out`` folders inside the work folder written as
    ``data/<path inside the work folder>``, where ``make weights`` (``--work data``) puts them, so that the committed
    file neither depends on the ``--work`` a maintainer chose nor names a folder of their machine.

    Example:
        >>> committed_config({"data": "/scratch/ref/synthau-prepared", "out": "/scratch/ref/runs/seed0/l2",
        ...                   "model": "tiny"}, "/scratch/ref")
        {'data': 'data/synthau-prepared', 'out': 'data/runs/seed0/l2', 'model': 'tiny'}
    """
    root = Path(work).resolve()
    committed = dict(config)
    for key in ("data", "out"):
        if isinstance(config.get(key), str):
            folder = Path(config[key]).resolve()
            if folder.is_relative_to(root):
                committed[key] = (Path("data") / folder.relative_to(root)).as_posix()
    return committed
