"""``aulib info``: version, devices, model presets and AU sets."""

from __future__ import annotations

import argparse
import platform

import torch

import aulib
from aulib.cli.common import add_command
from aulib.method.aus import AU_SETS, AUS, au_label


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


def register(commands: argparse._SubParsersAction) -> None:
    add_command(commands, "info", run_info, "version, devices, model presets and AU sets", [])
