"""``aulib evaluate`` and ``aulib robustness``: score a run on held-out subjects, with and without landmark noise."""

from __future__ import annotations

import argparse


def run_evaluate(args: argparse.Namespace) -> int:
    from aulib.evaluation.evaluate import evaluate, markdown_table

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
    import matplotlib.pyplot as plt

    from aulib.course.figures import robustness_figure, save_figure
    from aulib.evaluation.robustness import robustness

    sigmas = [float(x) for x in args.sigmas.split(",") if x.strip()]
    table = robustness(args.run, data=args.data, sigmas=sigmas, unit=args.unit, split=args.split, seed=args.seed,
                       device=args.device)
    figure = save_figure(robustness_figure(table), f"{args.run}/robustness.png")
    plt.close("all")
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


def register(commands: argparse._SubParsersAction) -> None:
    add_evaluate_parser(commands)
    add_robustness_parser(commands)
