"""Time SynthAU-3D's OpenGL renderer beside the 2D generator: frames per second for 256x256 frames, one process.

- ``2D render_sequence``: :func:`aulib.data.synthau.render_sequence`, one 60-frame task clip in memory (geometry,
  drawing, cues, scene and camera), the figure BENCHMARKS.md quotes for SynthAU v2's rendering alone;
- ``3D render``: :class:`aulib.data.face3d.render.FaceRenderer` on 60 random frames of one person (the clip's
  subject stays; AUs, distractors, pose, lights and camera change every frame), numpy posing and normals, OpenGL,
  read-back, background and camera included;
- ``3D landmarks only``: the numpy geometry a label needs (no pixels).

Both run in this one process, one after the other (no parallel workers); the OpenGL renderer's own threads are
llvmpipe's on a CPU. Run it alone: another job on the machine changes every figure. It prints the renderer and the
CPU flags with the figures.

Usage:
    python benchmarks/bench_render3d.py [--frames 60] [--repeats 5] [--size 256]
"""

from __future__ import annotations

import argparse
import subprocess

import numpy as np
from timing import median_seconds

from aulib.data.face3d.render import FaceRenderer
from aulib.data.face3d.sample import sample_frame, sample_subject
from aulib.data.synthau import SynthConfig, render_sequence


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    flags = subprocess.run("lscpu | grep -o 'avx512_bf16\\|avx2' | sort -u | tr '\\n' ' '", shell=True,
                           capture_output=True, text=True).stdout.strip()

    config = SynthConfig(subjects=1, frames=48, image_size=args.size)
    two_d = median_seconds(lambda: render_sequence(config, 0, 0, args.frames), args.repeats, warmup=1)

    renderer = FaceRenderer(args.size)
    rng = np.random.default_rng(0)
    subject = sample_subject(rng)
    aus = (6, 10, 12, 14, 17)
    frames = [sample_frame(subject, dict(zip(aus, rng.uniform(0, 5, len(aus)), strict=True)), rng, variation=1.0)
              for _ in range(args.frames)]

    def render_all() -> None:
        for params in frames:
            renderer.render(params, rng)

    def landmarks_all() -> None:
        for params in frames:
            renderer.landmarks(params)

    three_d = median_seconds(render_all, args.repeats, warmup=1)
    geometry = median_seconds(landmarks_all, args.repeats, warmup=1)
    print(f"renderer: {renderer.ctx.info['GL_RENDERER']}; CPU flags: {flags}")
    print(f"{args.size}x{args.size}, {args.frames} frames, median of {args.repeats}")
    print("| path | frames/s | ms/frame |")
    print("|---|---|---|")
    for name, seconds in (("2D render_sequence", two_d), ("3D render", three_d), ("3D landmarks only", geometry)):
        print(f"| {name} | {args.frames / seconds:.0f} | {1000 * seconds / args.frames:.1f} |")


if __name__ == "__main__":
    main()
