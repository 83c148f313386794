"""Training: augmentation on the training device, the training loop, and the paper's named runs.

- :mod:`~aulib.training.augment`: one random affine per sample, colour jitter and the paper's label jitter;
- :mod:`~aulib.training.config`: :class:`~aulib.training.config.TrainConfig` and the training/validation subjects;
- :mod:`~aulib.training.loss`: the masked, foreground-weighted Huber or L2 loss;
- :mod:`~aulib.training.trainer`: :class:`~aulib.training.trainer.Trainer` (resumable, data-parallel, bf16);
- :mod:`~aulib.training.runs`: finished runs read back (weights, snapshots, slim copies for shipping);
- :mod:`~aulib.training.experiments`: the compared runs (Hourglass, per-AU, ResNet-18, fixed extent, L2).
"""
