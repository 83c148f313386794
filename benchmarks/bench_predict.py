"""``aulib predict`` on a real-photo video against a per-frame baseline written the way the original code works.

The video: 640×480 frames of ``skimage.data.astronaut()`` (head and shoulders), moved and scaled along a smooth
path, with every ``--blank-every``-th frame blank (no face), encoded with H.264.

- ``aulib``: :func:`aulib.predict.predict` with the ``paper`` network: tracking between full detections,
  batched forward passes under ``torch.inference_mode``, channels-last, the default CPU precision.
- ``baseline``: for every frame, full dlib detection and landmarks, the 3-point affine of landmarks 8/36/45
  (``cv2.getAffineTransform`` + ``cv2.warpAffine``, as the released code), and a forward pass of that one frame
  with autograd on, fp32, contiguous memory; the readout is the map's maximum clamped to [0, 5].

Both decode the same file and are timed in the same run (median of ``--repeats``). Output equality is checked on
frames where both find the face: ``aulib`` without tracking (the same landmarks as the baseline), in fp32 and
bf16, and the baseline's forward on aulib's own crops (the network alone). The network has random weights with
its last layer scaled so that the maps span about 0–5, like a trained one (random maps would peak near 0.1 and
make any difference look small).

Usage:
    python benchmarks/bench_predict.py [--frames 120] [--repeats 3] [--batch N] [--threads N]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
from pathlib import Path

import cv2
import imageio.v3 as iio
import numpy as np
import torch
from skimage import data
from timing import median_seconds

from aulib.inference.convert import save_model_file
from aulib.inference.precision import resolve_precision
from aulib.method.align import PAPER_LANDMARKS, PAPER_TEMPLATE, alignment_matrix, warp_face
from aulib.method.aus import BP4D_AUS, au_label
from aulib.method.landmarks import create_detector
from aulib.models import create_model
from aulib.predict import predict

LABELS = [au_label(a) for a in BP4D_AUS]


def make_video(path: Path, frames: int, blank_every: int) -> np.ndarray:
    """Write the test video and return its decoded frames (what both paths will see)."""
    head = data.astronaut()[:320, 60:380]
    out = []
    for k in range(frames):
        frame = np.zeros((480, 640, 3), np.uint8)
        if blank_every and k % blank_every == blank_every - 1:
            out.append(frame)
            continue
        t = k / max(1, frames - 1)
        scale = 1.0 + 0.15 * math.sin(2 * math.pi * t)
        face = cv2.resize(head, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        h, w = face.shape[:2]
        x = int(40 + 200 * t)
        y = int(20 + 40 * math.sin(math.pi * t))
        frame[y:y + h, x:x + w] = face[: 480 - y, : 640 - x]
        out.append(frame)
    iio.imwrite(path, np.stack(out), plugin="pyav", codec="libx264", fps=25)
    return np.stack(list(iio.imiter(path, plugin="pyav")))


def realistic_paper_model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = create_model("paper")
    with torch.no_grad():
        model.to_maps[0].weight.mul_(30.0)
        model.to_maps[0].bias.fill_(1.0)
    return model.eval()


def baseline(path: Path, model: torch.nn.Module, detector) -> list[np.ndarray | None]:
    """The original per-frame loop: detect, 3-point warp with OpenCV, one fp32 forward with autograd on."""
    template = PAPER_TEMPLATE.astype(np.float32)
    results = []
    for frame in iio.imiter(path, plugin="pyav"):
        face = detector.detect_largest(frame)
        if face is None:
            results.append(None)
            continue
        matrix = cv2.getAffineTransform(face.points[list(PAPER_LANDMARKS)].astype(np.float32), template)
        crop = cv2.warpAffine(frame, matrix, (256, 256), flags=cv2.INTER_LINEAR)
        image = torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255
        maps = model(image)  # autograd on, as in the released demo
        results.append(maps.amax(dim=(-2, -1)).clamp(0, 5)[0].detach().numpy())
    return results


def max_difference(table, reference: list[np.ndarray | None]) -> tuple[float, int]:
    """Largest |difference| over AUs and frames where both found the face, and how many such frames."""
    ok = table[table["status"] == "ok"].drop_duplicates("frame").set_index("frame")
    worst, count = 0.0, 0
    for k, values in enumerate(reference):
        if values is not None and k in ok.index:
            worst = max(worst, float(np.abs(ok.loc[k, LABELS].to_numpy(float) - values).max()))
            count += 1
    return worst, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--blank-every", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, help="faces per forward pass (default: predict's)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's, one per core)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    folder = Path(tempfile.mkdtemp(prefix="bench-predict-"))
    video = folder / "astronaut.mp4"
    frames = make_video(video, args.frames, args.blank_every)
    model = realistic_paper_model()
    model_file = save_model_file(folder / "paper.pt", model.state_dict(), preset="paper")
    detector = create_detector("dlib")
    default = resolve_precision("auto", torch.device("cpu"))
    default_name = "bf16" if default == torch.bfloat16 else "fp32"
    print(f"{len(frames)} frames of {frames.shape[2]}x{frames.shape[1]}, {torch.get_num_threads()} torch threads, "
          f"default CPU precision {default_name}, load {os.getloadavg()[0]:.1f}")

    def run_aulib(**options):
        return predict(video, model_file, detector, batch_size=args.batch, device="cpu", progress=False, **options)

    outputs = {}
    runs = {
        f"aulib predict ({default_name}, tracking)": lambda: run_aulib(),
        "baseline (per frame, fp32)": lambda: baseline(video, model, detector),
        "aulib predict (bf16, tracking)": lambda: run_aulib(precision="bf16"),
        f"aulib predict ({default_name}, no tracking)": lambda: run_aulib(track=False),
    }
    for name, function in runs.items():  # warm-up (model caches, dlib, the decoder), keeping the outputs
        outputs[name] = function()
    # Interleaved repeats: the machine is shared, and a burst of someone else's work then hits every variant alike.
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, function in runs.items():
            times[name].append(median_seconds(function, repeats=1))
    fps = {}
    for name in runs:
        seconds = statistics.median(times[name])
        fps[name] = len(frames) / seconds
        print(f"{name:<34} {fps[name]:7.1f} frames/s  ({1000 * seconds / len(frames):6.1f} ms/frame; "
              f"best {1000 * min(times[name]) / len(frames):.1f})")
    base = fps["baseline (per frame, fp32)"]
    print(f"speed-up over the baseline: {fps[f'aulib predict ({default_name}, tracking)'] / base:.2f}x (default), "
          f"{fps['aulib predict (bf16, tracking)'] / base:.2f}x (bf16)")

    # --- equality where both find the face ---------------------------------------------------------------------
    reference = outputs["baseline (per frame, fp32)"]
    faces = sum(r is not None for r in reference)
    print(f"faces found: baseline {faces}/{len(frames)}, aulib (tracking) "
          f"{int((outputs[f'aulib predict ({default_name}, tracking)']['status'] == 'ok').sum())}/{len(frames)}")
    fp32 = run_aulib(precision="fp32", track=False)
    bf16 = run_aulib(precision="bf16", track=False)
    for name, table, tolerance in (("fp32, no tracking", fp32, 1e-4), ("bf16, no tracking", bf16, 0.01)):
        worst, count = max_difference(table, reference)
        print(f"max |aulib - baseline| ({name}): {worst:.2e} over {count} frames (target {tolerance:g})")
    worst, count = max_difference(outputs[f"aulib predict ({default_name}, tracking)"], reference)
    print(f"max |aulib - baseline| ({default_name}, tracking; landmarks from tracked boxes): {worst:.3f} over {count}")
    gap = np.abs(fp32[LABELS].to_numpy(float) - bf16[LABELS].to_numpy(float))
    print(f"|bf16 - fp32| (aulib, same landmarks): max {np.nanmax(gap):.4f}, mean {np.nanmean(gap):.4f}")

    # the network alone: the baseline's forward on aulib's crops (OpenCV's warp rounds sampling positions to 1/32 px)
    worst_net, worst_grey = 0.0, 0
    for k, frame in enumerate(frames):
        face = detector.detect_largest(frame)
        if face is None:
            continue
        matrix = alignment_matrix(face.points)
        crop = warp_face(frame, matrix, 256)
        opencv = cv2.warpAffine(frame, matrix, (256, 256), flags=cv2.INTER_LINEAR)
        worst_grey = max(worst_grey, int(np.abs(crop.astype(int) - opencv)[2:-2, 2:-2].max()))
        image = torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255
        values = model(image).amax(dim=(-2, -1)).clamp(0, 5)[0].detach().numpy()
        ours = fp32.loc[fp32["frame"] == k, LABELS].to_numpy(float)[0]
        worst_net = max(worst_net, float(np.abs(ours - values).max()))
    print(f"max |aulib fp32 - baseline forward on the same crops|: {worst_net:.2e}")
    print(f"crops: OpenCV's and aulib's warps differ by at most {worst_grey} grey level(s)")


if __name__ == "__main__":
    main()
