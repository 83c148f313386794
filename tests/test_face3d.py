"""SynthAU-3D: the converted ICT face model, AUs as its shapes, and the OpenGL renderer.

The truths are independent of aulib's code: vertex coordinates copied from ICT-FaceKit's ``.obj`` files by awk
(``tests/data/ict_vertices.json``, ``tools/ict_fixture.sh``), the real-face magnitude of AU12 measured on py-feat's
model (``aulib.data.face3d.model``'s docstring), dlib's 68-point predictor run on rendered frames, and geometry.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aulib.data.face3d.model import AU_SHAPES, FaceModel3D, vertex_normals

FIXTURE = Path(__file__).parent / "data" / "ict_vertices.json"


@pytest.fixture(scope="module")
def model() -> FaceModel3D:
    return FaceModel3D.load()


@pytest.fixture(scope="module")
def renderer(model):
    from aulib.data.face3d.render import FaceRenderer

    try:
        renderer = FaceRenderer(256, model=model)
    except RuntimeError as error:  # no OpenGL here; CI installs Mesa's EGL (.ci/run)
        pytest.skip(str(error))
    yield renderer
    renderer.release()


def test_asset_reproduces_the_obj_files(model):
    fixture = json.loads(FIXTURE.read_text())
    vertices = fixture["vertices"]
    expected_neutral = np.asarray(fixture["shapes"]["generic_neutral_mesh"])
    np.testing.assert_allclose(model.neutral[vertices], expected_neutral, atol=1e-4)
    checked = 0
    for name, rows in fixture["shapes"].items():
        expected = np.asarray(rows)
        if name.startswith("identity"):
            shape = model.identity[int(name[len("identity"):])]
        elif name != "generic_neutral_mesh":
            shape = model.expression[model.shape_index(name)]
        else:
            continue
        # float16 deltas of a few centimetres: 1e-3 cm resolution at most.
        np.testing.assert_allclose(model.neutral[vertices] + shape[vertices], expected, atol=2e-3, err_msg=name)
        checked += 1
    assert checked == 9
    np.testing.assert_array_equal(model.landmarks, ICT_README_MULTI_PIE_68)


# ICT-FaceKit's README, "Facial Landmarks" (commit 01f6c97, read 2026-12-06): the Multi-PIE 68 vertex indices,
# published separately from the vertex_indices.json the converter reads.
ICT_README_MULTI_PIE_68 = [
    1225, 1888, 1052, 367, 1719, 1722, 2199, 1447, 966, 3661, 4390, 3927, 3924, 2608, 3272, 4088, 3443, 268, 493,
    1914, 2044, 1401, 3615, 4240, 4114, 2734, 2509, 978, 4527, 4942, 4857, 1140, 2075, 1147, 4269, 3360, 1507, 1542,
    1537, 1528, 1518, 1511, 3742, 3751, 3756, 3721, 3725, 3732, 5708, 5695, 2081, 0, 4275, 6200, 6213, 6346, 6461,
    5518, 5957, 5841, 5702, 5711, 5533, 6216, 6207, 6470, 5517, 5966]


def test_au12_raises_the_lip_corners_by_the_documented_amount(model):
    neutral = model.vertices(model.mean_identity(), {})
    iod = model.iod(neutral)
    corners = model.landmarks[[48, 54]]
    # data/README: the corners rise 0.118 IOD at weight 1, and the gain 1.55 gives weight 0.93 at intensity 3 and
    # 1.55 at 5 (0.110 and 0.183 IOD), so intensity 3 meets py-feat's real-video model (0.11 IOD).
    for intensity, documented_rise in ((3.0, 0.93 * 0.118), (5.0, 1.55 * 0.118)):
        smile = model.vertices(model.mean_identity(), model.au_weights({12: intensity}))
        move = (smile - neutral)[corners] / iod
        assert move[:, 1] == pytest.approx([documented_rise] * 2, abs=0.002), (intensity, move)
        assert move[0, 0] < 0 < move[1, 0]  # and outwards: 48 is the subject's right (-x), 54 the left


def test_aus_move_what_facs_says(model):
    neutral = model.vertices(model.mean_identity(), {})
    iod = model.iod(neutral)

    def rise(au: int, landmark: int) -> float:
        face = model.vertices(model.mean_identity(), model.au_weights({au: 5.0}))
        return float((face - neutral)[model.landmarks[landmark], 1] / iod)

    assert rise(17, 8) > 0.05  # chin raiser: the chin goes up
    assert rise(17, 57) > 0.05  # and pushes the lower lip up
    assert rise(10, 50) > 0.04 and rise(10, 52) > 0.04  # upper lip raiser
    assert rise(6, 13) > 0.02  # cheek raiser lifts the cheek below the eye
    assert abs(rise(6, 57)) < 0.01 and abs(rise(17, 19)) < 0.005  # and nothing far from where each acts
    # The other simulated AUs: AU15 pulls the corners down, AU1 raises the inner brows, AU9 the nostril wings, and
    # AU26 drops the lower lip by py-feat's real-video 0.26 IOD at intensity 3 (py-feat 2.1.5's au_to_mesh_pls_v4.npz).
    assert rise(15, 48) < -0.03 and rise(15, 54) < -0.03
    assert rise(1, 21) > 0.05 and rise(1, 22) > 0.05
    assert rise(9, 31) > 0.04 and rise(9, 35) > 0.04
    jaw = model.vertices(model.mean_identity(), model.au_weights({26: 3.0}))
    assert float((jaw - neutral)[model.landmarks[57], 1] / iod) == pytest.approx(-0.26, abs=0.02)
    # BP4D's five never use a distractor's shape (eyeSquint is AU7, mouthShrugUpper ICT's AU10) nor another AU's.
    from aulib.data.face3d.model import DISTRACTORS
    from aulib.method.aus import BP4D_AUS

    distractor_shapes = {shape for name in DISTRACTORS for shape in (name, f"{name}_L", f"{name}_R")}
    for au in BP4D_AUS:
        own = {shape for shape, _ in AU_SHAPES[au]}
        others = {shape for other, shapes in AU_SHAPES.items() if other != au for shape, _ in shapes}
        assert not own & (distractor_shapes | others), au


def test_bad_intensities_are_refused(model):
    with pytest.raises(ValueError, match="AU7 has no expression shape"):
        model.au_weights({7: 1.0})  # AU7 (lid tightener) is eyeSquint's AU: a distractor, never labelled
    with pytest.raises(ValueError, match="outside"):
        model.au_weights({12: 5.5})
    with pytest.raises(ValueError, match="identity weights must have shape"):
        model.identity_vertices(np.zeros(3))


def test_vertex_normals_of_a_sphere_point_outwards():
    # A UV sphere: the normal at every vertex is the direction from the centre.
    theta, phi = np.meshgrid(np.linspace(0.2, np.pi - 0.2, 20), np.linspace(0, 2 * np.pi, 40, endpoint=False))
    points = np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], -1).reshape(-1, 3)
    rows, columns = theta.shape
    triangles = []
    for i in range(rows):
        for j in range(columns - 1):
            a, b, c, d = i * columns + j, ((i + 1) % rows) * columns + j, i * columns + j + 1, \
                ((i + 1) % rows) * columns + j + 1
            triangles += [(a, b, c), (c, b, d)]
    normals = vertex_normals(points.astype(np.float32), np.asarray(triangles))
    inner = np.abs(theta.reshape(-1) - np.pi / 2) < 1.0  # away from the open rims
    cosine = np.abs(np.sum(normals[inner] * points[inner], axis=1))
    assert cosine.min() > 0.99


def test_a_persons_geometry_gain_scales_the_motion_of_an_au(model):
    """Blend shapes are linear in their weights, so a person whose face moves 1.4 times the documented amount shows
    AU12 at intensity 2 as the documented face shows it at 2.8; and their lip corners rise 1.4 times as far."""
    neutral = model.vertices(model.mean_identity(), {})
    corners = model.landmarks[[48, 54]]
    expressive = model.vertices(model.mean_identity(), model.au_weights({12: 2.0}, {12: 1.4}))
    documented = model.vertices(model.mean_identity(), model.au_weights({12: 2.8}))
    np.testing.assert_allclose(expressive, documented, atol=1e-5)
    rise = (model.vertices(model.mean_identity(), model.au_weights({12: 2.0})) - neutral)[corners, 1]  # documented
    np.testing.assert_allclose((expressive - neutral)[corners, 1], 1.4 * rise, rtol=1e-4)
    # another AU's gain leaves AU12 alone; a gain that is not positive is refused by name
    documented_two = model.vertices(model.mean_identity(), model.au_weights({12: 2.0}))
    np.testing.assert_allclose(model.vertices(model.mean_identity(), model.au_weights({12: 2.0}, {6: 3.0})),
                               documented_two, atol=1e-6)
    with pytest.raises(ValueError, match=r"AU12 person gain 0\.0"):
        model.au_weights({12: 2.0}, {12: 0.0})


def test_people_differ_in_expressivity_with_synthau_v2s_spread(model):
    """SynthAU v2 draws per-AU gains exp(0.2 e z) (motion) and exp(0.25 e z) (appearance): over 300 people the log
    gains' standard deviations are 0.2 e and 0.25 e, within sampling error (about 4% of each)."""
    from aulib.data.face3d.sample import sample_subject
    from aulib.data.synthau.faces import SIMULATED_AUS

    people = [sample_subject(np.random.default_rng([seed, 0]), model, expressivity=0.85) for seed in range(300)]
    geometry = np.log([[person.geometry_gain[au] for au in SIMULATED_AUS] for person in people])
    appearance = np.log([[person.appearance_gain[au] for au in SIMULATED_AUS] for person in people])
    assert abs(geometry.std() - 0.2 * 0.85) < 0.012 and abs(appearance.std() - 0.25 * 0.85) < 0.015
    assert abs(geometry.mean()) < 0.01 and abs(appearance.mean()) < 0.01
    assert abs(np.corrcoef(geometry.ravel(), appearance.ravel())[0, 1]) < 0.05  # drawn independently
    # drawn last: the person's other attributes do not depend on the expressivity, and 0 gives the documented face
    flat = sample_subject(np.random.default_rng([0, 0]), model, expressivity=0.0)
    assert set(flat.geometry_gain.values()) == {1.0} == set(flat.appearance_gain.values())
    np.testing.assert_array_equal(flat.identity, people[0].identity)
    assert (flat.skin, flat.age_lines, flat.background) == (people[0].skin, people[0].age_lines, people[0].background)
    with pytest.raises(ValueError, match="expressivity must be >= 0"):
        sample_subject(np.random.default_rng(0), model, expressivity=-0.1)


