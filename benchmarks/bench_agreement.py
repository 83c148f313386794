"""How far the fast paths move the intensities: int8 against fp32, and tracked faces against full detection.

Two measurements, written to ``benchmarks/results/agreement-vnni.json`` or ``agreement-no-vnni.json`` (by whether the
CPU has VNNI, which decides the int8 kernels; committed, BENCHMARKS.md quotes them):

1. **int8 against fp32 on crops the calibration never saw** (the astronaut and Grace Hopper with dlib's landmarks,
   six SynthAU faces of another seed at several AU intensities, as in ``tests/test_quantize.py``), for the trained
   course Hourglass (``models/reference/hourglass/seed0``) and a random ``paper`` network whose maps span 0–5:
   the median over faces of the largest AU difference, with 8-bit weights and with the 7-bit weights built for
   CPUs without VNNI;
2. **tracking against full detection** on the prediction benchmark's 640×480 video (the astronaut moving and
   scaling, ``bench_predict.py``'s frames), for the trained Hourglass in fp32: the median and largest per-frame AU
   difference of ``aulib predict --track`` against the default full detection.

    python benchmarks/bench_agreement.py [--frames 48]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_predict import make_video, realistic_paper_model

from aulib.course.reference import cpu_flags, machine_description
from aulib.data.calibration import calibration_crops
from aulib.data.portraits import held_out_crops
from aulib.inference.convert import save_model_file
from aulib.inference.model import AUModel
from aulib.predict import predict

ROOT = Path(__file__).resolve().parents[1]
HOURGLASS = ROOT / "models" / "reference" / "hourglass" / "seed0"
RESULTS = Path(__file__).resolve().parent / "results"


def random_paper(folder: Path) -> Path:
    return save_model_file(folder / "paper.pt", realistic_paper_model().state_dict(), preset="paper")


def int8_agreement(model_path: Path, faces: tuple[np.ndarray, np.ndarray]) -> dict[str, float]:
    fp32 = AUModel.load(model_path, device="cpu", precision="fp32", backend="onnxruntime")
    expected = fp32.predict_crops(*faces).intensities
    out = {}
    for name, reduce_range in (("8-bit", False), ("7-bit", True)):
        got = fp32.quantized(calibration_crops, reduce_range=reduce_range).predict_crops(*faces).intensities
        worst = (got - expected).abs().amax(dim=1).numpy()
        out[f"{name} median"], out[f"{name} max"] = round(float(np.median(worst)), 4), round(float(worst.max()), 4)
    return out


def tracking_agreement(frames: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        video = Path(folder) / "bench.mp4"
        make_video(video, frames, blank_every=12)  # the prediction benchmark's video
        full = predict(str(video), HOURGLASS, precision="fp32", progress=False)
        tracked = predict(str(video), HOURGLASS, precision="fp32", track=True, progress=False)
    labels = [c for c in full.columns if c.startswith("AU") and c[2:].isdigit()]
    both = (full.status == "ok") & (tracked.status == "ok")
    worst = (full.loc[both, labels] - tracked.loc[both, labels]).abs().max(axis=1).to_numpy()
    return {"frames": int(both.sum()), "median": round(float(np.median(worst)), 4), "max": round(float(worst.max()), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=48, help="frames of the tracking video")
    args = parser.parse_args()
    started = time.perf_counter()
    faces = held_out_crops()
    with tempfile.TemporaryDirectory() as folder:
        result = {
            "int8_vs_fp32": {"trained course Hourglass": int8_agreement(HOURGLASS, faces)
                             if (HOURGLASS / "best.pt").is_file() else None,
                             "random paper network": int8_agreement(random_paper(Path(folder)), faces),
                             "faces": "astronaut, Grace Hopper, six SynthAU faces (seed 3)"},
            "tracking_vs_full_detection": tracking_agreement(args.frames),
            "machine": machine_description(),
            "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d"),
            "seconds": round(time.perf_counter() - started, 1),
        }
    # what decides the int8 kernels (and the 7-bit weights) is VNNI, not bf16
    kind = "vnni" if "vnni" in cpu_flags() else "no-vnni"
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"agreement-{kind}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
