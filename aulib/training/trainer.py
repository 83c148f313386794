"""Training: one loop for the Hourglass, its per-AU variant and the ResNet-18 regressor, on CPU or GPU.

The data path never decodes or renders per item in Python: a batch of uint8 aligned crops is gathered from the
memory-mapped prepared dataset in one indexing operation, moved to the device, augmented there
(:func:`aulib.training.augment.augment_batch`) and turned into heatmap targets there
(:func:`aulib.method.heatmaps.render_targets`). Validation runs the model through its
:class:`~aulib.inference.model.AUModel`, as every other inference does.

A run folder holds everything about a run::

    RUN_DIR/config.json    the exact configuration (written once; a resume must match it)
    RUN_DIR/last.pt        the latest checkpoint (every ``checkpoint_every`` steps and at each epoch's end)
    RUN_DIR/best.pt        the epoch with the best validation ICC (validation subjects come from training subjects)
    RUN_DIR/training.csv   one row per epoch: losses, validation ICC per AU, speed
    RUN_DIR/steps.csv      the loss of every step (what the resume test compares)

Checkpoints are written atomically. ``resume=True`` continues exactly where ``last.pt`` stopped: on the CPU the
loss sequence after a resume equals the uninterrupted run's. A NaN or infinite loss stops the run with
:class:`TrainingDiverged`, leaving the last good checkpoint in place.

Launched by ``torchrun --nproc_per_node N -m aulib train ...``, the same loop runs data-parallel
(DistributedDataParallel; NCCL on GPUs, gloo on CPUs): each process takes its share of every global batch, and
process 0 validates and writes the files.

The run's settings are :class:`aulib.training.config.TrainConfig`, its loss :func:`aulib.training.loss.masked_loss`,
and reading a finished run back is :mod:`aulib.training.runs`.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from aulib.data.dataset import PreparedDataset
from aulib.inference.model import AUModel
from aulib.inference.precision import autocast_dtype, resolve_device
from aulib.io import atomic_open, atomic_save_npy, atomic_write_csv, atomic_write_json
from aulib.method.aus import au_label
from aulib.method.crops import resize_batch
from aulib.method.heatmaps import HeatmapConfig, render_targets
from aulib.method.metrics import icc
from aulib.models import create_model
from aulib.training.augment import AugmentConfig, augment_batch
from aulib.training.config import TrainConfig, split_validation
from aulib.training.loss import masked_loss


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint was kept."""