def test_a_persons_appearance_gain_deepens_the_aus_folds(renderer):
    """AU6's crow's feet and AU12's nasolabial fold at intensity 2 for a person with appearance gain 2 are the
    documented face's at intensity 4; the folds of age (no AU) do not change."""
    from aulib.data.face3d.render import Subject3D

    identity = renderer.model.mean_identity()
    documented = Subject3D(identity, age_lines=0.3)
    deep = Subject3D(identity, age_lines=0.3, appearance_gain={6: 2.0, 12: 2.0})
    assert renderer._folds({6: 2.0, 12: 2.0}, deep) == renderer._folds({6: 4.0, 12: 4.0}, documented)
    assert renderer._folds({}, deep) == renderer._folds({}, documented)
    assert renderer._folds({6: 2.0}, deep) != renderer._folds({6: 2.0}, documented)


def test_same_seed_same_person_frame_and_landmarks(renderer):
    from aulib.data.face3d.sample import sample_frame, sample_subject

    def draw(seed: int):
        subject = sample_subject(np.random.default_rng([seed, 1]))
        params = sample_frame(subject, {12: 3.0, 6: 1.0}, np.random.default_rng([seed, 2]), variation=1.0)
        return params, renderer.landmarks(params), renderer.render(params, np.random.default_rng(seed))

    first, second, other = draw(5), draw(5), draw(6)
    np.testing.assert_array_equal(first[1], second[1])
    np.testing.assert_array_equal(first[2][0], second[2][0])  # same machine, same renderer: same pixels
    np.testing.assert_array_equal(first[2][1], first[1])  # render() returns the numpy landmarks
    assert np.abs(first[1] - other[1]).max() > 1.0  # and another seed is another face


