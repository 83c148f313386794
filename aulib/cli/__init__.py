"""The ``aulib`` command line: one module per group of commands, each a thin wrapper around library functions.

Only this package parses arguments; the library's functions take plain arguments.

=================  ===========================================  ==========================
module             commands                                     library
=================  ===========================================  ==========================
``info``           ``info``                                     :mod:`aulib.models`
``data``           ``synth``, ``prepare``                       :mod:`aulib.data`
``train``          ``train``                                    :mod:`aulib.training`
``evaluate``       ``evaluate``, ``robustness``                 :mod:`aulib.evaluation`
``predict``        ``predict``, ``convert-checkpoint``          :mod:`aulib.predict`, :mod:`aulib.inference`
``live``           ``benchmark``, ``webcam``                    :mod:`aulib.predict`
``course``         ``run-notebooks``, ``reference``, ``figures``  :mod:`aulib.course`
=================  ===========================================  ==========================
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import aulib
from aulib.cli import course, data, evaluate, info, live, predict, train

COMMAND_GROUPS = (info, data, train, evaluate, predict, live, course)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aulib", description="Action Unit heatmap regression (Sanchez-Lozano et al., BMVC 2018), for teaching."
    )
    parser.add_argument("--version", action="version", version=f"aulib {aulib.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    return args.handler(args)
