"""``aulib benchmark real`` and ``aulib webcam``: a model on real faces, measured on 102 people and shown live."""

from __future__ import annotations

import argparse
import contextlib
import math
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aulib.cli.common import QUIET, add_command, arg


def default_model() -> str:
    """The course's reference Hourglass of seed 0 (``models/reference-3d-dlib`` of the repository: trained on the
    course's default data, SynthAU-3D aligned with dlib's landmarks, as real faces are), wherever the command runs
    from.

    Raises:
        SystemExit: when it is not there (aulib installed from a wheel ships no reference runs): give ``--model``.
    """
    from aulib.course.reference import COURSE_REFERENCE_DIR, reference_model

    path = reference_model(COURSE_REFERENCE_DIR)
    if not (path / "best.pt").is_file():
        raise SystemExit(f"error: no reference model at {path} (a pip install ships none): give --model with a run "
                         "folder of `aulib train` or a model file of `aulib convert-checkpoint`")
    return str(path)


def _models(specs: list[str]) -> dict[str, str]:
    """``NAME=PATH`` or ``PATH`` (named by its folder or file) → name: path."""
    models = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            name, path = Path(spec).name or spec, spec
        if name in models:
            raise SystemExit(f"error: two models are named {name!r}: give NAME=PATH")
        models[name] = path
    return models


def run_benchmark(args: argparse.Namespace) -> int:
    import matplotlib.pyplot as plt

    from aulib.course.figures import save_figure
    from aulib.course.photo_figures import groups_figure, pairs_figure
    from aulib.data.london import london_people
    from aulib.io import atomic_write_csv
    from aulib.predict.benchmark import display_table, group_table, pair_table, read_london, split_summary

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    models = _models(args.model or [f"reference Hourglass, seed 0={default_model()}"])
    split = None if args.split == "all" else args.split
    readings = read_london(models, split=split, detector=args.detector, device=args.device, progress=not args.quiet)
    pairs = pair_table(readings, london_people())
    summary = split_summary(pairs, [args.split], n_boot=args.n_boot)
    groups = group_table(pairs, n_boot=args.n_boot).assign(split=args.split)
    for name, table in (("readings", readings), ("summary", summary), ("groups", groups)):
        atomic_write_csv(out / f"{name}.csv", table, index=False)
    aus = [au for au in ("AU12", "AU06") if f"{au}_neutral" in pairs.columns] or \
        [c.removesuffix("_neutral") for c in pairs.columns if c.endswith("_neutral")][:2]  # a model without them
    save_figure(pairs_figure(pairs, aus=aus), out / "pairs.png")
    save_figure(groups_figure(groups, au=aus[0]), out / "groups.png")
    plt.close("all")
    print(f"London set, {args.split} split ({pairs.face_id.nunique()} people): does the smiling photo read higher?")
    print(display_table(summary, aus).to_string(index=False))
    print(f"wrote {out}/readings.csv, summary.csv, groups.csv, pairs.png and groups.png")
    return 0


CAMERA_RETRIES = 30  # a camera may answer its first reads with no frame: give up after this many in a row


