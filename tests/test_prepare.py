"""Preparation: the on-disk format, alignment against known geometry, resuming, refusing to mix, splits.

The source is a fake reader that draws the mean face moved by a known similarity transform onto a
noisy canvas, so the truth (where every landmark must land in the crop) is known independently of
the code under test. ``FakeReader`` is reused by ``tests/test_dataset.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pandas as pd
import pytest

from aulib.cli.data import add_prepare_parser
from aulib.data.prepare import prepare
from aulib.data.prepared import IMAGES, LANDMARKS, LANDMARKS_ORIGINAL, PROGRESS, TRANSFORMS
from aulib.data.records import RawFrame
from aulib.data.splits import assign_subject_splits, resolve_splits
from aulib.io import atomic_open, atomic_save_npy, atomic_write_csv, atomic_write_json, atomic_write_text
from aulib.method.align import PAPER_TEMPLATE, transform_points, warp_face
from aulib.method.shape import mean_shape

HEIGHT, WIDTH = 160, 200
SUBJECTS, SEQUENCES, FRAMES = ("S1", "S2", "S3"), ("T1", "T2"), 10
AUS = (6, 12, 25)
UNREADABLE_KEY = ("S2", "T1", 4)
NO_LANDMARKS_KEY = ("S3", "T2", 7)
SIZE = 128  # small crops keep the tests fast; the template scales with the size
ARRAYS = (IMAGES, LANDMARKS, LANDMARKS_ORIGINAL, TRANSFORMS, "exact_landmarks_original.npy")


def frame_seed(key: tuple[str, str, int]) -> int:
    subject, sequence, frame = key
    return SUBJECTS.index(subject) * 1000 + SEQUENCES.index(sequence) * 100 + frame


def face_similarity(key: tuple[str, str, int]) -> np.ndarray:
    """The known 2×3 similarity that places the 256-frame mean face in this frame's image."""
    rng = np.random.default_rng(frame_seed(key))
    scale, angle = rng.uniform(0.42, 0.5), rng.uniform(-0.25, 0.25)
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    linear = np.array([[c, -s], [s, c]])
    centre = np.array([WIDTH / 2, HEIGHT / 2]) + rng.uniform(-8, 8, 2)
    return np.concatenate([linear, (centre - linear @ np.array([128.0, 150.0]))[:, None]], axis=1)


def exact_points(key: tuple[str, str, int]) -> np.ndarray:
    return transform_points(mean_shape(), face_similarity(key))


