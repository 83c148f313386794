"""Time SynthAU generation: frames per second for the smoke size, end to end and rendering alone.

- ``render only``: :func:`aulib.data.synthau.render_sequence` in memory, one process (geometry, drawing,
  shading, noise);
- ``generate, 1 worker`` and ``generate, N workers``: :func:`aulib.data.synthau.generate` to a temporary folder,
  PNG encoding and files included (what ``aulib synth`` does).

Usage:
    python benchmarks/bench_synthau.py [--subjects 120] [--frames 48] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile

from timing import median_seconds

from aulib.data.synthau import SynthConfig, generate, render_sequence


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=120)
    parser.add_argument("--frames", type=int, default=48, help="frames per subject (over the eight tasks)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    total = args.subjects * args.frames
    workers = os.cpu_count() or 1

    config = SynthConfig(subjects=args.subjects, frames=args.frames)
    render = median_seconds(lambda: render_sequence(config, 0, 0, 60), args.repeats)  # one 60-frame task clip

    def run(n_workers: int) -> None:
        with tempfile.TemporaryDirectory() as root:
            generate(root, args.subjects, args.frames, seed=0, workers=n_workers, progress=False)

    one = median_seconds(lambda: run(1), args.repeats)
    many = median_seconds(lambda: run(workers), args.repeats)
    print(f"SynthAU, {args.subjects} subjects x {args.frames} frames = {total} frames of 256x256, "
          f"{workers} CPU cores, median of {args.repeats}")
    print(f"{'step':<24}{'seconds':>10}{'frames/s':>10}")
    print(f"{'render only (1 process)':<24}{render:>10.2f}{60 / render:>10.0f}   (one 60-frame clip)")
    print(f"{'generate, 1 worker':<24}{one:>10.2f}{total / one:>10.0f}")
    print(f"{'generate, ' + str(workers) + ' workers':<24}{many:>10.2f}{total / many:>10.0f}"
          f"   ({one / many:.2f}x the single worker)")


if __name__ == "__main__":
    main()
