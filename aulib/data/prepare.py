"""Preparation: from a dataset reader's raw frames to aligned crops in one documented on-disk format.

Every dataset (SynthAU, BP4D, DISFA) goes through the same steps, once, before any training:

1. read the labels table (one row per labelled frame) and preallocate the arrays at that many rows;
2. for each frame the reader yields: take its landmarks (given with the dataset, or found by a face
   detector), compute the alignment matrix (:func:`aulib.align.alignment_matrix`) and warp the image
   into a ``size``×``size`` crop (:func:`aulib.align.warp_face`);
3. write the crop, the landmarks and the matrix in place at the frame's row of ``.npy`` memmaps;
4. finish with ``labels.csv`` (one row per frame, with a status), ``report.csv`` (the frames that
   could not be used, and why) and ``meta.json``.

The format is documented in ``data/README.md`` and read back by :class:`aulib.data.dataset.PreparedDataset`.

A run can be interrupted at any time (Ctrl-C, a crash, a full disk) and resumed by running the same
command again: arrays are written in place by row, and a row is marked done only after its data has
been flushed to disk, so a rerun neither redoes nor duplicates frames.

Example:
    ``aulib prepare synthau --root data/synthau --out data/synthau-prepared`` on the command line, or::

        from aulib.data.prepare import prepare
        summary = prepare("synthau", "data/synthau", "data/synthau-prepared")
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import json
import math
import os
import re
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

import aulib
from aulib.align import alignment_matrix, transform_points, warp_face
from aulib.aus import au_label
from aulib.data.records import KEY_COLUMNS, RawFrame
from aulib.io import atomic_write_csv, atomic_write_json, read_json

FORMAT = "aulib-prepared"
FORMAT_VERSION = 1

DATASETS: tuple[str, ...] = ("synthau", "bp4d", "disfa")
GIVEN = "given"  # use the landmarks that come with the dataset instead of a detector
DETECTORS: tuple[str, ...] = (GIVEN, "dlib", "face-alignment")
# DISFA and SynthAU ship landmarks; BP4D's 2D landmarks are not part of every release, so detect them.
DEFAULT_DETECTORS: dict[str, str] = {"synthau": GIVEN, "disfa": GIVEN, "bp4d": "dlib"}
METHODS: tuple[str, ...] = ("paper", "similarity")

# File names of the prepared format (data/README.md).
META = "meta.json"
IMAGES = "images.npy"
LANDMARKS = "landmarks.npy"
LANDMARKS_ORIGINAL = "landmarks_original.npy"
TRANSFORMS = "transforms.npy"
EXACT_LANDMARKS_ORIGINAL = "exact_landmarks_original.npy"
LABELS = "labels.csv"
REPORT = "report.csv"
# Only while a preparation is unfinished: per-row status codes, and the reasons of unusable frames.
PROGRESS = "progress.npy"
PROGRESS_REPORT = "progress_report.jsonl"
ARRAY_FILES = (IMAGES, LANDMARKS, LANDMARKS_ORIGINAL, TRANSFORMS, EXACT_LANDMARKS_ORIGINAL)
OWNED_FILES = (META, *ARRAY_FILES, LABELS, REPORT, PROGRESS, PROGRESS_REPORT)

# Row status. The code is what progress.npy holds; 0 means "not done yet".
PENDING, OK, UNREADABLE, NO_FACE = 0, 1, 2, 3
STATUS_NAMES = {OK: "ok", UNREADABLE: "unreadable", NO_FACE: "no_face"}

Key = tuple[str, str, int]


class FrameReader(Protocol):
    """What :func:`prepare` needs from a dataset module (``aulib.data.synthau``, ``bp4d``, ``disfa``)."""

    AUS: Sequence[int]
    LANDMARK_LAYOUT: int

    def read_labels(self, root: Path) -> pd.DataFrame: ...

    def iter_frames(
        self, root: Path, labels: pd.DataFrame | None = None, skip: frozenset[Key] = frozenset()
    ) -> Iterator[RawFrame]: ...


class Detector(Protocol):
    """What :func:`prepare` needs from a face/landmark detector (:mod:`aulib.landmarks`)."""

    def detect_largest(self, rgb: np.ndarray) -> Any: ...


# ---------------------------------------------------------------------------------------------------
# Splits
# ---------------------------------------------------------------------------------------------------


def _round_half_up(x: float) -> int:
    # Python's round() rounds halves to even (round(2.5) == 2); proportions read better half-up.
    return math.floor(x + 0.5)


def assign_subject_splits(
    subjects: Iterable[str], test: float = 0.25, val: float = 0.15, seed: int = 0
) -> dict[str, str]:
    """A deterministic subject-level train / val / test split (no subject is ever split across two).

    Subjects are sorted, shuffled with ``seed``, and the first ``round(test · n)`` become ``"test"``.
    Validation subjects are then taken from the remaining (training) subjects: ``round(val · n_rest)``
    of them, so ``val`` is a fraction of the training pool, as in a nested split. At least one subject
    always stays in ``"train"``.

    Args:
        subjects: subject ids (duplicates are ignored).
        test: fraction of all subjects held out for testing, in ``[0, 1)``.
        val: fraction of the non-test subjects used for validation, in ``[0, 1)``.
        seed: the shuffle's seed; the same subjects and seed give the same split.

    Returns:
        ``{subject: "train" | "val" | "test"}``, in sorted subject order.

    Raises:
        ValueError: for fractions outside ``[0, 1)``.

    Example:
        >>> split = assign_subject_splits([f"S{i:02d}" for i in range(20)])
        >>> sorted(list(split.values()).count(name) for name in ("train", "val", "test"))
        [2, 5, 13]
    """
    for name, fraction in (("test", test), ("val", val)):
        if not 0 <= fraction < 1:
            raise ValueError(f"{name} must be a fraction in [0, 1); got {fraction}")
    ordered = sorted({str(s) for s in subjects})
    shuffled = [ordered[i] for i in np.random.default_rng(seed).permutation(len(ordered))]
    n_test = min(_round_half_up(test * len(ordered)), max(len(ordered) - 1, 0))
    n_val = min(_round_half_up(val * (len(ordered) - n_test)), max(len(ordered) - n_test - 1, 0))
    names = {s: "test" for s in shuffled[:n_test]}
    names.update({s: "val" for s in shuffled[n_test : n_test + n_val]})
    return {s: names.get(s, "train") for s in ordered}


def _as_split_map(result: Any, subjects: Sequence[str]) -> dict[str, str]:
    # Split helpers answer in one of three shapes: {subject: name}, one name per subject, or a list of
    # folds (lists of subjects). Normalise all three to {subject: name}.
    if isinstance(result, Mapping):  # {subject: name}, or {subject: fold number} (splits.subject_folds)
        return {str(k): f"fold{v}" if isinstance(v, (int, np.integer)) else str(v) for k, v in result.items()}
    items = list(result)
    if len(items) == len(subjects) and all(isinstance(x, str) for x in items):
        return dict(zip(subjects, items, strict=True))
    if all(isinstance(x, Iterable) and not isinstance(x, str) for x in items):
        return {str(s): f"fold{i}" for i, fold in enumerate(items) for s in fold}
    raise TypeError(f"Cannot read a split assignment from {type(result).__name__}: {str(result)[:200]}")


def default_splits(dataset: str, subjects: Sequence[str]) -> dict[str, str]:
    """The standard split of a dataset: BP4D → FERA 2015 train/dev, DISFA → 3 subject folds, else 25/15/60.

    Args:
        dataset: dataset name.
        subjects: all subjects of the labels table.

    Returns:
        ``{subject: split name}``.
    """
    if dataset in ("bp4d", "disfa"):
        splits_module = importlib.import_module("aulib.data.splits")  # lazily: only these two need it
        if dataset == "bp4d":
            return {s: str(splits_module.fera2015_split(s)) for s in subjects}
        return _as_split_map(splits_module.subject_folds(list(subjects), 3), subjects)
    return assign_subject_splits(subjects)


def resolve_splits(
    dataset: str,
    subjects: Sequence[str],
    splits: Mapping[str, str] | Callable[[str], str] | None = None,
) -> dict[str, str]:
    """Assign every subject to exactly one split.

    Args:
        dataset: dataset name (chooses the default).
        subjects: all subjects.
        splits: ``None`` for :func:`default_splits`, a ``{subject: name}`` mapping, or a callable
            called once per subject that returns its split name.

    Returns:
        ``{subject: split name}`` for exactly ``subjects``, sorted by subject.

    Raises:
        ValueError: when a mapping misses subjects.
    """
    subjects = sorted({str(s) for s in subjects})
    if splits is None:
        mapping = default_splits(dataset, subjects)
    elif isinstance(splits, Mapping):
        mapping = {str(k): str(v) for k, v in splits.items()}
    elif callable(splits):
        mapping = {s: str(splits(s)) for s in subjects}
    else:
        raise TypeError(f"splits must be None, a mapping or a callable; got {type(splits).__name__}")
    missing = [s for s in subjects if s not in mapping]
    if missing:
        raise ValueError(f"The split assignment has no split for subject(s) {missing[:10]}")
    return {s: mapping[s] for s in subjects}


# ---------------------------------------------------------------------------------------------------
# Readers and detectors
# ---------------------------------------------------------------------------------------------------


def resolve_reader(dataset: str | FrameReader) -> tuple[str, FrameReader]:
    """The dataset's name and reader module: ``"synthau"`` → :mod:`aulib.data.synthau` (imported lazily).

    Any object with the reader interface (``AUS``, ``LANDMARK_LAYOUT``, ``read_labels``,
    ``iter_frames``) is accepted too; its name is its ``NAME`` attribute or the last part of its
    ``__name__``.
    """
    if isinstance(dataset, str):
        name = dataset.lower()
        try:
            return name, importlib.import_module(f"aulib.data.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"aulib.data.{name}":
                raise  # the reader exists but one of *its* imports is missing: say that, not this
            raise ValueError(f"Unknown dataset {dataset!r}; known datasets: {', '.join(DATASETS)}") from None
    missing = [a for a in ("AUS", "LANDMARK_LAYOUT", "read_labels", "iter_frames") if not hasattr(dataset, a)]
    if missing:
        raise TypeError(f"{dataset!r} is not a dataset reader: it lacks {missing}")
    name = getattr(dataset, "NAME", None) or str(getattr(dataset, "__name__", type(dataset).__name__))
    return name.rsplit(".", 1)[-1].lower(), dataset


def _detector_name(detector: str | Detector) -> str:
    if isinstance(detector, str):
        return detector.strip().lower().replace("_", "-")  # "face_alignment" is "face-alignment"
    return str(getattr(detector, "name", None) or type(detector).__name__)


def _create_detector(detector: str | Detector) -> Detector | None:
    if _detector_name(detector) == GIVEN:  # also aulib.landmarks' GivenLandmarks object: it detects nothing
        return None
    if isinstance(detector, str):
        # Lazily: dlib and face-alignment are heavy, and "given" needs neither.
        return importlib.import_module("aulib.landmarks").create_detector(detector)
    if not hasattr(detector, "detect_largest"):
        raise TypeError(f"detector must be a name or have a detect_largest(rgb) method; got {detector!r}")
    return detector


# ---------------------------------------------------------------------------------------------------
# Per-frame work
# ---------------------------------------------------------------------------------------------------


@dataclass
class FrameResult:
    """One processed frame, waiting to be committed (its crop may still be warping in a worker thread)."""

    index: int
    key: Key
    source: str
    status: int
    reason: str = ""
    matrix: np.ndarray | None = None
    landmarks: np.ndarray | None = None
    exact_landmarks: np.ndarray | None = None
    crop: Future | None = None  # the warp-and-write job of the crop, for ok frames


def _check_image(frame: RawFrame) -> None:
    image = frame.image
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        described = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"{frame.source or frame.key}: readers must give RGB uint8 (H, W, 3) images; got {described}")


def find_landmarks(
    frame: RawFrame, detector: Detector | None, detector_name: str, layout: int
) -> tuple[np.ndarray | None, str]:
    """The landmarks to align a frame with, or ``(None, reason)`` when there are none.

    Args:
        frame: a readable frame.
        detector: ``None`` to use the landmarks given with the frame, else a detector.
        detector_name: for the reason text.
        layout: the expected number of points.

    Returns:
        ``(points (layout, 2) float64, "")`` or ``(None, reason)``.

    Raises:
        ValueError: when the points have the wrong shape (a reader or detector bug, not a data problem).
    """
    if detector is None:
        if frame.landmarks is None:
            return None, "no landmarks given"
        points = np.asarray(frame.landmarks, dtype=np.float64)
    else:
        face = detector.detect_largest(frame.image)
        if face is None:
            return None, f"no face found by the {detector_name} detector"
        points = np.asarray(face.points, dtype=np.float64)
    if points.shape != (layout, 2):
        raise ValueError(f"{frame.source or frame.key}: landmarks have shape {points.shape}; expected ({layout}, 2)")
    if not np.isfinite(points).all():
        return None, "landmarks contain NaN or inf"
    return points, ""


def process_frame(
    frame: RawFrame,
    index: int,
    *,
    detector: Detector | None,
    detector_name: str,
    layout: int,
    method: str,
    size: int,
    write_crop: Callable[[int, np.ndarray, np.ndarray], Future],
) -> FrameResult:
    """Landmarks and alignment matrix of one frame; warping and storing its crop is handed to ``write_crop``.

    Args:
        frame: the reader's frame.
        index: its row in the arrays.
        detector: ``None`` for the frame's own landmarks, else a detector.
        detector_name: for reasons.
        layout: expected landmarks per face.
        method: alignment method.
        size: crop side.
        write_crop: ``(row, image, matrix) -> Future`` that warps the image into that row.

    Returns:
        The frame's status, reason, matrix and landmarks, and the crop job.
    """
    result = FrameResult(index=index, key=frame.key, source=str(frame.source), status=UNREADABLE)
    if frame.image is None:
        result.reason = frame.error or "the image could not be read"
        return result
    _check_image(frame)
    points, reason = find_landmarks(frame, detector, detector_name, layout)
    if points is None:
        result.status, result.reason = NO_FACE, reason
        return result
    try:
        matrix = alignment_matrix(points, method=method, size=size)
    except ValueError as error:  # collinear / coincident alignment points: a failed tracking, not a bug
        result.status, result.reason = NO_FACE, f"alignment failed: {error}"
        return result
    result.status, result.matrix, result.landmarks = OK, matrix, points
    if frame.exact_landmarks is not None:
        result.exact_landmarks = np.asarray(frame.exact_landmarks, dtype=np.float64)
    result.crop = write_crop(index, frame.image, matrix)
    return result


# ---------------------------------------------------------------------------------------------------
# The on-disk store
# ---------------------------------------------------------------------------------------------------


def _open_array(path: Path, shape: tuple[int, ...], dtype: np.dtype, resume: bool) -> tuple[np.memmap, bool]:
    # Reuse an existing array when resuming (after checking it is the one we expect), else create it.
    # A new .npy memmap is a sparse file of zeros: untouched rows cost no disk space or time.
    if resume and path.exists():
        array = np.lib.format.open_memmap(path, mode="r+")
        if array.shape != shape or array.dtype != dtype:
            raise ValueError(f"{path} holds {array.dtype} {array.shape}; expected {np.dtype(dtype)} {shape}. "
                             "It belongs to another preparation: use another folder or overwrite=True")
        return array, False
    return np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape), True


class PreparedWriter:
    """The arrays of a preparation, written in place by row, with a crash-safe done-state.

    Args:
        out: the output folder (exists).
        n: number of rows (label rows).
        layout: landmarks per face.
        size: crop side.
        resume: reuse the arrays and progress found in ``out``.
    """

    def __init__(self, out: Path, n: int, layout: int, size: int, resume: bool) -> None:
        self.out, self.n, self.layout, self.size = out, n, layout, size
        specs = {
            IMAGES: ((n, size, size, 3), np.uint8),
            LANDMARKS: ((n, layout, 2), np.float32),
            LANDMARKS_ORIGINAL: ((n, layout, 2), np.float32),
            TRANSFORMS: ((n, 2, 3), np.float64),
        }
        self.arrays: dict[str, np.memmap] = {}
        created = False
        for name, (shape, dtype) in specs.items():
            self.arrays[name], new = _open_array(out / name, shape, np.dtype(dtype), resume)
            created |= new
        # If any data array is new, earlier "done" marks point at nothing: start the bookkeeping over.
        fresh = created or not (out / PROGRESS).exists()
        if fresh:
            for name in (PROGRESS_REPORT, EXACT_LANDMARKS_ORIGINAL):
                (out / name).unlink(missing_ok=True)
        self.status, _ = _open_array(out / PROGRESS, (n,), np.dtype(np.int8), resume=not fresh)
        self.exact: np.memmap | None = None
        if (out / EXACT_LANDMARKS_ORIGINAL).exists():
            self.exact = np.lib.format.open_memmap(out / EXACT_LANDMARKS_ORIGINAL, mode="r+")
            if self.exact.shape[0] != n:
                raise ValueError(f"{out / EXACT_LANDMARKS_ORIGINAL} has {self.exact.shape[0]} rows; expected {n}")

    def done_rows(self) -> np.ndarray:
        """Rows already written and marked done."""
        return np.flatnonzero(np.asarray(self.status) != PENDING)

    def _ensure_exact(self, layout: int) -> np.memmap:
        # Created at the first frame that has exact landmarks: readers do not announce them up front.
        if self.exact is None:
            self.exact, _ = _open_array(self.out / EXACT_LANDMARKS_ORIGINAL, (self.n, layout, 2),
                                        np.dtype(np.float32), resume=False)
        return self.exact

    def write_crop(self, index: int, image: np.ndarray, matrix: np.ndarray) -> None:
        """Warp one image into its row of ``images.npy`` (thread-safe: each call owns its row)."""
        self.arrays[IMAGES][index] = warp_face(image, matrix, self.size)

    def commit(self, results: Sequence[FrameResult]) -> None:
        """Finish a chunk of frames, flush the data, *then* mark the rows done and flush that.

        The order is what makes resuming safe: a crash between the two flushes leaves rows that are
        written but not marked, and they are simply redone.
        """
        for result in results:  # wait for the crops (and raise a worker's error here)
            if result.crop is not None:
                result.crop.result()
        arrays = [*self.arrays.values(), *([self.exact] if self.exact is not None else [])]
        for result in results:
            i = result.index
            if result.status != OK:
                for array in arrays:  # rows of unusable frames hold zeros, whatever a crashed run left
                    array[i] = 0
                continue
            self.arrays[LANDMARKS][i] = transform_points(result.landmarks, result.matrix)
            self.arrays[LANDMARKS_ORIGINAL][i] = result.landmarks
            self.arrays[TRANSFORMS][i] = result.matrix
            if result.exact_landmarks is not None:
                self._ensure_exact(len(result.exact_landmarks))[i] = result.exact_landmarks
            elif self.exact is not None:
                self.exact[i] = 0
        for array in [*self.arrays.values(), *([self.exact] if self.exact is not None else [])]:
            array.flush()
        self._append_issues([r for r in results if r.status != OK])
        self.status[[r.index for r in results]] = [r.status for r in results]
        self.status.flush()

    def _append_issues(self, results: Sequence[FrameResult]) -> None:
        if not results:
            return
        with open(self.out / PROGRESS_REPORT, "a", encoding="utf-8") as handle:
            for r in results:
                subject, sequence, frame = r.key
                handle.write(json.dumps({"index": r.index, "subject": subject, "sequence": sequence, "frame": frame,
                                         "source": r.source, "status": STATUS_NAMES[r.status],
                                         "reason": r.reason}) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def issues(self) -> dict[int, dict]:
        """The recorded reasons of unusable frames, by row (the last record of a row wins)."""
        path = self.out / PROGRESS_REPORT
        records: dict[int, dict] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(json.JSONDecodeError):  # a line cut short by a crash
                    record = json.loads(line)
                    records[int(record["index"])] = record
        return records

    def close(self) -> None:
        """Flush and drop the memmaps."""
        for array in [*self.arrays.values(), self.exact, self.status]:
            if array is not None:
                array.flush()
        self.arrays.clear()
        self.exact = None


# ---------------------------------------------------------------------------------------------------
# Settings and the existing folder
# ---------------------------------------------------------------------------------------------------


def labels_digest(labels: pd.DataFrame) -> str:
    """SHA-256 of the labels table's CSV text: a rerun must prepare exactly the same rows."""
    return hashlib.sha256(labels.to_csv(index=False).encode("utf-8")).hexdigest()


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


