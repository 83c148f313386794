"""``aulib evaluate`` and ``aulib robustness``: score a run on held-out subjects, with and without landmark noise."""

from __future__ import annotations

import argparse

from aulib.cli.common import CHECKPOINT, DEVICE, PRECISIONS, SPLIT, add_command, arg

PRECISION = arg("--precision", choices=PRECISIONS, default="auto",
                help="auto (fp32 on any CPU, so scores do not depend on the CPU; bf16 on CUDA), fp32 or bf16")


def run_evaluate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from aulib.evaluation.evaluate import evaluate, evaluate_folds, fold_runs, markdown_table

    if not (Path(args.run) / "config.json").is_file() and fold_runs(args.run):  # aulib train --fold all
        ignored = [flag for flag, value in (("--split", args.split), ("--suffix", args.suffix), ("--out", args.out),
                                            ("--readout-window", args.readout_window)) if value]
        if ignored:
            print(f"error: {' '.join(ignored)} do not apply to a folder of fold runs (each fold is scored on its own "
                  "held-out fold, in its own folder)")
            return 2
        metrics = evaluate_folds(args.run, data=args.data, checkpoint=args.checkpoint, device=args.device,
                                 precision=args.precision)
        print(markdown_table(metrics))
        print(f"wrote each fold's files, {args.run}/folds.csv and the mean over folds in {args.run}/metrics.csv")
        return 0
    metrics = evaluate(args.run, data=args.data, split=args.split, checkpoint=args.checkpoint, device=args.device,
                       readout_window=args.readout_window, suffix=args.suffix, out=args.out, precision=args.precision)
    print(markdown_table(metrics))
    folder = args.out or args.run
    print(f"wrote {folder}/predictions{args.suffix}.csv, metrics{args.suffix}.csv and metrics{args.suffix}.md")
    return 0


def run_robustness(args: argparse.Namespace) -> int:
    import matplotlib.pyplot as plt

    from aulib.course.figures import robustness_figure, save_figure
    from aulib.evaluation.robustness import robustness

    sigmas = [float(x) for x in args.sigmas.split(",") if x.strip()]
    table = robustness(args.run, data=args.data, sigmas=sigmas, unit=args.unit, split=args.split, seed=args.seed,
                       device=args.device, precision=args.precision)
    figure = save_figure(robustness_figure(table), f"{args.run}/robustness.png")
    plt.close("all")
    print(table[table.AU == "Mean"][["model", "sigma", "sigma_iod", "ICC", "MAE"]].to_string(index=False))
    print(f"wrote {args.run}/robustness.csv and {figure}")
    return 0


EVALUATE = [
    arg("--run", required=True, help="run folder (aulib train --out); a folder of fold runs (aulib train --fold all) "
                                     "is evaluated fold by fold, with the mean over folds"),
    arg("--data", help="prepared dataset (default: the one the run was trained on)"),
    SPLIT,
    CHECKPOINT,
    DEVICE,
    arg("--readout-window", type=float, help="use the local readout with this radius (frame px)"),
    arg("--suffix", default="", help="name suffix of the output files, e.g. _local"),
    arg("--out", help="folder for the output files (default: the run folder; give one for a reference run)"),
    PRECISION,
]
ROBUSTNESS = [
    arg("--run", required=True, help="run folder"),
    arg("--data", help="prepared dataset (default: the run's)"),
    arg("--sigmas", default="0,2,4,6,8,10,13,16,20,25,30,40", help="comma-separated noise levels"),
    arg("--unit", choices=["px", "iod"], default="px", help="pixels of the original image or IOD"),
    SPLIT,
    arg("--seed", type=int, default=0),
    DEVICE,
    PRECISION,
]


def register(commands: argparse._SubParsersAction) -> None:
    add_command(commands, "evaluate", run_evaluate,
                "score a run on held-out subjects (ICC, PCC, MAE, localisation)", EVALUATE)
    add_command(commands, "robustness", run_robustness, "ICC under Gaussian landmark noise before alignment",
                ROBUSTNESS)
