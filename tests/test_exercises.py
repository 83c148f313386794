"""The exercise checks: a right answer passes, each common mistake gets its own guidance, a stub asks to be written.

The right answers here are written independently of the notebooks' solutions (textbook formulas), and the mistakes
are the ones the checks' messages name; the notebooks' own solutions are run by tests/test_notebooks.py.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from aulib.course import exercises as check
from aulib.course.exercises import SHROUT_FLEISS, ExerciseFeedback


def stub(*_):
    raise NotImplementedError()


def test_a_stub_asks_to_be_written_and_a_crash_is_named():
    with pytest.raises(ExerciseFeedback, match=r"Not written yet.*NotImplementedError"):
        check.affine(stub)
    with pytest.raises(ExerciseFeedback, match="raised ZeroDivisionError"):
        check.sum_peak(lambda intensity, distance, sigma: 1 / 0)


def test_affine_and_its_mistakes():
    def solve(src, dst):
        a = np.zeros((6, 6))
        for k, (x, y) in enumerate(src):
            a[2 * k, :3] = a[2 * k + 1, 3:] = (x, y, 1)
        return np.linalg.solve(a, dst.reshape(-1)).reshape(2, 3)

    assert check.affine(solve)
    with pytest.raises(ExerciseFeedback, match="transposed"):
        check.affine(lambda s, d: np.hstack([solve(s, d)[:, :2].T, solve(s, d)[:, 2:]]))
    with pytest.raises(ExerciseFeedback, match="translation"):
        check.affine(lambda s, d: np.hstack([solve(s, d)[:, :2], np.zeros((2, 1))]))
    with pytest.raises(ExerciseFeedback, match="inverse"):
        check.affine(lambda s, d: solve(d, s))
    with pytest.raises(ExerciseFeedback, match="shape"):
        check.affine(lambda s, d: np.zeros((3, 3)))


def test_strong_share_and_its_mistakes():
    # DISFA-like splits: the training frames are those of two folds (2 of 4 at AU12 >= 3: 0.5 by hand)
    frames = pd.DataFrame({"split": ["fold1", "fold1", "fold2", "fold2", "fold0", "fold0"],
                           "AU12": [0, 3, 4, 1, 5, 5]})
    train = ("fold1", "fold2")
    assert check.strong_share(lambda f, splits: 0.5, frames, train)
    with pytest.raises(ExerciseFeedback, match="every split"):
        check.strong_share(lambda f, splits: (f.AU12 >= 3).mean(), frames, train)
    with pytest.raises(ExerciseFeedback, match=">= 3"):
        check.strong_share(lambda f, splits: (f[f.split.isin(splits)].AU12 > 3).mean(), frames, train)
    with pytest.raises(ExerciseFeedback, match="percentage"):
        check.strong_share(lambda f, splits: 100 * (f[f.split.isin(splits)].AU12 >= 3).mean(), frames, train)

def test_gaussian_and_its_mistakes():
    def target(centre, intensity, sigma, size):
        x, y = np.meshgrid(np.arange(size), np.arange(size))
        g = np.exp(-((x - centre[0]) ** 2 + (y - centre[1]) ** 2) / (2 * sigma**2))
        nearest = np.round(np.asarray(centre)).astype(int)
        return intensity * g / g[nearest[1], nearest[0]]

    assert check.gaussian(target)
    with pytest.raises(ExerciseFeedback, match="maximum is"):
        check.gaussian(lambda c, i, s, n: target(c, i, s, n) / target(c, i, s, n).max() * 0.9 * i)
    with pytest.raises(ExerciseFeedback, match=r"indexed \[y, x\]"):
        check.gaussian(lambda c, i, s, n: target(c, i, s, n).T)
    with pytest.raises(ExerciseFeedback, match="σ in heatmap pixels"):
        check.gaussian(lambda c, i, s, n: target(c, i, 2 * s, n))


def test_readout_and_sigma():
    # the sum of two Gaussians d apart peaks midway (d <= 2σ), where each is d/2 from its centre: 2·I·exp(-d²/8σ²);
    # 5.41 for I = 3, d = 8, σ = 8.8 by hand (6 · exp(-64 / 619.52) = 6 · 0.90185)
    assert check.sum_peak(lambda i, d, s: 2 * i * math.exp(-(d**2) / (8 * s**2)))
    assert 2 * 3 * math.exp(-64 / (8 * 8.8**2)) == pytest.approx(5.411, abs=1e-3)
    with pytest.raises(ExerciseFeedback, match="maximum's readout"):
        check.sum_peak(lambda i, d, s: i)
    with pytest.raises(ExerciseFeedback, match="the two peaks do not coincide"):
        check.sum_peak(lambda i, d, s: 2 * i)
    with pytest.raises(ExerciseFeedback, match="sum at one centre"):
        check.sum_peak(lambda i, d, s: i * (1 + math.exp(-(d**2) / (2 * s**2))))
    # σ of 1-3 map pixels, in frame pixels: 256 / size of them per map pixel (hand-derived: 4-12 on 64×64 maps,
    # 10.67-32 on the live model's 24×24)
    assert check.sigma_for_map(lambda i, size: (1 + 2 * i / 5) * 256 / size)
    with pytest.raises(ExerciseFeedback, match="does not depend on the map size"):
        check.sigma_for_map(lambda i, size: 4 + 8 * i / 5)  # the paper's σ on every map size
    with pytest.raises(ExerciseFeedback, match="in map pixels"):
        check.sigma_for_map(lambda i, size: 1 + 2 * i / 5)
    with pytest.raises(ExerciseFeedback, match=r"at intensity 0\.5, σ is 4\.80 frame pixels"):
        check.sigma_for_map(lambda i, size: (1 + 2 * i / 4) * 256 / size)  # 5.0 instead of 4.8 at I = 0.5


def test_training_checks():
    assert check.optimiser_steps(lambda f, b, e: (f // b) * e, 100, 32, 3)
    with pytest.raises(ExerciseFeedback, match="round down"):
        check.optimiser_steps(lambda f, b, e: -(-f // b) * e, 100, 32, 3)
    assert check.label_jitter(lambda i, z: i * (1 + 0.2 * torch.abs(z)))
    with pytest.raises(ExerciseFeedback, match=r"\|z\|"):
        check.label_jitter(lambda i, z: i + 0.2 * i * z)
    with pytest.raises(ExerciseFeedback, match="proportional"):
        check.label_jitter(lambda i, z: i + 0.2 * z.abs())


def test_icc_reproduces_shrout_and_fleiss_and_names_the_other_iccs():
    def icc3(x):  # Shrout & Fleiss's Table 1 formulas, written out
        n, k = x.shape
        bms = k * x.mean(1).var(ddof=1)
        resid = x - x.mean(1, keepdims=True) - x.mean(0, keepdims=True) + x.mean()
        ems = (resid**2).sum() / ((n - 1) * (k - 1))
        return (bms - ems) / (bms + (k - 1) * ems)

    assert round(icc3(SHROUT_FLEISS), 2) == 0.71  # the paper's published value
    assert check.icc_from_anova(icc3)
    with pytest.raises(ExerciseFeedback, match=r"ICC\(2,1\)"):
        check.icc_from_anova(lambda x: 0.29)
    with pytest.raises(ExerciseFeedback, match=r"ICC\(1,1\)"):
        check.icc_from_anova(lambda x: 0.17)
    with pytest.raises(ExerciseFeedback, match=r"differs from the reference by 0\.2.*\(n−1\)\(k−1\)"):
        check.icc_from_anova(lambda x: icc3(x) - 0.21)


def test_linear_icc():
    # ICC(3,1) of y = a·x + b with two judges, from the ANOVA by hand: BMS = var(x + y) / 2, EMS = var(x − y) / 2,
    # so ICC = ((1 + a)² − (1 − a)²) / ((1 + a)² + (1 − a)²) = 2a / (1 + a²): 0.8 at a = 1/2, 1 at a = 1 (any b)
    assert check.linear_icc(lambda a, b: 2 * a / (1 + a**2))
    with pytest.raises(ExerciseFeedback, match="that is PCC"):
        check.linear_icc(lambda a, b: 1.0)
    with pytest.raises(ExerciseFeedback, match="offset, so it is free"):
        check.linear_icc(lambda a, b: 2 * a / (1 + a**2) - 0.1 * abs(b))  # penalises the offset
    with pytest.raises(ExerciseFeedback, match=r"ICC\(3,1\) is 0\.800"):
        check.linear_icc(lambda a, b: a)


def test_robustness_checks():
    rows = [{"model": "m", "AU": "AU12", "sigma": s, "sigma_iod": s / 80, "ICC": v}
            for s, v in [(0, 0.8), (10, 0.7), (20, 0.5), (30, 0.2)]]
    table = pd.DataFrame(rows)
    # half of 0.8 is 0.4, crossed between σ = 20 (0.5) and 30 (0.2): 20 + 10·(0.1/0.3)
    assert check.halving_sigma(lambda t, m, a: 20 + 10 / 3, table, "m")
    with pytest.raises(ExerciseFeedback, match="interpolate"):
        check.halving_sigma(lambda t, m, a: 30.0, table, "m")
    # a model with no clean agreement (an undertrained run) has nothing to halve: NaN, not σ = 0
    hopeless = table.assign(ICC=[-0.1, -0.05, 0.0, 0.1])
    assert check.halving_sigma(lambda t, m, a: float("nan"), hopeless, "m")
    with pytest.raises(ExerciseFeedback, match="nothing to halve"):
        check.halving_sigma(lambda t, m, a: 0.0, hopeless, "m")
    # two faces whose outer eye corners (0-based 36, 45) lie 80 and 60 px apart: σ = 0.1 IOD is 8 and 6 px
    faces = np.zeros((2, 68, 2))
    faces[:, 36] = [[100.0, 100.0], [100.0, 100.0]]
    faces[:, 45] = [[180.0, 100.0], [160.0, 100.0]]
    faces[:, 37] = [[110.0, 95.0], [110.0, 95.0]]
    faces[:, 46] = [[170.0, 95.0], [150.0, 95.0]]
    faces[:, 39] = [[130.0, 100.0], [125.0, 100.0]]  # inner corners, 20 and 10 px apart
    faces[:, 42] = [[150.0, 100.0], [135.0, 100.0]]
    assert check.pixel_sigmas(lambda s, lm: np.array([8.0, 6.0]) * s / 0.1, faces, sigma_iod=0.1)
    with pytest.raises(ExerciseFeedback, match="one value per frame"):  # the mean IOD's σ, 7 px
        check.pixel_sigmas(lambda s, lm: 7.0, faces, sigma_iod=0.1)
    with pytest.raises(ExerciseFeedback, match="divided σ by the inter-ocular distance"):
        check.pixel_sigmas(lambda s, lm: s / np.array([80.0, 60.0]), faces, sigma_iod=0.1)
    with pytest.raises(ExerciseFeedback, match="0-based"):
        check.pixel_sigmas(lambda s, lm: s * np.linalg.norm(lm[:, 46] - lm[:, 37], axis=-1), faces, sigma_iod=0.1)
    with pytest.raises(ExerciseFeedback, match="inner eye corners"):
        check.pixel_sigmas(lambda s, lm: s * np.linalg.norm(lm[:, 42] - lm[:, 39], axis=-1), faces, sigma_iod=0.1)
    with pytest.raises(ExerciseFeedback, match=r"first frame's σ is 8\.00 px"):
        check.pixel_sigmas(lambda s, lm: np.array([9.0, 6.0]), faces, sigma_iod=0.1)


def test_every_check_names_the_exercise_of_the_notebook_that_calls_it():
    # "Exercise 2.2" in a check's docstring is the exercise whose check cell calls it, in notebook 02
    import ast
    import inspect
    import re

    import nbformat

    from aulib.course import pipeline

    for path in pipeline.notebook_paths():
        notebook = nbformat.read(path, as_version=4)
        number = None
        for cell in notebook.cells:
            heading = re.search(r"### Exercise (\d+\.\d+)", cell.source) if cell.cell_type == "markdown" else None
            if heading:
                number = heading.group(1)
            elif cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
                for node in ast.walk(ast.parse(cell.source)):
                    called = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    if called and node.value.id == "check":
                        doc = inspect.getdoc(getattr(check, node.attr))
                        assert doc.startswith(f"Exercise {number}:"), f"{path.name}: check.{node.attr} says {doc[:14]}"


def test_alignment_scale_and_its_mistakes(capsys):
    from types import SimpleNamespace

    # a rotation by 30 degrees scaled by 0.4, shifted: lengths shrink to 0.4, areas to 0.16
    angle = np.radians(30)
    matrix = np.array([[0.4 * np.cos(angle), -0.4 * np.sin(angle), 12.0],
                       [0.4 * np.sin(angle), 0.4 * np.cos(angle), -3.0]])
    report = SimpleNamespace(matrix=matrix)
    assert check.alignment_scale(lambda m: np.hypot(m[0, 0], m[1, 0]), report)  # the column's length
    assert "by 0.400: the face was shrunk" in capsys.readouterr().out
    enlarged = SimpleNamespace(matrix=matrix * 5)
    assert check.alignment_scale(lambda m: np.hypot(m[0, 0], m[1, 0]), enlarged)
    assert "by 2.000: the face was enlarged" in capsys.readouterr().out
    with pytest.raises(ExerciseFeedback, match="area ratio"):
        check.alignment_scale(lambda m: abs(np.linalg.det(m[:, :2])), report)  # 0.16
    with pytest.raises(ExerciseFeedback, match="the inverse"):
        check.alignment_scale(lambda m: 1 / np.hypot(m[0, 0], m[1, 0]), report)  # 2.5
    with pytest.raises(ExerciseFeedback, match=r"0\.400; yours is 12\.000"):
        check.alignment_scale(lambda m: m[0, 2], report)


def test_smile_direction_and_its_mistakes():
    pairs = pd.DataFrame({"AU12_neutral": [0.5, 1.0, 0.2], "AU12_smiling": [2.0, 1.5, 0.1]})
    assert check.smile_direction(lambda n, s: float(np.mean(s > n)), pairs)
    with pytest.raises(ExerciseFeedback, match="a tie is not a smile read higher"):
        check.smile_direction(lambda n, s: float(np.mean(s >= n)), pairs)
    with pytest.raises(ExerciseFeedback, match="NaN reading cannot count as higher"):
        check.smile_direction(lambda n, s: float(np.mean(s[~np.isnan(s)] > n[~np.isnan(s)])), pairs)
    with pytest.raises(ExerciseFeedback, match="Not written yet"):
        check.smile_direction(lambda n, s: (_ for _ in ()).throw(NotImplementedError()), pairs)


def test_foreground_loss():
    import torch.nn.functional as F

    def weighted_huber(prediction, target, weight):
        per_pixel = F.huber_loss(prediction, target, reduction="none", delta=1.0)
        return (per_pixel * torch.where(target > 0, weight, 1.0)).mean()

    assert check.foreground_loss(weighted_huber)
    with pytest.raises(ExerciseFeedback, match="foreground weight is missing"):
        check.foreground_loss(lambda p, t, w: F.huber_loss(p, t, delta=1.0))
    with pytest.raises(ExerciseFeedback, match="sum of the weights"):
        check.foreground_loss(lambda p, t, w: (F.huber_loss(p, t, reduction="none") * torch.where(t > 0, w, 1.0)).sum()
                              / torch.where(t > 0, w, 1.0).sum())
    with pytest.raises(ExerciseFeedback, match="squared error"):
        check.foreground_loss(lambda p, t, w: (F.mse_loss(p, t, reduction="none") * torch.where(t > 0, w, 1.0)).mean())


def test_read_out_under_noise_and_its_mistakes(tmp_path, capsys):
    from helpers import prepared_synthau

    from aulib.course.reference import reference_model
    from aulib.data.dataset import PreparedDataset
    from aulib.inference.model import AUModel

    def numpy_readout(maps):  # written apart from aulib: numpy's arg-max, unravelled as (row, column)
        array = maps.numpy()
        batch, n_maps, height, width = array.shape
        flat = array.reshape(batch, n_maps, -1)
        rows, columns = np.unravel_index(flat.argmax(axis=-1), (height, width))
        return np.clip(flat.max(axis=-1), 0, 5), np.stack([columns, rows], axis=-1).astype(float)

    model = AUModel.from_run(reference_model(), device="cpu", precision="fp32")
    test = PreparedDataset(prepared_synthau(tmp_path, subjects=6, frames=8, seed=5), split="test")
    arguments = (model, test, [0, 1], [0, 10, 20])
    assert check.read_out_under_noise(numpy_readout, *arguments)
    printed = capsys.readouterr().out
    assert "AU12 readout" in printed and "peak moved" in printed and len(printed.splitlines()) == 1 + 2 * 3 + 1

    def unclamped(maps):
        return maps.numpy().reshape(*maps.shape[:2], -1).max(axis=-1), numpy_readout(maps)[1]

    def swapped(maps):
        values, peaks = numpy_readout(maps)
        return values, peaks[..., ::-1]

    def mean_readout(maps):
        return np.clip(maps.numpy().mean(axis=(-1, -2)), 0, 5), numpy_readout(maps)[1]

    assert check.read_out_under_noise(numpy_readout, model, test, [1, 1], [0, 10])  # one face given twice
    assert len(capsys.readouterr().out.splitlines()) == 1 + 2 + 1
    for readout, message in [(unclamped, "should read 5"), (swapped, r"\(y, x\)"), (mean_readout, "maximum")]:
        with pytest.raises(ExerciseFeedback, match=message):
            check.read_out_under_noise(readout, *arguments)
    with pytest.raises(ExerciseFeedback, match="Return two things"):
        check.read_out_under_noise(lambda maps: numpy_readout(maps)[0], *arguments)


def test_controlled_experiment_refuses_what_is_not_one_change(tmp_path):
    """Mistakes are named before anything trains (the real two-run experiment is run by the course pipeline's test,
    tests/test_notebooks.py)."""
    from aulib.training.config import TrainConfig

    config = TrainConfig.from_profile("smoke", data=str(tmp_path / "nowhere"), out=str(tmp_path / "run"))
    cases = [
        (lambda: "foreground_weight", "as a pair"),
        (lambda: ("momentum", 0.9), "not a setting this experiment can change"),
        (lambda: ("foreground_weight", config.foreground_weight), "already"),
        (lambda: ("heatmap.radius", 3), "heatmap has no option 'radius'"),
        (lambda: ("heatmap.extent", config.heatmap.get("extent", "growing")), "already"),
    ]
    for choice, message in cases:
        with pytest.raises(ExerciseFeedback, match=message):
            check.controlled_experiment(choice, config, tmp_path / "experiment", steps=2)
    assert not (tmp_path / "experiment").exists()  # nothing trained


def test_controlled_experiment_blames_the_control_not_the_student_when_the_recipe_itself_fails(tmp_path):
    from helpers import prepared_synthau

    from aulib.training.config import TrainConfig

    prepared = prepared_synthau(tmp_path, subjects=4, frames=8, seed=6)
    config = TrainConfig.from_profile("smoke", data=str(prepared), out=str(tmp_path / "live"), device="cpu",
                                      precision="fp32", loss="bogus")
    with pytest.raises(ExerciseFeedback, match=r"The control run .* cannot train: .*bogus"):
        check.controlled_experiment(lambda: ("lr", 1e-4), config, tmp_path / "experiment", steps=2, progress=False)
    assert not (tmp_path / "experiment" / "lr=0.0001").exists()  # the changed run never started


def test_controlled_experiment_trains_both_runs_and_judges_them_paired_by_subject(tmp_path):
    from helpers import pingouin_mean_icc, prepared_synthau

    from aulib.training.config import TrainConfig

    prepared = prepared_synthau(tmp_path, subjects=24, frames=8, seed=6)
    config = TrainConfig.from_profile("smoke", data=str(prepared), out=str(tmp_path / "live"), device="cpu",
                                      precision="fp32")
    folder = tmp_path / "experiment"
    result = check.controlled_experiment(lambda: ("lr", 1e-4), config, folder, steps=2, progress=False)
    result = result.set_index("run")
    means = {}
    for run, name in (("control", "control"), ("changed", "lr=0.0001")):
        means[run] = pingouin_mean_icc(folder / name / "validation_predictions.csv")
        assert result.loc[run, "mean_icc"] == pytest.approx(means[run], abs=1e-9)
    changed = result.loc["changed"]
    subjects = pd.read_csv(folder / "lr=0.0001" / "validation_predictions.csv").subject.nunique()
    assert changed.subjects == subjects >= 2
    assert changed.difference == pytest.approx(means["changed"] - means["control"], abs=1e-9)
    assert changed.low <= changed.difference <= changed.high
    assert changed.verdict == ("level" if changed.low <= 0 <= changed.high else
                               "better" if changed.low > 0 else "worse")
    # the same choice again loads both runs instead of training them, and gives the same table
    weights = (folder / "control" / "last.pt").stat().st_mtime_ns
    again = check.controlled_experiment(lambda: ("lr", 1e-4), config, folder, steps=2, progress=False)
    pd.testing.assert_frame_equal(again.set_index("run"), result)
    assert (folder / "control" / "last.pt").stat().st_mtime_ns == weights