class Trainer:
    """Holds the model, optimiser, data and state of one run; :meth:`fit` trains it."""

    def __init__(self, config: TrainConfig, progress: bool = True) -> None:
        self.config = config
        self.out = Path(config.out)
        self.device = resolve_device(config.device)
        self._init_distributed()
        self.progress = progress and self.rank == 0
        self.amp_dtype = autocast_dtype(config.precision, self.device)
        self.full = PreparedDataset(config.data)
        train_subjects, val_subjects = split_validation(self.full, config)
        self.train_set = PreparedDataset(config.data, subjects=train_subjects)
        self.val_set = PreparedDataset(config.data, subjects=val_subjects) if val_subjects else None
        self.aus = tuple(self.full.aus)

        torch.manual_seed(config.seed)
        self.model = create_model(config.model, num_maps=len(self.aus)).to(self.device)
        if config.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.is_heatmap = getattr(self.model, "output_kind", "heatmap") == "heatmap"
        self.input_size = int(self.model.input_size)
        heatmap_options = dict(config.heatmap)
        if self.is_heatmap:
            heatmap_options["size"] = int(self.model.heatmap_size)
        heatmap_options.setdefault("max_intensity", None)  # jittered labels exceed 5
        self.heatmap = HeatmapConfig.from_options(**heatmap_options)
        alignment = self.full.meta.get("alignment", {})
        # Validation and snapshots run the training module itself, as any inference would (no copy, no folding).
        self.inference = AUModel.from_module(
            self.model, aus=self.aus, heatmap=self.heatmap if self.is_heatmap else None,
            alignment=alignment.get("method", "paper"), crop_size=int(alignment.get("size", 256)),
            readout_window=config.readout_window, amp_dtype=self.amp_dtype, share=True)
        self.augment = AugmentConfig.from_options(**config.augment)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.steps_per_epoch = max(1, len(self.train_set) // config.batch_size)
        self.total_steps = self.steps_per_epoch * config.epochs
        if config.max_steps is not None:
            self.total_steps = min(self.total_steps, config.max_steps)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._lr_factor)
        self.forward: nn.Module = self.model
        if self.world_size > 1:
            if self.device.type == "cuda":  # batch statistics over the global batch, as on one GPU
                self.model = nn.SyncBatchNorm.convert_sync_batchnorm(self.model)
            self.forward = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        if config.compile:
            self.forward = torch.compile(self.forward)
        # Each rank augments its own share of the batch with its own stream of random numbers.
        self.generator = torch.Generator().manual_seed(config.seed + 1_000_003 * self.rank)
        self.step = 0
        self.best_icc = -math.inf
        self.step_losses: list[float] = []
        self.history: list[dict] = []

    def _init_distributed(self) -> None:
        """Join the process group when launched by ``torchrun`` (``WORLD_SIZE`` > 1); one process otherwise."""
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.owns_process_group = False
        if self.world_size == 1:
            return
        if self.device.type == "cuda":
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(self.device)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
            self.owns_process_group = True

    def _lr_factor(self, step: int) -> float:
        # Cosine decay from 1 to 0.05 over the run: stable for both the tiny and the paper network.
        progress = min(1.0, step / max(1, self.total_steps))
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))

    # ---------------------------------------------------------------- state
    def generator_states(self) -> list[torch.Tensor]:
        """Every rank's augmentation generator state, in rank order (a collective call under DDP: every rank calls
        it), so that a resumed run gives each rank its own stream back."""
        state = self.generator.get_state()
        if self.world_size == 1:
            return [state]
        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, state)
        return gathered

    def state(self, generators: list[torch.Tensor] | None = None) -> dict:
        generators = generators if generators is not None else [self.generator.get_state()]
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "generator": generators[0],  # rank 0's, for older readers
            "generators": generators,
            "step": self.step,
            "best_icc": self.best_icc,
            "step_losses": list(self.step_losses),
            "history": list(self.history),
            "config": self.config.to_json(),
            "aus": list(self.aus),
            "model_name": self.config.model,
            # How the training crops were aligned: what a model needs to run on new faces without the data.
            "alignment": dict(self.full.meta.get("alignment", {})),
        }

    def load_state(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        generators = state.get("generators") or [state["generator"]]
        if len(generators) != self.world_size:
            raise ValueError(f"the checkpoint holds the generators of {len(generators)} process(es), but this run has "
                             f"{self.world_size}: resume with the same number of processes")
        self.generator.set_state(generators[self.rank].cpu())  # map_location may have moved it
        self.step = int(state["step"])
        self.best_icc = float(state["best_icc"])
        self.step_losses = list(state["step_losses"])
        self.history = list(state["history"])

    def save(self, name: str, generators: list[torch.Tensor] | None = None) -> Path:
        path = self.out / name
        with atomic_open(path, "wb") as handle:  # a crash mid-write never leaves a broken checkpoint behind
            torch.save(self.state(generators), handle)
        steps = pd.DataFrame({"step": np.arange(1, len(self.step_losses) + 1), "loss": self.step_losses})
        atomic_write_csv(self.out / "steps.csv", steps, index=False)
        return path

    # ---------------------------------------------------------------- data
    def epoch_order(self, epoch: int) -> torch.Tensor:
        # The order of an epoch depends only on (seed, epoch): a resumed run sees the same batches.
        generator = torch.Generator().manual_seed(self.config.seed * 100_003 + epoch)
        return torch.randperm(len(self.train_set), generator=generator)

    def batch(self, indices: torch.Tensor, train: bool) -> dict[str, torch.Tensor]:
        dataset = self.train_set if train else self.val_set
        raw = dataset.batch(indices.tolist())
        pin = self.device.type == "cuda"
        images, landmarks, labels, mask = (
            raw[key].pin_memory().to(self.device, non_blocking=True) if pin else raw[key].to(self.device)
            for key in ("image", "landmarks", "labels", "mask")
        )
        if train:
            images, landmarks, labels = augment_batch(
                images, landmarks, labels, out_size=self.input_size, config=self.augment, generator=self.generator,
            )
        else:
            images, landmarks = resize_batch(images, landmarks, self.input_size)
        labels = torch.where(mask, labels, torch.zeros_like(labels))
        if self.config.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return {"images": images, "landmarks": landmarks, "labels": labels, "mask": mask}

    def autocast(self) -> torch.autocast:
        """bf16 autocast on the run's device where the precision setting asks for it, a no-op otherwise."""
        return torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32,
                              enabled=self.amp_dtype is not None)

    def compute_loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        with self.autocast():
            output = self.forward(batch["images"])
        output = output.float()
        if not self.is_heatmap:
            # ResNet-18 keeps the paper's MSE; the Hourglass's pooled head takes the run's loss, as its heatmap twin.
            kind = getattr(self.model, "intensity_loss", None) or self.config.loss
            return masked_loss(output, batch["labels"], batch["mask"], kind)
        targets = render_targets(batch["landmarks"], batch["labels"], self.aus, **asdict(self.heatmap))
        return masked_loss(output, targets, batch["mask"], self.config.loss, self.config.foreground_weight)

    # ---------------------------------------------------------------- loop
    def fit(self, resume: bool = False) -> pd.DataFrame:
        """Train (or continue) the run; returns the per-epoch metrics table."""
        self.out.mkdir(parents=True, exist_ok=True)
        if self.rank == 0:
            self._write_config(resume)
        if self.world_size > 1:
            dist.barrier()
        if resume and (self.out / "last.pt").exists():
            self.load_state(torch.load(self.out / "last.pt", map_location=self.device, weights_only=True))
        self.model.train()
        bar = tqdm(total=self.total_steps, initial=self.step, unit="step", desc=f"train {self.config.model}",
                   disable=not self.progress)
        while self.step < self.total_steps:
            epoch, position = divmod(self.step, self.steps_per_epoch)
            order = self.epoch_order(epoch)
            started, images_seen = time.perf_counter(), 0
            for k in range(position, self.steps_per_epoch):
                if self.step >= self.total_steps:
                    break
                indices = order[k * self.config.batch_size:(k + 1) * self.config.batch_size]
                indices = indices[self.rank::self.world_size]  # this rank's share of the global batch
                loss = self.compute_loss(self.batch(indices, train=True))
                if not torch.isfinite(loss):
                    raise TrainingDiverged(
                        f"loss is {loss.item()} at step {self.step + 1} (epoch {epoch + 1}); stopped. The last good "
                        f"checkpoint is {self.out / 'last.pt'}; lower the learning rate ({self.config.lr}) or check "
                        "the data"
                    )
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                self.scheduler.step()
                self.step += 1
                self.step_losses.append(float(loss.item()))
                images_seen += len(indices)
                bar.update(1)
                bar.set_postfix(loss=f"{self.step_losses[-1]:.4f}", epoch=epoch + 1)
                # (an epoch's last step is checkpointed by _end_epoch, after validation: a checkpoint here would let a
                # run that dies during validation resume past an epoch that was never validated)
                if self.step % self.config.checkpoint_every == 0 and self.step % self.steps_per_epoch \
                        and self.step < self.total_steps:
                    generators = self.generator_states()  # every rank takes part
                    if self.rank == 0:
                        self.save("last.pt", generators)
            if self.step % self.steps_per_epoch == 0 or self.step >= self.total_steps:
                generators = self.generator_states()
                if self.rank == 0:
                    # the epoch's losses from its first step, also when the run was resumed in the middle of it
                    epoch_losses = self.step_losses[epoch * self.steps_per_epoch:]
                    self._end_epoch(epoch, epoch_losses, self.world_size * images_seen / max(1e-9, time.perf_counter()
                                                                                               - started), generators)
        bar.close()
        if self.world_size > 1:
            dist.barrier()  # the other ranks wait for rank 0's last checkpoint
            if self.owns_process_group:
                dist.destroy_process_group()
        return pd.DataFrame(self.history)

    def _write_config(self, resume: bool) -> None:
        path = self.out / "config.json"
        if path.exists():
            saved = json.loads(path.read_text())
            if saved != self.config.to_json():
                if not resume:
                    raise FileExistsError(f"{self.out} holds another run; choose another --out or pass --resume")
                raise ValueError(f"{path} differs from this configuration; a resume must use the same settings")
            if not resume and (self.out / "last.pt").exists():
                raise FileExistsError(f"{self.out} already holds this run; pass --resume to continue it")
        atomic_write_json(path, self.config.to_json())

    def _end_epoch(self, epoch: int, losses: list[float], images_per_second: float,
                   generators: list[torch.Tensor]) -> None:
        row: dict[str, Any] = {"epoch": epoch + 1, "step": self.step,
                               "train_loss": float(np.mean(losses)) if losses else float("nan"),
                               "lr": float(self.optimizer.param_groups[0]["lr"]),
                               "train_images_per_s": float(images_per_second)}
        if self.val_set is not None:
            predictions = predict_intensities(self.inference, self.val_set)
            scores = icc(self.val_set.labels_array(), predictions)
            row.update({f"val_icc_{au_label(a)}": float(s) for a, s in zip(self.aus, scores, strict=True)})
            row["val_icc_mean"] = float(np.nanmean(scores)) if np.isfinite(scores).any() else float("nan")
        self.history.append(row)
        atomic_write_csv(self.out / "training.csv", pd.DataFrame(self.history), index=False)
        self._save_snapshot(epoch)
        # Model selection first (best.pt), then last.pt, which records the best score: a run that dies between the
        # two resumes from the previous last.pt and redoes this epoch, and one resumed from the new last.pt knows this
        # epoch's score, so a later, worse epoch can never replace best.pt.
        score = row.get("val_icc_mean", float("nan"))
        improved = bool(np.isfinite(score) and score > self.best_icc)
        keep_best = self.val_set is None or improved or not (self.out / "best.pt").exists()
        if keep_best and np.isfinite(score):
            self.best_icc = float(score)
        if keep_best:
            self.save("best.pt", generators)
        self.save("last.pt", generators)
        self.model.train()


    def snapshot_indices(self) -> np.ndarray:
        """Positions in :attr:`val_set` of the faces whose maps :meth:`_save_snapshot` keeps.

        The most expressive frames (largest summed intensity), one per validation subject before any second one,
        so that the maps have something to show.
        """
        count = min(self.config.snapshot_faces, len(self.val_set) if self.val_set is not None else 0)
        if not count:
            return np.zeros(0, int)
        expressive = np.argsort(-np.nansum(self.val_set.labels_array(), axis=1), kind="stable")
        subjects = self.val_set.frames["subject"].to_numpy()[expressive]
        first_of_subject = np.unique(subjects, return_index=True)[1]
        preferred = expressive[np.sort(first_of_subject)]
        rest = np.setdiff1d(expressive, preferred, assume_unique=True)
        rest = expressive[np.isin(expressive, rest)]
        return np.concatenate([preferred, rest])[:count].astype(int)

    def _save_snapshot(self, epoch: int) -> None:
        indices = self.snapshot_indices()
        if not len(indices) or not self.is_heatmap:
            return
        raw = self.val_set.batch(indices.tolist())
        images, landmarks = resize_batch(raw["image"].to(self.device), raw["landmarks"].to(self.device),
                                         self.input_size)
        maps = self.inference.predict(images, landmarks).maps
        folder = self.out / "snapshots"
        folder.mkdir(exist_ok=True)
        atomic_save_npy(folder / "indices.npy", indices)  # which faces, for whoever reads the maps later
        atomic_save_npy(folder / f"epoch_{epoch + 1:03d}.npy", maps.float().cpu().numpy().astype(np.float16))


def predict_intensities(model: AUModel, dataset: PreparedDataset, batch_size: int = 128) -> np.ndarray:
    """Intensities ``(n, A)`` predicted for every frame of ``dataset`` (no augmentation)."""
    outputs = []
    for start in range(0, len(dataset), batch_size):
        raw = dataset.batch(list(range(start, min(start + batch_size, len(dataset)))))
        images, landmarks = resize_batch(raw["image"].to(model.device), raw["landmarks"].to(model.device),
                                         model.input_size)
        outputs.append(model.predict(images, landmarks).intensities.cpu())
    return torch.cat(outputs).numpy() if outputs else np.zeros((0, len(model.aus)))


def train(config: TrainConfig, resume: bool = False, progress: bool = True) -> pd.DataFrame:
    """Train a run described by ``config``; see :class:`Trainer`."""
    return Trainer(config, progress=progress).fit(resume=resume)
