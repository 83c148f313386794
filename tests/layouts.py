"""Small copies of the licensed datasets' folder layouts, made from real faces (``from layouts import ...``).

BP4D and DISFA are licensed, so the course's notebooks are tested on fixtures that have their exact folder layouts,
file names and formats, filled with London set photos (CC BY 4.0; :mod:`aulib.data.london`) of the benchmark's *dev*
people: each person is one subject, first neutral and then smiling. The labels are invented from the photos: AU12
is 0 on the neutral frames and 3 on the smiling ones, every other AU 0. These fixtures test layouts only: whatever
is trained on them lives in a temporary folder and is never cached, reported or shipped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

from aulib.data import bp4d, disfa
from aulib.data.london import london_clip, london_people
from aulib.method.aus import BP4D_AUS, DISFA_AUS
from aulib.predict.outputs import write_video

# FERA2015 names: odd numbers are the train partition, even numbers dev.
BP4D_SUBJECTS = ("F001", "F003", "M001", "M003", "F002", "M002")
# Two subjects of each of JAA-Net's three folds (aulib.data.splits.DISFA_FOLDS).
DISFA_SUBJECTS = ("SN001", "SN002", "SN006", "SN011", "SN003", "SN004")
SMILE_AU12 = 3
FRAME_SIZE = (320, 240)  # width, height: webcam-like frames, quick to prepare


def dev_people(count: int, skip: int = 0) -> list[str]:
    """The first ``count`` London dev people after ``skip`` (never a test person)."""
    people = london_people()
    return people[people.split == "dev"].index[skip:skip + count].tolist()


def make_bp4d(root: Path, frames_each: int = 4) -> Path:
    """A BP4D copy (FERA2015 release layout): task T1 neutral, task T2 smiling, for six subjects."""
    for subject, person in zip(BP4D_SUBJECTS, dev_people(len(BP4D_SUBJECTS)), strict=True):
        clip = london_clip(person, frames_each=frames_each, size=FRAME_SIZE)
        for task, start, au12 in (("T1", 0, 0), ("T2", frames_each, SMILE_AU12)):
            folder = root / bp4d.FRAMES_DIR / subject / task
            folder.mkdir(parents=True, exist_ok=True)
            numbers = range(100, 100 + frames_each)  # BP4D numbers frames from where the coding starts
            for number, image in zip(numbers, clip[start:start + frames_each], strict=True):
                Image.fromarray(image).save(folder / f"{number}.jpg", quality=92)
            for au in BP4D_AUS:
                labels = root / bp4d.LABELS_DIR / f"AU{au:02d}"
                labels.mkdir(parents=True, exist_ok=True)
                value = au12 if au == 12 else 0
                (labels / f"{subject}_{task}_AU{au:02d}.csv").write_text("".join(f"{n},{value}\n" for n in numbers))
    return root


def make_disfa(root: Path, frames_each: int = 4) -> Path:
    """A DISFA copy: one left-camera video per subject (neutral, then smiling), the 12 AU label files, and the
    66-point landmark files (dlib's 68 points without the inner-mouth corners 60 and 64, as DISFA gives them)."""
    from aulib.detect import create_detector

    detector = create_detector("dlib")
    for subject, person in zip(DISFA_SUBJECTS, dev_people(len(DISFA_SUBJECTS), skip=len(BP4D_SUBJECTS)),
                               strict=True):
        clip = london_clip(person, frames_each=frames_each, size=FRAME_SIZE)
        write_video(root / disfa.VIDEO_DIR / f"LeftVideo{subject}_comp.avi", clip, fps=20)
        labels = root / disfa.LABELS_DIR / subject
        labels.mkdir(parents=True, exist_ok=True)
        for au in DISFA_AUS:
            values = [SMILE_AU12 if au == 12 and k >= frames_each else 0 for k in range(len(clip))]
            (labels / f"{subject}_au{au}.txt").write_text("".join(f"{k + 1},{v}\n" for k, v in enumerate(values)))
        points = root / disfa.LANDMARKS_DIR / subject / disfa.LANDMARK_SUBDIR
        points.mkdir(parents=True, exist_ok=True)
        for k, image in enumerate(clip):
            face = detector.detect_largest(image)
            assert face is not None, f"dlib found no face in London person {person}'s frame {k}"
            pts = np.delete(face.points, [60, 64], axis=0)
            scipy.io.savemat(points / f"l{k + 1:05d}_lm.mat", {"pts": pts})  # "l" names are 1-based
    return root
