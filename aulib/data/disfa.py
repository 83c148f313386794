"""Reader for DISFA: 27 subjects, one left-camera video each, 12 AUs coded 0–5 on every frame.

DISFA is licensed: aulib never ships or downloads it. Point :func:`read_labels` and
:func:`iter_frames` at your own copy, laid out as below (the tests build tiny fakes of it)::

    ROOT/
    ├── ActionUnit_Labels/
    │   └── SN001/
    │       ├── SN001_au1.txt          rows "frame,intensity", 1-based frames
    │       └── ... SN001_au26.txt     (AU number unpadded)
    ├── Video_LeftCamera/
    │   └── LeftVideoSN001_comp.avi
    └── Landmark_Points/
        └── SN001/
            └── tmp_frame_lm/
                ├── l00001_lm.mat      variable "pts": 66×2 (x, y) pixels
                └── ...                (some subjects: SN001_0000_lm.mat)

Frames are numbered from 1 as in the label files: label frame ``k`` is the ``k``-th decoded video
frame. The single video of a subject is the sequence ``"LeftCamera"``.

The 66 given landmarks (iBUG-68 without the inner-mouth corners 60 and 64, see
:func:`aulib.method.aus.landmark_index`) come as :attr:`RawFrame.landmarks`. A frame without a landmark
file still yields, with ``landmarks=None`` and ``error=None`` (the image is fine): preparation can
then detect landmarks or drop the frame. A landmark file that exists but cannot be read or has the
wrong shape also gives ``landmarks=None``, with the reason in ``extra["landmark_error"]``.

NOTE (landmark file numbering, unverified, please check on your licensed copy)
    Two file-name patterns exist: ``l00001_lm.mat`` and ``SN001_0000_lm.mat``. aulib was written
    without access to DISFA. Public preprocessing scripts we could read (e.g. for AU detection
    papers) look for ``SN001_{k-1:04d}_lm.mat`` first and fall back to ``l0{k:04d}_lm.mat`` for
    label frame ``k``, i.e. the ``SN`` pattern is 0-based and the ``l`` pattern 1-based; one other
    script uses the same index for both. :data:`LANDMARK_FRAME_OFFSET` encodes the majority reading
    (``SN``: +1, ``l``: +0). To check, draw the landmarks of a frame where the head moves quickly on
    the decoded image: a one-frame shift shows as points trailing the face. If your copy differs,
    change :data:`LANDMARK_FRAME_OFFSET` (or pass ``landmark_offsets=`` to :func:`iter_frames`).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import av
import numpy as np
import pandas as pd
import scipy.io

from aulib.data.bp4d import join_on_frame, label_matrix, layout_error, read_intensity_codes
from aulib.data.records import KEY_COLUMNS, RawFrame
from aulib.method.aus import DISFA_AUS

AUS: tuple[int, ...] = DISFA_AUS
LANDMARK_LAYOUT = 66  # given with the dataset: iBUG-68 without the inner-mouth corners

LABELS_DIR = "ActionUnit_Labels"
VIDEO_DIR = "Video_LeftCamera"
LANDMARKS_DIR = "Landmark_Points"
LANDMARK_SUBDIR = "tmp_frame_lm"
SEQUENCE = "LeftCamera"  # DISFA has one (left-camera) video per subject in this reader

# Both landmark file-name patterns: l00001_lm.mat and SN001_0000_lm.mat.
LANDMARK_FILE = re.compile(r"^(?P<prefix>l|SN\d{3}_)(?P<index>\d+)_lm\.mat$")
# Add to the number in a landmark file's name to get the label frame number. See the NOTE in the
# module docstring: "SN" names appear 0-based, "l" names 1-based; not verified on the real data.
LANDMARK_FRAME_OFFSET: dict[str, int] = {"l": 0, "SN": 1}

LAYOUT_TREE = f"""\
ROOT/
├── {LABELS_DIR}/
│   └── SN001/SN001_au1.txt ... SN001_au26.txt   (rows "frame,intensity", frames from 1)
├── {VIDEO_DIR}/
│   └── LeftVideoSN001_comp.avi
└── {LANDMARKS_DIR}/
    └── SN001/{LANDMARK_SUBDIR}/l00001_lm.mat   (or SN001_0000_lm.mat; variable pts, 66×2)"""


def check_layout(root: str | Path) -> Path:
    """Check that ``root`` looks like a DISFA copy.

    Args:
        root: the dataset folder.

    Returns:
        ``root`` as a Path.

    Raises:
        FileNotFoundError: naming the first missing folder and drawing the expected layout.
    """
    root = Path(root)
    for part in (root, root / LABELS_DIR, root / VIDEO_DIR, root / LANDMARKS_DIR):
        if not part.is_dir():
            raise layout_error("DISFA", root, part, LAYOUT_TREE)
    return root


def label_path(root: Path, subject: str, au: int) -> Path:
    """``ROOT/ActionUnit_Labels/SN001/SN001_au1.txt``: the AU number is not zero-padded."""
    return root / LABELS_DIR / subject / f"{subject}_au{au}.txt"


def video_path(root: Path, subject: str) -> Path:
    """``ROOT/Video_LeftCamera/LeftVideoSN001_comp.avi``."""
    return root / VIDEO_DIR / f"LeftVideo{subject}_comp.avi"


def read_labels(root: str | Path) -> pd.DataFrame:
    """Read the 12 AU intensity files of every subject folder in ``ActionUnit_Labels``.

    The AU files of a subject are joined on the frame number. A subject folder that lacks some AU
    files keeps its other AUs (NaN for the missing ones, with a warning); a folder with none of
    them is ignored with a warning.

    Args:
        root: the DISFA folder (see the module docstring for the layout).

    Returns:
        Columns ``subject, sequence, frame, AU01, AU02, AU04, ... AU26``; ``sequence`` is
        ``"LeftCamera"``; sorted by subject and frame; int 1-based frame numbers.

    Raises:
        FileNotFoundError: if the layout is wrong.
        ValueError: for an invalid row; the message names the file and line. DISFA has no
            "not codeable" code, so only integers 0..5 are valid.
    """
    root = check_layout(root)
    pieces: dict[int, list[pd.DataFrame]] = {au: [] for au in AUS}
    for folder in sorted(p for p in (root / LABELS_DIR).iterdir() if p.is_dir()):
        subject = folder.name
        missing = [au for au in AUS if not label_path(root, subject, au).is_file()]
        if len(missing) == len(AUS):
            warnings.warn(f"{folder}: no {subject}_auN.txt files; subject ignored", stacklevel=2)
            continue
        if missing:
            warnings.warn(f"{folder}: no label files for AUs {missing}; they are NaN for {subject}", stacklevel=2)
        for au in AUS:
            if au in missing:
                continue
            frames, values = read_intensity_codes(label_path(root, subject, au), not_codeable=None)
            pieces[au].append(
                pd.DataFrame({"subject": subject, "sequence": SEQUENCE, "frame": frames, "value": values})
            )
    return join_on_frame(pieces, AUS)


def index_landmarks(folder: Path, offsets: Mapping[str, int] = LANDMARK_FRAME_OFFSET) -> dict[int, Path]:
    """Map label frame numbers to landmark files in one ``tmp_frame_lm`` folder.

    Args:
        folder: ``Landmark_Points/<subject>/tmp_frame_lm``.
        offsets: added to the number in the file name, per pattern (``"l"`` or ``"SN"``).

    Returns:
        ``{frame: path}``; empty if the folder does not exist. If two files map to one frame (both
        patterns in one folder), the first in name order wins.
    """
    index: dict[int, Path] = {}
    if not folder.is_dir():
        return index
    for path in sorted(folder.iterdir()):
        match = LANDMARK_FILE.match(path.name)
        if match is None:
            continue
        pattern = "l" if match["prefix"] == "l" else "SN"
        index.setdefault(int(match["index"]) + offsets[pattern], path)
    return index


def read_landmarks(path: Path) -> np.ndarray:
    """Load the ``pts`` variable of one DISFA landmark file as a ``(66, 2)`` float64 array.

    Raises:
        ValueError: if the file has no ``pts`` or it is not 66×2.
        Exception: whatever :func:`scipy.io.loadmat` raises for an unreadable file (``OSError``,
            ``scipy.io.matlab.MatReadError``, ...).
    """
    content = scipy.io.loadmat(str(path))
    if "pts" not in content:
        raise ValueError(f"{path}: no variable 'pts' (found {sorted(k for k in content if not k.startswith('__'))})")
    pts = np.asarray(content["pts"], dtype=np.float64)
    if pts.shape != (LANDMARK_LAYOUT, 2):
        raise ValueError(f"{path}: 'pts' has shape {pts.shape}, expected ({LANDMARK_LAYOUT}, 2)")
    return pts


def _subject_frames(
    root: Path,
    subject: str,
    rows: pd.DataFrame,
    values: np.ndarray,
    skip: set[tuple[str, str, int]],
    offsets: Mapping[str, int],
) -> Iterator[RawFrame]:
    """The frames of one subject: one sequential pass over its video."""
    frames = rows["frame"].to_numpy(dtype=np.int64)
    wanted = [i for i, f in enumerate(frames) if (subject, SEQUENCE, int(f)) not in skip]
    if not wanted:
        return  # everything already prepared: don't even open the video
    video = video_path(root, subject)
    landmark_files = index_landmarks(root / LANDMARKS_DIR / subject / LANDMARK_SUBDIR, offsets)

    def record(i: int, image: np.ndarray | None, error: str | None) -> RawFrame:
        frame = int(frames[i])
        landmarks, extra = None, {}
        lm_path = landmark_files.get(frame)
        if lm_path is not None:
            try:
                landmarks = read_landmarks(lm_path)
            except Exception as exc:  # loadmat raises many types (MatReadError, zlib, struct...): one
                # unreadable landmark file must not stop a preparation run; the frame can be detected.
                message = str(exc)
                extra["landmark_error"] = message if str(lm_path) in message else f"{lm_path}: {message}"
        else:
            extra["landmark_error"] = f"no landmark file for frame {frame}"
        return RawFrame(
            subject=subject,
            sequence=SEQUENCE,
            frame=frame,
            labels=values[i].copy(),
            image=image,
            landmarks=landmarks,
            source=f"{video}#{frame}",
            error=error,
            extra=extra,
        )

    pending = iter(wanted)
    current = next(pending)
    decoded = 0  # 1-based number of the last decoded frame
    failure: str | None = None
    if not video.is_file():
        failure = f"video {video} not found"
    else:
        try:
            with av.open(str(video)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"  # frame-threaded decoding: several times faster on long videos
                for video_frame in container.decode(stream):
                    decoded += 1
                    # Label frames need not start at 1 or be contiguous: decode (cheap) past unwanted ones,
                    # and only convert the wanted ones to RGB (the costly part).
                    while current is not None and frames[current] < decoded:
                        # A label frame < 1 (never in real DISFA) has no video frame.
                        yield record(current, None, f"frame {int(frames[current])} is not a 1-based frame number")
                        current = next(pending, None)
                    if current is None:
                        break  # the remaining video frames are not wanted
                    if frames[current] == decoded:
                        image = np.ascontiguousarray(video_frame.to_ndarray(format="rgb24"))
                        yield record(current, image, None)
                        current = next(pending, None)
                        if current is None:
                            break
        except (av.FFmpegError, OSError, ValueError, IndexError) as exc:  # IndexError: no video stream
            # PyAV's errors repeat the path in str(exc); strerror is the bare reason.
            reason = getattr(exc, "strerror", None) or str(exc)
            failure = f"video {video} could not be decoded after frame {decoded}: {reason}"
    # Whatever is still pending lies beyond the end of the video, or after a decoding failure.
    while current is not None:
        frame = int(frames[current])
        if failure is None:
            error = f"frame {frame} beyond the end of the video ({decoded} frames)"
        else:
            error = failure
        yield record(current, None, error)
        current = next(pending, None)


def iter_frames(
    root: str | Path,
    labels: pd.DataFrame | None = None,
    skip: Iterable[tuple[str, str, int]] = frozenset(),
    *,
    landmark_offsets: Mapping[str, int] | None = None,
) -> Iterator[RawFrame]:
    """Yield one :class:`RawFrame` per labelled frame, decoding each video once, front to back.

    Args:
        root: the DISFA folder.
        labels: a table as returned by :func:`read_labels` (or a subset of its rows); read from
            ``root`` when None. It is sorted by subject, sequence and frame first (a no-op for
            :func:`read_labels`' output), because the videos are decoded sequentially.
        skip: ``(subject, sequence, frame)`` keys not to yield (resuming an interrupted run). Their
            video frames are still decoded, since decoding is sequential, but not converted.
        landmark_offsets: overrides :data:`LANDMARK_FRAME_OFFSET` (see the module's NOTE).

    Yields:
        RawFrame with the (66, 2) landmarks (or None, see the module docstring). A frame beyond
        the end of the video, or after a decoding failure, or of a subject without a video, has
        ``image=None`` and ``error`` saying why; no exception is raised for bad frames.

    Raises:
        FileNotFoundError: if the layout is wrong.
        ValueError: if ``labels`` has a sequence other than ``"LeftCamera"`` or lacks a column.
    """
    root = check_layout(root)
    if labels is None:
        labels = read_labels(root)
    offsets = dict(LANDMARK_FRAME_OFFSET if landmark_offsets is None else landmark_offsets)
    skip = {(str(s), str(q), int(f)) for s, q, f in skip}
    labels = labels.sort_values(list(KEY_COLUMNS), kind="stable").reset_index(drop=True)
    values = label_matrix(labels, AUS)
    unexpected = sorted(set(labels["sequence"].astype(str)) - {SEQUENCE})
    if unexpected:
        raise ValueError(f"DISFA labels have sequence {SEQUENCE!r} only; got {unexpected}")
    for subject, rows in labels.groupby("subject", sort=False):
        yield from _subject_frames(root, str(subject), rows, values[rows.index.to_numpy()], skip, offsets)
