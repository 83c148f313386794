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
    synth.add_argument("--subjects", type=int, default=24)
    synth.add_argument("--frames", type=int, default=84, help="frames per subject")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--aus", choices=["bp4d", "disfa"], default="bp4d", help="default label set")
    synth.add_argument("--difficulty", default="default", help="easy, default, hard, or a number in [0, 1]")
    synth.add_argument("--image-size", type=int, default=256)
    synth.add_argument("--workers", type=int, default=None, help="processes (default: one per CPU)")
    synth.set_defaults(handler=run_synth)


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
