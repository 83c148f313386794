"""Reading a prepared dataset (``aulib prepare``'s output) as a torch ``Dataset``.

The prepared format (``data/README.md``) keeps aligned crops, landmarks and transforms in ``.npy``
files that are opened as read-only memory maps: an item is a slice of those arrays, with no image
decoding, and the operating system's page cache does the caching. Only frames whose status is ``ok``
are visible.

Example:
    ``PreparedDataset("data/bp4d-prepared", "train")[0]`` is a dict with ``image`` (uint8, 3×256×256),
    ``landmarks``, ``labels``, ``mask`` and ``index``. For fast training, gather whole batches at once::

        from torch.utils.data import BatchSampler, DataLoader, RandomSampler
        data = PreparedDataset("data/bp4d-prepared", "train")
        sampler = BatchSampler(RandomSampler(data), batch_size=64, drop_last=True)
        loader = DataLoader(data, sampler=sampler, batch_size=None, num_workers=2)  # items are batches

    (indexing with a list of positions calls :meth:`PreparedDataset.batch`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from aulib.data.prepared import (
    EXACT_LANDMARKS_ORIGINAL,
    FORMAT,
    FORMAT_VERSION,
    IMAGES,
    LANDMARKS,
    LANDMARKS_ORIGINAL,
    TRANSFORMS,
)
from aulib.io import read_json
from aulib.method.align import transform_points
from aulib.method.aus import au_label

ARRAY_FILES = {"images": IMAGES, "landmarks": LANDMARKS, "landmarks_original": LANDMARKS_ORIGINAL,
               "transforms": TRANSFORMS}
EXACT_FILE = EXACT_LANDMARKS_ORIGINAL


def _how_to_prepare(path: Path, meta: dict | None = None) -> str:
    dataset = (meta or {}).get("dataset", "<synthau|bp4d|disfa>")
    root = (meta or {}).get("source", "<dataset folder>")
    return f"run `aulib prepare {dataset} --root {root} --out {path}`"


def load_meta(path: str | os.PathLike) -> dict:
    """Read and check the ``meta.json`` of a prepared dataset.

    Args:
        path: the prepared folder.

    Returns:
        The metadata (see ``data/README.md``).

    Raises:
        FileNotFoundError: when the folder or its ``meta.json`` is missing.
        RuntimeError: when the preparation is unfinished (rerunning ``aulib prepare`` resumes it).
        ValueError: when the folder holds another format or version.
    """
    path = Path(path)
    meta_path = path / "meta.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{path} holds no prepared dataset (no meta.json); {_how_to_prepare(path)}")
    meta = read_json(meta_path)
    if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{meta_path} is not an {FORMAT} v{FORMAT_VERSION} dataset (format "
                         f"{meta.get('format')!r}, version {meta.get('format_version')!r}); {_how_to_prepare(path)}")
    if not meta.get("complete"):
        raise RuntimeError(f"{path} holds an unfinished preparation; {_how_to_prepare(path, meta)} again to "
                           "finish it (it resumes where it stopped)")
    return meta


def aligned_exact_landmarks(exact_original: np.ndarray, transforms: np.ndarray) -> np.ndarray:
    """Map exact (SynthAU) landmarks from the original image into the aligned crop.

    Args:
        exact_original: ``(L, 2)`` or ``(B, L, 2)`` rows of ``exact_landmarks_original.npy``.
        transforms: the matching ``(2, 3)`` or ``(B, 2, 3)`` rows of ``transforms.npy``.

    Returns:
        float32 points in the crop's pixel frame, shaped like ``exact_original``.
    """
    return transform_points(np.asarray(exact_original, dtype=np.float64), transforms).astype(np.float32)


def _as_list(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value]


class PreparedDataset(Dataset):
    """The usable (status ``ok``) frames of a prepared dataset, optionally restricted to splits or subjects.

    Args:
        path: the folder written by ``aulib prepare`` / :func:`aulib.data.prepare.prepare`.
        split: a split name or a list of them (``meta["splits"]`` maps each subject to one); ``None``
            keeps all.
        subjects: keep only these subjects (combined with ``split`` when both are given).
        aus: AU numbers to keep, in the order wanted; ``None`` keeps the dataset's AUs.
        transform: applied to each item dict by ``__getitem__`` (not by :meth:`batch`).

    Raises:
        FileNotFoundError / RuntimeError: for a missing or unfinished preparation (the message says
            how to create or finish it).
        ValueError: for an unknown split, subject or AU.

    Items are dicts: ``image`` uint8 ``(3, S, S)``, ``landmarks`` float32 ``(L, 2)`` (aligned),
    ``labels`` float32 ``(A,)`` with NaN where not codeable, ``mask`` bool ``(A,)`` (valid labels),
    ``index`` (the row in the arrays) and, for SynthAU, ``exact_landmarks`` float32 ``(L, 2)`` (aligned).
    Integer indexing gives an item; a list, array or slice of positions gives a batch (:meth:`batch`).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        split: str | Sequence[str] | None = None,
        *,
        subjects: Sequence[str] | None = None,
        aus: Sequence[int] | None = None,
        transform: Callable[[dict], Any] | None = None,
    ) -> None:
        self.path = Path(path)
        self._meta = load_meta(self.path)
        self.transform = transform
        table = pd.read_csv(self.path / "labels.csv", dtype={"subject": str, "sequence": str})
        table = table[table["status"] == "ok"]
        table = self._filter_subjects(table, split, subjects)
        self._aus = self._select_aus(aus)
        au_columns = [au_label(a) for a in self._aus]
        self._rows = table["index"].to_numpy(np.int64)
        self._labels = table[au_columns].to_numpy(np.float32)
        self._mask = ~np.isnan(self._labels)
        self._frames = table[["index", "subject", "sequence", "frame", *au_columns]].reset_index(drop=True)
        self._has_exact = (self.path / EXACT_FILE).is_file()
        self._arrays: dict[str, np.ndarray] | None = None
        self._pid: int | None = None
        self._check_arrays(self._open())

    # -- construction helpers ---------------------------------------------------------------------

    def _filter_subjects(
        self, table: pd.DataFrame, split: str | Sequence[str] | None, subjects: Sequence[str] | None
    ) -> pd.DataFrame:
        split_of: dict[str, str] = self._meta["splits"]
        if split is not None:
            wanted = _as_list(split)
            available = sorted(set(split_of.values()))
            unknown = [s for s in wanted if s not in available]
            if unknown:
                raise ValueError(f"Unknown split(s) {unknown} in {self.path}; available splits: {available}")
            table = table[table["subject"].map(split_of).isin(wanted)]
        if subjects is not None:
            wanted = _as_list(subjects)
            unknown = [s for s in wanted if s not in split_of]
            if unknown:
                raise ValueError(f"Unknown subject(s) {unknown} in {self.path}; subjects: {sorted(split_of)}")
            table = table[table["subject"].isin(wanted)]
        return table

    def _select_aus(self, aus: Sequence[int] | None) -> tuple[int, ...]:
        available = tuple(int(a) for a in self._meta["aus"])
        if aus is None:
            return available
        chosen = tuple(int(a) for a in aus)
        unknown = [a for a in chosen if a not in available]
        if unknown:
            raise ValueError(f"AU(s) {unknown} are not in {self.path}; it has {list(available)}")
        return chosen

    def _check_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        n, size, layout = self._meta["n_frames"], self.image_size, self.landmark_layout
        expected = {"images": (n, size, size, 3), "landmarks": (n, layout, 2),
                    "landmarks_original": (n, layout, 2), "transforms": (n, 2, 3)}
        for name, shape in expected.items():
            if arrays[name].shape != shape:
                raise ValueError(f"{self.path / ARRAY_FILES[name]} has shape {arrays[name].shape}; meta.json "
                                 f"promises {shape}. The folder is inconsistent: prepare it again with --overwrite")

    def _open(self) -> dict[str, np.ndarray]:
        # Memory maps are opened lazily and once per process: a DataLoader worker (forked or spawned)
        # gets its own maps instead of a pickled copy of the data.
        if self._arrays is None or self._pid != os.getpid():
            files = dict(ARRAY_FILES, **({"exact_original": EXACT_FILE} if self._has_exact else {}))
            try:
                self._arrays = {k: np.load(self.path / f, mmap_mode="r") for k, f in files.items()}
            except FileNotFoundError as error:
                raise FileNotFoundError(f"{error.filename} is missing; {_how_to_prepare(self.path, self._meta)} "
                                        "with --overwrite") from None
            self._pid = os.getpid()
        return self._arrays

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_arrays"], state["_pid"] = None, None  # never pickle the (huge) mapped arrays
        return state

    # -- the Dataset protocol ---------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i: int | Sequence[int] | np.ndarray | slice) -> Any:
        if not isinstance(i, (int, np.integer)):
            return self.batch(i)
        row = int(self._rows[i])
        arrays = self._open()
        item = {
            "image": torch.from_numpy(np.ascontiguousarray(arrays["images"][row].transpose(2, 0, 1))),
            "landmarks": torch.from_numpy(np.array(arrays["landmarks"][row])),
            "labels": torch.from_numpy(self._labels[i].copy()),
            "mask": torch.from_numpy(self._mask[i].copy()),
            "index": row,
        }
        if self._has_exact:
            exact = aligned_exact_landmarks(arrays["exact_original"][row], arrays["transforms"][row])
            item["exact_landmarks"] = torch.from_numpy(exact)
        return self.transform(item) if self.transform is not None else item

    def batch(self, indices: Sequence[int] | np.ndarray | slice) -> dict[str, torch.Tensor]:
        """Gather many items at once with fancy indexing (one read per array, no per-item Python).

        Args:
            indices: positions in this dataset (not array rows), or a slice.

        Returns:
            The same keys as an item, stacked: ``image`` ``(B, 3, S, S)`` uint8, ``landmarks``
            ``(B, L, 2)``, ``labels`` and ``mask`` ``(B, A)``, ``index`` ``(B,)`` int64, and
            ``exact_landmarks`` when present. ``transform`` is not applied.
        """
        positions = np.arange(len(self))[indices] if isinstance(indices, slice) else np.asarray(indices, np.int64)
        rows = self._rows[positions]
        arrays = self._open()
        batch = {
            "image": torch.from_numpy(arrays["images"][rows]).permute(0, 3, 1, 2).contiguous(),
            "landmarks": torch.from_numpy(arrays["landmarks"][rows]),
            "labels": torch.from_numpy(self._labels[positions]),
            "mask": torch.from_numpy(self._mask[positions]),
            "index": torch.from_numpy(rows.copy()),
        }
        if self._has_exact:
            exact = aligned_exact_landmarks(arrays["exact_original"][rows], arrays["transforms"][rows])
            batch["exact_landmarks"] = torch.from_numpy(exact)
        return batch

    # -- what the dataset holds -------------------------------------------------------------------

    @property
    def meta(self) -> dict:
        """The folder's ``meta.json`` (a copy)."""
        return dict(self._meta)

    @property
    def aus(self) -> tuple[int, ...]:
        """AU numbers, in label-channel order."""
        return self._aus

    @property
    def au_labels(self) -> list[str]:
        """``["AU06", ...]``, in label-channel order."""
        return [au_label(a) for a in self._aus]

    @property
    def subjects(self) -> list[str]:
        """The subjects of the selected frames, sorted."""
        return sorted(self._frames["subject"].unique().tolist())

    @property
    def splits(self) -> dict[str, str]:
        """``{subject: split}`` for the whole prepared dataset."""
        return dict(self._meta["splits"])

    @property
    def frames(self) -> pd.DataFrame:
        """The selected frames: ``index`` (array row), ``subject``, ``sequence``, ``frame`` and the AU labels."""
        return self._frames.copy()

    @property
    def rows(self) -> np.ndarray:
        """Array rows of the selected frames, in dataset order."""
        return self._rows.copy()

    @property
    def image_size(self) -> int:
        """Side ``S`` of the aligned crops."""
        return int(self._meta["alignment"]["size"])

    @property
    def landmark_layout(self) -> int:
        """Landmarks per face (68, or 66 for DISFA's own landmarks)."""
        return int(self._meta["landmark_layout"])

    @property
    def has_exact_landmarks(self) -> bool:
        """Whether the exact (drawing) landmarks are stored (SynthAU)."""
        return self._has_exact

    def labels_array(self) -> np.ndarray:
        """``(n, A)`` float32 labels of the selected frames, NaN where not codeable."""
        return self._labels.copy()

    def mask_array(self) -> np.ndarray:
        """``(n, A)`` bool: which labels are valid."""
        return self._mask.copy()

    def landmarks_array(self) -> np.ndarray:
        """``(n, L, 2)`` float32 aligned landmarks of the selected frames."""
        return np.asarray(self._open()["landmarks"][self._rows])

    def landmarks_original_array(self) -> np.ndarray:
        """``(n, L, 2)`` float32 landmarks of the selected frames in their original images."""
        return np.asarray(self._open()["landmarks_original"][self._rows])

    def transforms_array(self) -> np.ndarray:
        """``(n, 2, 3)`` float64 image → crop matrices of the selected frames."""
        return np.asarray(self._open()["transforms"][self._rows])

    def exact_landmarks_array(self) -> np.ndarray | None:
        """``(n, L, 2)`` float32 aligned exact landmarks (SynthAU), or ``None`` when not stored."""
        if not self._has_exact:
            return None
        arrays = self._open()
        return aligned_exact_landmarks(arrays["exact_original"][self._rows], arrays["transforms"][self._rows])

    def exact_landmarks_original_array(self) -> np.ndarray | None:
        """``(n, L, 2)`` float32 exact landmarks (SynthAU) in the original images, or ``None`` when not stored."""
        if not self._has_exact:
            return None
        return np.asarray(self._open()["exact_original"][self._rows])

    def __repr__(self) -> str:
        return (f"PreparedDataset({str(self.path)!r}, {len(self)} frames, {len(self.subjects)} subjects, "
                f"AUs {self.au_labels}, {self.image_size}×{self.image_size})")
