"""``aulib predict`` and ``aulib convert-checkpoint``: run a model on real faces, and bring in the authors' weights."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from aulib.inference.convert import ALIGNMENTS, convert_checkpoint, load_model_file
from aulib.predict import STATUSES, predict


def run_predict(args: argparse.Namespace) -> int:
    from aulib.io import atomic_write_csv

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = predict(
        args.inputs, args.model, detector=args.detector, batch_size=args.batch_size, device=args.device,
        precision=args.precision, track=not args.no_track, redetect_every=args.redetect_every,
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


def add_predict_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``aulib predict`` to the CLI's subcommands.

    Args:
        subparsers: what ``parser.add_subparsers()`` returned.

    Returns:
        The new subcommand's parser (its handler is :func:`run_predict`).
    """
    parser = subparsers.add_parser(
        "predict", help="AU intensities and locations on images, folders of images and videos",
        description="Detect faces, align them as in training, run the network and write DIR/predictions.csv "
        "(one row per frame and face; peaks in original image pixels).",
    )
    parser.add_argument("inputs", nargs="+", help="image files, folders of images, or videos")
    parser.add_argument("--model", required=True,
                        help="run folder of `aulib train`, or a model file of `aulib convert-checkpoint`")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--detector", choices=["dlib", "face-alignment"], default="dlib")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto")
    parser.add_argument("--batch-size", type=int, help="faces per forward pass (default: 2 on a CPU, 64 on a GPU)")
    parser.add_argument("--checkpoint", default="best.pt", help="checkpoint of a run folder")
    parser.add_argument("--no-track", action="store_true", help="detect every video frame in full")
    parser.add_argument("--redetect-every", type=int, default=30, help="frames between full detections")
    parser.add_argument("--max-faces", type=int, help="at most this many faces per frame (largest first)")
    parser.add_argument("--overlays", action="store_true", help="write DIR/overlays/*.png (heatmaps per AU)")
    parser.add_argument("--overlay-video", action="store_true", help="write DIR/<video>_overlay.mp4 per video")
    parser.add_argument("--plot", action="store_true", help="write DIR/intensities.png (intensity over time)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_predict)
    return parser


def run_convert(args: argparse.Namespace) -> int:
    aus = [int(a) for a in args.aus.split(",")] if args.aus else None
    path = convert_checkpoint(args.src, args.out, preset=args.preset, aus=aus, alignment=args.alignment)
    meta = load_model_file(path)
    print(f"wrote {path}: preset {meta['preset']}, AUs {meta['aus']}, alignment {meta['alignment']}")
    return 0


def add_convert_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``aulib convert-checkpoint`` to the CLI's subcommands.

    Args:
        subparsers: what ``parser.add_subparsers()`` returned.

    Returns:
        The new subcommand's parser (its handler is :func:`run_convert`).
    """
    parser = subparsers.add_parser(
        "convert-checkpoint",
        help="turn the authors' AUdetector.pth.tar (or an aulib checkpoint) into a standalone model file",
        description="Load a checkpoint safely (weights only), map it onto an aulib preset and write a standalone "
        "model file for `aulib predict --model`.",
    )
    parser.add_argument("src", type=Path, help="AUdetector.pth.tar, or RUN/best.pt of aulib train")
    parser.add_argument("--out", required=True, type=Path, help="the standalone model file to write (.pt)")
    parser.add_argument("--preset", help="target preset (default: paper, or the run's)")
    parser.add_argument("--aus", help="comma-separated AU numbers of the output channels (default: 6,10,12,14,17)")
    parser.add_argument("--alignment", choices=ALIGNMENTS, help="alignment the network expects (default: paper)")
    parser.set_defaults(handler=run_convert)
    return parser


def register(commands: argparse._SubParsersAction) -> None:
    add_predict_parser(commands)
    add_convert_parser(commands)
