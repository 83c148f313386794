"""PreparedDataset: items equal the stored arrays, filters, batches, DataLoader workers, clear errors."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from test_prepare import NO_LANDMARKS_KEY, SIZE, SUBJECTS, UNREADABLE_KEY, FakeReader, all_keys, exact_points
from torch.utils.data import BatchSampler, DataLoader, SequentialSampler

from aulib.data.dataset import PreparedDataset, load_meta
from aulib.data.prepare import prepare
from aulib.data.prepared import IMAGES, LANDMARKS, TRANSFORMS
from aulib.method.align import transform_points

SPLITS = {"S1": "train", "S2": "val", "S3": "test"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("prepared")
    prepare(FakeReader(), "fake-root", out, size=SIZE, chunk=16, progress=False, splits=SPLITS)
    return out


def ok_rows() -> np.ndarray:
    keys = all_keys()
    return np.array([i for i, k in enumerate(keys) if k not in (UNREADABLE_KEY, NO_LANDMARKS_KEY)])


def test_items_equal_the_arrays(folder):
    data = PreparedDataset(folder)
    assert len(data) == 58
    np.testing.assert_array_equal(data.rows, ok_rows())
    images, landmarks = np.load(folder / IMAGES), np.load(folder / LANDMARKS)
    labels = pd.read_csv(folder / "labels.csv")[["AU06", "AU12", "AU25"]].to_numpy(np.float32)
    for position in (0, 13, 57):
        item, row = data[position], int(ok_rows()[position])
        assert item["index"] == row
        assert item["image"].dtype == torch.uint8 and item["image"].shape == (3, SIZE, SIZE)
        np.testing.assert_array_equal(item["image"].permute(1, 2, 0).numpy(), images[row])
        assert item["landmarks"].dtype == torch.float32
        np.testing.assert_array_equal(item["landmarks"].numpy(), landmarks[row])
        np.testing.assert_array_equal(item["labels"].numpy(), labels[row])  # NaN in the same places
        np.testing.assert_array_equal(item["mask"].numpy(), ~np.isnan(labels[row]))
        # Exact landmarks come back aligned: the true drawing points mapped by the stored transform.
        expected = transform_points(exact_points(all_keys()[row]), np.load(folder / TRANSFORMS)[row])
        np.testing.assert_allclose(item["exact_landmarks"].numpy(), expected, atol=1e-3)


def test_mask_marks_the_nan_labels(folder):
    data = PreparedDataset(folder)
    frames = data.frames
    assert list(frames.columns) == ["index", "subject", "sequence", "frame", "AU06", "AU12", "AU25"]
    not_codeable = (frames["frame"] == 3).to_numpy()
    assert not data.mask_array()[not_codeable, 1].any() and data.mask_array()[~not_codeable, 1].all()
    assert np.isnan(data.labels_array()[not_codeable, 1]).all()


def test_properties(folder):
    data = PreparedDataset(folder)
    assert data.aus == (6, 12, 25) and data.au_labels == ["AU06", "AU12", "AU25"]
    assert data.subjects == list(SUBJECTS) and data.image_size == SIZE and data.landmark_layout == 68
    assert data.meta["dataset"] == "fakeset" and data.has_exact_landmarks
    assert data.labels_array().shape == (58, 3) and data.labels_array().dtype == np.float32
    np.testing.assert_array_equal(data.landmarks_array(), np.load(folder / LANDMARKS)[ok_rows()])
    assert data.exact_landmarks_array().shape == (58, 68, 2)
    assert "58 frames" in repr(data)


def test_split_and_subject_filters(folder):
    for name, subject in SPLITS.items():
        data = PreparedDataset(folder, subject)
        assert data.subjects == [name]
        assert set(data.frames["subject"]) == {name}
    both = PreparedDataset(folder, ["train", "test"])
    assert both.subjects == ["S1", "S3"] and len(both) == 20 + 19
    assert len(PreparedDataset(folder, "val")) == 19  # S2 lost its unreadable frame
    assert PreparedDataset(folder, subjects=["S3"]).subjects == ["S3"]
    assert len(PreparedDataset(folder, "train", subjects=["S3"])) == 0
    with pytest.raises(ValueError, match=r"available splits: \['test', 'train', 'val'\]"):
        PreparedDataset(folder, "dev")
    with pytest.raises(ValueError, match="S9"):
        PreparedDataset(folder, subjects=["S9"])


def test_au_selection_reorders_channels(folder):
    data = PreparedDataset(folder, aus=[25, 6])
    full = PreparedDataset(folder)
    np.testing.assert_array_equal(data.labels_array(), full.labels_array()[:, [2, 0]])
    assert data[0]["labels"].shape == (2,) and data.au_labels == ["AU25", "AU06"]
    with pytest.raises(ValueError, match="AU"):
        PreparedDataset(folder, aus=[4])


def test_batch_equals_stacked_items(folder):
    data = PreparedDataset(folder)
    positions = [5, 0, 41, 41, 57]
    batch = data.batch(positions)
    items = [data[p] for p in positions]
    for key in ("image", "landmarks", "labels", "mask", "exact_landmarks"):
        stacked = torch.stack([item[key] for item in items])
        assert batch[key].dtype == stacked.dtype and batch[key].shape == stacked.shape, key
        torch.testing.assert_close(batch[key], stacked, equal_nan=True, rtol=0, atol=0)
    assert batch["index"].tolist() == [item["index"] for item in items]
    assert data[2:4]["image"].shape == (2, 3, SIZE, SIZE)  # a slice is a batch too


def test_transform_applies_to_items(folder):
    data = PreparedDataset(folder, transform=lambda item: item["image"].float() / 255)
    assert data[0].dtype == torch.float32 and data[0].max() <= 1


def test_dataloader_with_workers(folder):
    data = PreparedDataset(folder)
    data[0]  # memmaps opened in the parent must not be pickled into the workers
    restored = pickle.loads(pickle.dumps(data))
    assert restored._arrays is None and len(pickle.dumps(data)) < 100_000
    loader = DataLoader(data, batch_size=16, num_workers=2, shuffle=False)
    images = torch.cat([batch["image"] for batch in loader])
    indices = torch.cat([batch["index"] for batch in loader])
    np.testing.assert_array_equal(indices.numpy(), ok_rows())
    np.testing.assert_array_equal(images.permute(0, 2, 3, 1).numpy(), np.load(folder / IMAGES)[ok_rows()])
    # Whole batches per worker call: a batch sampler and batch_size=None.
    sampler = BatchSampler(SequentialSampler(data), batch_size=16, drop_last=False)
    batches = list(DataLoader(data, sampler=sampler, batch_size=None, num_workers=2))
    assert [len(b["index"]) for b in batches] == [16, 16, 16, 10]
    np.testing.assert_array_equal(torch.cat([b["index"] for b in batches]).numpy(), ok_rows())


def test_missing_or_unfinished_folder_says_how_to_prepare(tmp_path):
    with pytest.raises(FileNotFoundError, match="aulib prepare"):
        PreparedDataset(tmp_path / "nothing")
    with pytest.raises(KeyboardInterrupt):
        prepare(FakeReader(interrupt_after=3), "fake-root", tmp_path, size=SIZE, progress=False)
    with pytest.raises(RuntimeError, match="aulib prepare fakeset --root fake-root"):
        PreparedDataset(tmp_path)
    meta = json.loads((tmp_path / "meta.json").read_text())
    (tmp_path / "meta.json").write_text(json.dumps(meta | {"format_version": 99}))
    with pytest.raises(ValueError, match="v1"):
        load_meta(tmp_path)
