"""Reader for BP4D as released for the FERA2015 intensity sub-challenge (AUs 6, 10, 12, 14, 17).

BP4D is licensed: aulib never ships or downloads it. Point :func:`read_labels` and
:func:`iter_frames` at your own copy, laid out as below (the tests build tiny fakes of it)::

    ROOT/
    ├── AU Intensity Codes3.0/
    │   ├── AU06/
    │   │   ├── F001_T1_AU06.csv      rows "frame,intensity", no header
    │   │   └── ...
    │   ├── AU10/  AU12/  AU14/  AU17/
    └── Sequences/
        └── F001/
            └── T1/
                ├── 1.jpg             frame number as the file name (zero-padding accepted)
                └── ...

Intensities are FACS codes 0 (absent) to 5 (E); 9 means "not codeable" and becomes NaN. The five AU
files of a task are joined **on the frame number**, never on the row position, because the files of
one task need not list the same frames in the same order. A frame that appears in some AU files but
not in others gets NaN for the AUs whose files lack it, and a subject/task that has a file for one AU
only still appears (NaN for the other four): downstream losses and metrics mask NaN labels.

BP4D gives no landmarks: :data:`LANDMARK_LAYOUT` is 68 because they are detected during preparation.

:func:`read_intensity_codes` and :func:`layout_error` are shared with :mod:`aulib.data.disfa`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from aulib.data.records import KEY_COLUMNS, RawFrame
from aulib.method.aus import BP4D_AUS, au_label

AUS: tuple[int, ...] = BP4D_AUS
LANDMARK_LAYOUT = 68  # detected with the iBUG-68 detector; BP4D ships no landmarks

LABELS_DIR = "AU Intensity Codes3.0"
FRAMES_DIR = "Sequences"
# Other names the same folders are known under in copies of the FERA2015 release (OpenFace's scripts
# use "BP4D-training" for the images). The canonical name is tried first.
LABELS_DIR_ALIASES: tuple[str, ...] = (LABELS_DIR, "AU-Intensity-Codes3.0")
FRAMES_DIR_ALIASES: tuple[str, ...] = (FRAMES_DIR, "BP4D-training")

NOT_CODEABLE = 9  # BP4D's code for frames the coders could not rate
VALID_CODES = frozenset(range(6))  # FACS intensities are integers 0..5

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")

# F001_T1_AU06.csv: subject and task contain no underscore in BP4D.
_LABEL_FILE = re.compile(r"^(?P<subject>[^_]+)_(?P<sequence>[^_]+)_AU(?P<au>\d+)\.csv$", re.IGNORECASE)

LAYOUT_TREE = f"""\
ROOT/
├── {LABELS_DIR}/
│   ├── AU06/F001_T1_AU06.csv   (rows "frame,intensity", no header)
│   ├── AU10/  AU12/  AU14/  AU17/   (same pattern)
└── {FRAMES_DIR}/
    └── F001/T1/1234.jpg        (one image per frame, named by frame number)"""


def layout_error(dataset: str, root: Path, missing: Path, tree: str) -> FileNotFoundError:
    """Build the error raised when a dataset folder does not have the expected layout.

    Args:
        dataset: the dataset's name, for the message.
        root: the folder the user gave.
        missing: the first expected path that does not exist.
        tree: a drawing of the expected layout.

    Returns:
        A :class:`FileNotFoundError` whose message names the missing part and draws the layout.
    """
    try:
        shown = missing.relative_to(root)
        where = f"ROOT/{shown.as_posix()}"
    except ValueError:
        where = str(missing)
    return FileNotFoundError(
        f"{dataset} layout not found under ROOT={root}: missing {where}\n"
        f"Expected layout (datasets are licensed: get your own copy and arrange it like this):\n{tree}"
    )


def _find_dir(root: Path, names: Sequence[str]) -> Path | None:
    """The first of ``root/name`` that is a folder, or None."""
    for name in names:
        if (root / name).is_dir():
            return root / name
    return None


def check_layout(root: str | Path) -> tuple[Path, Path]:
    """Check that ``root`` looks like a BP4D / FERA2015 copy.

    Args:
        root: the dataset folder.

    Returns:
        ``(labels_dir, frames_dir)``: the intensity-codes folder and the image folder.

    Raises:
        FileNotFoundError: naming the first missing part and drawing the expected layout.
    """
    root = Path(root)
    if not root.is_dir():
        raise layout_error("BP4D", root, root, LAYOUT_TREE)
    labels_dir = _find_dir(root, LABELS_DIR_ALIASES)
    if labels_dir is None:
        raise layout_error("BP4D", root, root / LABELS_DIR, LAYOUT_TREE)
    for au in AUS:
        if not (labels_dir / au_label(au)).is_dir():
            raise layout_error("BP4D", root, labels_dir / au_label(au), LAYOUT_TREE)
    frames_dir = _find_dir(root, FRAMES_DIR_ALIASES)
    if frames_dir is None:
        raise layout_error("BP4D", root, root / FRAMES_DIR, LAYOUT_TREE)
    return labels_dir, frames_dir


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def read_intensity_codes(path: Path, not_codeable: int | None = NOT_CODEABLE) -> tuple[np.ndarray, np.ndarray]:
    """Read one ``frame,intensity`` label file and validate every row.

    Blank lines are ignored, and so is a first line whose fields are all non-numeric (a header
    such as ``frame,intensity``; the real files have none, but edited copies sometimes do).

    Args:
        path: the CSV / TXT file.
        not_codeable: the code that means "not codeable" (becomes NaN), or None if the dataset
            has none (DISFA).

    Returns:
        ``(frames, intensities)``: int64 frame numbers and float64 intensities (NaN where not
        codeable), in file order.

    Raises:
        ValueError: naming the file and line for a malformed row, a frame number that is not an
            integer or repeats, or an intensity that is not an integer in 0..5 (or the
            not-codeable code).
    """
    frames: list[int] = []
    values: list[float] = []
    seen: dict[int, int] = {}
    allowed = "0..5" + (f" or {not_codeable} (not codeable)" if not_codeable is not None else "")
    with open(path, encoding="utf-8-sig") as handle:  # utf-8-sig: tolerate a BOM from spreadsheet tools
        for number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text:
                continue
            fields = [f.strip() for f in text.split(",")]
            if number == 1 and not any(_is_number(f) for f in fields):
                continue  # a header line
            if len(fields) != 2:
                raise ValueError(f"{path}, line {number}: expected 'frame,intensity', got {text!r}")
            try:
                frame = int(fields[0])
            except ValueError:
                raise ValueError(f"{path}, line {number}: frame number {fields[0]!r} is not an integer") from None
            try:
                code = float(fields[1])
            except ValueError:
                raise ValueError(f"{path}, line {number}: intensity {fields[1]!r} is not a number") from None
            # FACS codes are integers: 2.5 is as invalid as 7 or -1.
            if not (math.isfinite(code) and code.is_integer()) or not (
                int(code) in VALID_CODES or (not_codeable is not None and int(code) == not_codeable)
            ):
                raise ValueError(f"{path}, line {number}: intensity {fields[1]!r} is not {allowed}")
            if frame in seen:
                raise ValueError(f"{path}, line {number}: frame {frame} repeats line {seen[frame]}")
            seen[frame] = number
            frames.append(frame)
            values.append(math.nan if not_codeable is not None and int(code) == not_codeable else code)
    return np.asarray(frames, dtype=np.int64), np.asarray(values, dtype=np.float64)


def join_on_frame(pieces: dict[int, list[pd.DataFrame]], aus: Sequence[int]) -> pd.DataFrame:
    """Outer-join per-AU label pieces on ``(subject, sequence, frame)``.

    Args:
        pieces: for each AU, frames with columns ``subject, sequence, frame, value``.
        aus: the AU order of the output columns.

    Returns:
        The labels table: key columns then one float column per AU (NaN where an AU's files lack
        the frame), sorted by key, with a fresh index.
    """
    columns = []
    for au in aus:
        if pieces.get(au):
            table = pd.concat(pieces[au], ignore_index=True)
        else:
            table = pd.DataFrame({"subject": [], "sequence": [], "frame": [], "value": []})
        series = table.set_index(list(KEY_COLUMNS))["value"].astype(np.float64).rename(au_label(au))
        columns.append(series)
    # Aligning on the index is the join on the frame number; "outer" keeps frames any file has.
    joined = pd.concat(columns, axis=1, join="outer").sort_index()
    joined.index.names = list(KEY_COLUMNS)
    joined = joined.reset_index()
    joined["subject"] = joined["subject"].astype(str)
    joined["sequence"] = joined["sequence"].astype(str)
    joined["frame"] = joined["frame"].astype(np.int64)
    return joined


def read_labels(root: str | Path) -> pd.DataFrame:
    """Read the FERA2015 intensity codes of every subject and task.

    Args:
        root: the BP4D folder (see the module docstring for the layout).

    Returns:
        Columns ``subject, sequence, frame, AU06, AU10, AU12, AU14, AU17``; sorted by subject,
        sequence, frame; int frame numbers; NaN for "not codeable" (9) and for frames missing from
        an AU's file.

    Raises:
        FileNotFoundError: if the layout is wrong (the message draws the expected one).
        ValueError: for an invalid row (the message names the file and line), or a ``.csv`` whose
            name does not follow ``F001_T1_AU06.csv`` or names another AU than its folder.
    """
    labels_dir, _ = check_layout(root)
    pieces: dict[int, list[pd.DataFrame]] = {au: [] for au in AUS}
    for au in AUS:
        for path in sorted((labels_dir / au_label(au)).iterdir()):
            if path.suffix.lower() != ".csv" or not path.is_file():
                continue  # e.g. Thumbs.db, .DS_Store
            match = _LABEL_FILE.match(path.name)
            if match is None:
                raise ValueError(f"{path}: expected a name like F001_T1_{au_label(au)}.csv")
            if int(match["au"]) != au:
                raise ValueError(f"{path}: the file names AU{match['au']} but sits in folder {au_label(au)}")
            frames, values = read_intensity_codes(path)
            pieces[au].append(
                pd.DataFrame(
                    {"subject": match["subject"], "sequence": match["sequence"], "frame": frames, "value": values}
                )
            )
    return join_on_frame(pieces, AUS)


def index_images(folder: Path) -> dict[int, Path]:
    """Map frame numbers to image files in one task folder, by the integer value of the stem.

    ``1234.jpg`` and ``01234.jpg`` both map to frame 1234. If both exist, the unpadded name wins
    (it is the documented BP4D naming).

    Args:
        folder: ``Sequences/<subject>/<task>``.

    Returns:
        ``{frame: path}``; empty if the folder does not exist.
    """
    index: dict[int, Path] = {}
    if not folder.is_dir():
        return index
    for path in folder.iterdir():
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.stem.isdigit():
            continue
        frame = int(path.stem)
        if frame not in index or path.stem == str(frame):
            index[frame] = path
    return index


def read_frame_image(path: Path) -> np.ndarray | None:
    """Decode an image file to RGB uint8 ``(H, W, 3)``, or None if it cannot be decoded."""
    # np.fromfile + imdecode rather than imread: imread fails on non-ASCII paths on some platforms.
    data = np.fromfile(str(path), dtype=np.uint8)
    if data.size == 0:
        return None
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def label_matrix(labels: pd.DataFrame, aus: Sequence[int]) -> np.ndarray:
    """The ``(N, A)`` float64 label array of a labels table, in channel order.

    Raises:
        ValueError: if a column for one of ``aus`` or a key column is missing.
    """
    wanted = [*KEY_COLUMNS, *(au_label(a) for a in aus)]
    missing = [c for c in wanted if c not in labels.columns]
    if missing:
        raise ValueError(f"labels table lacks columns {missing}; expected {wanted}")
    return labels[[au_label(a) for a in aus]].to_numpy(dtype=np.float64)


def iter_frames(
    root: str | Path,
    labels: pd.DataFrame | None = None,
    skip: Iterable[tuple[str, str, int]] = frozenset(),
) -> Iterator[RawFrame]:
    """Yield one :class:`RawFrame` per labelled frame, in the order of ``labels``.

    Args:
        root: the BP4D folder.
        labels: a table as returned by :func:`read_labels` (or a subset of its rows); read from
            ``root`` when None.
        skip: ``(subject, sequence, frame)`` keys not to yield, e.g. those already prepared by an
            interrupted run.

    Yields:
        RawFrame with ``landmarks=None`` (BP4D's are detected later). A frame whose image is
        missing or cannot be decoded has ``image=None`` and ``error`` saying why; no exception is
        raised for one bad frame.

    Raises:
        FileNotFoundError: if the layout is wrong.
    """
    _, frames_dir = check_layout(root)
    if labels is None:
        labels = read_labels(root)
    skip = {(str(s), str(q), int(f)) for s, q, f in skip}
    values = label_matrix(labels, AUS)
    indexes: dict[tuple[str, str], dict[int, Path]] = {}  # one directory listing per task, not per frame
    keys = zip(labels["subject"], labels["sequence"], labels["frame"], strict=True)
    for row, (subject, sequence, frame) in enumerate(keys):
        subject, sequence, frame = str(subject), str(sequence), int(frame)
        if (subject, sequence, frame) in skip:
            continue
        folder = frames_dir / subject / sequence
        if (subject, sequence) not in indexes:
            indexes[(subject, sequence)] = index_images(folder)
        path = indexes[(subject, sequence)].get(frame)
        image, error = None, None
        if path is None:
            error = f"no image for frame {frame} in {folder}"
        else:
            try:
                image = read_frame_image(path)
            except (OSError, cv2.error) as exc:  # unreadable file (permissions, I/O error)
                error = f"cannot read {path}: {exc}"
            else:
                if image is None:
                    error = f"cannot decode {path}"
        yield RawFrame(
            subject=subject,
            sequence=sequence,
            frame=frame,
            labels=values[row].copy(),
            image=image,
            landmarks=None,
            source=str(path if path is not None else folder),
            error=error,
        )