def draw_face(key: tuple[str, str, int]) -> np.ndarray:
    """A noisy canvas with the face's outline in grey and white dots on the landmarks."""
    rng = np.random.default_rng(frame_seed(key) + 7)
    image = rng.integers(0, 60, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    points = exact_points(key)
    for part in (range(0, 17), range(17, 22), range(22, 27), range(27, 36), range(36, 42), range(42, 48),
                 range(48, 60)):
        cv2.polylines(image, [np.round(points[list(part)]).astype(np.int32)], False, (150, 120, 90), 1)
    for x, y in points:
        cv2.circle(image, (round(x), round(y)), 2, (255, 255, 255), -1)
    return image


def fake_labels() -> pd.DataFrame:
    rows = []
    for key in all_keys():
        rng = np.random.default_rng(frame_seed(key) + 11)
        values = rng.integers(0, 6, len(AUS)).astype(float)
        if key[2] == 3:
            values[1] = np.nan  # AU12 not codeable on every 4th frame of a sequence
        rows.append({"subject": key[0], "sequence": key[1], "frame": key[2],
                     **{f"AU{a:02d}": v for a, v in zip(AUS, values, strict=True)}})
    return pd.DataFrame(rows)


def all_keys() -> list[tuple[str, str, int]]:
    return [(s, q, f) for s in SUBJECTS for q in SEQUENCES for f in range(FRAMES)]


class FakeReader:
    """A dataset reader with the interface of ``aulib.data.synthau`` (and friends).

    Args:
        interrupt_after: raise ``KeyboardInterrupt`` when asked for frame number ``k + 1`` of a run.
    """

    NAME = "fakeset"
    AUS = AUS
    LANDMARK_LAYOUT = 68

    def __init__(self, interrupt_after: int | None = None) -> None:
        self.interrupt_after = interrupt_after
        self.skips: list[frozenset] = []  # the skip argument of every iter_frames call
        self.yielded: list[tuple[str, str, int]] = []  # every frame handed out, over all calls

    def read_labels(self, root: Path) -> pd.DataFrame:
        return fake_labels()

    def iter_frames(self, root: Path, labels: pd.DataFrame | None = None, skip: frozenset = frozenset()):
        labels = fake_labels() if labels is None else labels
        self.skips.append(frozenset(skip))
        served = 0
        au_columns = [c for c in labels.columns if c.startswith("AU")]
        for row in labels.itertuples(index=False):
            key = (row.subject, row.sequence, int(row.frame))
            if key in skip:
                continue
            if self.interrupt_after is not None and served == self.interrupt_after:
                raise KeyboardInterrupt
            served += 1
            self.yielded.append(key)
            yield make_frame(key, np.array([getattr(row, c) for c in au_columns], dtype=float))


def make_frame(key: tuple[str, str, int], labels: np.ndarray) -> RawFrame:
    source = f"fake/{key[0]}/{key[1]}/{key[2]:04d}.png"
    if key == UNREADABLE_KEY:
        return RawFrame(*key, labels=labels, image=None, source=source, error="corrupt PNG (test)")
    exact = exact_points(key)
    # The "tracked" landmarks are the exact ones plus a little noise, so the two fields differ.
    noisy = exact + np.random.default_rng(frame_seed(key) + 3).normal(0, 0.3, exact.shape)
    return RawFrame(*key, labels=labels, image=draw_face(key), landmarks=None if key == NO_LANDMARKS_KEY else noisy,
                    exact_landmarks=exact, source=source)


def run(out: Path, reader: FakeReader | None = None, **kwargs) -> dict:
    kwargs = {"size": SIZE, "chunk": 8, "progress": False} | kwargs
    return prepare(reader or FakeReader(), "fake-root", out, **kwargs)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("prepared")
    run(out)
    return out


def scaled_template(size: int) -> np.ndarray:
    # Pixel areas correspond: x_S = x_256 · S/256 + (S/256 − 1)/2 (pixel centres at integers).
    return PAPER_TEMPLATE * size / 256 + (size / 256 - 1) / 2


# ------------------------------------------------------------------------------------------------


def test_meta_describes_the_preparation(prepared):
    meta = json.loads((prepared / "meta.json").read_text())
    assert meta["format"] == "aulib-prepared" and meta["format_version"] == 1 and meta["complete"] is True
    assert meta["dataset"] == "fakeset"
    assert meta["aus"] == [6, 12, 25] and meta["au_labels"] == ["AU06", "AU12", "AU25"]
    assert meta["landmark_layout"] == 68
    assert meta["alignment"] == {"method": "paper", "size": SIZE}
    assert meta["detector"] == "given" and meta["source"] == "fake-root"
    assert (meta["n_frames"], meta["n_ok"], meta["n_unreadable"], meta["n_no_face"]) == (60, 58, 1, 1)
    assert meta["exact_landmarks"] is True
    assert sorted(meta["splits"]) == list(SUBJECTS)
    assert not (prepared / PROGRESS).exists()  # the resume bookkeeping is gone once complete


def test_arrays_have_the_documented_shapes_and_dtypes(prepared):
    expected = {IMAGES: ((60, SIZE, SIZE, 3), np.uint8), LANDMARKS: ((60, 68, 2), np.float32),
                LANDMARKS_ORIGINAL: ((60, 68, 2), np.float32), TRANSFORMS: ((60, 2, 3), np.float64),
                "exact_landmarks_original.npy": ((60, 68, 2), np.float32)}
    for name, (shape, dtype) in expected.items():
        array = np.load(prepared / name, mmap_mode="r")
        assert (array.shape, array.dtype) == (shape, dtype), name


def test_alignment_puts_the_paper_points_on_the_template(prepared):
    status = pd.read_csv(prepared / "labels.csv")["status"].to_numpy()
    ok = status == "ok"
    original = np.load(prepared / LANDMARKS_ORIGINAL)[ok]
    transforms = np.load(prepared / TRANSFORMS)[ok]
    aligned = np.load(prepared / LANDMARKS)[ok]
    template = np.broadcast_to(scaled_template(SIZE), (ok.sum(), 3, 2))
    np.testing.assert_allclose(transform_points(original[:, [8, 36, 45]], transforms), template, atol=1e-3)
    np.testing.assert_allclose(aligned[:, [8, 36, 45]], template, atol=1e-3)
    # Independent truth: each face is the mean shape moved by a known similarity, so aligning it undoes
    # that similarity and every landmark lands near its mean-shape place (noise: 0.3 px in the image).
    keys = [k for k, good in zip(all_keys(), ok, strict=True) if good]
    exact = np.stack([exact_points(k) for k in keys])
    np.testing.assert_allclose(np.load(prepared / "exact_landmarks_original.npy")[ok], exact, atol=1e-4)
    mean_in_crop = mean_shape() * SIZE / 256 + (SIZE / 256 - 1) / 2
    error = np.linalg.norm(transform_points(exact, transforms) - mean_in_crop, axis=-1)
    assert error.max() < 4.0 and np.median(error) < 1.0


def test_crops_are_exactly_the_warp_of_the_original(prepared):
    images = np.load(prepared / IMAGES, mmap_mode="r")
    transforms = np.load(prepared / TRANSFORMS)
    aligned = np.load(prepared / LANDMARKS)
    for index in (0, 17, 59):
        key = all_keys()[index]
        expected = warp_face(draw_face(key), transforms[index], SIZE)
        assert np.array_equal(images[index], expected), key
        # The white dots drawn on the eye corners show up where the aligned landmarks say.
        for point in (36, 45):
            x, y = np.round(aligned[index, point]).astype(int)
            assert images[index][y, x].min() > 180


def test_labels_csv_keeps_order_status_and_nan(prepared):
    table = pd.read_csv(prepared / "labels.csv", dtype={"subject": str, "sequence": str})
    assert list(table.columns) == ["index", "subject", "sequence", "frame", "status", "AU06", "AU12", "AU25"]
    assert table["index"].tolist() == list(range(60))
    assert list(zip(table["subject"], table["sequence"], table["frame"], strict=True)) == all_keys()
    truth = fake_labels()
    np.testing.assert_array_equal(table[["AU06", "AU12", "AU25"]].to_numpy(), truth[["AU06", "AU12", "AU25"]])
    assert table["AU12"].isna().sum() == 6  # frame 3 of each of the 6 sequences
    status = dict(zip(map(tuple, table[["subject", "sequence", "frame"]].to_numpy().tolist()), table["status"],
                      strict=True))
    assert status[UNREADABLE_KEY] == "unreadable" and status[NO_LANDMARKS_KEY] == "no_face"
    assert (table["status"] == "ok").sum() == 58


def test_report_lists_unusable_frames_with_reasons_and_their_rows_are_zero(prepared):
    report = pd.read_csv(prepared / "report.csv")
    assert list(report.columns) == ["index", "subject", "sequence", "frame", "source", "status", "reason"]
    rows = {(r.subject, r.sequence, r.frame): r for r in report.itertuples()}
    assert set(rows) == {UNREADABLE_KEY, NO_LANDMARKS_KEY}
    assert rows[UNREADABLE_KEY].status == "unreadable" and rows[UNREADABLE_KEY].reason == "corrupt PNG (test)"
    assert rows[UNREADABLE_KEY].source == "fake/S2/T1/0004.png"
    assert rows[NO_LANDMARKS_KEY].status == "no_face" and rows[NO_LANDMARKS_KEY].reason == "no landmarks given"
    for name in ARRAYS:
        array = np.load(prepared / name, mmap_mode="r")
        assert not array[report["index"].to_numpy()].any(), name


def test_rerun_of_a_finished_folder_returns_at_once(prepared):
    reader = FakeReader()
    before = (prepared / IMAGES).stat().st_mtime_ns
    summary = run(prepared, reader)
    assert summary["already_complete"] and summary["n_processed"] == 0 and summary["n_ok"] == 58
    assert reader.yielded == [] and (prepared / IMAGES).stat().st_mtime_ns == before


def read_all(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in (*ARRAYS, "labels.csv", "report.csv")}


def test_interrupted_run_resumes_without_redoing_frames(tmp_path, prepared):
    reader = FakeReader(interrupt_after=21)  # not a multiple of the chunk (8)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, reader)
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["complete"] is False and (tmp_path / PROGRESS).exists()
    assert not (tmp_path / "labels.csv").exists()
    first = list(reader.yielded)
    assert len(first) == 21

    reader.interrupt_after = None
    summary = run(tmp_path, reader)
    assert reader.skips[1] == frozenset(first)  # exactly the frames the first run saw
    assert sorted(reader.yielded) == sorted(all_keys())  # every frame once: none twice, none missing
    assert summary["n_processed"] == 60 - 21 and summary["n_ok"] == 58
    assert read_all(tmp_path) == read_all(prepared)  # byte-identical to the uninterrupted run


def test_rows_written_but_not_marked_are_redone(tmp_path, prepared):
    reader = FakeReader(interrupt_after=30)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, reader)
    # Simulate a crash between the data flush and the done-state flush of the last chunk.
    status = np.load(tmp_path / PROGRESS, mmap_mode="r+")
    status[24:30] = 0
    status.flush()
    del status
    reader.interrupt_after = None
    run(tmp_path, reader)
    assert reader.skips[1] == frozenset(all_keys()[:24])
    assert read_all(tmp_path) == read_all(prepared)


