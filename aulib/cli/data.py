"""``aulib synth`` and ``aulib prepare``: make a dataset and bring it into the prepared format."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aulib.data.frames import DATASETS, DETECTORS, METHODS
from aulib.data.prepare import prepare


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


def run_prepare(args: argparse.Namespace) -> int:
    """Handler of ``aulib prepare``; returns the exit code."""
    try:
        prepare(args.dataset, args.root, args.out, detector=args.detector, method=args.method, size=args.size,
                chunk=args.chunk, overwrite=args.overwrite, progress=not args.quiet)
    except KeyboardInterrupt:
        print(f"\ninterrupted; run the same command again to resume where it stopped ({args.out})", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, ImportError) as error:  # bad settings, data or a missing backend
        print(f"aulib prepare: error: {error}", file=sys.stderr)
        return 2
    return 0


def add_prepare_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``aulib prepare`` to the CLI's subcommands.

    Args:
        subparsers: what ``parser.add_subparsers()`` returned.

    Returns:
        The new subcommand's parser (its handler is :func:`run_prepare`).
    """
    parser = subparsers.add_parser(
        "prepare",
        help="align a dataset's faces into the prepared format (resumable)",
        description="Align every labelled frame of a dataset and store crops, landmarks, transforms and labels "
        "in the prepared format (data/README.md). Interrupted runs resume when run again.",
    )
    parser.add_argument("dataset", choices=DATASETS, help="which reader to use")
    parser.add_argument("--root", required=True, type=Path, help="the dataset's folder")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--detector", choices=DETECTORS, default=None,
                        help="where landmarks come from (default: given for synthau and disfa, dlib for bp4d)")
    parser.add_argument("--method", choices=METHODS, default="paper", help="alignment method (default: paper)")
    parser.add_argument("--size", type=int, default=256, help="side of the aligned crops (default: 256)")
    parser.add_argument("--chunk", type=int, default=64, help="frames per write (default: 64)")
    parser.add_argument("--overwrite", action="store_true", help="replace a preparation already in --out")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    parser.set_defaults(handler=run_prepare)
    return parser


def register(commands: argparse._SubParsersAction) -> None:
    add_synth_parser(commands)
    add_prepare_parser(commands)
