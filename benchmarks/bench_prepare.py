"""Time the preparation step: aligned frames per second, and how the crops are best warped.

Three measurements, each the median over ``--repeats`` runs on this machine:

- ``warp``: one chunk of frames warped three ways with :func:`aulib.method.align.warp_face` (all give the
  same bytes): one image at a time, one batched torch call, and one image at a time on a pool of
  threads with one torch thread each (what :func:`aulib.data.prepare.prepare` does);
- ``prepare (in memory)``: :func:`~aulib.data.prepare.prepare` from a reader whose frames were drawn
  beforehand and are held in memory, so the figure is alignment + storage throughput only;
- ``end to end``: a SynthAU set generated beforehand (when :mod:`aulib.data.synthau` is available)
  prepared from disk, PNG decoding included; otherwise the fake source drawing each frame on the fly.

Usage:
    python benchmarks/bench_prepare.py [--frames 512] [--height 480 --width 640] [--size 256] [--repeats 3]
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from timing import median_seconds

from aulib.data.prepare import prepare
from aulib.data.records import RawFrame
from aulib.method.align import alignment_matrix, warp_face
from aulib.method.shape import mean_shape

AUS = (6, 10, 12, 14, 17)


def draw_frame(index: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """A noisy canvas with the mean face moved by a random similarity; returns (image, landmarks)."""
    rng = np.random.default_rng(index)
    scale = rng.uniform(0.55, 0.75) * min(height, width) / 256
    angle = rng.uniform(-0.3, 0.3)
    linear = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = np.array([width / 2, height / 2]) + rng.uniform(-0.1, 0.1, 2) * min(height, width)
    points = (mean_shape() - [128.0, 150.0]) @ linear.T + centre
    image = rng.integers(0, 80, (height, width, 3), dtype=np.uint8)
    cv2.fillPoly(image, [np.round(points[:17]).astype(np.int32)], (180, 150, 120))
    for x, y in points:
        cv2.circle(image, (round(x), round(y)), 2, (255, 255, 255), -1)
    return image, points


class MemoryReader:
    """A reader over frames drawn beforehand (``distinct`` images reused), so drawing is not timed."""

    NAME = "bench"
    AUS = AUS
    LANDMARK_LAYOUT = 68

    def __init__(self, n: int, height: int, width: int, distinct: int = 64, draw_on_the_fly: bool = False) -> None:
        self.n, self.height, self.width, self.draw_on_the_fly = n, height, width, draw_on_the_fly
        self.drawn = [] if draw_on_the_fly else [draw_frame(i, height, width) for i in range(min(distinct, n))]
        rng = np.random.default_rng(0)
        self.labels = pd.DataFrame({"subject": [f"S{i // 100:02d}" for i in range(n)],
                                    "sequence": "T1", "frame": np.arange(n)})
        for au in AUS:
            self.labels[f"AU{au:02d}"] = rng.integers(0, 6, n).astype(float)

    def read_labels(self, root: Path) -> pd.DataFrame:
        return self.labels

    def iter_frames(self, root: Path, labels: pd.DataFrame | None = None, skip: frozenset = frozenset()
                    ) -> Iterator[RawFrame]:
        values = self.labels[[f"AU{a:02d}" for a in AUS]].to_numpy()
        for i, (subject, sequence, frame) in enumerate(self.labels[["subject", "sequence", "frame"]].itertuples(
                index=False)):
            if (subject, sequence, int(frame)) in skip:
                continue
            image, points = (draw_frame(i, self.height, self.width) if self.draw_on_the_fly
                             else self.drawn[i % len(self.drawn)])
            yield RawFrame(subject, sequence, int(frame), labels=values[i], image=image, landmarks=points)


def bench_warps(args: argparse.Namespace) -> None:
    drawn = [draw_frame(i, args.height, args.width) for i in range(args.chunk)]
    images = [image for image, _ in drawn]
    matrices = alignment_matrix(np.stack([points for _, points in drawn]), size=args.size)

    def one_by_one() -> list[np.ndarray]:
        return [warp_face(image, matrix, args.size) for image, matrix in zip(images, matrices, strict=True)]

    def batched() -> np.ndarray:
        stacked = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)
        return warp_face(stacked, matrices, args.size).permute(0, 2, 3, 1).numpy()

    pool = ThreadPoolExecutor(args.workers)

    def threaded() -> list[np.ndarray]:
        return list(pool.map(lambda pair: warp_face(pair[0], pair[1], args.size), zip(images, matrices, strict=True)))

    default_threads = torch.get_num_threads()
    reference = np.stack(one_by_one())
    print(f"warp {args.chunk} frames {args.height}×{args.width} → {args.size}×{args.size} "
          f"(torch {default_threads} threads unless noted):")
    for name, function, threads in (("one by one", one_by_one, default_threads),
                                    ("batched torch", batched, default_threads),
                                    ("one by one", one_by_one, 1),
                                    (f"{args.workers} threads, 1 torch thread each", threaded, 1)):
        torch.set_num_threads(threads)
        assert np.array_equal(np.stack(function()), reference)  # every strategy gives the same bytes
        seconds = median_seconds(function, args.repeats)
        print(f"  {name + (' (1 torch thread)' if name == 'one by one' and threads == 1 else ''):<40}"
              f"{args.chunk / seconds:8.0f} frames/s")
    torch.set_num_threads(default_threads)
    pool.shutdown()


def bench_prepare(reader: MemoryReader | object, root: str, args: argparse.Namespace, label: str) -> None:
    rates = []
    with tempfile.TemporaryDirectory() as out:
        for _ in range(args.repeats):
            summary = prepare(reader, root, out, size=args.size, chunk=args.chunk, overwrite=True, progress=False,
                              workers=args.workers)
            rates.append(summary["n_processed"] / summary["seconds"])
    print(f"  {label:<52}{statistics.median(rates):8.0f} frames/s  (median of {args.repeats}; "
          f"runs: {', '.join(f'{r:.0f}' for r in rates)})")


def bench_end_to_end(args: argparse.Namespace) -> None:
    try:
        synthau = importlib.import_module("aulib.data.synthau")
    except ImportError:
        synthau = None
    if synthau is None or not hasattr(synthau, "generate"):
        reader = MemoryReader(args.frames, args.height, args.width, draw_on_the_fly=True)
        bench_prepare(reader, "memory", args, f"end to end, fake frames drawn on the fly, {args.height}×{args.width}")
        return
    with tempfile.TemporaryDirectory() as root:
        subjects = max(1, args.frames // 120)
        synthau.generate(root, subjects=subjects, frames=120, seed=0, progress=False, image_size=args.synth_size)
        bench_prepare("synthau", root, args,
                      f"end to end, SynthAU from disk ({subjects * 120} PNGs {args.synth_size}×{args.synth_size})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=512)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--chunk", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--synth-size", type=int, default=256, help="SynthAU frame side for the end-to-end run")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    bench_warps(args)
    print("\nprepare():")
    bench_prepare(MemoryReader(args.frames, args.height, args.width), "memory", args,
                  f"in memory, {args.frames} frames {args.height}×{args.width} (align + store)")
    bench_end_to_end(args)


if __name__ == "__main__":
    main()
