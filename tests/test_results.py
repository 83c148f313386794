"""RESULTS.md quotes the committed result files: its generated tables are what ``tools/results_tables.py`` computes
from ``models/reference/`` (the reference runs and their London readings) and MediaPipe's committed readings."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def tables():
    """tools/results_tables.py as a module (a script, not part of the package); fresh for each test's monkeypatch."""
    spec = importlib.util.spec_from_file_location("results_tables", ROOT / "tools" / "results_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_results_tables_are_recomputed_from_the_committed_files():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "results_tables.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    text = (ROOT / "RESULTS.md").read_text()
    # results_tables.py writes a block only where its files exist, so a block deleted with its files would pass
    # --check: every table RESULTS.md has today is named here.
    for block in ("reference-icc", "reference-robustness", "reference-paired", "reference-noise-bands",
                  "reference-noise-paired", "reference-controls", "reference-controls-bf16", "reference-data-size",
                  "london-au12", "london-au06", "london-others", "london-groups", "london-variants",
                  "synthau3d-pilot", "synthau3d-icc", "synthau3d-paired", "synthau3d-london-au12",
                  "synthau3d-london-au06", "synthau3d-london-others", "synthau3d-london-groups",
                  "synthau3d-london-variants", "synthau3d-data-size", "synthau3d-cue-probe",
                  "synthau3d-error-sources", "synthau3d-hard-icc", "synthau3d-hard-paired",
                  "synthau3d-real-tracker", "synthau3d-dlib-icc", "synthau3d-dlib-paired",
                  "synthau3d-dlib-retrained", "synthau3d-dlib-london-au12", "synthau3d-dlib-london-au06",
                  "synthau3d-dlib-noise", "synthau3d-dlib-london-runs",
                  "synthau3d-dlib-london-variants", "synthau3d-dlib-noise-paired", "synthau3d-dlib-london-others",
                  "synthau3d-dlib-london-groups", "synthau3d-dlib-data-size", "synthau3d-dlib-portraits",
                  "synthau3d-dlib-paper-table"):
        assert f"<!-- generated: {block} -->" in text and f"<!-- end: {block} -->" in text, block


def test_the_data_size_table_summarises_several_seeds_by_hand(tables, tmp_path, monkeypatch):
    import pandas as pd

    pd.DataFrame({"train_subjects": [10, 10, 102], "train_frames": [480, 480, 4896], "seed": [0, 1, 0],
                  "hourglass_icc": [0.78, 0.80, 0.888], "pooled_icc": [0.77, 0.76, 0.883],
                  "difference": [-0.01, -0.04, -0.005], "low": [-0.03, -0.06, -0.016], "high": [0.01, -0.02, 0.004],
                  "verdict": ["level", "worse", "level"], "test_subjects": 30, "steps": 1224}
                 ).to_csv(tmp_path / "paired.csv", index=False)
    monkeypatch.setattr(tables, "DATA_SIZE", tmp_path)
    lines = tables.reference_data_size().splitlines()
    # by hand: means 0.790, 0.765, -0.025; sample sds 0.0141, 0.0071, 0.0212
    assert ("| **10**: mean ± sd over seeds | 0, 1 | 0.790 ± 0.014 | 0.765 ± 0.007 | "
            "-0.025 ± 0.021 (1 level, 1 worse) |") in lines
    assert not any(line.startswith("| **102**") for line in lines)  # one seed: its own row says it all
    assert "| 10 (480) | 1 | 0.800 | 0.760 | -0.040 [-0.060, -0.020] worse |" in lines


def test_the_data_size_table_adds_geometry_alone_where_it_was_measured(tables, tmp_path, monkeypatch):
    import json

    import pandas as pd

    pd.DataFrame({"train_subjects": [10, 10], "train_frames": [480, 480], "seed": [0, 1],
                  "hourglass_icc": [0.70, 0.66], "pooled_icc": [0.69, 0.65], "difference": [-0.01, -0.01],
                  "low": [-0.03, -0.02], "high": [0.01, 0.0], "verdict": ["level", "level"], "test_subjects": 30,
                  "steps": 1224, "ridge_icc": [0.60, 0.60], "over_ridge": [0.10, 0.06],
                  "over_ridge_low": [0.05, -0.01], "over_ridge_high": [0.15, 0.12],
                  "over_ridge_verdict": ["better", "level"]}).to_csv(tmp_path / "paired.csv", index=False)
    (tmp_path / "provenance.json").write_text(json.dumps({"precision": "auto"}))
    lines = tables.reference_data_size(tmp_path).splitlines()
    assert lines[0].endswith("| ridge, same people | Hourglass − ridge [95% interval] |")
    assert "| 10 (480) | 1 | 0.660 | 0.650 | -0.010 [-0.020, +0.000] level | 0.600 | +0.060 [-0.010, +0.120] level |" \
        in lines
    # by hand: Hourglass − ridge 0.10 and 0.06: mean +0.080, sample sd 0.028
    assert lines[-3].endswith("| 0.600 | +0.080 ± 0.028 (1 better, 1 level) |")
    assert "bf16 where the CPU has it (auto); ridge fitted on the same training people" in lines[-1]


def test_the_paired_noise_table_reads_its_rows_by_hand(tables, tmp_path, monkeypatch):
    import pandas as pd

    common = {"run": "hourglass-small", "resamples": 1000, "subjects": 30}
    pd.DataFrame([
        {**common, "what": "ICC", "sigma_iod": 0.0, "reference": 0.88, "other": 0.9, "difference": 0.02,
         "low": 0.01, "high": 0.03, "verdict": "better"},
        {**common, "what": "ICC", "sigma_iod": 0.1, "reference": 0.86, "other": 0.87, "difference": 0.01,
         "low": -0.005, "high": 0.02, "verdict": "level"},
        {**common, "what": "ICC", "sigma_iod": 0.125, "reference": 0.84, "other": 0.85, "difference": 0.01,
         "low": -0.01, "high": 0.03, "verdict": "level"},
        {**common, "what": "breaks", "sigma_iod": float("nan"), "reference": 0.383, "other": 0.401,
         "difference": 0.018, "low": 0.004, "high": 0.031, "verdict": "later", "resamples": 998},
    ]).to_csv(tmp_path / "noise_paired.csv", index=False)
    monkeypatch.setattr(tables, "REFERENCE", tmp_path)
    lines = tables.reference_noise_paired().splitlines()
    assert lines[0] == "| σ (IOD) | 0 | 0.1 |"  # 0.125 is not one of the σ shown
    assert lines[3] == "| `small` Hourglass | 0.900 | 0.870 |"
    assert lines[4] == ("| `small` Hourglass − Hourglass | +0.020 [+0.010, +0.030] better | "
                        "+0.010 [-0.005, +0.020] level |")
    assert "| breaks | 0.383 | 0.401 | +0.018 [+0.004, +0.031] later (more robust) |" in lines
    assert "the 30 test subjects (1,000 resamples)" in lines[-1]


def test_error_shares_of_orthogonal_blocks_are_their_variances_by_hand():
    import numpy as np

    spec = importlib.util.spec_from_file_location("error_sources", ROOT / "tools" / "synthau3d_error_sources.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # Walsh functions of 8 rows (columns of a Hadamard matrix): zero mean, variance 1, orthogonal to each other.
    # The person is the top bit, so the person's slope on the intensity (person x intensity) is another Walsh function.
    intensity = np.array([1, -1, 1, -1, 1, -1, 1, -1], float)
    gains = np.array([1, 1, -1, -1, 1, 1, -1, -1], float)
    offset = np.array([1, 1, 1, 1, -1, -1, -1, -1], float)
    frame = np.array([1, -1, -1, 1, 1, -1, -1, 1], float)
    noise = np.array([1, -1, -1, 1, -1, 1, 1, -1], float)
    residual = 3 * intensity + 1.5 * gains + 2 * offset + offset * intensity + frame + 0.5 * noise
    person = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    shares = module._shares(residual, intensity, gains[:, None], frame[:, None], person)
    # by hand: variances 9, 2.25, 4, 1, 1 and 0.25 of 17.5: intensity, expressivity, person, person slope, frame, left
    np.testing.assert_allclose(shares, np.array([9, 2.25, 4, 1, 1, 0.25]) / 17.5, atol=1e-12)


def test_error_sources_find_a_persons_offset_through_the_merge_and_the_bootstrap():
    import numpy as np
    import pandas as pd

    from aulib.data.face3d.model import DISTRACTORS
    from aulib.data.synthau.faces import SIMULATED_AUS

    spec = importlib.util.spec_from_file_location("error_sources", ROOT / "tools" / "synthau3d_error_sources.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng = np.random.default_rng(0)
    keys = [(f"S00{p}", f"T{s}", f) for p in range(1, 7) for s in (1, 2) for f in range(1, 11)]
    frames = pd.DataFrame(keys, columns=["subject", "sequence", "frame"])
    for name in [*(f"d_{shape}" for shape in DISTRACTORS), "yaw", "pitch", "roll"]:
        frames[name] = rng.normal(size=len(frames))
    for au in SIMULATED_AUS:
        label = f"AU{au:02d}"
        frames[f"cont_{label}"] = rng.uniform(0, 5, len(frames))
        frames[f"geometry_{label}"] = np.exp(rng.normal(0, 0.2, len(frames)))
        frames[f"appearance_{label}"] = np.exp(rng.normal(0, 0.2, len(frames)))
    # Each reader reads every AU exactly, plus its person's offset: the person block must explain all of the error.
    table = frames[["subject", "sequence", "frame"]].iloc[::-1].reset_index(drop=True)  # another row order
    offset = table.subject.map({"S001": -1.0, "S002": 0.5, "S003": 2.0, "S004": 0.0, "S005": -0.3, "S006": 1.2})
    for au in (6, 10, 12, 14, 17):
        intensity = table.merge(frames, on=["subject", "sequence", "frame"])[f"cont_AU{au:02d}"]
        table[f"true_AU{au:02d}"] = np.rint(intensity)
        table[f"pred_AU{au:02d}"] = intensity + offset
    rows = pd.DataFrame(module.decompose("reader", 0, table, frames, n_boot=50))
    assert list(rows.AU) == ["AU06", "AU10", "AU12", "AU14", "AU17"] and (rows.people == 6).all()
    explained_before = rows.share_intensity + rows.share_expressivity  # what 3 random columns take by chance
    np.testing.assert_allclose(rows.share_person + explained_before, 1.0, atol=1e-9)
    assert (explained_before < 0.1).all() and (rows.share_unexplained.abs() < 1e-9).all()
    np.testing.assert_allclose(rows.slope, 1.0, atol=0.1)  # the offsets do not depend on the intensity
    with pytest.raises(ValueError, match="reader seed 0: 120 predictions, 119 replayed frames"):
        module.decompose("reader", 0, table, frames.iloc[1:], n_boot=5)


def test_the_error_sources_table_reads_the_seeds_by_hand(tables, tmp_path):
    import pandas as pd

    shares = {"share_intensity": (0.5, 0.3), "share_expressivity": (0.1, 0.1), "share_person": (0.1, 0.1),
              "share_person_slope": (0.0, 0.0), "share_frame": (0.2, 0.2), "share_unexplained": (0.1, 0.3)}
    rows = [{"reader": "hourglass", "seed": seed, "AU": "AU06", "frames": 10, "people": 2, "icc": icc,
             "slope": slope, **{name: value[seed] for name, value in shares.items()},
             **{f"{name}_low": value[seed] - 0.05 for name, value in shares.items()},
             **{f"{name}_high": value[seed] + 0.05 * (1 + seed) for name, value in shares.items()}}
            for seed, icc, slope in ((0, 0.6, 0.5), (1, 0.8, 0.7))]
    pd.DataFrame(rows).to_csv(tmp_path / "error_sources.csv", index=False)
    lines = tables.synthau3d_error_sources(tmp_path).splitlines()
    # by hand: means 0.70, 0.60; intensity 40% [25 (0.3 - 0.05), 55 (0.5 + 0.05)], unexplained 20% [5, 40]
    assert lines[2] == ("| AU06 | Hourglass (2) | 0.70 | 0.60 | 40% [25, 55] | 10% [5, 20] | 10% [5, 20] | "
                        "0% [-5, 10] | 20% [15, 30] | 20% [5, 40] |")
    assert "over the 2 test people" in lines[-1]


def test_interval_bounds_that_round_to_zero_keep_their_sign(tables):
    # the verdict "better" for [+0.00013, +0.014] and "level" for [-0.051, +0.00004] must be readable in print
    assert tables.bounds(0.00013, 0.014) == "[+0.00013, +0.014]"
    assert tables.bounds(-0.051, 0.00004) == "[-0.051, +0.00004]"
    assert tables.bounds(0.0, 0.01) == "[+0.000, +0.010]"  # a bound that is 0 prints as 0
    assert tables.bounds(1e-7, 0.2) == "[+1.0e-07, +0.200]"
    assert tables.bounds(0.0023, 0.01, digits=2) == "[+0.0023, +0.01]"


def test_the_cue_probe_table_reads_the_rise_by_hand(tables, tmp_path):
    import pandas as pd

    rows = []
    for cue, (rise_a, rise_b) in {"both": (4.0, 2.0), "shape": (3.0, 3.0), "folds": (0.5, -0.1)}.items():
        for person, rise in ((0, rise_a), (1, rise_b)):
            for seed, offset in ((0, 0.1), (1, -0.1)):  # the seeds' mean is the person's reading
                rows += [{"au": 12, "cue": cue, "intensity": 0, "person": person, "seed": seed, "reading": 1 + offset},
                         {"au": 12, "cue": cue, "intensity": 5, "person": person, "seed": seed,
                          "reading": 1 + rise + offset}]
    pd.DataFrame(rows).to_csv(tmp_path / "cue_probe.csv", index=False)
    lines = tables.synthau3d_cue_probe(tmp_path).splitlines()
    # by hand: mean rises 3.0, 3.0 and 0.2; shares 3.0/3.0 and 0.2/3.0; two people bound the interval
    assert lines[2] == "| AU12 | +3.00 [+2.00, +4.00] | +3.00 [+3.00, +3.00] | +0.20 [-0.10, +0.50] | 100% | 7% |"
    assert "2 seeds averaged), 2 people" in lines[-1]


def _real_tracker_tool():
    spec = importlib.util.spec_from_file_location("real_tracker", ROOT / "tools" / "synthau3d_real_tracker.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _clips_of_faces(rng, clips: int, length: int):
    """Exact landmarks, faces at rest and clip codes of ``clips`` random faces (IOD 60 px) that each move through
    an expression of random strength per frame, while the head drifts."""
    import numpy as np

    exact, neutral, codes = [], [], []
    for c in range(clips):
        face = rng.normal(0, 25, (68, 2)) + 128
        face[36], face[45] = (98.0, 110.0), (158.0, 110.0)  # eye corners 60 px apart
        direction = rng.normal(0, 3, (68, 2))  # the expression's motion at strength 1, px
        for _ in range(length):
            shift = rng.normal(0, 2, 2)
            rest = face + shift
            neutral.append(rest)
            exact.append(rest + rng.uniform(0, 2) * direction * (np.arange(68) != 36)[:, None]
                         * (np.arange(68) != 45)[:, None])
            codes.append(c)
    return np.array(exact), np.array(neutral), np.array(codes)


def test_tracker_estimator_recovers_the_simulated_trackers_knobs():
    """The simulator's shrink and noise, drawn by aulib's own tracker model, are what the estimator reads back."""
    import numpy as np

    from aulib.data.synthau.faces import tracker_landmarks

    module = _real_tracker_tool()
    rng = np.random.default_rng(0)
    exact, neutral, codes = _clips_of_faces(rng, clips=400, length=6)
    for noise, shrink in ((0.0155, 0.275), (0.035, 0.6)):
        tracked = np.empty_like(exact)
        for c in range(400):
            rows = codes == c
            iods = np.linalg.norm(exact[rows, 36] - exact[rows, 45], axis=1)
            tracked[rows] = tracker_landmarks(exact[rows], neutral[rows], iods, rng, noise, shrink)
        sums = module.clip_sums(tracked, exact, neutral, codes, np.arange(68))
        gain, jitter, bias, total, _, offset = module.tracker_statistics(sums)
        assert abs(gain - (1 - shrink)) < 0.01
        # the knob is the error's sd per coordinate, half its variance drifting (nearly constant in 6 frames)
        assert abs(total - noise) < 0.08 * noise
        assert abs(bias - noise / np.sqrt(2)) < 0.15 * noise and jitter > noise / np.sqrt(2) * 0.95
        assert offset < 0.2 * noise  # no fixed offset in the simulator


def test_tracker_estimator_by_hand_on_two_clips():
    """Gain, jitter, bias and offset of a tracker that follows half the motion, jitters by +-j and sits 0.1 IOD off."""
    import numpy as np

    module = _real_tracker_tool()
    iod = 60.0
    neutral = np.zeros((4, 68, 2))
    neutral[:, 45, 0] = iod  # exact IOD 60 in every frame (points 36 and 45 never move)
    motion = np.zeros((4, 68, 2))
    motion[:, 50, 1] = np.array([0.0, 6.0, 0.0, 12.0])  # one point moves 0.1 and 0.2 IOD in frames 2 and 4
    exact = neutral + motion
    tracked = neutral + 0.5 * motion
    tracked[:, 50, 0] += iod * np.array([0.1 + 0.01, 0.1 - 0.01, 0.1 + 0.01, 0.1 - 0.01])  # offset 0.1, jitter 0.01
    sums = module.clip_sums(tracked, exact, neutral, np.array([0, 0, 1, 1]), np.array([45, 50]))
    gain, jitter, bias, total, nme, offset = module.tracker_statistics(sums)
    assert gain == pytest.approx(0.5)
    # within-clip residuals: +-0.01 on one coordinate of one point in each of 4 frames, over 2 clips x (2 - 1) frames
    # x 2 points x 2 coordinates = 8 degrees of freedom
    assert jitter == pytest.approx(np.sqrt(4 * 0.01**2 / 8))
    # point 50's error per frame (point 45's is 0): (0.11, 0), (0.09, -0.05), (0.11, 0), (0.09, -0.1) IOD
    assert nme == pytest.approx(np.mean([0.11, np.hypot(0.09, 0.05), 0.11, np.hypot(0.09, 0.1)]) / 2)
    assert total == pytest.approx(jitter)
    # point 50's mean error (tracked - exact): x +0.1; y -0.5 x the mean motion, -0.025 and -0.05 in the two clips
    assert offset == pytest.approx((np.hypot(0.1, 0.0375) + 0.0) / 2)  # point 45 has none
    # the clip constants equal the offset (no bias); the jitter's share of them is taken out, floored at 0
    assert bias == pytest.approx(0.0, abs=1e-9)


def test_tracker_bias_is_the_clip_constants_spread_less_the_jitters_share_by_hand():
    """Two clips of two frames. Point 51 moves and is followed exactly (gain 1); point 50 does not move and is off
    by +a in one clip and -a in the other, with a jitter of +-j inside each clip."""
    import numpy as np

    module = _real_tracker_tool()
    iod, a, j = 60.0, 0.05, 0.01
    neutral = np.zeros((4, 68, 2))
    neutral[:, 45, 0] = iod
    exact = neutral.copy()
    exact[:, 51, 1] = iod * np.array([0.0, 0.1, 0.05, 0.2])
    tracked = exact.copy()
    tracked[:, 50, 0] += iod * np.array([a + j, a - j, -a + j, -a - j])
    sums = module.clip_sums(tracked, exact, neutral, np.array([0, 0, 1, 1]), np.array([45, 50, 51]))
    gain, jitter, bias, total, _, offset = module.tracker_statistics(sums)
    assert gain == pytest.approx(1.0)
    # 4 residuals of +-j over 2 clips x (2 - 1) frames x 3 points x 2 coordinates = 12 degrees of freedom
    assert jitter == pytest.approx(np.sqrt(4 * j**2 / 12))
    # clip constants +-a on one of 6 coordinates: spread 2a^2 / ((2 - 1) x 6); a clip mean of 2 frames holds half
    # the jitter's variance
    assert bias == pytest.approx(np.sqrt(2 * a**2 / 6 - (4 * j**2 / 12) / 2))
    assert total == pytest.approx(np.hypot(bias, jitter))
    assert offset == pytest.approx(0.0, abs=1e-12)  # +a and -a cancel over the set