def test_refuses_to_mix_settings(tmp_path):
    run(tmp_path)
    with pytest.raises(ValueError, match="size"):
        run(tmp_path, size=64)
    with pytest.raises(ValueError, match="method"):
        run(tmp_path, method="similarity")
    # Also while unfinished, and for a labels table of another length.
    partial = tmp_path / "partial"
    with pytest.raises(KeyboardInterrupt):
        run(partial, FakeReader(interrupt_after=5))
    with pytest.raises(ValueError, match="size"):
        run(partial, size=64)
    shorter = FakeReader()
    shorter.read_labels = lambda root: fake_labels().iloc[:40]
    with pytest.raises(ValueError, match="n_frames"):
        run(partial, shorter)
    summary = run(partial, size=64, overwrite=True)
    assert summary["n_processed"] == 60
    assert np.load(partial / IMAGES, mmap_mode="r").shape == (60, 64, 64, 3)


def test_folder_with_foreign_array_files_is_refused(tmp_path):
    np.save(tmp_path / IMAGES, np.zeros(3))
    with pytest.raises(ValueError, match=r"no meta\.json"):
        run(tmp_path)


def test_detector_object_and_dataset_name_lookup(tmp_path, monkeypatch):
    class ExactDetector:
        """Recognises which fake image it is given and answers its exact points (a stand-in for dlib)."""

        name = "fake-detector"

        def __init__(self) -> None:
            self.calls = 0
            self.key_of = {draw_face(k).tobytes(): k for k in all_keys()}

        def detect_largest(self, rgb):
            self.calls += 1
            key = self.key_of[rgb.tobytes()]
            return None if key[2] == 0 else SimpleNamespace(points=exact_points(key), box=None, score=1.0)

    reader = FakeReader()
    monkeypatch.setitem(sys.modules, "aulib.data.fakeset", reader)  # prepare("fakeset") imports lazily
    detector = ExactDetector()
    summary = prepare("fakeset", "fake-root", tmp_path, detector=detector, size=SIZE, progress=False)
    assert detector.calls == 59  # every readable frame, also the one without given landmarks
    assert summary["n_no_face"] == 6 and summary["n_unreadable"] == 1
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["detector"] == "fake-detector"
    report = pd.read_csv(tmp_path / "report.csv")
    assert report.loc[report["status"] == "no_face", "reason"].str.contains("fake-detector").all()
    # Detected points are exact here, so the aligned exact landmarks sit on the template.
    ok = pd.read_csv(tmp_path / "labels.csv")["status"].to_numpy() == "ok"
    aligned = np.load(tmp_path / LANDMARKS)[ok]
    np.testing.assert_allclose(aligned[:, [8, 36, 45]], np.broadcast_to(scaled_template(SIZE), (ok.sum(), 3, 2)),
                               atol=1e-3)


