"""``aulib train``: train a model on a prepared dataset (resumable)."""

from __future__ import annotations

import argparse


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


def add_train_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("train", help="train a model on a prepared dataset (resumable)")
    parser.add_argument("--data", required=True, help="prepared dataset folder (aulib prepare)")
    parser.add_argument("--out", required=True, help="run folder")
    parser.add_argument("--profile", choices=["smoke", "full"], default="smoke")
    parser.add_argument("--model", help="preset (default: tiny for smoke, paper for full)")
    parser.add_argument("--device", default="profile", help="auto, cpu or cuda (default: the profile's)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out exactly")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--loss", choices=["huber", "l2"])
    parser.add_argument("--extent", choices=["growing", "fixed"], help="Gaussian extent of the targets")
    parser.add_argument("--readout-window", type=float, help="local readout radius (aligned-frame pixels)")
    parser.add_argument("--precision", choices=["auto", "bf16", "fp32"])
    parser.add_argument("--max-steps", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--no-augment", action="store_true", help="no augmentation and no label jitter")
    parser.set_defaults(handler=run_train)


def register(commands: argparse._SubParsersAction) -> None:
    add_train_parser(commands)
