"""DISFA reader on a tiny fake copy of the real folder layout (the dataset is licensed)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import scipy.io

from aulib.data import disfa

N_VIDEO = 10  # frames in each fake video
N_LABELS = 12  # labelled frames: the last two lie beyond the end of the video
CODEC = "mpeg4"  # in every FFmpeg build, PyAV's bundled one included
NO_LANDMARKS = ("SN001", 4)


def brightness(subject: str, frame: int) -> int:
    """The grey level of a video frame: identifies the 1-based frame number (and the subject)."""
    return 20 * frame + (5 if subject == "SN002" else 0)


def code(subject: str, au: int, frame: int) -> int:
    return (frame * au + int(subject[-1])) % 6


def pts_for(subject: str, frame: int) -> np.ndarray:
    """66×2 landmarks whose values encode the label frame they belong to."""
    return np.full((66, 2), 1000.0 * int(subject[-1]) + frame) + np.arange(66)[:, None]


def write_video(path: Path, subject: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(CODEC, rate=20)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for k in range(1, N_VIDEO + 1):
            image = np.full((32, 32, 3), brightness(subject, k), np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():  # flush the encoder
            container.mux(packet)


@pytest.fixture
def disfa_root(tmp_path: Path) -> Path:
    """A fake DISFA with two subjects; SN001 uses l00001_lm.mat names, SN002 SN002_0000_lm.mat."""
    root = tmp_path / "DISFA"
    for subject in ("SN001", "SN002"):
        folder = root / disfa.LABELS_DIR / subject
        folder.mkdir(parents=True)
        for au in disfa.AUS:
            lines = [f"{k},{code(subject, au, k)}\n" for k in range(1, N_LABELS + 1)]
            (folder / f"{subject}_au{au}.txt").write_text("".join(lines))
        write_video(root / disfa.VIDEO_DIR / f"LeftVideo{subject}_comp.avi", subject)
        lm_dir = root / disfa.LANDMARKS_DIR / subject / disfa.LANDMARK_SUBDIR
        lm_dir.mkdir(parents=True)
        for k in range(1, N_LABELS + 1):
            if (subject, k) == NO_LANDMARKS:
                continue
            # The two naming patterns of the real release, with their (assumed) numbering:
            # "l" names are 1-based, "SN" names 0-based (see the NOTE in aulib.data.disfa).
            name = f"l{k:05d}_lm.mat" if subject == "SN001" else f"{subject}_{k - 1:04d}_lm.mat"
            scipy.io.savemat(str(lm_dir / name), {"pts": pts_for(subject, k)})
    return root


def test_labels_table(disfa_root: Path):
    labels = disfa.read_labels(disfa_root)
    assert list(labels.columns[:3]) == ["subject", "sequence", "frame"]
    assert list(labels.columns[3:]) == [f"AU{a:02d}" for a in (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)]
    assert len(labels) == 2 * N_LABELS and set(labels.sequence) == {"LeftCamera"}
    assert labels.frame.dtype == np.int64 and labels.frame.min() == 1
    row = labels[(labels.subject == "SN002") & (labels.frame == 7)].iloc[0]
    assert [row[f"AU{a:02d}"] for a in disfa.AUS] == [code("SN002", a, 7) for a in disfa.AUS]


def test_one_based_alignment_of_labels_video_and_landmarks(disfa_root: Path):
    frames = list(disfa.iter_frames(disfa_root))
    assert [f.key for f in frames] == [(s, "LeftCamera", k) for s in ("SN001", "SN002") for k in range(1, 13)]
    for record in frames:
        k = record.frame
        assert record.labels.tolist() == [code(record.subject, a, k) for a in disfa.AUS]
        if (record.subject, k) == NO_LANDMARKS:
            # No landmark file: still yielded, no error, landmarks left for a detector.
            assert record.landmarks is None and record.error is None and record.image is not None
        else:
            assert record.landmarks.shape == (66, 2) and record.landmarks.dtype == np.float64
            np.testing.assert_array_equal(record.landmarks, pts_for(record.subject, k))
        if k <= N_VIDEO:
            assert record.error is None and record.image.shape == (32, 32, 3) and record.image.dtype == np.uint8
            # Lossy codec: frames are 20 grey levels apart, so a tolerance of 6 still pins the index.
            assert abs(record.image.mean() - brightness(record.subject, k)) < 6, (record.key, record.image.mean())
        else:
            assert record.image is None
            assert record.error == f"frame {k} beyond the end of the video ({N_VIDEO} frames)"


def test_skip_decodes_but_does_not_yield(disfa_root: Path):
    skip = {("SN001", "LeftCamera", k) for k in (1, 2, 3, 11)} | {("SN002", "LeftCamera", k) for k in range(1, 13)}
    frames = list(disfa.iter_frames(disfa_root, skip=skip))
    assert [f.key for f in frames] == [("SN001", "LeftCamera", k) for k in (4, 5, 6, 7, 8, 9, 10, 12)]
    # Skipped frames were still decoded: the next image is the right one.
    assert abs(frames[0].image.mean() - brightness("SN001", 4)) < 6


def test_subset_of_labels_and_missing_video(disfa_root: Path):
    labels = disfa.read_labels(disfa_root)
    subset = labels[(labels.frame % 3 == 0)]  # non-contiguous frames: 3, 6, 9, 12
    (disfa_root / disfa.VIDEO_DIR / "LeftVideoSN002_comp.avi").unlink()
    frames = list(disfa.iter_frames(disfa_root, subset))
    assert [f.key[::2] for f in frames] == [(s, k) for s in ("SN001", "SN002") for k in (3, 6, 9, 12)]
    for record in frames[:3]:
        assert abs(record.image.mean() - brightness("SN001", record.frame)) < 6
    assert all(f.image is None and "not found" in f.error for f in frames[4:])


def test_corrupt_video_and_landmark_file_do_not_raise(disfa_root: Path):
    (disfa_root / disfa.VIDEO_DIR / "LeftVideoSN001_comp.avi").write_bytes(np.random.default_rng(0).bytes(2000))
    (disfa_root / disfa.LANDMARKS_DIR / "SN002" / disfa.LANDMARK_SUBDIR / "SN002_0001_lm.mat").write_bytes(b"junk")
    frames = list(disfa.iter_frames(disfa_root))
    assert len(frames) == 2 * N_LABELS
    assert all(f.image is None and "could not be decoded after frame 0" in f.error for f in frames[:N_LABELS])
    broken = frames[N_LABELS + 1]  # SN002 frame 2 <- SN002_0001_lm.mat
    assert broken.key == ("SN002", "LeftCamera", 2) and broken.error is None and broken.image is not None
    assert broken.landmarks is None and "SN002_0001_lm.mat" in broken.extra["landmark_error"]


def test_invalid_code_names_file_and_line(disfa_root: Path):
    path = disfa_root / disfa.LABELS_DIR / "SN002" / "SN002_au15.txt"
    lines = path.read_text().splitlines()
    lines[4] = "5,9"  # 9 is BP4D's "not codeable"; DISFA has no such code
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"SN002_au15\.txt, line 5"):
        disfa.read_labels(disfa_root)


def test_missing_folder_shows_the_layout(disfa_root: Path, tmp_path: Path):
    (disfa_root / disfa.VIDEO_DIR).rename(tmp_path / "videos")
    with pytest.raises(FileNotFoundError, match="missing ROOT/Video_LeftCamera") as info:
        list(disfa.iter_frames(disfa_root))
    assert "LeftVideoSN001_comp.avi" in str(info.value) and "tmp_frame_lm" in str(info.value)


def test_landmark_file_names_parse_both_patterns(tmp_path: Path):
    folder = tmp_path / "tmp_frame_lm"
    folder.mkdir()
    for name in ("l00007_lm.mat", "SN003_0009_lm.mat", "notes.txt", "SN003_0009.mat"):
        (folder / name).touch()
    assert {k: p.name for k, p in disfa.index_landmarks(folder).items()} == {
        7: "l00007_lm.mat",
        10: "SN003_0009_lm.mat",
    }
    both_one_based = {"l": 0, "SN": 0}
    assert sorted(disfa.index_landmarks(folder, both_one_based)) == [7, 9]