def test_another_persons_landmarks_between_frames_change_nothing(renderer):
    """The renderer caches a person's shape: asking for someone else's landmarks must not leak into the next frame."""
    from aulib.data.face3d.sample import sample_frame, sample_subject

    first = sample_frame(sample_subject(np.random.default_rng(11)), {12: 4.0}, np.random.default_rng(12))
    second = sample_frame(sample_subject(np.random.default_rng(13)), {}, np.random.default_rng(14))
    image, landmarks = renderer.render(first, np.random.default_rng(0))
    renderer.landmarks(second)
    again, landmarks_again = renderer.render(first, np.random.default_rng(0))
    np.testing.assert_array_equal(landmarks_again, landmarks)
    np.testing.assert_array_equal(again, image)


def test_another_opengl_context_in_the_process_leaves_the_frames_as_they_were(renderer, model):
    """A second renderer (another image size) or a GL check makes its own context current; the first renderer used to
    draw into it, so that a 3D set generated after a check held noise where the face should be (dlib found none)."""
    from aulib.data.face3d.render import FaceRenderer, gl_context
    from aulib.data.face3d.sample import sample_frame, sample_subject

    params = sample_frame(sample_subject(np.random.default_rng(21)), {12: 3.0}, np.random.default_rng(22))
    image, _ = renderer.render(params, np.random.default_rng(0))
    gl_context().release()
    other = FaceRenderer(128, model=model)
    small, _ = other.render(params, np.random.default_rng(0))
    again, _ = renderer.render(params, np.random.default_rng(0))
    other.release()
    np.testing.assert_array_equal(again, image)
    assert small.shape == (128, 128, 3) and small.std() > 10  # the other renderer draws a face too