def test_unknown_dataset_name_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="Unknown dataset 'nosuchset'"):
        prepare("nosuchset", tmp_path, tmp_path / "out", progress=False)


def test_reader_errors_propagate(tmp_path):
    reader = FakeReader()

    def bad_labels(root):
        raise ValueError("labels.csv line 7: AU12 intensity 9 is out of range 0-5")

    reader.read_labels = bad_labels
    with pytest.raises(ValueError, match="line 7"):
        run(tmp_path, reader)


def test_subject_splits_are_deterministic_and_proportional():
    subjects = [f"P{i:03d}" for i in range(100)]
    split = assign_subject_splits(subjects, test=0.25, val=0.15, seed=0)
    assert split == assign_subject_splits(list(reversed(subjects)), test=0.25, val=0.15, seed=0)
    counts = {name: list(split.values()).count(name) for name in ("train", "val", "test")}
    assert counts == {"test": 25, "val": 11, "train": 64}  # val: 15 % of the 75 non-test subjects
    assert split != assign_subject_splits(subjects, seed=1)
    # Few subjects: someone always trains.
    assert list(assign_subject_splits(["A"]).values()) == ["train"]
    assert "train" in assign_subject_splits(["A", "B"], test=0.9).values()
    with pytest.raises(ValueError):
        assign_subject_splits(subjects, test=1.0)


