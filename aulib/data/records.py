"""What every dataset reader hands to the preparation step: one raw frame at a time.

Readers (SynthAU, BP4D, DISFA) differ in folder layouts and file formats; they all end in
:class:`RawFrame` records, so that :mod:`aulib.data.prepare` treats them alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# The columns that identify a frame in every labels table.
KEY_COLUMNS: tuple[str, str, str] = ("subject", "sequence", "frame")


@dataclass
class RawFrame:
    """One frame of a dataset before alignment.

    Attributes:
        subject: subject id (``"F001"``, ``"SN001"``, ``"S007"``); the unit of every split.
        sequence: task / video id within the subject (``"T1"``; DISFA has one video: ``"LeftCamera"``).
        frame: the dataset's own frame number (BP4D's file name, DISFA's 1-based index).
        labels: ``(A,)`` float intensities in the dataset's AU order; NaN where not codeable.
        image: RGB uint8 ``(H, W, 3)``, or ``None`` when the file could not be read.
        landmarks: ``(L, 2)`` landmarks given with the dataset (DISFA, SynthAU), or ``None`` to detect.
        exact_landmarks: the landmarks that drew a synthetic face (SynthAU only), for tests and studies.
        source: where it came from (a path, or a path and frame index), for reports.
        error: why ``image`` is ``None``.
    """

    subject: str
    sequence: str
    frame: int
    labels: np.ndarray
    image: np.ndarray | None
    landmarks: np.ndarray | None = None
    exact_landmarks: np.ndarray | None = None
    source: str = ""
    error: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.subject, self.sequence, int(self.frame))