def test_rendered_landmarks_land_where_dlib_finds_them(renderer):
    dlib = pytest.importorskip("dlib")
    from aulib.data.face3d.render import FaceParams
    from aulib.data.face3d.sample import sample_subject
    from aulib.data.synthau.scene import Scene
    from aulib.detect.dlib_backend import dlib_predictor_path

    detector, predictor = dlib.get_frontal_face_detector(), dlib.shape_predictor(str(dlib_predictor_path()))
    for seed in (0, 1, 4):
        subject = sample_subject(np.random.default_rng(seed))
        scene = Scene(blur_sigma=0.4, noise_sigma=1.0)
        params = FaceParams(subject=subject, intensities={12: float(seed)}, scene=scene)
        image, landmarks = renderer.render(params, np.random.default_rng(0))
        faces = detector(image, 1)
        assert len(faces) == 1, f"dlib finds {len(faces)} faces in rendered person {seed}"
        shape = predictor(image, faces[0])
        found = np.array([[point.x, point.y] for point in shape.parts()], np.float32)
        error = np.linalg.norm(found - landmarks, axis=1)
        iod = np.linalg.norm(landmarks[36] - landmarks[45])
        assert 60 < iod < 95  # the default framing: outer-eye-corner distance 0.30 of 256 px
        assert np.median(error) < 4.0, (seed, np.median(error))  # measured 1.9-3.2 px
        assert error[[36, 39, 42, 45, 30, 48, 54]].max() < 7.0, (seed, error)


def test_pose_turns_the_face(renderer):
    from aulib.data.face3d.render import FaceParams

    frontal = renderer.landmarks(FaceParams())
    turned = renderer.landmarks(FaceParams(yaw=25.0))
    # Turning to its left (yaw > 0) moves the nose tip to the image's right of the eyes' midpoint.
    assert turned[30, 0] - turned[[36, 45], 0].mean() > 8
    assert abs(frontal[30, 0] - frontal[[36, 45], 0].mean()) < 1
    rolled = renderer.landmarks(FaceParams(roll=15.0))
    angle = np.degrees(np.arctan2(-(rolled[45, 1] - rolled[36, 1]), rolled[45, 0] - rolled[36, 0]))
    assert angle == pytest.approx(15.0, abs=1.0)  # roll is the eye line's angle, counter-clockwise in the image