def test_splits_cover_each_subject_once(prepared):
    meta = json.loads((prepared / "meta.json").read_text())
    assert meta["splits"] == assign_subject_splits(SUBJECTS)  # the default for unknown datasets
    assert resolve_splits("fakeset", ["S2", "S1"], lambda s: "x" + s) == {"S1": "xS1", "S2": "xS2"}
    with pytest.raises(ValueError, match="S2"):
        resolve_splits("fakeset", ["S1", "S2"], {"S1": "train"})


def test_custom_splits_are_stored(tmp_path):
    run(tmp_path, splits={"S1": "train", "S2": "train", "S3": "test", "extra": "val"})
    assert json.loads((tmp_path / "meta.json").read_text())["splits"] == {"S1": "train", "S2": "train",
                                                                          "S3": "test"}


def test_cli_parser_defaults():
    import argparse

    parser = argparse.ArgumentParser()
    add_prepare_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["prepare", "bp4d", "--root", "r", "--out", "o"])
    assert (args.dataset, args.detector, args.method, args.size, args.overwrite) == ("bp4d", None, "paper", 256, False)
    assert args.handler.__name__ == "run_prepare"
    args = parser.parse_args(["prepare", "disfa", "--root", "r", "--out", "o", "--detector", "given", "--size", "128",
                              "--method", "similarity", "--overwrite"])
    assert (args.detector, args.size, args.method, args.overwrite) == ("given", 128, "similarity", True)


