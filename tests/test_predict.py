"""aulib.predict on real and synthetic inputs.

Independent truths used here:

- where the astronaut's face is: dlib run directly on each frame (the landmark module's own tests check dlib
  against an unrelated detector), and the known shifts with which the test video's frames were drawn;
- where an AU's peak must land in the original image: the AU centres of the known aligned landmarks
  (:func:`aulib.method.aus.au_centres`) mapped back with OpenCV's ``invertAffineTransform`` and ``transform``;
- timestamps: the frame rate the test video was written with.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import imageio.v3 as iio
import numpy as np
import pandas as pd
import pytest
import torch
from helpers import KnownFace, RenderedTargets, randomise_batchnorm
from skimage import data
from torch import nn

from aulib import cli
from aulib.detect import create_detector
from aulib.inference.convert import UnsafeCheckpointError, save_model_file
from aulib.inference.model import AUModel
from aulib.method.align import alignment_matrix, heatmap_to_image, transform_points
from aulib.method.aus import BP4D_AUS, au_centres, au_label
from aulib.method.heatmaps import HeatmapConfig
from aulib.method.shape import mean_shape
from aulib.models import create_model, fold_batchnorm
from aulib.predict import FaceTracker, expand_inputs, predict

LABELS = [au_label(a) for a in BP4D_AUS]
FPS = 10
SHIFTS = [(0, 0), (8, 4), (16, 8), (24, 12), None, (32, 16)]  # None: a blank frame


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()


@pytest.fixture(scope="module")
def dlib_detector():
    return create_detector("dlib")


@pytest.fixture(scope="module")
def tiny() -> nn.Module:
    torch.manual_seed(0)
    return create_model("tiny")


def _canvas(astronaut: np.ndarray, shift: tuple[int, int] | None) -> np.ndarray:
    """A 640×480 frame with the astronaut's head and shoulders moved by ``shift`` (None: a blank frame).

    Her whole picture would do too, but dlib then also reports a weak false face on her suit.
    """
    frame = np.zeros((480, 640, 3), np.uint8)
    if shift is not None:
        dx, dy = shift
        frame[20 + dy:340 + dy, 40 + dx:360 + dx] = astronaut[:320, 60:380]
    return frame


@pytest.fixture(scope="module")
def video(tmp_path_factory, astronaut):
    path = tmp_path_factory.mktemp("video") / "astronaut.mp4"
    frames = np.stack([_canvas(astronaut, s) for s in SHIFTS])
    iio.imwrite(path, frames, plugin="pyav", codec="libx264", fps=FPS)
    decoded = np.stack(list(iio.imiter(path, plugin="pyav")))
    return path, decoded


@pytest.fixture(scope="module")
def folder(tmp_path_factory, astronaut):
    folder = tmp_path_factory.mktemp("images")
    iio.imwrite(folder / "a_astronaut.png", astronaut)
    noise = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    iio.imwrite(folder / "b_noise.png", noise)
    (folder / "c_corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a JPEG")
    (folder / "notes.txt").write_text("ignored: not an image")
    iio.imwrite(folder / "d_grey.png", cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY))
    return folder


# --- inputs --------------------------------------------------------------------------------------------------


def test_folder_rows_in_name_order_with_statuses(folder, tiny, dlib_detector, astronaut):
    table = predict(folder, tiny, dlib_detector, progress=False)
    assert [Path(p).name for p in table["source"]] == [
        "a_astronaut.png", "b_noise.png", "c_corrupt.jpg", "d_grey.png"]
    assert table["status"].tolist() == ["ok", "no_face", "unreadable", "ok"]
    assert table["timestamp"].isna().all() and (table["frame"] == 0).all()
    # the box is dlib's own on the same image
    expected = dlib_detector.detect_largest(astronaut).box
    np.testing.assert_array_equal(table.loc[0, ["x0", "y0", "x1", "y1"]].to_numpy(float), expected)
    # rows without a face carry NaNs, never made-up numbers
    assert table.loc[1:2, [*LABELS, "x0", "AU06_x"]].isna().all().all()
    assert table.loc[[0, 3], LABELS].apply(lambda c: c.between(0, 5)).all().all()


def test_missing_input_is_an_error_and_unknown_files_in_folders_are_skipped(folder, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothere\.png"):
        expand_inputs(tmp_path / "nothere.png")
    assert all(p.suffix != ".txt" for p, _ in expand_inputs(folder))


def test_video_rows_timestamps_and_blank_frame(video, tiny, dlib_detector):
    path, decoded = video
    table = predict(path, tiny, dlib_detector, progress=False, track=False)
    assert table["frame"].tolist() == list(range(len(SHIFTS)))
    np.testing.assert_allclose(table["timestamp"], np.arange(len(SHIFTS)) / FPS)
    assert table["status"].tolist() == ["no_face" if s is None else "ok" for s in SHIFTS]
    # untracked: every box is exactly dlib's on the decoded frame
    for k, shift in enumerate(SHIFTS):
        if shift is not None:
            np.testing.assert_array_equal(table.loc[k, ["x0", "y0", "x1", "y1"]].to_numpy(float),
                                          dlib_detector.detect_largest(decoded[k]).box)


def test_video_frames_are_decoded_as_imageio_decodes_them(video):
    from aulib.predict.sources import iter_frames

    path, decoded = video  # decoded by imageio's PyAV plugin, an independent reader
    frames = list(iter_frames(path))
    assert len(frames) == len(decoded) and all(f.video and f.fps == FPS for f in frames)
    for frame, expected in zip(frames, decoded, strict=True):
        np.testing.assert_array_equal(frame.image, expected)


def test_tracking_follows_the_face_and_loses_it_on_the_blank_frame(video, dlib_detector, tiny):
    path, decoded = video
    tracker = FaceTracker(dlib_detector, track=True, redetect_every=100)
    boxes = []
    for k, image in enumerate(decoded):
        faces = tracker.faces(image, new_sequence=k == 0)
        boxes.append(faces[0].box if faces else None)
    assert [b is None for b in boxes] == [s is None for s in SHIFTS]
    # three full detections: the first frame, the blank frame (the face was lost there) and the frame after it
    # (no face to follow); frames 1-3 were tracked
    assert tracker.full_detections == 3
    reference = boxes[0]
    for box, shift in zip(boxes, SHIFTS, strict=True):
        if shift is None:
            continue
        # the tracked box follows the drawn shift (within the detector's 8-pixel HOG cell) and keeps its size
        centre_move = (box[:2] + box[2:]) / 2 - (reference[:2] + reference[2:]) / 2
        np.testing.assert_allclose(centre_move, shift, atol=8)
        assert (box[2] - box[0]) == pytest.approx(reference[2] - reference[0], rel=0.25)
    # predict with tracking gives the same statuses as without
    table = predict(path, tiny, dlib_detector, progress=False, track=True)
    assert table["status"].tolist() == ["no_face" if s is None else "ok" for s in SHIFTS]


def test_corrupt_video_gives_an_unreadable_row(tmp_path, tiny, dlib_detector, astronaut):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    table = predict([bad, astronaut], tiny, dlib_detector, progress=False)
    assert table["status"].tolist() == ["unreadable", "ok"]
    assert table.loc[0, "source"] == str(bad)


# --- geometry: peaks and overlays back in the original image ---------------------------------------------------


@pytest.mark.parametrize("method", ["paper", "similarity"])
def test_peaks_and_overlays_land_on_the_au_centres_in_the_original_image(tmp_path, method):
    # a face rotated by 12°, scaled by 1.3 and moved, in a 420×500 image
    angle = math.radians(12)
    rotation = 1.3 * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    points = mean_shape() @ rotation.T + [60.0, 35.0]
    image = np.full((420, 500, 3), 90, np.uint8)
    matrix = alignment_matrix(points, method=method)
    aligned = transform_points(points, matrix)
    intensities = [1.0, 2.0, 3.0, 4.0, 5.0]
    network = RenderedTargets(aligned, intensities)

    table = predict(image, network, KnownFace(points), progress=False, overlays_dir=tmp_path / "overlays",
                    precision="fp32")
    np.testing.assert_allclose(table.loc[0, LABELS].to_numpy(float), intensities, atol=1e-6)

    # expected: the AU centres in the aligned frame, mapped back with OpenCV (an independent inverse)
    centres, valid = au_centres(torch.tensor(aligned)[None])
    inverse = cv2.invertAffineTransform(matrix)
    scale = math.sqrt(abs(np.linalg.det(inverse[:, :2])))  # image pixels per 256-frame pixel
    checked = []
    for a, label in enumerate(LABELS):
        candidates = cv2.transform(centres[0, a][valid[a]].numpy()[None], inverse)[0]  # (C, 2)
        peak = table.loc[0, [f"{label}_x", f"{label}_y"]].to_numpy(float)
        distance = np.linalg.norm(candidates - peak, axis=1).min()
        assert distance < 1.0 * scale, (label, peak, candidates)

        # the overlay map (heatmap resampled onto the image): its mass near the centre sits on the centre
        overlay = heatmap_to_image(network.maps[0].permute(1, 2, 0).numpy(), matrix, image.shape[:2])[..., a]
        centre = candidates[np.linalg.norm(candidates - peak, axis=1).argmin()]
        sigma = HeatmapConfig().sigma(torch.tensor(intensities[a])).item() * scale  # image pixels
        others = [c for c in candidates if c is not centre and np.linalg.norm(c - centre) > 0]
        if any(np.linalg.norm(c - centre) < 5 * sigma for c in others):
            continue  # the AU's two centres overlap: the mass near one is pulled towards the other
        checked.append(label)
        ys, xs = np.mgrid[: image.shape[0], : image.shape[1]]
        near = (xs - centre[0]) ** 2 + (ys - centre[1]) ** 2 <= (2 * sigma) ** 2
        weights = overlay * near
        mass_centre = np.array([(weights * xs).sum(), (weights * ys).sum()]) / weights.sum()
        assert np.linalg.norm(mass_centre - centre) < 1.0 * scale, (label, mass_centre, centre)
        assert overlay.max() == pytest.approx(intensities[a], rel=0.1)

    assert "AU17" in checked and len(checked) >= 2, checked
    written = sorted((tmp_path / "overlays").iterdir())
    assert [p.name for p in written] == ["<array 0>_000000.png"]
    assert iio.imread(written[0]).shape == (420, 5 * 500, 3)


# --- models and the command line -------------------------------------------------------------------------------


def test_cli_end_to_end_with_a_model_file(tmp_path, astronaut, video, tiny, dlib_detector):
    model_file = save_model_file(tmp_path / "tiny.pt", tiny.state_dict(), preset="tiny")
    image_path = tmp_path / "astronaut.png"
    iio.imwrite(image_path, astronaut)
    out = tmp_path / "out"
    assert cli.main(["predict", str(image_path), str(video[0]), "--model", str(model_file), "--out", str(out),
                     "--overlay-video", "--plot", "--quiet", "--device", "cpu"]) == 0
    table = pd.read_csv(out / "predictions.csv")
    assert len(table) == 1 + len(SHIFTS)
    assert table["status"].tolist() == ["ok"] + ["no_face" if s is None else "ok" for s in SHIFTS]
    # the same numbers as the library call with the same weights
    direct = predict([image_path, video[0]], tiny, dlib_detector, progress=False, device="cpu")
    np.testing.assert_allclose(table[LABELS].to_numpy(float), direct[LABELS].to_numpy(float), atol=1e-6)
    written = iio.improps(out / "astronaut_overlay.mp4", plugin="pyav")
    assert written.shape[0] == len(SHIFTS) and written.shape[1:3] == (480, 640)
    assert (out / "intensities.png").stat().st_size > 1000


def test_model_loading_keeps_the_run_settings(tmp_path, tiny):
    save_model_file(tmp_path / "m.pt", tiny.state_dict(), preset="tiny", alignment="similarity", crop_size=128)
    loaded = AUModel.load(tmp_path / "m.pt", device="cpu")
    assert (loaded.alignment, loaded.crop_size, loaded.input_size, loaded.aus) == ("similarity", 128, 96, BP4D_AUS)
    for key, value in tiny.state_dict().items():
        torch.testing.assert_close(loaded.module.state_dict()[key], value)
    with pytest.raises(ValueError, match="7 output maps"):
        AUModel.load(create_model("tiny", num_maps=7))
    assert AUModel.load(create_model("tiny", num_maps=2), aus=[12, 6]).aus == (12, 6)


def test_model_file_with_pickled_code_is_refused(tmp_path, tiny):
    payload = {"format": "aulib-model", "version": 1, "preset": "tiny", "aus": list(BP4D_AUS),
               "alignment": "paper", "state_dict": tiny.state_dict(), "extra": KnownFace(mean_shape())}
    torch.save(payload, tmp_path / "evil.pt")
    with pytest.raises(UnsafeCheckpointError, match="pickled Python code"):
        AUModel.load(tmp_path / "evil.pt")


@pytest.mark.parametrize("preset, options, tolerance", [
    ("tiny", {"stacks": 2}, 1e-5), ("tiny", {"block": "convblock", "pool": "avg"}, 1e-5),
    ("resnet18-small", {}, 1e-4),  # 18 folded layers in a row: float32 rounding adds up
], ids=["bottleneck", "fan", "resnet"])
def test_folded_network_computes_the_same_function(preset, options, tolerance):
    torch.manual_seed(0)
    model = create_model(preset, **options)
    randomise_batchnorm(model)  # fresh BatchNorms are identities and would hide a wrong fold
    model.eval()
    folded = fold_batchnorm(model)
    batchnorms = [m for m in folded.modules() if isinstance(m, nn.BatchNorm2d)]
    # the bottleneck network keeps none; FAN's pre-activation blocks keep theirs (nothing to fold into)
    assert (len(batchnorms) == 0) == ("block" not in options)
    x = torch.rand(2, 3, model.input_size, model.input_size)
    with torch.inference_mode():
        torch.testing.assert_close(folded(x), model(x), rtol=tolerance, atol=tolerance)
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # the original is untouched


def test_default_precision_is_fp32_on_cpus_and_bf16_on_gpus():
    from aulib.inference.precision import resolve_precision

    assert resolve_precision("auto", torch.device("cpu")) is None
    assert resolve_precision("auto", torch.device("cuda")) == torch.bfloat16
    assert resolve_precision("bf16", torch.device("cpu")) == torch.bfloat16
    assert resolve_precision("fp32", torch.device("cuda")) is None


# --- the frame pipeline --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def numbered(tmp_path_factory, video):
    """The test video's frames as a folder of numbered PNGs (frame_10 after frame_9: numeric order)."""
    folder = tmp_path_factory.mktemp("numbered")
    for k, image in enumerate(video[1]):
        iio.imwrite(folder / f"frame_{k}.png", image)
    return folder