def read_ahead(capture: Any, *, latest_only: bool) -> Iterator[Any]:
    """RGB frames of an OpenCV capture, decoded in a second thread while the main one reads and draws the last.

    OpenCV decodes without the GIL, so decoding overlaps the work on the previous frame. A file gives every frame,
    at most two waiting; a camera gives the newest frame only, dropping older ones, so the view never lags, and a few
    empty reads (a camera warming up) are retried. An error in the decoding thread is raised here, and the capture
    is released only once that thread has stopped.
    """
    import cv2

    slots: queue.Queue = queue.Queue(maxsize=1 if latest_only else 2)
    stop = threading.Event()
    end = object()

    def hand_over(item: Any) -> None:
        while not stop.is_set():
            if latest_only and item is not end:
                with contextlib.suppress(queue.Empty):
                    slots.get_nowait()  # drop the stale frame the reader has not taken yet
            try:
                slots.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def decode() -> None:
        misses = 0
        try:
            while not stop.is_set():
                ok, bgr = capture.read()
                if not ok:
                    misses += 1
                    if not latest_only or misses >= CAMERA_RETRIES:
                        break
                    time.sleep(0.03)
                    continue
                misses = 0
                hand_over(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        except BaseException as error:  # handed to the reader, which raises it
            hand_over(error)
        finally:
            hand_over(end)

    worker = threading.Thread(target=decode, name="aulib-webcam-decode", daemon=True)
    worker.start()
    try:
        while (item := slots.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()  # the capture must not be released while the thread is inside read()


def run_webcam(args: argparse.Namespace) -> int:
    import cv2
    import numpy as np

    from aulib.io import atomic_write_csv
    from aulib.predict.live import LiveAU, bars_panel

    source = int(args.source) if args.source.isdigit() else args.source
    if isinstance(source, str) and not Path(source).is_file():
        print(f"error: --source {source}: no such file (give a video file or a camera index such as 0)")
        return 2
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        print(f"error: could not open {'camera' if isinstance(source, int) else 'video'} {source!r}")
        return 2
    model = args.model or default_model()
    live = LiveAU(model, precision="fp32" if args.exact else "int8", track=not args.exact, device=args.device)
    window = "aulib webcam (q or Esc quits)"
    if not args.no_window:
        cv2.namedWindow(window, cv2.WINDOW_AUTOSIZE)
    rows, started, count = [], time.perf_counter(), 0
    frames = read_ahead(capture, latest_only=isinstance(source, int))
    try:
        for rgb in frames:
            if args.max_frames is not None and count >= args.max_frames:
                break
            reading = live.process(rgb)
            count += 1
            if args.record:  # readings only, never the frames
                rows.append({"frame": reading.index, "face": reading.face, "seconds": reading.seconds,
                             **({label: float(v) for label, v in zip(live.labels, reading.intensities, strict=True)}
                                if reading.face else {})})
            if not args.no_window:
                view = np.concatenate([reading.overlay, bars_panel(reading, live.labels, live.colours,
                                                                   fps=live.fps)], axis=1)
                cv2.imshow(window, cv2.cvtColor(view, cv2.COLOR_RGB2BGR))
                if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                    break
    finally:
        frames.close()
        capture.release()
        if not args.no_window:
            cv2.destroyAllWindows()
    elapsed = time.perf_counter() - started
    fps = count / elapsed if elapsed > 0 else math.nan
    print(f"{count} frames in {elapsed:.1f} s: {fps:.1f} frames/s (model {model}, "
          f"{'fp32, full detection' if args.exact else 'int8, tracking'})")
    if args.record:
        import pandas as pd

        atomic_write_csv(args.record, pd.DataFrame(rows, columns=["frame", "face", "seconds", *live.labels]),
                         index=False)
        print(f"wrote {args.record} (readings only: frames are never stored)")
    return 0


BENCHMARK = [
    arg("suite", choices=["real"], help="real: the London set's 102 people, neutral against smiling"),
    arg("--model", action="append", default=None, metavar="[NAME=]PATH",
        help="a run folder or model file (repeat for several; default: the course's reference Hourglass, seed 0, "
             "models/reference-3d-dlib)"),
    arg("--out", required=True, help="output folder"),
    arg("--split", choices=["test", "dev", "all"], default="test",
        help="test (68 people: the numbers to report), dev (34: for decisions), or all"),
    arg("--detector", choices=["dlib", "face-alignment"], default="dlib"),
    arg("--n-boot", type=int, default=2000, help="bootstrap resamples of people"),
    arg("--device", default="cpu", help="cpu (the default: fp32, the same readings on every CPU) or cuda"),
    QUIET,
]
WEBCAM = [
    arg("--model", help="run folder or model file (default: the course's reference Hourglass, "
                        "models/reference-3d-dlib)"),
    arg("--source", default="0", help="a camera index (0) or a video file"),
    arg("--exact", action="store_true", help="fp32 with full detection on every frame instead of the fast path "
                                             "(int8 with tracking)"),
    arg("--max-frames", type=int, help="stop after this many frames"),
    arg("--record", help="write each frame's readings to this CSV (never the frames)"),
    arg("--no-window", action="store_true", help="no window: measure and record only"),
    arg("--device", default="cpu", help="cpu (the default: the int8 fast path runs there) or cuda (with --exact)"),
]


def register(commands: argparse._SubParsersAction) -> None:
    add_command(commands, "benchmark", run_benchmark, "score a model on real faces (the London set)",
                            BENCHMARK, description="Read every person's neutral and smiling photo with the real "
                            "pipeline and report, per AU, how often the smile reads higher (with bootstrap intervals "
                            "over people), the mean readings, and the same by gender, ethnicity and age band.")
    add_command(commands, "webcam", run_webcam, "read AUs live from a camera or a video in an OpenCV window", WEBCAM,
                description="Detect, track and align the face of each frame, run the network and show the frame "
                            "with each AU's map and bars, as the authors' demo does. Frames are never stored.")
