"""The prepared format's files and its writer: aligned crops, landmarks and transforms as row-addressed arrays.

The format (``aulib-prepared``, version 1) is documented in ``data/README.md`` and read by
:class:`aulib.data.dataset.PreparedDataset`. :class:`PreparedWriter` preallocates the arrays at one row per labelled
frame and writes each frame in place at its row; a row is marked done in ``progress.npy`` only after its data has
been flushed, which is what lets :func:`aulib.data.prepare.prepare` resume an interrupted run without redoing or
duplicating frames.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from aulib.io import read_json
from aulib.method.align import transform_points, warp_face

FORMAT = "aulib-prepared"
FORMAT_VERSION = 1

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


def labels_digest(labels: pd.DataFrame) -> str:
    """SHA-256 of the labels table's CSV text: a rerun must prepare exactly the same rows."""
    return hashlib.sha256(labels.to_csv(index=False).encode("utf-8")).hexdigest()


def read_existing_meta(out: Path) -> dict | None:
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


def remove_preparation(out: Path) -> None:
    # Only the files this format owns: --out may point at a folder that holds other things too.
    for name in OWNED_FILES:
        (out / name).unlink(missing_ok=True)
