"""The faces the explorer shows: SynthAU subjects rendered live, or frames of a prepared dataset.

- :class:`SynthFaces` renders frontal SynthAU faces on the fly and shows the requested AU intensities: the intensity
  slider changes the expression itself.
- :class:`PreparedFaces` takes a few aligned frames of a prepared dataset (BP4D, DISFA): a photo cannot change its
  expression, so the intensity only sets the target.
- :func:`load_faces` picks between them, and :func:`load_trained_model` loads a trained run for the explorer.

Every face is aligned to the 256×256 frame; coordinates are pixels of that frame.

Example:
    >>> faces = SynthFaces(count=2)
    >>> face = faces.face(0, {12: 3.0})
    >>> face.image.shape, face.name
    ((256, 256, 3), 'SynthAU S001')
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from aulib.inference.model import AUModel
from aulib.method.align import (
    FRAME_SIZE,
    alignment_matrix,
    scale_matrix,
    transform_points,
    warp_affine,
    warp_face,
)

Method = Literal["paper", "similarity"]



@dataclass(frozen=True)
class Face:
    """One aligned face in the 256 frame.

    Attributes:
        image: ``(256, 256, 3)`` uint8 RGB aligned crop.
        landmarks: ``(L, 2)`` float64 landmarks in the crop's pixels.
        name: a short description for titles.
        labels: the dataset's intensity of each AU (empty when unknown).
        method: the alignment method that produced the crop (re-alignment uses the same).
    """

    image: np.ndarray
    landmarks: np.ndarray
    name: str
    labels: Mapping[int, float] = field(default_factory=dict)
    method: Method = "paper"



class FaceSource(Protocol):
    """What the explorer needs from a set of faces."""

    #: whether :meth:`face` draws the AU at the requested intensity (SynthAU) or ignores it (real data).
    shows_intensity: bool

    def __len__(self) -> int: ...

    def face(self, index: int, intensities: Mapping[int, float]) -> Face: ...



class SynthFaces:
    """Frontal SynthAU faces rendered on the fly, showing the requested AU intensities.

    The explorer's intensity slider re-renders the subject with the AU at that intensity, so a student sees the
    expression, its target and the model's map change together. Nothing is read from or written to disk, and
    renders are cached.

    Args:
        count: number of subjects (face indices ``0 … count − 1``).
        seed: SynthAU seed (which identities).
        difficulty: SynthAU difficulty (a level or a :class:`~aulib.data.synthau.Difficulty`); ``"easy"`` draws
            clear cues, best for teaching.
        image_size: render size before alignment.
        subjects: which subjects of the seed's set (0-based indices); default the first ``count``.
        renderer: ``"2d"`` (SynthAU v2's drawn faces) or ``"3d"`` (SynthAU-3D: the person re-rendered from the 3D
            face model, frontal, at each requested intensity).

    Example:
        >>> face = SynthFaces(count=1).face(0, {12: 5.0})
        >>> face.image.shape, face.landmarks.shape
        ((256, 256, 3), (68, 2))
    """

    shows_intensity = True

    def __init__(self, count: int = 8, seed: int = 0, difficulty: float | str = "easy", image_size: int = 256,
                 subjects: Sequence[int] | None = None, renderer: str = "2d") -> None:
        from aulib.data.synthau import Difficulty, SynthConfig

        if count < 1:
            raise ValueError(f"count must be >= 1; got {count}")
        self.subjects = list(subjects)[:count] if subjects is not None else list(range(count))
        self.count = len(self.subjects)
        level = difficulty if isinstance(difficulty, Difficulty) else Difficulty.from_level(difficulty)
        self.config = replace(SynthConfig(seed=seed, image_size=image_size, renderer=renderer), difficulty=level)
        # lru_cache on a bound method would keep self alive; a per-instance cache does not.
        self._render = lru_cache(maxsize=64)(self._render_uncached)

    @classmethod
    def from_prepared(cls, prepared_dir: str | os.PathLike, split: str | None = "test",
                      count: int = 8) -> SynthFaces | None:
        """The subjects of a prepared SynthAU set's ``split``, rendered live; ``None`` if it is not SynthAU.

        The set's ``synthau.json`` (found through the prepared ``meta.json``'s source folder) gives the seed and
        difficulty, so the explorer draws the very people the model is tested on.
        """
        from aulib.data.dataset import load_meta
        from aulib.data.synthau import load_config, subject_name

        meta = load_meta(prepared_dir)
        source = Path(meta.get("source", ""))
        if meta.get("dataset") != "synthau" or not (source / "synthau.json").is_file():
            return None
        config = load_config(source)
        names = sorted(s for s, name in meta["splits"].items() if split is None or name == split)
        indices = [k for k in range(config.subjects) if subject_name(k) in set(names)]
        if not indices:
            return None
        return cls(count=count, seed=config.seed, difficulty=config.difficulty, subjects=indices,
                   renderer=config.renderer)

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        renderer = ", renderer='3d'" if self.config.renderer == "3d" else ""
        return f"SynthFaces(count={self.count}, seed={self.config.seed}{renderer})"

    def _render_uncached(self, index: int, intensities: tuple[tuple[int, float], ...]) -> Face:
        from aulib.data.synthau import still_face, subject_name

        subject = self.subjects[index]
        image, points = still_face(self.config, subject, dict(intensities))
        matrix = alignment_matrix(points, "paper")
        return Face(
            image=warp_face(image, matrix),
            landmarks=transform_points(points, matrix),
            name=f"{'SynthAU-3D' if self.config.renderer == '3d' else 'SynthAU'} {subject_name(subject)}",
            labels=dict(intensities),
        )

    def face(self, index: int, intensities: Mapping[int, float]) -> Face:
        if not 0 <= index < self.count:
            raise IndexError(f"face index {index} out of range 0..{self.count - 1}")
        # SynthAU simulates a fixed AU list; AUs outside it are ignored rather than failing the view.
        from aulib.data.synthau.faces import SIMULATED_AUS

        key = tuple(sorted((int(a), float(v)) for a, v in intensities.items() if a in SIMULATED_AUS and v > 0))
        return self._render(index, key)



class PreparedFaces:
    """A few frames of a prepared dataset (``aulib prepare``'s output), as aligned faces.

    Args:
        path: the prepared folder.
        split: split to draw from; when the dataset has no such split, all frames are used.
        count: number of frames, spread evenly over the split (frames with an active AU first).
        seed: unused for now beyond tie-breaking; kept for a uniform signature with :class:`SynthFaces`.

    Raises:
        FileNotFoundError / RuntimeError: for a missing or unfinished preparation.
    """

    shows_intensity = False

    def __init__(self, path: str | os.PathLike, split: str | None = "test", count: int = 8, seed: int = 0) -> None:
        from aulib.data.dataset import PreparedDataset

        try:
            dataset = PreparedDataset(path, split=split)
        except ValueError:  # no such split in this dataset: use every frame
            dataset = PreparedDataset(path)
        if len(dataset) == 0:
            raise ValueError(f"{path} holds no usable frames")
        labels = np.nan_to_num(dataset.labels_array(), nan=0.0)
        # Frames that show some AU teach more than neutral ones; keep the order stable for a given seed.
        order = np.lexsort((np.random.default_rng(seed).random(len(dataset)), -labels.max(axis=1)))
        chosen = np.sort(order[: min(count, len(dataset))])
        batch = dataset.batch(chosen)
        size = int(batch["image"].shape[-1])
        to_frame = scale_matrix(FRAME_SIZE, size)  # crop of side S -> 256 frame
        images = batch["image"].permute(0, 2, 3, 1).numpy()
        landmarks = batch["landmarks"].numpy().astype(np.float64)
        method = dataset.meta.get("alignment", {}).get("method", "paper")
        frames = dataset.frames.iloc[chosen]
        self.faces: list[Face] = []
        for i in range(len(chosen)):
            image = images[i] if size == FRAME_SIZE else warp_affine(images[i], to_frame, FRAME_SIZE)
            row = frames.iloc[i]
            name = f"{row['subject']} {row['sequence']} frame {row['frame']}"
            self.faces.append(Face(
                image=np.ascontiguousarray(image),
                landmarks=transform_points(landmarks[i], to_frame),
                name=name,
                labels={a: float(v) for a, v in zip(dataset.aus, labels[chosen[i]], strict=True)},
                method=method,
            ))

    def __len__(self) -> int:
        return len(self.faces)

    def __repr__(self) -> str:
        return f"PreparedFaces({len(self.faces)} faces)"

    def face(self, index: int, intensities: Mapping[int, float]) -> Face:
        return self.faces[index]  # a photo cannot change its expression: the intensity only sets the target



def load_faces(
    prepared_dir: str | os.PathLike | None = None, *, split: str | None = "test", count: int = 8, seed: int = 0,
    renderer: str = "3d",
) -> SynthFaces | PreparedFaces:
    """The faces the explorer shows: live SynthAU renders where possible, else frames of a prepared dataset.

    - a prepared **SynthAU** set whose generated folder is still there: its ``split`` subjects, rendered live
      (:meth:`SynthFaces.from_prepared`), so that the face shows the chosen AU intensity;
    - any other prepared dataset (BP4D, DISFA): a few of its aligned frames (:class:`PreparedFaces`), whose
      expression cannot change;
    - nothing prepared: SynthAU faces of ``seed`` rendered in memory by ``renderer``: the course's SynthAU-3D by
      default, or SynthAU v2's drawn faces where no OpenGL context can be made (with a warning naming why).

    Args:
        prepared_dir: a prepared folder, or ``None``.
        split: split of the prepared dataset.
        count: number of faces.
        seed: which faces.
        renderer: without a prepared set, ``"3d"`` (SynthAU-3D, the course's data) or ``"2d"`` (SynthAU v2).

    Returns:
        A face source for :func:`explorer_arrays` and :class:`HeatmapExplorer`.

    Example:
        >>> load_faces("/no/such/folder", count=2, renderer="2d")
        SynthFaces(count=2, seed=0)
    """
    if prepared_dir is not None and (Path(prepared_dir) / "meta.json").is_file():
        live = SynthFaces.from_prepared(prepared_dir, split=split, count=count)
        return live if live is not None else PreparedFaces(prepared_dir, split=split, count=count, seed=seed)
    if renderer not in ("2d", "3d"):
        raise ValueError(f"renderer must be '2d' or '3d'; got {renderer!r}")
    if renderer == "3d":
        from aulib.data.face3d.render import gl_context

        try:
            gl_context().release()  # the people are rendered later, one per slider move: fail over now, not then
        except RuntimeError as error:
            warnings.warn(f"the explorer draws SynthAU v2's faces instead of SynthAU-3D's: {error}", stacklevel=2)
            renderer = "2d"
    return SynthFaces(count=count, seed=seed, renderer=renderer)



def load_trained_model(run_dir: str | os.PathLike, device: str = "auto") -> AUModel | None:
    """The trained run in ``run_dir``, ready to predict (:meth:`AUModel.from_run`), or ``None`` without one.

    Only the run's own files are read (``config.json``, ``best.pt``): a run trained elsewhere, such as the course's
    reference run, loads without its training data. It runs as ``aulib predict`` runs it (fp32 on a CPU).

    Example:
        >>> load_trained_model("/no/such/run") is None
        True
    """
    if not (Path(run_dir) / "best.pt").is_file():
        return None
    return AUModel.load(run_dir, device=device)
