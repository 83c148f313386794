"""Shared fixtures: a reproducible face in the aligned frame, a seeded generator, and the whole course run once by
papermill on a small SynthAU set (for the notebook, release and book tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aulib.method.shape import mean_shape


@pytest.fixture
def face68() -> np.ndarray:
    """The 68-point mean shape in the aligned 256 frame, float64."""
    return mean_shape()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def small_parameters(root: Path) -> dict:
    """Notebook parameters for a course run in minutes: 8 subjects × 16 frames, one epoch, two noise levels, a
    3-step experiment."""
    # COMPARISON "train": the baselines train here (1 epoch), so that path runs too; the reference runs of
    # models/reference are read as well.
    return {"DATA_DIR": str(root / "synthau"), "PREPARED_DIR": str(root / "prepared"), "RUN_DIR": str(root / "runs"),
            "FIG_DIR": str(root / "figures"), "INTERACTIVE": False, "SUBJECTS": 8, "FRAMES": 16, "WORKERS": 1,
            "EPOCHS": 1, "COMPARISON": "train", "N_FACES": 2, "SIGMAS": [0, 10], "EXAMPLE_SIGMAS": [0, 10],
            "N_BOOT": 200, "EXPERIMENT_STEPS": 3, "BAND_SIGMAS_IOD": [0, 0.1, 0.3], "BAND_RESAMPLES": 100}


@pytest.fixture(scope="session")
def student_release(tmp_path_factory):
    """The student release made by nbgrader: ``(folder, notebook paths)``."""
    from aulib.course.release import release

    out = tmp_path_factory.mktemp("release") / "student"
    return out, release(out)


@pytest.fixture(scope="session")
def student_run(student_release, tmp_path_factory):
    """The student release run end to end, every exercise unsolved, with :func:`small_parameters` and its own data,
    runs and figures: ``(root folder, papermill records)``."""
    from aulib.course import pipeline

    out, _ = student_release
    root = tmp_path_factory.mktemp("student-course")
    records = pipeline.run_notebooks("smoke", notebooks_dir=out, overrides=small_parameters(root),
                                     output_dir=root / "executed", progress=False, allow_unsolved=True)
    return root, records


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory):
    """Every notebook, in order, with :func:`small_parameters`: ``(root folder, papermill records)``."""
    from aulib.course import pipeline

    root = tmp_path_factory.mktemp("course")
    records = pipeline.run_notebooks("smoke", overrides=small_parameters(root), output_dir=root / "executed",
                                     progress=False)
    return root, records