def test_missing_opengl_is_a_clear_error(monkeypatch):
    moderngl = pytest.importorskip("moderngl")
    from aulib.data.face3d import render

    def fail(**kwargs):
        raise Exception("eglGetDisplay failed")

    monkeypatch.setattr(moderngl, "create_standalone_context", fail)
    # each platform's message names what to install or change, and the failing call
    for platform, names in (("linux", "libegl1 libegl-mesa0 libgl1-mesa-dri"), ("darwin", "desktop session"),
                            ("win32", "mesa-dist-win")):
        monkeypatch.setattr(render.sys, "platform", platform)
        with pytest.raises(RuntimeError, match=f"eglGetDisplay failed.*{names}"):
            render.gl_context()


def test_synth_renderer_3d_writes_the_synthau_layout(tmp_path, renderer):
    from aulib.data.synthau import generate, iter_frames, load_config, read_labels
    from aulib.data.synthau.faces import SIMULATED_AUS

    first = generate(tmp_path / "a", subjects=2, frames=8, seed=4, progress=False, renderer="3d")
    assert load_config(tmp_path / "a").renderer == "3d" == first.renderer
    labels = read_labels(tmp_path / "a", aus=SIMULATED_AUS)
    assert labels.groupby("subject").sequence.nunique().tolist() == [8, 8]  # every subject performs every task
    # Every AU the protocol simulates has shapes, so each is shown and labelled as in the 2D generator: the sad
    # film and the insult recruit AU4 and AU15, BP4D's five are labelled beside them.
    from aulib.data.face3d.model import AU_SHAPES

    assert set(SIMULATED_AUS) <= set(AU_SHAPES)
    assert (labels[["AU04", "AU15", "AU12", "AU17"]] > 0).any().all()
    frames = list(iter_frames(tmp_path / "a"))
    assert len(frames) == 16 and frames[0].image.shape == (256, 256, 3)
    # Labels and landmarks are numpy: a second run gives the same numbers. It runs in two worker processes, each
    # with one rasteriser thread: on one machine the pixels do not depend on how the work was split either.
    generate(tmp_path / "b", subjects=2, frames=8, seed=4, progress=False, renderer="3d", workers=2)
    again = list(iter_frames(tmp_path / "b"))
    for one, other in zip(frames, again, strict=True):
        np.testing.assert_array_equal(one.exact_landmarks, other.exact_landmarks)
        np.testing.assert_array_equal(one.landmarks, other.landmarks)
        np.testing.assert_array_equal(one.labels, other.labels)
        np.testing.assert_array_equal(one.image, other.image)
    # ... and the same numbers as on the machine that wrote the golden file (another CPU, another day): labels
    # exactly, landmarks to the file's 4 decimals. Only the pixels may depend on the renderer.
    golden = json.loads((Path(__file__).parent / "data" / "synthau3d_seed4_golden.json").read_text())
    assert [[str(f.subject), str(f.sequence), str(f.frame)] for f in frames] == golden["keys"]
    np.testing.assert_array_equal([f.labels for f in frames], golden["labels"])
    for name in ("exact_landmarks", "landmarks"):
        for index, expected in golden[name].items():
            np.testing.assert_allclose(getattr(frames[int(index)], name), expected, atol=1e-3, err_msg=name)
    with pytest.raises(ValueError, match="renderer must be one of"):
        generate(tmp_path / "c", subjects=1, frames=8, progress=False, renderer="4d")


def test_a_clips_plan_gives_the_golden_sets_labels_without_rendering():
    # The error analysis (tools/synthau3d_error_sources.py) replays a set's frames from plan_clip_3d alone. Its
    # rounded intensities must be the labels of the golden file (seed 4, written on another machine and day by
    # rendering). The intensities are the clip's first draws; pose and distractors follow from the same generator.
    from aulib.data.face3d.sequence import plan_clip_3d
    from aulib.data.synthau.faces import SIMULATED_AUS
    from aulib.data.synthau.protocol import SynthConfig, clip_lengths, intensity_labels

    golden = json.loads((Path(__file__).parent / "data" / "synthau3d_seed4_golden.json").read_text())
    config = SynthConfig(subjects=2, frames=8, seed=4, renderer="3d")
    lengths = clip_lengths(config.frames)
    labels = []
    for subject, sequence, frame in golden["keys"]:
        plan = plan_clip_3d(config, int(subject[1:]) - 1, int(sequence[1:]) - 1, lengths[int(sequence[1:]) - 1])
        labels.append(intensity_labels(plan.intensities[int(frame) - 1]))
    bp4d = [SIMULATED_AUS.index(au) for au in (6, 10, 12, 14, 17)]  # the golden file's columns: BP4D's AUs
    np.testing.assert_array_equal(np.array(labels)[:, bp4d], golden["labels"])
    with pytest.raises(ValueError, match="task index"):
        plan_clip_3d(config, 0, 8, 1)


