"""Shared fixtures: a reproducible face in the aligned frame and a seeded generator."""

from __future__ import annotations

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
