"""Time heatmap-target rendering: the vectorised renderer against per-point Python loops.

Renders the targets of a realistic training batch (256 aligned faces × the 5 BP4D AUs, 64×64 maps)
three ways, in the same run and on the same inputs:

- ``vectorised``: :func:`aulib.method.heatmaps.render_targets` (torch, one call for the batch);
- ``loop_numpy``: a Python loop over samples, AUs and centres that draws each Gaussian into its window
  with numpy (the usual hand-written renderer, as in FAN's ``draw_gaussian`` but with the right kernel);
- ``loop_python``: a Python loop over samples, AUs, centres *and pixels* (the naive per-point baseline).

All three produce the same maps (checked). Prints median times over repeats and the speed-up ratios.

Usage:
    python benchmarks/bench_heatmaps.py [--batch 256] [--repeats 7] [--threads 2]
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch
from timing import median_seconds

from aulib.method.align import frame_scale
from aulib.method.aus import BP4D_AUS, au_centres
from aulib.method.heatmaps import HeatmapConfig, render_targets
from aulib.method.shape import mean_shape


def centres_and_sigmas(landmarks: np.ndarray, intensities: np.ndarray, config: HeatmapConfig):
    """Per-sample centres (heatmap pixels) and σ (heatmap pixels), shared by both loop baselines."""
    scale, offset = frame_scale(config.size, config.frame_size)
    centres, valid = au_centres(landmarks, BP4D_AUS)
    sigmas = config.sigma(torch.from_numpy(intensities)).numpy() * scale
    return centres * scale + offset, valid, sigmas


def render_loop_numpy(landmarks: np.ndarray, intensities: np.ndarray, config: HeatmapConfig) -> np.ndarray:
    centres, valid, sigmas = centres_and_sigmas(landmarks, intensities, config)
    size = config.size
    out = np.zeros((len(landmarks), len(BP4D_AUS), size, size))
    for b in range(len(landmarks)):
        for a in range(len(BP4D_AUS)):
            if intensities[b, a] == 0:
                continue
            sigma = sigmas[b, a]
            radius = config.truncate * sigma
            for c in np.flatnonzero(valid[a]):
                cx, cy = centres[b, a, c]
                x0, x1 = max(0, math.ceil(cx - radius)), min(size - 1, math.floor(cx + radius))
                y0, y1 = max(0, math.ceil(cy - radius)), min(size - 1, math.floor(cy + radius))
                if x0 > x1 or y0 > y1:
                    continue
                xs, ys = np.arange(x0, x1 + 1), np.arange(y0, y1 + 1)
                d2 = (xs[None, :] - cx) ** 2 + (ys[:, None] - cy) ** 2
                nearest = (cx - round(cx)) ** 2 + (cy - round(cy)) ** 2
                patch = intensities[b, a] * np.exp(-(d2 - nearest) / (2 * sigma**2)) * (d2 <= radius**2)
                window = out[b, a, y0:y1 + 1, x0:x1 + 1]
                np.maximum(window, patch, out=window)
    return out


def render_loop_python(landmarks: np.ndarray, intensities: np.ndarray, config: HeatmapConfig) -> np.ndarray:
    centres, valid, sigmas = centres_and_sigmas(landmarks, intensities, config)
    size = config.size
    out = np.zeros((len(landmarks), len(BP4D_AUS), size, size))
    for b in range(len(landmarks)):
        for a in range(len(BP4D_AUS)):
            amplitude, sigma = float(intensities[b, a]), float(sigmas[b, a])
            if amplitude == 0:
                continue
            radius2 = (config.truncate * sigma) ** 2
            for c in np.flatnonzero(valid[a]):
                cx, cy = float(centres[b, a, c, 0]), float(centres[b, a, c, 1])
                nearest = (cx - round(cx)) ** 2 + (cy - round(cy)) ** 2
                for y in range(size):
                    for x in range(size):
                        d2 = (x - cx) ** 2 + (y - cy) ** 2
                        if d2 <= radius2:
                            value = amplitude * math.exp(-(d2 - nearest) / (2 * sigma * sigma))
                            if value > out[b, a, y, x]:
                                out[b, a, y, x] = value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--python-repeats", type=int, default=1, help="repeats of the slow pure-Python loop")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    rng = np.random.default_rng(0)
    landmarks = mean_shape()[None] + rng.normal(0, 4, (args.batch, 68, 2))
    # BP4D-like labels: many zeros, the rest spread over 1–5.
    intensities = np.where(rng.random((args.batch, 5)) < 0.5, 0.0, rng.uniform(0.5, 5, (args.batch, 5)))
    config = HeatmapConfig()

    lm_t = torch.tensor(landmarks, dtype=torch.float32, device=args.device)
    in_t = torch.tensor(intensities, dtype=torch.float32, device=args.device)

    def vectorised() -> torch.Tensor:
        maps = render_targets(lm_t, in_t)
        if maps.is_cuda:
            torch.cuda.synchronize()
        return maps

    reference = vectorised().double().cpu().numpy()
    loop_numpy = render_loop_numpy(landmarks, intensities, config)
    loop_python = render_loop_python(landmarks, intensities, config)
    assert np.abs(loop_numpy - reference).max() < 1e-4, "numpy loop disagrees with the vectorised renderer"
    assert np.abs(loop_python - reference).max() < 1e-4, "python loop disagrees with the vectorised renderer"

    t_vec = median_seconds(vectorised, args.repeats)
    t_numpy = median_seconds(lambda: render_loop_numpy(landmarks, intensities, config), args.repeats)
    t_python = median_seconds(lambda: render_loop_python(landmarks, intensities, config), args.python_repeats)

    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU, {args.threads} threads"
    print(f"render_targets: {args.batch} faces x 5 AUs, 64x64 maps, float32, on {device}")
    print(f"{'method':<14}{'median ms':>12}{'faces/s':>12}{'speed-up':>10}")
    for name, seconds in (("loop_python", t_python), ("loop_numpy", t_numpy), ("vectorised", t_vec)):
        print(f"{name:<14}{seconds * 1e3:>12.2f}{args.batch / seconds:>12.0f}{t_python / seconds:>9.1f}x")
    print(f"vectorised vs per-point Python loop: {t_python / t_vec:.0f}x; vs numpy loop: {t_numpy / t_vec:.1f}x")


if __name__ == "__main__":
    main()