def test_aulib_synth_and_prepare_default_to_the_course_s_data(tmp_path, renderer):
    """With no options, the two commands make what the course makes: SynthAU-3D, aligned with dlib's landmarks."""
    from aulib.cli import main
    from aulib.data.synthau import load_config

    assert main(["synth", "--out", str(tmp_path / "set"), "--subjects", "1", "--frames", "8"]) == 0
    assert load_config(tmp_path / "set").renderer == "3d"
    assert len(list((tmp_path / "set" / "Sequences" / "S001").glob("T*/0001.png"))) == 8
    assert main(["prepare", "synthau", "--root", str(tmp_path / "set"), "--out", str(tmp_path / "prepared"),
                 "--quiet"]) == 0
    assert json.loads((tmp_path / "prepared" / "meta.json").read_text())["detector"] == "dlib"


def test_the_course_runs_on_synthau_3d_with_the_simulated_trackers_landmarks(tmp_path, renderer):
    """``DETECTOR=given`` alone (with the small sizes every course test uses) runs all six notebooks on SynthAU-3D
    aligned with the simulated tracker's landmarks instead of dlib's, and moves the committed folders to that
    variant's: its reference runs, and no SynthAU v2 controls beside them."""
    from conftest import small_parameters

    from aulib.course import pipeline
    from aulib.data.synthau import load_config

    parameters = {**small_parameters(tmp_path), "COMPARISON": "auto", "DETECTOR": "given"}
    records = pipeline.run_notebooks("smoke", overrides=parameters, output_dir=tmp_path / "executed", progress=False)
    assert [r["notebook"][:2] for r in records] == ["01", "02", "03", "04", "05", "06"]
    assert load_config(tmp_path / "synthau").renderer == "3d"
    meta = json.loads((tmp_path / "prepared" / "meta.json").read_text())
    assert meta["dataset"] == "synthau" and meta["detector"] == "given"
    # notebook 04 read this variant's committed reference runs (their scores, not dlib's nor SynthAU v2's), every seed
    committed = Path(pipeline.ROOT) / "models" / "reference-3d"
    assert json.loads((committed / "provenance.json").read_text())["renderer"] == "3d"
    expected = pd.read_csv(committed / "comparison.csv").query("run == 'hourglass' and AU == 'Mean'")
    shown = pd.read_csv(tmp_path / "runs" / "reference_seeds.csv").query("run == 'hourglass' and AU == 'Mean'")
    assert len(expected) == 3
    np.testing.assert_allclose(shown.sort_values("seed").ICC, expected.sort_values("seed").ICC, atol=1e-9)
    # what the cells printed (their outputs, not their source, which holds both messages)
    notebook = json.loads((tmp_path / "executed" / "04_evaluation_icc.ipynb").read_text())
    printed = "".join("".join(output.get("text", "")) for cell in notebook["cells"] if cell["cell_type"] == "code"
                      for output in cell.get("outputs", []))
    assert "No controls here" in printed and "No training-set-size regime here" not in printed
    assert "simulated tracker's landmarks (DETECTOR=given)" in printed  # the note: the text quotes the default's
    # the runs trained on dlib's landmarks or on SynthAU v2 do not belong beside this set; the explorer of notebook
    # 02 re-renders this set's people in 3D; notebook 06 still found the photos' faces with dlib
    from aulib.course.faces import load_faces

    models = Path(pipeline.ROOT) / "models"
    for other in ("reference", "reference-controls", "reference-3d-dlib"):
        assert not pipeline.reference_applies("synthau", models / other, tmp_path / "prepared"), other
    assert load_faces(tmp_path / "prepared", count=1).config.renderer == "3d"
    photos = json.loads((tmp_path / "executed" / "06_real_faces.ipynb").read_text())
    injected = next("".join(cell["source"]) for cell in photos["cells"]
                    if "injected-parameters" in cell["metadata"].get("tags", []))
    assert "DETECTOR" not in injected  # SynthAU's "given" landmarks name no detector for photos: 06 keeps dlib