def test_default_splits_are_the_published_protocols():
    # BP4D: FERA2015's partitions (Valstar et al., FG 2015): odd-numbered subjects train, even-numbered ones dev
    assert resolve_splits("bp4d", ["F002", "F001", "M017", "M018"]) == {
        "F001": "train", "F002": "dev", "M017": "train", "M018": "dev"}
    # DISFA: JAA-Net's folds as its authors list them (part1 holds SN001 and SN026, part2 SN013 and SN031, part3
    # SN003 and SN004), not a seeded draw
    assert resolve_splits("disfa", ["SN001", "SN013", "SN003", "SN026", "SN031", "SN004"]) == {
        "SN001": "fold0", "SN003": "fold2", "SN004": "fold2", "SN013": "fold1", "SN026": "fold0", "SN031": "fold1"}
    synthau = resolve_splits("synthau", [f"S{k:03d}" for k in range(20)])
    assert sorted(set(synthau.values())) == ["test", "train", "val"]


def test_aus_follow_the_labels_table(tmp_path):
    reader = FakeReader()
    reader.read_labels = lambda root: fake_labels().drop(columns="AU12")  # e.g. SynthAU made with another AU set
    run(tmp_path, reader)
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["aus"] == [6, 25] and meta["au_labels"] == ["AU06", "AU25"]
    assert list(pd.read_csv(tmp_path / "labels.csv").columns)[-2:] == ["AU06", "AU25"]


def test_frame_labels_must_match_the_table(tmp_path):
    reader = FakeReader()
    original = reader.iter_frames

    def frames(root, labels=None, skip=frozenset()):
        for frame in original(root, labels, skip):
            frame.labels = frame.labels + 1
            yield frame

    reader.iter_frames = frames
    with pytest.raises(ValueError, match="differ from the labels table"):
        run(tmp_path, reader)


def test_atomic_writes_keep_the_old_file_on_error(tmp_path):
    path = tmp_path / "meta.json"
    atomic_write_json(path, {"version": 1})
    with pytest.raises(TypeError):
        atomic_write_json(path, {"version": object()})  # not serialisable
    assert json.loads(path.read_text()) == {"version": 1}

    table = tmp_path / "labels.csv"
    atomic_write_csv(table, pd.DataFrame({"a": [1, 2]}))
    with pytest.raises(RuntimeError), atomic_open(table, "w") as handle:
        handle.write("half a file")
        raise RuntimeError("disk full")
    assert table.read_text() == "a\n1\n2\n"

    array = tmp_path / "x.npy"
    atomic_save_npy(array, np.arange(3))
    with pytest.raises(RuntimeError), atomic_open(array, "wb") as handle:
        np.save(handle, np.zeros(5))
        raise RuntimeError("interrupted")
    np.testing.assert_array_equal(np.load(array), np.arange(3))
    atomic_write_text(tmp_path / "note.txt", "héllo\n")
    assert (tmp_path / "note.txt").read_text(encoding="utf-8") == "héllo\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.csv", "meta.json", "note.txt", "x.npy"]  # no temps


def test_cli_handler_prepares_and_reports_errors(tmp_path, monkeypatch, capsys):
    import argparse

    monkeypatch.setitem(sys.modules, "aulib.data.synthau", FakeReader())  # stands in for the real reader
    parser = argparse.ArgumentParser()
    add_prepare_parser(parser.add_subparsers(dest="command"))
    argv = ["prepare", "synthau", "--root", "fake-root", "--out", str(tmp_path), "--size", "64", "--quiet"]
    args = parser.parse_args(argv)
    assert args.handler(args) == 0
    assert json.loads((tmp_path / "meta.json").read_text())["n_ok"] == 58
    args = parser.parse_args([*argv[:-3], "--size", "32"])
    assert args.handler(args) == 2
    assert "refusing to mix" in capsys.readouterr().err
