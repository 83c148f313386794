"""Atomic file writes: a reader (or a rerun after a crash) sees the old file or the new one, never half of one.

Every helper writes to a temporary file in the *same* folder (so that the final rename stays on one
file system), flushes and fsyncs it, then moves it over the target with :func:`os.replace`, which is
atomic on POSIX and Windows. If anything fails before the rename, the temporary file is removed and
the old file is left untouched.

Example:
    >>> import tempfile, pathlib
    >>> from aulib.io import atomic_write_json, read_json
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> atomic_write_json(folder / "meta.json", {"n_frames": 3})
    >>> read_json(folder / "meta.json")
    {'n_frames': 3}
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd


def _default_file_mode() -> int:
    # mkstemp creates files readable by the owner only; give the final file the mode a plain open()
    # would (0o666 minus the umask). Reading the umask means setting it, so set it straight back.
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_folder(folder: Path) -> None:
    # The rename itself lives in the folder's entry table; syncing the folder makes it durable.
    # Not possible on every platform (Windows), and never worth failing a write for.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """Open a temporary file that replaces ``path`` when the ``with`` block ends without an error.

    Args:
        path: the file to (over)write.
        mode: ``"w"`` (text) or ``"wb"`` (binary).
        kwargs: passed to :func:`open` (``encoding``, ``newline``); text defaults to UTF-8.

    Yields:
        The open temporary file.

    Raises:
        ValueError: for a mode that is not a plain write mode.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files; mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    if mode == "w":
        kwargs.setdefault("encoding", "utf-8")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with open(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        # Keep an existing file's permissions; a new file gets the usual ones.
        os.chmod(tmp_name, path.stat().st_mode & 0o7777 if path.exists() else _default_file_mode())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_folder(path.parent)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_open(path, "w", newline="") as handle:
        handle.write(text)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def _json_default(value: Any) -> Any:
    # numpy scalars and paths appear in metadata all the time; store them as plain JSON.
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serialisable")


def atomic_write_json(path: str | os.PathLike, obj: Any, *, indent: int = 2) -> None:
    """Write ``obj`` as JSON (numpy scalars/arrays and paths allowed) to ``path`` atomically.

    Raises:
        TypeError: for values JSON cannot hold; the old file is left as it was.
    """
    # Serialise first: an unserialisable value then fails before any file is touched.
    atomic_write_text(path, json.dumps(obj, indent=indent, default=_json_default) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file (UTF-8)."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def atomic_write_csv(path: str | os.PathLike, frame: pd.DataFrame, **kwargs: Any) -> None:
    """Write a DataFrame as CSV to ``path`` atomically (``index=False`` unless given)."""
    kwargs.setdefault("index", False)
    with atomic_open(path, "w", newline="") as handle:
        frame.to_csv(handle, **kwargs)


def atomic_save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    """Save one array in NumPy's ``.npy`` format to ``path`` atomically (no pickled objects)."""
    with atomic_open(path, "wb") as handle:
        np.save(handle, np.asarray(array), allow_pickle=False)
