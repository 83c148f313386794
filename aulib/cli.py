"""The ``aulib`` command line. Subcommands are thin wrappers around library functions."""

from __future__ import annotations

import argparse
import platform
from collections.abc import Sequence

import torch

import aulib
from aulib.aus import AU_SETS, AUS, au_label


def device_report() -> list[str]:
    """One line per compute device torch can use here."""
    lines = [f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads"]
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            lines.append(f"cuda:{index}: {props.name}, {props.total_memory / 2**30:.0f} GiB")
    else:
        lines.append("cuda: none found")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        lines.append("mps: available")
    return lines


def run_info(_: argparse.Namespace) -> int:
    from aulib.models import preset_table

    print(f"aulib {aulib.__version__} (torch {torch.__version__}, Python {platform.python_version()})")
    print("\nDevices:")
    for line in device_report():
        print(f"  {line}")
    print("\nModel presets (5 maps; GFLOP per image forward):")
    table = preset_table(num_maps=5)
    print("  " + table.to_string(index=False).replace("\n", "\n  "))
    print("\nAU sets (channel order):")
    for name, numbers in AU_SETS.items():
        print(f"  {name}: " + ", ".join(f"{au_label(a)} {AUS[a].name}" for a in numbers))
    return 0


def run_synth(args: argparse.Namespace) -> int:
    from aulib.data.synthau import generate

    difficulty = args.difficulty
    try:
        difficulty = float(difficulty)
    except ValueError:
        pass  # a named level: easy, default, hard
    config = generate(args.out, subjects=args.subjects, frames=args.frames, seed=args.seed, aus=args.aus,
                      difficulty=difficulty, image_size=args.image_size, workers=args.workers)
    print(f"SynthAU: {config.subjects} subjects x {config.frames} frames in {args.out}")
    return 0


def add_synth_parser(commands: argparse._SubParsersAction) -> None:
    synth = commands.add_parser("synth", help="generate a SynthAU dataset (procedural faces with AU labels)")
    synth.add_argument("--out", required=True, help="output folder (resumable: rerun to finish)")
    synth.add_argument("--subjects", type=int, default=120)
    synth.add_argument("--frames", type=int, default=48, help="frames per subject, spread over the eight tasks")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--aus", choices=["bp4d", "disfa"], default="bp4d", help="default label set")
    synth.add_argument("--difficulty", default="default", help="easy, default, hard, or a number in [0, 1]")
    synth.add_argument("--image-size", type=int, default=256)
    synth.add_argument("--workers", type=int, default=None, help="processes (default: one per CPU)")
    synth.set_defaults(handler=run_synth)


def run_train(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from aulib.augment import AugmentConfig
    from aulib.train import TrainConfig, TrainingDiverged, train

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


def run_evaluate(args: argparse.Namespace) -> int:
    from aulib.evaluate import evaluate, markdown_table

    metrics = evaluate(args.run, data=args.data, split=args.split, checkpoint=args.checkpoint, device=args.device,
                       readout_window=args.readout_window, suffix=args.suffix)
    print(markdown_table(metrics))
    print(f"wrote {args.run}/predictions{args.suffix}.csv, metrics{args.suffix}.csv and metrics{args.suffix}.md")
    return 0


def add_evaluate_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("evaluate", help="score a run on held-out subjects (ICC, PCC, MAE, localisation)")
    parser.add_argument("--run", required=True, help="run folder (aulib train --out)")
    parser.add_argument("--data", help="prepared dataset (default: the one the run was trained on)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--checkpoint", default="best.pt")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--readout-window", type=float, help="use the local readout with this radius (frame px)")
    parser.add_argument("--suffix", default="", help="name suffix of the output files, e.g. _local")
    parser.set_defaults(handler=run_evaluate)


def run_robustness(args: argparse.Namespace) -> int:
    from aulib.robustness import robustness, save_robustness_figure

    sigmas = [float(x) for x in args.sigmas.split(",") if x.strip()]
    table = robustness(args.run, data=args.data, sigmas=sigmas, unit=args.unit, split=args.split, seed=args.seed,
                       device=args.device)
    figure = save_robustness_figure(table, f"{args.run}/robustness.png")
    print(table[table.AU == "Mean"][["model", "sigma", "sigma_iod", "ICC", "MAE"]].to_string(index=False))
    print(f"wrote {args.run}/robustness.csv and {figure}")
    return 0


def add_robustness_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("robustness", help="ICC under Gaussian landmark noise before alignment")
    parser.add_argument("--run", required=True, help="run folder")
    parser.add_argument("--data", help="prepared dataset (default: the run's)")
    parser.add_argument("--sigmas", default="0,2,4,6,8,10,13,16,20", help="comma-separated noise levels")
    parser.add_argument("--unit", choices=["px", "iod"], default="px", help="pixels of the original image or IOD")
    parser.add_argument("--split", default="test")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.set_defaults(handler=run_robustness)


def run_reference(args: argparse.Namespace) -> int:
    from aulib.reference import build_reference, seed_summary

    long = build_reference(work=args.work, out=args.out, seeds=args.seeds, runs=args.runs, epochs=args.epochs,
                           device=args.device, command="aulib reference " + " ".join(args.argv))
    print(seed_summary(long).round(3).to_string())
    print(f"wrote {args.out}")
    return 0


def add_reference_parser(commands: argparse._SubParsersAction) -> None:
    from aulib.experiments import RUN_NAMES
    from aulib.reference import EPOCHS, REFERENCE_DIR, SEEDS

    parser = commands.add_parser("reference", help="train and evaluate the course's reference runs (make weights)")
    parser.add_argument("--work", default="data", help="folder for the data sets and full run folders")
    parser.add_argument("--out", default=str(REFERENCE_DIR), help="the committed reference folder")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--runs", nargs="+", choices=RUN_NAMES, default=list(RUN_NAMES))
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--device", default="auto")
    parser.set_defaults(handler=run_reference)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aulib", description="Action Unit heatmap regression (Sanchez-Lozano et al., BMVC 2018), for teaching."
    )
    parser.add_argument("--version", action="version", version=f"aulib {aulib.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    info = commands.add_parser("info", help="version, devices, model presets and AU sets")
    info.set_defaults(handler=run_info)
    add_synth_parser(commands)
    from aulib.data.prepare import add_prepare_parser

    add_prepare_parser(commands)
    add_train_parser(commands)
    add_evaluate_parser(commands)
    add_robustness_parser(commands)
    from aulib.convert import add_convert_parser
    from aulib.predict import add_predict_parser

    add_predict_parser(commands)
    add_convert_parser(commands)
    from aulib.pipeline import add_parser as add_pipeline_parser

    add_pipeline_parser(commands)
    add_reference_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    return args.handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