def _read_existing_meta(out: Path) -> dict | None:
    meta_path = out / META
    if not meta_path.exists():
        leftovers = [name for name in OWNED_FILES if (out / name).exists()]
        if leftovers:
            raise ValueError(f"{out} has {leftovers} but no {META}: not a preparation this version can resume. "
                             "Use another output folder, or overwrite=True (--overwrite).")
        return None
    meta = read_json(meta_path)
    if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{meta_path} is not an {FORMAT} v{FORMAT_VERSION} folder "
                         f"(format {meta.get('format')!r}, version {meta.get('format_version')!r})")
    return meta


def _remove_preparation(out: Path) -> None:
    # Only the files this format owns: --out may point at a folder that holds other things too.
    for name in OWNED_FILES:
        (out / name).unlink(missing_ok=True)


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


# ---------------------------------------------------------------------------------------------------
# prepare()
# ---------------------------------------------------------------------------------------------------


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
                                "detector": _detector_name(detector)}

    if overwrite:
        _remove_preparation(out)
    existing = _read_existing_meta(out)
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
    detector_obj = _create_detector(detector)
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


# ---------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------


def run_prepare(args: argparse.Namespace) -> int:
    """Handler of ``aulib prepare``; returns the exit code."""
    try:
        prepare(args.dataset, args.root, args.out, detector=args.detector, method=args.method, size=args.size,
                chunk=args.chunk, overwrite=args.overwrite, progress=not args.quiet)
    except KeyboardInterrupt:
        print(f"\ninterrupted; run the same command again to resume where it stopped ({args.out})", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, ImportError) as error:  # bad settings, data or a missing backend
        print(f"aulib prepare: error: {error}", file=sys.stderr)
        return 2
    return 0


def add_prepare_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``aulib prepare`` to the CLI's subcommands.

    Args:
        subparsers: what ``parser.add_subparsers()`` returned.

    Returns:
        The new subcommand's parser (its handler is :func:`run_prepare`).
    """
    parser = subparsers.add_parser(
        "prepare",
        help="align a dataset's faces into the prepared format (resumable)",
        description="Align every labelled frame of a dataset and store crops, landmarks, transforms and labels "
        "in the prepared format (data/README.md). Interrupted runs resume when run again.",
    )
    parser.add_argument("dataset", choices=DATASETS, help="which reader to use")
    parser.add_argument("--root", required=True, type=Path, help="the dataset's folder")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--detector", choices=DETECTORS, default=None,
                        help="where landmarks come from (default: given for synthau and disfa, dlib for bp4d)")
    parser.add_argument("--method", choices=METHODS, default="paper", help="alignment method (default: paper)")
    parser.add_argument("--size", type=int, default=256, help="side of the aligned crops (default: 256)")
    parser.add_argument("--chunk", type=int, default=64, help="frames per write (default: 64)")
    parser.add_argument("--overwrite", action="store_true", help="replace a preparation already in --out")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    parser.set_defaults(handler=run_prepare)
    return parser