def test_the_explorer_re_renders_a_3d_person_as_the_intensity_slider_moves(renderer, tmp_path):
    from aulib.course.faces import SynthFaces, load_faces

    # with no prepared set, the explorer still shows the course's SynthAU-3D people (OpenGL is here)
    assert load_faces(tmp_path / "none", count=1).config.renderer == "3d"

    faces = SynthFaces(count=1, difficulty="default", renderer="3d")
    neutral, smile = faces.face(0, {}), faces.face(0, {12: 5.0})
    assert smile.name == "SynthAU-3D S001" and smile.image.shape == (256, 256, 3)
    # In the aligned frame (chin and outer eye corners fixed), AU12 at E lifts the lip corners by about 0.18 IOD on
    # the mean face (the model's docstring); this person's own gain moves it, not by half.
    iod = np.linalg.norm(neutral.landmarks[45] - neutral.landmarks[36])
    rise = (neutral.landmarks[[48, 54], 1] - smile.landmarks[[48, 54], 1]) / iod
    assert (rise > 0.09).all(), rise
    mouth = slice(int(smile.landmarks[51, 1]) - 10, int(smile.landmarks[57, 1]) + 10)
    assert np.abs(smile.image[mouth].astype(int) - neutral.image[mouth].astype(int)).mean() > 3


def test_a_still_face_turns_with_its_pose_and_keeps_its_expression(renderer):
    """render_still_3d (figures, the explorer): frontal by default, symmetric about the nose; a positive yaw turns
    the face to its left, the viewer's right (FaceParams), so the nose tip moves right of the eyes' midpoint; the
    AU still shows: AU12 at E lifts the lip corners in the turned face too."""
    from aulib.data.face3d.sequence import render_still_3d
    from aulib.data.synthau import SynthConfig

    config = SynthConfig(seed=0, image_size=256, renderer="3d")
    _, frontal = render_still_3d(config, 0, {})
    assert abs(frontal[30, 0] - frontal[[36, 45], 0].mean()) < 2
    image, turned = render_still_3d(config, 0, {}, pose=(20.0, 0.0, 0.0))
    assert image.shape == (256, 256, 3)
    iod = np.linalg.norm(frontal[45] - frontal[36])
    assert turned[30, 0] - turned[[36, 45], 0].mean() > 0.1 * iod
    _, smiling = render_still_3d(config, 0, {12: 5.0}, pose=(20.0, 0.0, 0.0))
    assert (turned[[48, 54], 1] - smiling[[48, 54], 1] > 0.05 * iod).all()  # image y points down: corners up


def test_a_still_can_show_one_cue_of_an_au_alone(renderer):
    """render_still_3d(cues=...): "shape" moves the face as the full AU does (the same landmarks) without the folds,
    "folds" draws them on a face at rest (the neutral face's landmarks); each image differs from the other renders
    where the AU shows (AU6 at E: the crow's feet beside the eyes)."""
    from aulib.data.face3d.sequence import render_still_3d
    from aulib.data.synthau import SynthConfig

    config = SynthConfig(seed=0, image_size=256, renderer="3d")
    neutral_image, neutral = render_still_3d(config, 1, {})
    both_image, both = render_still_3d(config, 1, {6: 5.0})
    shape_image, shape = render_still_3d(config, 1, {6: 5.0}, cues="shape")
    folds_image, folds = render_still_3d(config, 1, {6: 5.0}, cues="folds")
    np.testing.assert_allclose(shape, both, atol=1e-4)
    np.testing.assert_allclose(folds, neutral, atol=1e-3)
    assert np.abs(both - neutral).max() > 1  # the cheek raiser moves the lower lids
    # beside the outer eye corners (36, 45), where the crow's feet are: the folds show with or without the motion
    x, y = both[36].astype(int)
    corner = (slice(y - 8, y + 8), slice(x - 16, x))
    assert np.abs(both_image[corner].astype(int) - shape_image[corner].astype(int)).mean() > 1
    assert np.abs(folds_image[corner].astype(int) - neutral_image[corner].astype(int)).mean() > 1
    with pytest.raises(ValueError, match="cues must be one of"):
        render_still_3d(config, 1, {6: 5.0}, cues="texture")