class CountingDetector:
    """dlib, counting its full-frame detections (the tracker searches regions between them)."""

    def __init__(self, detector) -> None:
        self.detector, self.frames = detector, []

    def detect(self, image):
        self.frames.append(image.shape)
        return self.detector.detect(image)

    def landmarks_in_box(self, image, box, score=1.0):
        return self.detector.landmarks_in_box(image, box, score=score)


def test_a_folder_of_numbered_frames_is_tracked_like_a_video(numbered, video, tiny, dlib_detector):
    from aulib.predict.sources import count_frames

    assert [p.name for p, kind in expand_inputs(numbered)] == [f"frame_{k}.png" for k in range(len(SHIFTS))]
    assert {kind for _, kind in expand_inputs(numbered)} == {"frames"}
    counting = CountingDetector(dlib_detector)
    table = predict(numbered, tiny, counting, progress=False, track=True)
    assert table["frame"].tolist() == list(range(len(SHIFTS)))
    assert table["status"].tolist() == ["no_face" if s is None else "ok" for s in SHIFTS]
    # Tracked: full 640×480 detections only at the start and after the blank frame, regions in between.
    full = [shape for shape in counting.frames if shape[:2] == (480, 640)]
    assert len(full) == 3  # frame 0, the blank frame 4, and frame 5 after the face was lost
    video_table = predict(video[0], tiny, dlib_detector, progress=False, track=True)
    np.testing.assert_allclose(table[LABELS].to_numpy(float), video_table[LABELS].to_numpy(float), atol=1e-4)
    assert count_frames(numbered) == count_frames(video[0]) == len(SHIFTS)


def test_the_progress_bar_total_is_known_before_the_first_frame(folder, video):
    from aulib.predict.sources import count_frames

    assert count_frames(folder) == 4  # the corrupt file is a row too; notes.txt is not
    assert count_frames([video[0], folder, np.zeros((8, 8, 3), np.uint8)]) == len(SHIFTS) + 4 + 1


def test_overlapping_the_frames_with_the_network_changes_nothing(video, tiny, dlib_detector):
    together = predict(video[0], tiny, dlib_detector, progress=False, overlap=True, track=True)
    in_turn = predict(video[0], tiny, dlib_detector, progress=False, overlap=False, track=True)
    pd.testing.assert_frame_equal(together, in_turn)
