"""What every command shares: arguments declared as data, and one function that adds a command to the parser.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> commands = parser.add_subparsers(dest="command")
    >>> _ = add_command(commands, "hello", lambda args: 0, "say hello", [arg("--name", default="you"), DEVICE])
    >>> args = parser.parse_args(["hello", "--device", "cpu"])
    >>> args.name, args.device, args.handler(args)
    ('you', 'cpu', 0)
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

Argument = tuple[tuple[str, ...], dict[str, Any]]
Handler = Callable[[argparse.Namespace], int]


def arg(*flags: str, **options: Any) -> Argument:
    """One argument: what ``parser.add_argument(*flags, **options)`` takes."""
    return flags, options


def add_command(commands: argparse._SubParsersAction, name: str, handler: Handler, help: str,
                arguments: Sequence[Argument], description: str | None = None) -> argparse.ArgumentParser:
    """Add the subcommand ``name``, its arguments and its handler (``args.handler``); returns its parser."""
    parser = commands.add_parser(name, help=help, description=description or help)
    for flags, options in arguments:
        parser.add_argument(*flags, **options)
    parser.set_defaults(handler=handler)
    return parser


DEVICE = arg("--device", default="auto", help="auto (CUDA if present), cpu or cuda")
QUIET = arg("--quiet", action="store_true", help="no progress bar")
CHECKPOINT = arg("--checkpoint", default="best.pt", help="checkpoint of the run folder")
SPLIT = arg("--split", help="the split to score (default: the dataset's held-out split: test for SynthAU, dev for "
                           "BP4D, the run's fold for DISFA)")
PRECISIONS = ("auto", "bf16", "fp32")
INFERENCE_PRECISIONS = (*PRECISIONS, "int8")  # int8: a quantised ONNX Runtime graph (aulib.inference.quantize)
