"""``aulib synth`` and ``aulib prepare``: make a dataset and bring it into the prepared format."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from aulib.cli.common import QUIET, add_command, arg
from aulib.data.frames import DATASETS, DETECTORS, METHODS


def run_synth(args: argparse.Namespace) -> int:
    from aulib.data.synthau import generate

    difficulty = args.difficulty
    try:
        difficulty = float(difficulty)
    except ValueError:
        pass  # a named level: easy, default, hard
    try:
        config = generate(args.out, subjects=args.subjects, frames=args.frames, seed=args.seed, aus=args.aus,
                          difficulty=difficulty, image_size=args.image_size, workers=args.workers,
                          renderer=args.renderer)
    except (ValueError, RuntimeError) as error:  # bad arguments, a folder made with other settings, or no OpenGL
        print(f"aulib synth: error: {error}", file=sys.stderr)
        return 2
    print(f"SynthAU: {config.subjects} subjects x {config.frames} frames in {args.out}")
    return 0


def course_detector(dataset: str, root: Path, detector: str | None) -> str | None:
    """The detector ``aulib prepare`` uses: the one given, else the course's choice for a SynthAU set.

    The course aligns SynthAU-3D with dlib's 68 landmarks (``aulib.course.variants.DEFAULT_SYNTHAU``), so the command
    does the same for a set rendered in 3D; a SynthAU v2 set keeps its simulated tracker, whose faces dlib was never
    measured on. Other datasets keep :data:`aulib.data.frames.DEFAULT_DETECTORS`' choice (``None`` here).
    """
    if detector is not None or dataset != "synthau":
        return detector
    try:  # the set's own record of how it was made (aulib.data.synthau.load_config reads and checks the same file)
        renderer = json.loads((Path(root) / "synthau.json").read_text())["config"].get("renderer", "2d")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # not a SynthAU folder: prepare() names what is missing
    return "dlib" if renderer == "3d" else None


def run_prepare(args: argparse.Namespace) -> int:
    """Handler of ``aulib prepare``; returns the exit code."""
    from aulib.data.prepare import prepare

    try:
        detector = course_detector(args.dataset, args.root, args.detector)
        prepare(args.dataset, args.root, args.out, detector=detector, method=args.method, size=args.size,
                chunk=args.chunk, overwrite=args.overwrite, progress=not args.quiet)
    except KeyboardInterrupt:
        print(f"\ninterrupted; run the same command again to resume where it stopped ({args.out})", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, ImportError) as error:  # bad settings, data or a missing backend
        print(f"aulib prepare: error: {error}", file=sys.stderr)
        return 2
    return 0


SYNTH = [
    arg("--out", required=True, help="output folder (resumable: rerun to finish)"),
    arg("--subjects", type=int, default=120),
    arg("--frames", type=int, default=48, help="frames per subject, spread over the eight tasks"),
    arg("--seed", type=int, default=0),
    arg("--aus", choices=["bp4d", "disfa"], default="bp4d", help="default label set"),
    arg("--difficulty", default="default", help="easy, default, hard, or a number in [0, 1]"),
    arg("--image-size", type=int, default=256),
    arg("--workers", type=int, default=None, help="processes (default: one per CPU; 1 for --renderer 3d)"),
    arg("--renderer", choices=["2d", "3d"], default="3d",
        help="3d (default, the course's data): SynthAU-3D, the ICT face model rendered with OpenGL; 2d: SynthAU v2's "
             "procedural faces, no OpenGL needed"),
]
PREPARE = [
    arg("dataset", choices=DATASETS, help="which reader to use"),
    arg("--root", required=True, type=Path, help="the dataset's folder"),
    arg("--out", required=True, type=Path, help="output folder"),
    arg("--detector", choices=DETECTORS, default=None,
        help="where landmarks come from (default, as the course does: dlib for SynthAU-3D and BP4D, given for "
             "SynthAU v2 and DISFA)"),
    arg("--method", choices=METHODS, default="paper", help="alignment method (default: paper)"),
    arg("--size", type=int, default=256, help="side of the aligned crops (default: 256)"),
    arg("--chunk", type=int, default=64, help="frames per write (default: 64)"),
    arg("--overwrite", action="store_true", help="replace a preparation already in --out"),
    QUIET,
]


def add_prepare_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``aulib prepare`` to the CLI's subcommands (its handler is :func:`run_prepare`)."""
    return add_command(commands, "prepare", run_prepare, "align a dataset's faces into the prepared format "
                       "(resumable)", PREPARE, description="Align every labelled frame of a dataset and store crops, "
                       "landmarks, transforms and labels in the prepared format (data/README.md). Interrupted runs "
                       "resume when run again.")


def register(commands: argparse._SubParsersAction) -> None:
    add_command(commands, "synth", run_synth, "generate a SynthAU dataset (procedural faces with AU labels)", SYNTH)
    add_prepare_parser(commands)
