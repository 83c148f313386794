"""``aulib predict`` and ``aulib convert-checkpoint``: run a model on real faces, and bring in the authors' weights."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from aulib.cli.common import CHECKPOINT, DEVICE, INFERENCE_PRECISIONS, QUIET, add_command, arg
from aulib.inference.backends import BACKENDS
from aulib.inference.convert import ALIGNMENTS, convert_checkpoint, load_model_file
from aulib.predict import STATUSES, predict


def run_predict(args: argparse.Namespace) -> int:
    from aulib.io import atomic_write_csv

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = predict(
        args.inputs, args.model, detector=args.detector, batch_size=args.batch_size, device=args.device,
        precision="int8" if args.fast else args.precision, backend=args.backend, track=args.track or args.fast,
        redetect_every=args.redetect_every,
        max_faces=args.max_faces, overlays_dir=out / "overlays" if args.overlays else None,
        overlay_video_dir=out if args.overlay_video else None, progress=not args.quiet, checkpoint=args.checkpoint,
    )
    atomic_write_csv(out / "predictions.csv", table)
    if args.plot:
        from aulib.course.figures import save_figure
        from aulib.course.photo_figures import intensity_figure
        from aulib.predict.outputs import table_aus

        save_figure(intensity_figure(table, table_aus(table)), out / "intensities.png")
    counts = json.dumps({status: int((table["status"] == status).sum()) for status in STATUSES})
    print(f"wrote {out / 'predictions.csv'}: {len(table)} rows {counts}")
    return 0


def run_convert(args: argparse.Namespace) -> int:
    aus = [int(a) for a in args.aus.split(",")] if args.aus else None
    path = convert_checkpoint(args.src, args.out, preset=args.preset, aus=aus, alignment=args.alignment)
    meta = load_model_file(path)
    print(f"wrote {path}: preset {meta['preset']}, AUs {meta['aus']}, alignment {meta['alignment']}")
    return 0


PREDICT = [
    arg("inputs", nargs="+", help="image files, folders of images, or videos"),
    arg("--model", required=True, help="run folder of `aulib train`, or a model file of `aulib convert-checkpoint`"),
    arg("--out", required=True, help="output folder"),
    arg("--detector", choices=["dlib", "face-alignment"], default="dlib"),
    DEVICE,
    arg("--precision", choices=INFERENCE_PRECISIONS, default="auto",
        help="auto (fp32 on a CPU, bf16 on CUDA), fp32, bf16 (slow where the CPU has no native bf16), or int8 "
             "(a quantised ONNX Runtime graph calibrated on SynthAU: about 3x the fp32 network's speed, "
             "intensities within about 0.05 of fp32)"),
    arg("--backend", choices=BACKENDS, default="auto",
        help="what runs the network (default: onnxruntime for fp32 when installed, else torch)"),
    arg("--batch-size", type=int, help="faces per forward pass (default: 2 on a CPU, 64 on a GPU)"),
    CHECKPOINT,
    arg("--track", action="store_true",
        help="follow faces between full detections in videos and numbered frames (faster; landmarks then differ "
             "from a full detection's by about a pixel; default: detect every frame in full)"),
    arg("--fast", action="store_true", help="the fast path: --precision int8 --track (about 4x the original "
                                            "procedure on 2 CPU cores, intensities within about 0.06 of it)"),
    arg("--redetect-every", type=int, default=30, help="frames between full detections while tracking"),
    arg("--max-faces", type=int, help="at most this many faces per frame (largest first)"),
    arg("--overlays", action="store_true", help="write DIR/overlays/*.png (heatmaps per AU)"),
    arg("--overlay-video", action="store_true", help="write DIR/<video>_overlay.mp4 per video"),
    arg("--plot", action="store_true", help="write DIR/intensities.png (intensity over time)"),
    QUIET,
]
CONVERT = [
    arg("src", type=Path, help="the authors' released checkpoint, or RUN/best.pt of aulib train"),
    arg("--out", required=True, type=Path, help="the standalone model file to write (.pt)"),
    arg("--preset", help="target preset (default: paper, or the run's)"),
    arg("--aus", help="comma-separated AU numbers of the output channels (default: 6,10,12,14,17)"),
    arg("--alignment", choices=ALIGNMENTS, help="alignment the network expects (default: paper)"),
]


def register(commands: argparse._SubParsersAction) -> None:
    add_command(commands, "predict", run_predict, "AU intensities and locations on images, folders of images and "
                "videos", PREDICT, description="Detect faces, align them as in training, run the network and write "
                "DIR/predictions.csv (one row per frame and face; peaks in original image pixels).")
    add_command(commands, "convert-checkpoint", run_convert, "turn the authors' released checkpoint (or an aulib "
                "checkpoint) into a standalone model file", CONVERT, description="Load a checkpoint safely "
                "(weights only), map it onto an aulib preset and write a standalone model file for "
                "`aulib predict --model`.")
