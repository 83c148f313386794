"""BP4D / FERA2015 reader on a tiny fake copy of the real folder layout (the dataset is licensed)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from aulib.data import bp4d

SUBJECTS = ("F001", "M002")
TASKS = ("T1", "T2")
FRAMES = (1, 2, 3, 5, 8)  # gaps on purpose: rows and frame numbers differ


def colour(subject: str, task: str, frame: int) -> tuple[int, int, int]:
    """An RGB colour that identifies the frame, so the test can tell which image came back."""
    return (20 * frame, 60 + 100 * SUBJECTS.index(subject), 60 + 100 * TASKS.index(task))


def code(subject: str, task: str, au: int, frame: int) -> int:
    """A deterministic intensity per key, with some 9s (not codeable)."""
    value = (frame + au + 3 * SUBJECTS.index(subject) + TASKS.index(task)) % 7
    return 9 if value == 6 else value


def write_csv(path: Path, rows: list[tuple[int, int]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{f},{v}\n" for f, v in rows))


@pytest.fixture
def bp4d_root(tmp_path: Path) -> Path:
    """A fake BP4D: 2 subjects × 2 tasks × 5 frames, with the quirks of the real release."""
    root = tmp_path / "BP4D"
    for subject in SUBJECTS:
        for task in TASKS:
            for au in bp4d.AUS:
                rows = [(f, code(subject, task, au, f)) for f in FRAMES]
                if (subject, task, au) == ("F001", "T1", 10):
                    rows = rows[::-1]  # another row order: the join must use frame numbers
                if (subject, task, au) == ("F001", "T1", 12):
                    rows = [r for r in rows if r[0] != 3]  # frame 3 absent from AU12's file
                name = f"{subject}_{task}_{bp4d.au_label(au)}.csv"
                write_csv(root / bp4d.LABELS_DIR / bp4d.au_label(au) / name, rows)
            folder = root / bp4d.FRAMES_DIR / subject / task
            folder.mkdir(parents=True)
            for frame in FRAMES:
                image = np.empty((24, 32, 3), np.uint8)
                image[:] = colour(subject, task, frame)
                # Real BP4D sometimes zero-pads file names: do so for one task.
                stem = f"{frame:04d}" if (subject, task) == ("M002", "T2") else str(frame)
                assert cv2.imwrite(str(folder / f"{stem}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    # A task coded for one AU only must still appear.
    write_csv(root / bp4d.LABELS_DIR / "AU17" / "M002_T8_AU17.csv", [(10, 2), (11, 9)])
    # One corrupt JPEG: random bytes.
    (root / bp4d.FRAMES_DIR / "F001" / "T2" / "5.jpg").write_bytes(np.random.default_rng(0).bytes(300))
    return root


def test_labels_join_on_frame_numbers(bp4d_root: Path):
    labels = bp4d.read_labels(bp4d_root)
    assert list(labels.columns) == ["subject", "sequence", "frame", "AU06", "AU10", "AU12", "AU14", "AU17"]
    assert labels["frame"].dtype == np.int64
    assert len(labels) == len(SUBJECTS) * len(TASKS) * len(FRAMES) + 2
    assert labels[["subject", "sequence", "frame"]].equals(
        labels[["subject", "sequence", "frame"]].sort_values(["subject", "sequence", "frame"])
    )
    for row in labels.itertuples(index=False):
        for au in bp4d.AUS:
            value = getattr(row, bp4d.au_label(au))
            if row.sequence == "T8" or (row.subject, row.sequence, row.frame, au) == ("F001", "T1", 3, 12):
                continue
            expected = code(row.subject, row.sequence, au, row.frame)
            if expected == 9:
                assert np.isnan(value)
            else:
                assert value == expected, (row, au)
    # The reversed AU10 file is aligned by frame number, not by row.
    f001 = labels[(labels.subject == "F001") & (labels.sequence == "T1")].set_index("frame")
    expected = [code("F001", "T1", 10, f) for f in FRAMES]
    np.testing.assert_array_equal(f001.loc[list(FRAMES), "AU10"], [np.nan if c == 9 else c for c in expected])
    # Frame 3 missing from AU12's file: NaN there, the other AUs kept.
    assert np.isnan(f001.loc[3, "AU12"]) and not np.isnan(f001.loc[3, "AU06"])
    # The AU17-only task: NaN for the four other AUs; 9 -> NaN.
    t8 = labels[labels.sequence == "T8"].set_index("frame")
    assert t8.loc[10, "AU17"] == 2 and np.isnan(t8.loc[11, "AU17"])
    assert t8[["AU06", "AU10", "AU12", "AU14"]].isna().all().all()


def test_frames_carry_the_right_image(bp4d_root: Path):
    labels = bp4d.read_labels(bp4d_root)
    frames = list(bp4d.iter_frames(bp4d_root, labels))
    assert [f.key for f in frames] == list(zip(labels.subject, labels.sequence, labels.frame.astype(int), strict=True))
    for record in frames:
        np.testing.assert_array_equal(
            record.labels,
            labels.loc[
                (labels.subject == record.subject)
                & (labels.sequence == record.sequence)
                & (labels.frame == record.frame),
                ["AU06", "AU10", "AU12", "AU14", "AU17"],
            ].to_numpy()[0],
        )
        assert record.landmarks is None
        if record.sequence == "T8":
            assert record.image is None and "no image for frame" in record.error
        elif record.key == ("F001", "T2", 5):
            assert record.image is None and "cannot decode" in record.error
        else:
            assert record.error is None and record.image.dtype == np.uint8 and record.image.shape == (24, 32, 3)
            mean = record.image.reshape(-1, 3).mean(axis=0)
            # JPEG is lossy: compare the mean colour approximately (frames differ by 20 levels in R).
            np.testing.assert_allclose(mean, colour(record.subject, record.sequence, record.frame), atol=6)


def test_skip_resumes_exactly(bp4d_root: Path):
    labels = bp4d.read_labels(bp4d_root)
    everything = [f.key for f in bp4d.iter_frames(bp4d_root, labels)]
    skip = {("F001", "T1", 1), ("F001", "T1", 8), ("M002", "T2", 3), ("X999", "T1", 1)}
    resumed = [f.key for f in bp4d.iter_frames(bp4d_root, labels, skip=skip)]
    assert resumed == [k for k in everything if k not in skip]


@pytest.mark.parametrize("bad", ["7", "-1", "2.5", "x"])
def test_invalid_code_names_file_and_line(bp4d_root: Path, bad: str):
    path = bp4d_root / bp4d.LABELS_DIR / "AU14" / "M002_T1_AU14.csv"
    lines = path.read_text().splitlines()
    lines[2] = f"3,{bad}"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"M002_T1_AU14\.csv, line 3"):
        bp4d.read_labels(bp4d_root)


def test_missing_folder_shows_the_layout(bp4d_root: Path, tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="ROOT/Sequences") as info:
        (bp4d_root / bp4d.FRAMES_DIR).rename(tmp_path / "elsewhere")
        bp4d.read_labels(bp4d_root)
    assert "└── Sequences/" in str(info.value) and "AU Intensity Codes3.0" in str(info.value)
    (bp4d_root / bp4d.LABELS_DIR / "AU12").rename(tmp_path / "AU12")
    with pytest.raises(FileNotFoundError, match=r"missing ROOT/AU Intensity Codes3\.0/AU12"):
        list(bp4d.iter_frames(bp4d_root))
    with pytest.raises(FileNotFoundError, match="Expected layout"):
        bp4d.check_layout(tmp_path / "nowhere")


def test_intensity_file_details(tmp_path: Path):
    path = tmp_path / "F001_T1_AU06.csv"
    path.write_text("frame,intensity\n3,2\n\n1,9\n2, 4.0\n")  # a header, a blank line, spaces, "4.0"
    frames, values = bp4d.read_intensity_codes(path)
    assert frames.tolist() == [3, 1, 2] and frames.dtype == np.int64
    np.testing.assert_array_equal(values, [2.0, np.nan, 4.0])
    path.write_text("1,2\n2,3\n1,4\n")
    with pytest.raises(ValueError, match=r"line 3: frame 1 repeats line 1"):
        bp4d.read_intensity_codes(path)
    path.write_text("1,2,3\n")
    with pytest.raises(ValueError, match=r"line 1: expected 'frame,intensity'"):
        bp4d.read_intensity_codes(path)


def test_frames_folder_alias(bp4d_root: Path):
    # OpenFace's FERA2015 scripts call the image folder "BP4D-training": accepted as well.
    (bp4d_root / bp4d.FRAMES_DIR).rename(bp4d_root / "BP4D-training")
    record = next(bp4d.iter_frames(bp4d_root))
    assert record.error is None and "BP4D-training" in record.source
