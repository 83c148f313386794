"""How fast the live webcam runs: the per-frame reader, ``aulib webcam``'s window, and notebook 06's browser view.

Three measurements, each on a London person's clip (neutral, then smiling) with the reference Hourglass:

1. **reader**: :class:`aulib.predict.live.LiveAU` alone, frames in memory, for the fast path (int8, tracking) and
   the exact one (fp32, full detection), at 320×240 and 640×480: the sustained frames per second;
2. **window**: ``aulib webcam --source clip.mp4`` in an X window (Xvfb), decoding and drawing included, as printed by
   the command;
3. **notebook**: JupyterLab with notebook 06's live view, Chromium's fake camera playing the clip (a ``.y4m``):
   the frame rate and the median latency from camera to bars that the page itself measures over three seconds,
   read after a warm-up.

Run it alone (two CPU jobs at once ruin each other's timing)::

    python benchmarks/bench_webcam.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "reference" / "hourglass" / "seed0"
FACE = "091"


def reader(sizes: list[tuple[int, int]], frames_each: int) -> list[dict]:
    from aulib.data.london import london_clip
    from aulib.predict.live import LiveAU

    rows = []
    for size in sizes:
        clip = london_clip(FACE, frames_each=frames_each, size=size)
        for name, options in (("fast (int8, tracking)", {"precision": "int8", "track": True}),
                              ("exact (fp32, full detection)", {"precision": "fp32", "track": False})):
            live = LiveAU(MODEL, **options)
            live.process(clip[0])  # warm-up: graph loading, first detection
            started = time.perf_counter()
            live.run(clip)
            rows.append({"what": f"reader, {name}", "size": f"{size[0]}×{size[1]}",
                         "frames/s": len(clip) / (time.perf_counter() - started)})
    return rows


def window(folder: Path, size: tuple[int, int], frames_each: int) -> dict:
    from aulib.data.london import london_clip
    from aulib.predict.outputs import write_video

    video = write_video(folder / f"clip{size[0]}.mp4", london_clip(FACE, frames_each=frames_each, size=size), 30)
    result = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", sys.executable, "-m", "aulib",
                             "webcam", "--model", str(MODEL), "--source", str(video)], capture_output=True, text=True,
                            check=True)
    fps = float(re.search(r"([0-9.]+) frames/s", result.stdout).group(1))
    return {"what": "aulib webcam (window, fast path)", "size": f"{size[0]}×{size[1]}", "frames/s": fps}


def notebook(folder: Path, seconds: float) -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    import nbformat
    from labtools import chromium_page, open_and_run_all, running_lab

    from aulib.data.london import london_clip
    from aulib.predict.outputs import write_video

    root = folder / "root"
    (root / "notebooks").mkdir(parents=True)
    source = nbformat.read(ROOT / "notebooks" / "06_real_faces.ipynb", as_version=4)
    source.cells = [c for c in source.cells if {"parameters", "live"} & set(c.metadata.get("tags", []))]
    nbformat.write(source, root / "notebooks" / "06_real_faces.ipynb")
    shutil.copytree(MODEL, root / MODEL.relative_to(ROOT), ignore=shutil.ignore_patterns("*.onnx"))
    camera = write_video(folder / "camera.y4m", london_clip(FACE, frames_each=60), fps=30)
    flags = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
             f"--use-file-for-fake-video-capture={camera}"]
    with running_lab(folder, root) as lab, chromium_page(flags) as page:
        open_and_run_all(lab, page, "notebooks/06_real_faces.ipynb")
        view = page.locator(".aulib-webcam")
        view.wait_for(state="visible", timeout=180_000)
        view.locator(".aulib-webcam-start").click()
        time.sleep(5)  # warm-up
        samples = []
        for _ in range(int(seconds)):
            time.sleep(1)
            samples.append((float(view.get_attribute("data-fps") or "nan"),
                            float(view.get_attribute("data-latency") or "nan")))
    return {"what": "notebook view (JupyterLab, Chromium fake camera)", "size": "320×240",
            "frames/s": statistics.median(s[0] for s in samples),
            "latency ms": statistics.median(s[1] for s in samples)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20, help="how long the notebook view is watched")
    parser.add_argument("--frames", type=int, default=90, help="frames per expression in the reader's clip")
    args = parser.parse_args()
    from aulib.course.reference import machine_description

    machine = machine_description()
    print(f"{machine['cpu']}, {machine['cores']} cores, CPU flags: {machine['cpu_flags']}, torch {machine['torch']}")
    rows = reader([(320, 240), (640, 480)], args.frames)
    with tempfile.TemporaryDirectory(prefix="aulib-bench-webcam-") as folder:
        if shutil.which("xvfb-run"):
            rows += [window(Path(folder), size, args.frames) for size in ((320, 240), (640, 480))]
        else:
            print("xvfb-run not found: the window is not measured (apt-get install xvfb)")
        rows.append(notebook(Path(folder), args.seconds))
    for row in rows:
        extra = f", median latency {row['latency ms']:.0f} ms" if "latency ms" in row else ""
        print(f"{row['what']:<52} {row['size']:>8}  {row['frames/s']:6.1f} frames/s{extra}")


if __name__ == "__main__":
    os.environ.setdefault("MPLBACKEND", "agg")
    main()
