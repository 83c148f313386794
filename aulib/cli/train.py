"""``aulib train``: train a model on a prepared dataset (resumable)."""

from __future__ import annotations

import argparse

from aulib.cli.common import PRECISIONS, add_command, arg


def run_train(args: argparse.Namespace) -> int:
    from dataclasses import asdict
    from pathlib import Path

    from aulib.training.augment import AugmentConfig
    from aulib.training.config import TrainConfig
    from aulib.training.trainer import TrainingDiverged, train

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
    folds = [None] if args.fold is None else list(range(3)) if args.fold == "all" else [int(args.fold)]
    for fold in folds:
        out = Path(args.out) / f"fold{fold}" if args.fold == "all" else Path(args.out)
        config = TrainConfig.from_profile(args.profile, data=args.data, out=str(out), fold=fold, **overrides)
        try:
            history = train(config, resume=args.resume)
        except TrainingDiverged as error:
            print(f"error: {error}")
            return 3
        except KeyboardInterrupt:
            print(f"interrupted: rerun with --resume to continue from {out}/last.pt")
            return 130
        if len(history):
            print(f"{out}:\n{history.tail(3).to_string(index=False)}")
    if args.fold == "all":
        from aulib.evaluation.evaluate import evaluate_folds, markdown_table

        print(markdown_table(evaluate_folds(args.out, device=config.device)))
        print(f"the mean over the three folds is in {args.out}/metrics.csv, each fold in {args.out}/folds.csv")
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
    arg("--fold", help="DISFA: the fold to hold out (0, 1 or 2; default 0), or `all` to train one run per fold into "
                       "OUT/fold0..2, evaluate each on its fold and report the mean (the published 3-fold protocol)"),
    arg("--seed", type=int),
    arg("--compile", action="store_true", help="torch.compile the model"),
    arg("--no-augment", action="store_true", help="no augmentation and no label jitter"),
]


def register(commands: argparse._SubParsersAction) -> None:
    add_command(commands, "train", run_train, "train a model on a prepared dataset (resumable)", TRAIN)
