"""Preparation: from a dataset reader's raw frames to aligned crops in one documented on-disk format.

Every dataset (SynthAU, BP4D, DISFA) goes through the same steps, once, before any training:

1. read the labels table (one row per labelled frame) and preallocate the arrays at that many rows;
2. for each frame the reader yields: take its landmarks (given with the dataset, or found by a face
   detector), compute the alignment matrix (:func:`aulib.method.align.alignment_matrix`) and warp the image
   into a ``size``×``size`` crop (:func:`aulib.method.align.warp_face`);
3. write the crop, the landmarks and the matrix in place at the frame's row of ``.npy`` memmaps;
4. finish with ``labels.csv`` (one row per frame, with a status), ``report.csv`` (the frames that
   could not be used, and why) and ``meta.json``.

The format is documented in ``data/README.md``, written by :class:`aulib.data.prepared.PreparedWriter` and read back by
:class:`aulib.data.dataset.PreparedDataset`; this module is the run: frames, landmarks, resumption and reports.

A run can be interrupted at any time (Ctrl-C, a crash, a full disk) and resumed by running the same
command again: arrays are written in place by row, and a row is marked done only after its data has
been flushed to disk, so a rerun neither redoes nor duplicates frames.

Example:
    ``aulib prepare synthau --root data/synthau --out data/synthau-prepared`` on the command line, or::

        from aulib.data.prepare import prepare
        summary = prepare("synthau", "data/synthau", "data/synthau-prepared")
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

import aulib
from aulib.data.frames import (
    DEFAULT_DETECTORS,
    GIVEN,
    METHODS,
    Detector,
    FrameReader,
    describe_detector,
    process_frame,
    resolve_detector,
    resolve_reader,
)
from aulib.data.prepared import (
    EXACT_LANDMARKS_ORIGINAL,
    FORMAT,
    FORMAT_VERSION,
    LABELS,
    META,
    NO_FACE,
    OK,
    PENDING,
    PROGRESS,
    PROGRESS_REPORT,
    REPORT,
    STATUS_NAMES,
    UNREADABLE,
    FrameResult,
    Key,
    PreparedWriter,
    labels_digest,
    read_existing_meta,
    remove_preparation,
)
from aulib.data.records import KEY_COLUMNS, RawFrame
from aulib.data.splits import resolve_splits
from aulib.io import atomic_write_csv, atomic_write_json
from aulib.method.aus import au_label

# The settings a resumed or repeated run must share with the folder; the first four are known before
# reading any labels, so a finished folder answers at once.
QUICK_SETTINGS = ("dataset", "alignment", "detector")


FULL_SETTINGS = (*QUICK_SETTINGS, "aus", "landmark_layout", "n_frames", "labels_sha256")


def _check_same_settings(existing: dict, wanted: dict, keys: Sequence[str], out: Path) -> None:
    differ = [f"{k}: folder has {existing.get(k)!r}, this run asks {wanted[k]!r}"
              for k in keys if existing.get(k) != wanted[k]]
    if differ:
        raise ValueError(f"{out} holds a different preparation; refusing to mix them ("
                         + "; ".join(differ) + "). Use another output folder, or overwrite=True (--overwrite) "
                         "to replace it.")


@contextlib.contextmanager
def _torch_threads(count: int | None) -> Iterator[None]:
    previous = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _label_aus(labels: pd.DataFrame, reader: FrameReader, name: str) -> list[int]:
    # The table's own AU columns, in its order: a SynthAU set generated with the DISFA AU set labels
    # other AUs than its module's default AUS. Readers without AU-named columns fall back to AUS.
    found = [int(c[2:]) for c in labels.columns if re.fullmatch(r"AU\d+", str(c))]
    aus = found or [int(a) for a in reader.AUS]
    if not aus:
        raise ValueError(f"The {name} labels table has no AU columns (AU06, ...)")
    return aus


def _validate_labels(labels: pd.DataFrame, au_columns: list[str], name: str) -> pd.DataFrame:
    missing = [c for c in (*KEY_COLUMNS, *au_columns) if c not in labels.columns]
    if missing:
        raise ValueError(f"The {name} labels table lacks columns {missing}")
    if labels.empty:
        raise ValueError(f"The {name} reader found no labelled frames; check --root")
    table = pd.DataFrame({"subject": labels["subject"].astype(str).to_numpy(),
                          "sequence": labels["sequence"].astype(str).to_numpy(),
                          "frame": labels["frame"].astype(np.int64).to_numpy()})
    for column in au_columns:
        table[column] = labels[column].astype(np.float64).to_numpy()
    duplicated = table.duplicated(list(KEY_COLUMNS))
    if duplicated.any():
        first = table.loc[duplicated, list(KEY_COLUMNS)].iloc[0].tolist()
        raise ValueError(f"The {name} labels table has {int(duplicated.sum())} duplicated frame(s), e.g. {first}")
    return table


def _check_frame_labels(frame: RawFrame, expected: np.ndarray) -> None:
    # The reader hands labels twice (the table and each frame); a mismatch means a reader bug.
    given = np.asarray(frame.labels, dtype=np.float64)
    if given.shape != expected.shape or not np.allclose(given, expected, equal_nan=True):
        raise ValueError(f"{frame.source or frame.key}: the frame's labels {given.tolist()} differ from the "
                         f"labels table's {expected.tolist()}")


def _summary(meta: dict, out: Path, processed: int, seconds: float, already_complete: bool) -> dict:
    return {
        "out": str(out),
        "dataset": meta["dataset"],
        "n_frames": meta["n_frames"],
        "n_ok": meta["n_ok"],
        "n_unreadable": meta["n_unreadable"],
        "n_no_face": meta["n_no_face"],
        "n_processed": processed,
        "seconds": seconds,
        "frames_per_second": processed / seconds if seconds > 0 else float("nan"),
        "already_complete": already_complete,
    }


def _print_summary(summary: dict) -> None:
    if summary["already_complete"]:
        print(f"{summary['out']} already holds a complete {summary['dataset']} preparation; nothing to do "
              "(overwrite=True / --overwrite redoes it).")
    print(f"{summary['dataset']}: {summary['n_frames']} frames, {summary['n_ok']} ok, {summary['n_unreadable']} "
          f"unreadable, {summary['n_no_face']} without a face/landmarks"
          + (f" (see {Path(summary['out']) / REPORT})" if summary["n_ok"] < summary["n_frames"] else ""))
    if not summary["already_complete"]:
        print(f"processed {summary['n_processed']} frames in {summary['seconds']:.1f} s "
              f"({summary['frames_per_second']:.1f} frames/s)")


def prepare(
    dataset: str | FrameReader,
    root: str | os.PathLike,
    out: str | os.PathLike,
    *,
    detector: str | Detector | None = None,
    method: str = "paper",
    size: int = 256,
    chunk: int = 64,
    overwrite: bool = False,
    progress: bool = True,
    splits: Mapping[str, str] | Callable[[str], str] | None = None,
    workers: int | None = None,
) -> dict:
    """Align every labelled frame of a dataset and store the result in the prepared format.

    Args:
        dataset: ``"synthau"``, ``"bp4d"``, ``"disfa"`` (the reader ``aulib.data.<name>``), or a reader
            object with the same interface.
        root: the dataset's folder, handed to the reader.
        out: the output folder (created if needed).
        detector: ``"given"`` (the dataset's own landmarks), ``"dlib"``, ``"face-alignment"``, or an
            object with ``detect_largest(rgb) -> face | None``. ``None``: ``"dlib"`` for BP4D, else given.
        method: alignment method, ``"paper"`` (3-point affine) or ``"similarity"``.
        size: side of the aligned crops in pixels.
        chunk: frames per write; progress survives an interruption at chunk granularity or better.
        overwrite: replace a preparation already in ``out`` (finished or not, any settings).
        progress: show a progress bar and print a summary.
        splits: ``{subject: split}`` or ``subject -> split``; ``None`` for the dataset's standard split.
        workers: threads that warp crops (default: the number of CPUs, at most 8).

    The AUs are the labels table's ``AU..`` columns, in its order (the reader's ``AUS`` when it has none).

    Returns:
        A summary: ``out``, ``dataset``, ``n_frames``, ``n_ok``, ``n_unreadable``, ``n_no_face``,
        ``n_processed`` (frames done by this call), ``seconds``, ``frames_per_second`` and
        ``already_complete`` (``True`` when ``out`` was finished before and nothing was done).

    Raises:
        ValueError: for unknown settings, a folder that holds a preparation with other settings, or a
            reader that yields frames outside its labels table. Readers raise ``ValueError`` (naming
            file and line) for malformed labels; those pass through.
    """
    started = time.perf_counter()
    name, reader = resolve_reader(dataset)
    detector = detector if detector is not None else DEFAULT_DETECTORS.get(name, GIVEN)
    if method not in METHODS:
        raise ValueError(f"Unknown alignment method {method!r}; use one of {METHODS}")
    if int(size) != size or size < 8:
        raise ValueError(f"size must be an integer >= 8; got {size}")
    if int(chunk) != chunk or chunk < 1:
        raise ValueError(f"chunk must be a positive integer; got {chunk}")
    size, chunk = int(size), int(chunk)
    out = Path(out)
    settings: dict[str, Any] = {"dataset": name, "alignment": {"method": method, "size": size},
                                "detector": describe_detector(detector)}

    if overwrite:
        remove_preparation(out)
    existing = read_existing_meta(out)
    if existing is not None:
        _check_same_settings(existing, settings, QUICK_SETTINGS, out)
        if existing.get("complete"):
            summary = _summary(existing, out, 0, time.perf_counter() - started, already_complete=True)
            if progress:
                _print_summary(summary)
            return summary

    raw_labels = reader.read_labels(Path(root))
    aus = _label_aus(raw_labels, reader, name)
    au_columns = [au_label(a) for a in aus]
    labels = _validate_labels(raw_labels, au_columns, name)
    layout = int(reader.LANDMARK_LAYOUT) if settings["detector"] == GIVEN else 68  # detectors give iBUG-68
    settings.update(aus=aus, landmark_layout=layout, n_frames=len(labels), labels_sha256=labels_digest(labels))
    if existing is not None:
        _check_same_settings(existing, settings, FULL_SETTINGS, out)

    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "complete": False,
        "dataset": name, "aus": aus, "au_labels": au_columns, "landmark_layout": layout,
        "alignment": settings["alignment"], "detector": settings["detector"], "source": str(root),
        "aulib_version": aulib.__version__, "n_frames": len(labels), "n_ok": None, "n_unreadable": None,
        "n_no_face": None, "exact_landmarks": False, "labels_sha256": settings["labels_sha256"],
        "splits": resolve_splits(name, labels["subject"].unique().tolist(), splits),
        "created": existing["created"] if existing else _now(),
    }
    # Before anything is written: a missing dlib or model file must not leave a folder that then
    # refuses the rerun with another detector.
    detector_obj = resolve_detector(detector)
    out.mkdir(parents=True, exist_ok=True)
    # Written first, with "complete": false, so that a rerun with other settings is refused at once.
    atomic_write_json(out / META, meta)

    writer = PreparedWriter(out, len(labels), layout, size, resume=existing is not None)
    try:
        processed = _run_frames(reader, Path(root), labels, au_columns, writer, name=name, detector=detector_obj,
                                detector_name=settings["detector"], layout=layout, method=method, size=size,
                                chunk=chunk, progress=progress, workers=workers)
        meta = _finish(out, labels, au_columns, writer, meta)
    finally:
        writer.close()
    for leftover in (PROGRESS, PROGRESS_REPORT):  # their content now lives in labels.csv / report.csv
        (out / leftover).unlink(missing_ok=True)
    summary = _summary(meta, out, processed, time.perf_counter() - started, already_complete=False)
    if progress:
        _print_summary(summary)
    return summary


def _run_frames(
    reader: FrameReader,
    root: Path,
    labels: pd.DataFrame,
    au_columns: list[str],
    writer: PreparedWriter,
    *,
    name: str,
    detector: Detector | None,
    detector_name: str,
    layout: int,
    method: str,
    size: int,
    chunk: int,
    progress: bool,
    workers: int | None,
) -> int:
    """Process every frame the reader yields that is not done yet; returns how many were processed."""
    keys: list[Key] = list(zip(labels["subject"], labels["sequence"], labels["frame"].astype(int), strict=True))
    row_of = {key: i for i, key in enumerate(keys)}
    label_values = labels[au_columns].to_numpy(np.float64)
    taken = np.zeros(len(keys), dtype=bool)  # done before, or already seen in this run
    done = writer.done_rows()
    taken[done] = True
    skip = frozenset(keys[i] for i in done)
    remaining = len(keys) - len(done)
    if remaining == 0:
        return 0

    workers = workers or min(os.cpu_count() or 1, 8)
    # With the dataset's own landmarks, torch only warps: one thread per warp and several warps at
    # once beat one warp on all cores (measured: benchmarks/bench_prepare.py). A torch-based detector
    # keeps torch's thread setting.
    threads = 1 if detector is None else None

    # Two chunks in flight: while chunk k is flushed and marked, the pool warps chunk k + 1.
    chunks: deque[list[FrameResult]] = deque([[]])
    processed = 0

    def commit_oldest() -> None:
        nonlocal processed
        batch = chunks.popleft()  # off the queue first: if committing fails, it is not retried
        writer.commit(batch)
        processed += len(batch)
        bar.update(len(batch))

    frames = reader.iter_frames(root, labels=labels, skip=skip)
    with (
        _torch_threads(threads),
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="aulib-warp") as pool,
        tqdm(total=remaining, disable=not progress, unit="frame", desc=f"prepare {name}", file=sys.stderr) as bar,
    ):
        # torch's grid_sample releases the GIL, so warps in worker threads overlap the reading.
        def write_crop(index: int, image: np.ndarray, matrix: np.ndarray) -> Future:
            return pool.submit(writer.write_crop, index, image, matrix)

        try:
            for frame in frames:
                index = row_of.get(frame.key)
                if index is None:
                    raise ValueError(f"{frame.source or frame.key}: the reader yielded frame {frame.key}, "
                                     "which is not in its labels table")
                if taken[index]:
                    continue  # the reader ignored skip, or repeated a frame: never do a row twice
                taken[index] = True
                _check_frame_labels(frame, label_values[index])
                chunks[-1].append(process_frame(frame, index, detector=detector, detector_name=detector_name,
                                                layout=layout, method=method, size=size, write_crop=write_crop))
                if len(chunks[-1]) >= chunk:
                    chunks.append([])
                    if len(chunks) > 2:
                        commit_oldest()
        finally:
            # Interrupted or not, the frames already read are kept: a rerun then skips exactly the
            # frames this run has seen.
            while chunks:
                if chunks[0]:
                    commit_oldest()
                else:
                    chunks.popleft()
            close = getattr(frames, "close", None)
            if close is not None:
                close()
    return processed


REPORT_COLUMNS = ["index", "subject", "sequence", "frame", "source", "status", "reason"]


def _report_table(labels: pd.DataFrame, status: np.ndarray, issues: dict[int, dict]) -> pd.DataFrame:
    rows = []
    for i in np.flatnonzero(status != OK):
        # Reasons are written before rows are marked; one is missing only if its file was removed.
        fallback = {"index": int(i), "subject": labels.at[i, "subject"], "sequence": labels.at[i, "sequence"],
                    "frame": int(labels.at[i, "frame"]), "source": "", "reason": "(reason lost)"}
        rows.append(issues.get(int(i), fallback) | {"status": STATUS_NAMES[int(status[i])]})
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)


def _finish(out: Path, labels: pd.DataFrame, au_columns: list[str], writer: PreparedWriter, meta: dict) -> dict:
    """Mark rows the reader never yielded, then write labels.csv, report.csv and the final meta.json."""
    never = np.flatnonzero(np.asarray(writer.status) == PENDING)
    if len(never):
        writer.commit([FrameResult(index=int(i), key=(labels.at[i, "subject"], labels.at[i, "sequence"],
                                                      int(labels.at[i, "frame"])),
                                   source="", status=UNREADABLE, reason="the reader yielded no frame for this row")
                       for i in never])
    status = np.asarray(writer.status).copy()
    table = labels[list(KEY_COLUMNS)].copy()
    table.insert(0, "index", np.arange(len(labels)))
    table["status"] = [STATUS_NAMES[int(code)] for code in status]
    for column in au_columns:
        table[column] = labels[column].to_numpy()
    atomic_write_csv(out / LABELS, table)

    atomic_write_csv(out / REPORT, _report_table(labels, status, writer.issues()))

    counts = {code: int((status == code).sum()) for code in STATUS_NAMES}
    meta = meta | {"complete": True, "n_ok": counts[OK], "n_unreadable": counts[UNREADABLE],
                   "n_no_face": counts[NO_FACE], "exact_landmarks": (out / EXACT_LANDMARKS_ORIGINAL).exists(),
                   "completed": _now()}
    # Last: a complete meta.json promises that everything else is in place.
    atomic_write_json(out / META, meta)
    return meta