def test_the_real_tracker_tool_reads_a_sets_trackers_and_dlibs_on_its_frames(tmp_path, renderer):
    """tools/synthau3d_real_tracker.py on a small set: dlib runs on the rendered frames, the faces at rest are
    replayed for the frames it found, and the set's simulated tracker reads back as its knobs (the truth: the
    Difficulty that drew it), the hard level's as the hard knobs."""
    import importlib.util

    pytest.importorskip("dlib")
    from aulib.data.prepare import prepare
    from aulib.data.synthau import generate
    from aulib.data.synthau.protocol import Difficulty

    spec = importlib.util.spec_from_file_location(
        "real_tracker", Path(__file__).resolve().parents[1] / "tools" / "synthau3d_real_tracker.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    raw = tmp_path / "synthau3d"
    generate(raw, subjects=3, frames=16, seed=2, progress=False, renderer="3d")
    prepare("synthau", raw, tmp_path / "given", progress=False)
    summary = prepare("synthau", raw, tmp_path / "dlib", detector="dlib", progress=False)
    assert 0 < summary["n_ok"] <= 48
    table, detection = module.measure_trackers(raw, tmp_path / "given", tmp_path / "dlib", n_boot=20)
    assert detection.frames.sum() == 48
    assert (detection.frames * detection.detected).sum() == pytest.approx(summary["n_ok"])
    table = table.set_index(["tracker", "points"])
    default, hard = Difficulty.from_level("default"), Difficulty.from_level("hard")
    trackers = table.index.get_level_values(0).unique()
    assert len(trackers) == 3 and trackers[0] == "dlib"
    own, harder = (table.loc[(name, "all")] for name in trackers[1:])
    assert (table.frames == summary["n_ok"]).all() and table.detected.iloc[0] == pytest.approx(summary["n_ok"] / 48)
    assert own.gain == pytest.approx(1 - default.tracker_shrink, abs=0.05)
    assert own.noise == pytest.approx(default.tracker_noise, rel=0.3)
    assert harder.gain == pytest.approx(1 - hard.tracker_shrink, abs=0.05)
    assert harder.noise == pytest.approx(hard.tracker_noise, rel=0.3)
    # dlib finds these faces within a few pixels: a mean error of a few hundredths of the inter-ocular distance
    assert 0.01 < table.loc[("dlib", "all")].nme < 0.15


def test_the_readme_s_3d_grid_shows_each_au_growing_on_five_people_in_five_poses(renderer):
    from aulib.course.grid3d import POSES, synthau3d_grid_figure

    figure = synthau3d_grid_figure(image_size=64)
    axes = np.array(figure.axes).reshape(5, 6)
    assert [ax.get_title() for ax in axes[0]] == ["neutral", "A trace (I = 1)", "B slight (I = 2)",
                                                  "C marked (I = 3)", "D severe (I = 4)", "E maximum (I = 5)"]
    assert [ax.get_ylabel().split("\n")[0] for ax in axes[:, 0]] == ["AU6", "AU10", "AU12", "AU14", "AU17"]
    assert f"yaw {POSES[1][0]:+.0f}°" in axes[1, 0].get_ylabel()
    panels = np.array([[ax.get_images()[0].get_array() for ax in row] for row in axes], dtype=float)
    assert panels.shape[2:4] == (64, 64)
    # each AU changes its face between neutral and E, and every row is another person or pose
    assert all(np.abs(panels[r, 5] - panels[r, 0]).mean() > 0.5 for r in range(5))
    assert all(np.abs(panels[r, 0] - panels[r + 1, 0]).mean() > 5 for r in range(4))
    import matplotlib.pyplot as plt

    plt.close(figure)
