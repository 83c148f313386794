"""``aulib train``: train a model on a prepared dataset (resumable)."""

from __future__ import annotations

import argparse

from aulib.cli.common import PRECISIONS, add_command, arg


def run_train(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from aulib.training.augment import AugmentConfig
    from aulib.training.trainer import TrainConfig, TrainingDiverged, train

    overrides = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "loss": args.loss,
                 "seed": args.seed, "max_steps": args.max_steps, "compile": args.compile or None,
                 "readout_window": args.readout_window, "precision": args.precision}
    if args.model:
        overrides["model"] = args.model
    if args.device != "profile":
        overrides["device"] = args.device
    if args.no_augment:
        overrides["augment"] = asdict(AugmentConfig.none())
    if args.extent:
        overrides["heatmap"] = {**TrainConfig.from_profile(args.profile, data="", out="").heatmap,
                                "extent": args.extent}
    config = TrainConfig.from_profile(args.profile, data=args.data, out=args.out, **overrides)
    try:
        history = train(config, resume=args.resume)
    except TrainingDiverged as error:
        print(f"error: {error}")
        return 3
    except KeyboardInterrupt:
        print(f"interrupted: rerun with --resume to continue from {args.out}/last.pt")
        return 130
    if len(history):
        print(history.tail(3).to_string(index=False))
    return 0


TRAIN = [
    arg("--data", required=True, help="prepared dataset folder (aulib prepare)"),
    arg("--out", required=True, help="run folder"),
    arg("--profile", choices=["smoke", "full"], default="smoke"),
    arg("--model", help="preset (default: tiny for smoke, paper for full)"),
    arg("--device", default="profile", help="auto, cpu or cuda (default: the profile's)"),
    arg("--resume", action="store_true", help="continue the run in --out exactly"),
    arg("--epochs", type=int),
    arg("--batch-size", type=int),
    arg("--lr", type=float),
    arg("--loss", choices=["huber", "l2"]),
    arg("--extent", choices=["growing", "fixed"], help="Gaussian extent of the targets"),
    arg("--readout-window", type=float, help="local readout radius (aligned-frame pixels)"),
    arg("--precision", choices=PRECISIONS),
    arg("--max-steps", type=int),
    arg("--seed", type=int),
    arg("--compile", action="store_true", help="torch.compile the model"),
    arg("--no-augment", action="store_true", help="no augmentation and no label jitter"),
]


def register(commands: argparse._SubParsersAction) -> None:
    add_command(commands, "train", run_train, "train a model on a prepared dataset (resumable)", TRAIN)
