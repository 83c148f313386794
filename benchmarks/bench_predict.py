"""``aulib predict`` against the original per-frame procedure on 640×480 frames of a real face, as a video and as a
folder of numbered frames, with every inference backend, in one process.

The input: ``skimage.data.astronaut()`` (head and shoulders, public domain) moved and scaled along a smooth path in
640×480 frames, every ``--blank-every``-th frame blank (no face); written as an H.264 video and as a folder of
numbered PNGs.

- ``original``: the released code's loop, per frame: decode, full dlib detection and landmarks, the 3-point affine
  of landmarks 8/36/45 (``cv2.getAffineTransform`` + ``cv2.warpAffine``), one fp32 forward pass with autograd on,
  contiguous memory; the readout is the map's maximum clamped to [0, 5];
- ``aulib predict``: :func:`aulib.predict.predict` with its defaults (full detection in every frame, ONNX Runtime
  fp32, BatchNorm folded, batches of 2, frames decoded and aligned in a second thread) and with the options that
  trade exactness for speed: ``--track`` (follow faces between full detections), ``--precision int8`` (the
  quantised graph), ``--fast`` (both), and the PyTorch backend in fp32 and, where the CPU has native bf16, bf16.

Both use the same weights (the ``paper`` network, random, with its last layer scaled so that the maps span about 0–5
as a trained model's do). Times are medians of ``--repeats`` runs, interleaved so that a burst of other work hits
every variant alike. Agreement: the median over frames of the largest |difference| over AUs, on frames where both
find the face, and whether they find it in the same frames.

Usage:
    python benchmarks/bench_predict.py [--frames 120] [--repeats 3]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import imageio.v3 as iio
import numpy as np
import torch
from skimage import data
from timing import median_seconds

from aulib.course.reference import cpu_flags
from aulib.detect import create_detector
from aulib.inference.convert import save_model_file
from aulib.inference.precision import cpu_supports_bf16
from aulib.inference.quantize import cpu_has_vnni
from aulib.method.align import PAPER_LANDMARKS, PAPER_TEMPLATE
from aulib.method.aus import BP4D_AUS, au_label
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


def _decode(path: Path):
    """Video frames as RGB arrays, decoded by PyAV as aulib predict decodes them (no imageio close overhead)."""
    import av

    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def original(path: Path, model: torch.nn.Module, detector) -> list[np.ndarray | None]:
    """The original per-frame loop: decode, detect, 3-point warp with OpenCV, one fp32 forward with autograd on."""
    template = PAPER_TEMPLATE.astype(np.float32)
    frames = _decode(path) if path.is_file() else \
        (iio.imread(p) for p in sorted(path.glob("*.png"), key=lambda p: int(p.stem.split("_")[-1])))
    results = []
    for frame in frames:
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


def agreement(table, reference: list[np.ndarray | None]) -> tuple[float, float, bool]:
    """(median and max over frames of the per-frame max |difference|, same frames with a face) against the original."""
    ok = table[table["status"] == "ok"].drop_duplicates("frame").set_index("frame")
    differences = [float(np.abs(ok.loc[k, LABELS].to_numpy(float) - values).max())
                   for k, values in enumerate(reference) if values is not None and k in ok.index]
    same = {k for k, v in enumerate(reference) if v is not None} == set(ok.index)
    return float(np.median(differences)), float(np.max(differences)), same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--blank-every", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-predict-"))
    video = folder / "astronaut.mp4"
    frames = make_video(video, args.frames, args.blank_every)
    numbered = folder / "frames"
    numbered.mkdir()
    for k, frame in enumerate(frames):
        iio.imwrite(numbered / f"frame_{k:04d}.png", frame)
    model = realistic_paper_model()
    model_file = save_model_file(folder / "paper.pt", model.state_dict(), preset="paper")
    detector = create_detector("dlib")
    print(f"{len(frames)} frames of {frames.shape[2]}x{frames.shape[1]}; CPU flags: {cpu_flags()}; "
          f"{torch.get_num_threads()} torch threads; native bf16: {cpu_supports_bf16()}; "
          f"load {os.getloadavg()[0]:.1f}; {time.strftime('%Y-%m-%d')}")

    variants = {"(default: onnxruntime fp32)": {}, "--track": {"track": True},
                "--precision int8": {"precision": "int8"},
                "--fast (int8 + --track)": {"precision": "int8", "track": True},
                "--backend torch": {"backend": "torch"}}
    if cpu_supports_bf16():
        variants["--backend torch --precision bf16"] = {"backend": "torch", "precision": "bf16"}
    runs = {}
    for source_name, source in (("video", video), ("folder", numbered)):
        runs[f"original, {source_name}"] = (lambda s=source: original(s, model, detector))
        for name, options in variants.items():
            runs[f"aulib {name}, {source_name}"] = (lambda s=source, o=options: predict(
                s, model_file, detector, device="cpu", progress=False, **o))
    outputs = {name: function() for name, function in runs.items()}  # warm-up: caches, the exported graph, dlib
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, function in runs.items():
            times[name].append(median_seconds(function, repeats=1))
    print(f"int8 graph: {'8-bit weights (VNNI)' if cpu_has_vnni() else '7-bit weights (no VNNI)'}")
    print(f"{'path':<46}{'frames/s':>10}{'ms/frame':>10}{'vs original':>13}{'median |Δ|':>12}{'max |Δ|':>10}"
          f"{'same faces':>12}")
    for source_name in ("video", "folder"):
        base = len(frames) / statistics.median(times[f"original, {source_name}"])
        reference = outputs[f"original, {source_name}"]
        for name in runs:
            if not name.endswith(source_name):
                continue
            fps = len(frames) / statistics.median(times[name])
            if name.startswith("original"):
                print(f"{name:<46}{fps:>10.1f}{1000 / fps:>10.1f}{1.0:>12.2f}x")
                continue
            median, worst, same = agreement(outputs[name], reference)
            print(f"{name:<46}{fps:>10.1f}{1000 / fps:>10.1f}{fps / base:>12.2f}x{median:>12.4f}{worst:>10.4f}"
                  f"{'yes' if same else 'NO':>12}")


if __name__ == "__main__":
    main()
