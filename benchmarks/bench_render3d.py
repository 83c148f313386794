"""Time SynthAU-3D's OpenGL renderer beside the 2D generator: frames per second for 256x256 frames.

- ``2D render_sequence``: :func:`aulib.data.synthau.render_sequence`, one 60-frame task clip in memory (geometry,
  drawing, cues, scene and camera), the figure BENCHMARKS.md quotes for SynthAU v2's rendering alone;
- ``3D render``: :class:`aulib.data.face3d.render.FaceRenderer` on 60 random frames of one person (the clip's
  subject stays; AUs, distractors, pose, lights and camera change every frame), numpy posing and normals, OpenGL,
  read-back, background and camera included;
- ``3D landmarks only``: the numpy geometry a label needs (no pixels);
- ``3D set, N process(es)``: :func:`aulib.data.synthau.generate` writing a SynthAU-3D set of ``--set-subjects``
  people x 48 frames (PNG files and labels included, into a fresh temporary folder each time), in this process with
  llvmpipe's threads, and in two worker processes with one rasteriser thread each (pool start-up included).

``--stages`` splits the 3D frame instead (the same 60 frames, posed once beforehand where a stage does not pose):
numpy posing; the OpenGL call without rasterising (normals, uploads, uniforms, clear and read-back; the draw call
skipped); the draw with the viewport shrunk to 2x2 pixels (every triangle still transformed, clipped and set up,
almost no fragment shaded); and the whole OpenGL call. The fragment shading is the last minus the third.

The first three run in this one process, one after the other; the OpenGL renderer's own threads are llvmpipe's on
a CPU. Run it alone: another job on the machine changes every figure. It prints the renderer and the
CPU flags with the figures.

Usage:
    python benchmarks/bench_render3d.py [--frames 60] [--repeats 5] [--size 256] [--set-subjects 6] [--stages]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile

import numpy as np
from timing import median_seconds

from aulib.data.face3d.render import FaceParams, FaceRenderer, Subject3D
from aulib.data.face3d.sample import sample_frame, sample_subject
from aulib.data.synthau import SynthConfig, generate, render_sequence


def random_frames(size: int, count: int) -> tuple[FaceRenderer, Subject3D, list[FaceParams], np.random.Generator]:
    """A renderer and ``count`` random frames of one person (seed 0): AUs, distractors, pose, lights and camera vary."""
    renderer = FaceRenderer(size)
    rng = np.random.default_rng(0)
    subject = sample_subject(rng)
    aus = (6, 10, 12, 14, 17)
    frames = [sample_frame(subject, dict(zip(aus, rng.uniform(0, 5, len(aus)), strict=True)), rng, variation=1.0)
              for _ in range(count)]
    return renderer, subject, frames, rng


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--set-subjects", type=int, default=6, help="people in each timed set (48 frames each)")
    parser.add_argument("--stages", action="store_true", help="split a 3D frame's time into its stages instead")
    args = parser.parse_args()
    flags = subprocess.run("lscpu | grep -o 'avx512_bf16\\|avx2' | sort -u | tr '\\n' ' '", shell=True,
                           capture_output=True, text=True).stdout.strip()

    if args.stages:
        stages(args, flags)
        return
    config = SynthConfig(subjects=1, frames=48, image_size=args.size)
    two_d = median_seconds(lambda: render_sequence(config, 0, 0, args.frames), args.repeats, warmup=1)

    renderer, _, frames, rng = random_frames(args.size, args.frames)

    def render_all() -> None:
        for params in frames:
            renderer.render(params, rng)

    def landmarks_all() -> None:
        for params in frames:
            renderer.landmarks(params)

    three_d = median_seconds(render_all, args.repeats, warmup=1)
    geometry = median_seconds(landmarks_all, args.repeats, warmup=1)

    def write_set(workers: int) -> None:
        with tempfile.TemporaryDirectory() as folder:
            generate(folder, subjects=args.set_subjects, frames=48, seed=0, image_size=args.size, progress=False,
                     renderer="3d", workers=workers)

    set_frames = args.set_subjects * 48
    one_process = median_seconds(lambda: write_set(1), 3)
    two_processes = median_seconds(lambda: write_set(2), 3)
    print(f"renderer: {renderer.ctx.info['GL_RENDERER']}; CPU flags: {flags}")
    print(f"{args.size}x{args.size}, {args.frames} frames, median of {args.repeats}")
    print("| path | frames/s | ms/frame |")
    print("|---|---|---|")
    for name, seconds, count in (("2D render_sequence", two_d, args.frames), ("3D render", three_d, args.frames),
                                 ("3D landmarks only", geometry, args.frames),
                                 (f"3D set ({set_frames} frames), 1 process", one_process, set_frames),
                                 (f"3D set ({set_frames} frames), 2 processes", two_processes, set_frames)):
        print(f"| {name} | {count / seconds:.0f} | {1000 * seconds / count:.1f} |")


def stages(args: argparse.Namespace, flags: str) -> None:
    """Print where a 3D frame's time goes (see the module docstring)."""
    renderer, subject, frames, rng = random_frames(args.size, args.frames)
    posed = [renderer.posed_vertices(params) for params in frames]
    draw_call = renderer.vao.render

    def gl_calls() -> None:
        with renderer.ctx:
            for params, vertices in zip(frames, posed, strict=True):
                renderer._draw(params, subject, vertices)

    def without_draw() -> None:
        renderer.vao.render = lambda *args, **kwargs: None
        try:
            gl_calls()
        finally:
            renderer.vao.render = draw_call

    def vertices_only() -> None:
        def tiny_viewport_draw(*args, **kwargs):
            renderer.ctx.viewport = (0, 0, 2, 2)
            draw_call(*args, **kwargs)
        renderer.vao.render = tiny_viewport_draw
        try:
            gl_calls()
        finally:
            renderer.vao.render = draw_call
            with renderer.ctx:
                renderer.ctx.viewport = (0, 0, args.size, args.size)

    def posing() -> None:
        for params in frames:
            renderer.posed_vertices(params)

    def whole() -> None:
        for params in frames:
            renderer.render(params, rng)

    timed = {name: median_seconds(function, args.repeats, warmup=1) / args.frames for name, function in (
        ("numpy posing", posing), ("OpenGL call, draw skipped", without_draw),
        ("OpenGL call, 2x2 viewport", vertices_only), ("OpenGL call", gl_calls), ("whole render", whole))}
    triangles = len(renderer.model.triangles)
    with renderer.ctx:
        gl_renderer = renderer.ctx.info["GL_RENDERER"]
    print(f"renderer: {gl_renderer}; CPU flags: {flags}; {triangles:,} triangles")
    print(f"{args.size}x{args.size}, {args.frames} frames, median of {args.repeats}")
    print("| stage | ms/frame |")
    print("|---|---|")
    for name, seconds in timed.items():
        print(f"| {name} | {1000 * seconds:.1f} |")
    vertex = timed["OpenGL call, 2x2 viewport"] - timed["OpenGL call, draw skipped"]
    fragment = timed["OpenGL call"] - timed["OpenGL call, 2x2 viewport"]
    print(f"| vertex work and triangle set-up (2x2 viewport − draw skipped) | {1000 * vertex:.1f} |")
    print(f"| fragment shading (OpenGL call − 2x2 viewport) | {1000 * fragment:.1f} |")


if __name__ == "__main__":
    main()
