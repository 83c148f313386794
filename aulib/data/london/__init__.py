"""The Face Research Lab London Set: 102 real people, each photographed neutral and smiling (CC BY 4.0).

DeBruine, L. & Jones, B. (2017). *Face Research Lab London Set* (Version 5). figshare.
doi:10.6084/m9.figshare.5047666.v5. Licensed under CC BY 4.0; the sitters consented to use of their images "in
their original or altered forms" in studies and to illustrate research. ``LICENSE.md`` and ``README.md`` beside
this module give the attribution and the changes made (the photos here are 640-pixel JPEG copies of the
1350-pixel originals).

aulib uses the set **only to evaluate**: the course's real-face benchmark (:mod:`aulib.predict.benchmark`) asks
whether a model reads AU12 higher on each person's smiling photo than on the neutral one. No reported or shipped
model is trained on these faces. The people are split once, by :func:`make_split`, into a *dev* third for any
decision made while looking at the benchmark and a *test* two thirds for the numbers the course reports
(``split.csv``, committed).

Files (package data, so a pip install has them too):

- ``photos/NNN_03.jpg`` (neutral) and ``photos/NNN_08.jpg`` (smiling), 640×640;
- ``info.csv``: ``face_id``, ``age``, ``gender``, ``ethnicity`` as the sitters reported them (two ages are
  missing: their band is ``unknown``);
- ``split.csv``: ``face_id``, ``split`` (``dev`` or ``test``).

Example:
    >>> people = london_people()
    >>> len(people), people.split.value_counts().to_dict()
    (102, {'test': 68, 'dev': 34})
    >>> people.loc["001", ["gender", "ethnicity", "age_band"]].tolist(), int(people.loc["001", "age"])
    (['female', 'white', '18–24'], 24)
    >>> london_photo("001", "smiling").name
    '001_08.jpg'
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

FOLDER = Path(__file__).resolve().parent
PHOTOS = FOLDER / "photos"
CONDITIONS = {"neutral": "03", "smiling": "08"}  # the set's own file suffixes
SPLITS = ("dev", "test")
DEV_SHARE = 1 / 3
SPLIT_SEED = 2017  # the year of the set's release; fixed once, before any model was scored on it
STRATA = ("gender", "ethnicity")
# Age bands for the breakdowns: the sitters are 18–54, most under 30, so the oldest band is small (8 people; two
# more gave no age).
AGE_BANDS = ((18, 24, "18–24"), (25, 29, "25–29"), (30, 39, "30–39"), (40, 120, "40+"))
CITATION = ("DeBruine, L. & Jones, B. (2017). Face Research Lab London Set (Version 5). figshare. "
            "doi:10.6084/m9.figshare.5047666.v5. CC BY 4.0.")


UNKNOWN_AGE = "unknown"


def age_band(age: float | None) -> str:
    """The breakdown's band of an age in years (``"unknown"`` for a missing age).

    Example:
        >>> [age_band(a) for a in (19, 25, 39, 40, None)]
        ['18–24', '25–29', '30–39', '40+', 'unknown']
    """
    if age is None or pd.isna(age):
        return UNKNOWN_AGE
    for low, high, name in AGE_BANDS:
        if low <= age <= high:
            return name
    raise ValueError(f"age {age} is outside every band {AGE_BANDS}")


def read_info(path: str | Path = FOLDER / "info.csv") -> pd.DataFrame:
    """The demographic table, indexed by ``face_id`` (three-digit strings), with ``age_band`` added.

    Raises:
        ValueError: naming the file and column when a column is missing or an age is not a number.
    """
    table = pd.read_csv(path, dtype={"face_id": str})
    missing = {"face_id", "age", "gender", "ethnicity"} - set(table.columns)
    if missing:
        raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
    ages = pd.to_numeric(table.age, errors="coerce")
    bad = table.loc[ages.isna() & table.age.notna(), "face_id"].tolist()  # NA in the file is a missing age
    if bad:
        raise ValueError(f"{path}: column 'age' is not a number for face_id {bad}")
    table["age"] = ages.astype("Int64")
    table["age_band"] = table.age.map(age_band)
    return table.set_index("face_id")


def make_split(info: pd.DataFrame, *, dev_share: float = DEV_SHARE, seed: int = SPLIT_SEED) -> pd.Series:
    """Split people into ``dev`` and ``test``, stratified by gender and ethnicity.

    Each stratum (a gender × ethnicity cell) gives ``dev_share`` of its people to dev, rounded so that the total is
    ``round(dev_share × n)``: every stratum gets the floor of its quota, and the strata with the largest remainders
    (ties broken by a seeded draw) one more. Within a stratum the dev people are a seeded random draw.

    Args:
        info: :func:`read_info`'s table (index ``face_id``; columns ``gender``, ``ethnicity``).
        dev_share: the dev part's share of the people.
        seed: the draw's seed.

    Returns:
        ``split`` per ``face_id`` (``"dev"`` or ``"test"``), in ``info``'s order.

    Example:
        >>> info = pd.DataFrame({"gender": ["f"] * 6 + ["m"] * 3, "ethnicity": ["a"] * 9},
        ...                     index=[f"{k:03d}" for k in range(9)])
        >>> make_split(info).value_counts().to_dict()
        {'test': 6, 'dev': 3}
    """
    rng = np.random.default_rng(seed)
    strata = info.groupby(list(STRATA), sort=True).groups
    quotas = {key: len(ids) * dev_share for key, ids in strata.items()}
    counts = {key: int(np.floor(q)) for key, q in quotas.items()}
    left = round(dev_share * len(info)) - sum(counts.values())
    tie_break = dict(zip(strata, rng.permutation(len(strata)), strict=True))
    for key in sorted(strata, key=lambda k: (-(quotas[k] - counts[k]), tie_break[k]))[:left]:
        counts[key] += 1
    split = pd.Series("test", index=info.index, name="split")
    for key, ids in strata.items():
        chosen = rng.choice(np.asarray(sorted(ids)), size=counts[key], replace=False)
        split.loc[chosen] = "dev"
    return split


def read_split(path: str | Path = FOLDER / "split.csv") -> pd.Series:
    """The committed split: ``split`` (``dev`` or ``test``) per ``face_id``.

    Raises:
        ValueError: naming the file and the value when a split name is not ``dev`` or ``test``.
    """
    table = pd.read_csv(path, dtype={"face_id": str}).set_index("face_id")
    bad = sorted(set(table.split) - set(SPLITS))
    if bad:
        raise ValueError(f"{path}: column 'split' has {bad}; expected one of {list(SPLITS)}")
    return table.split


def london_people() -> pd.DataFrame:
    """Every person of the set: demographics, age band and split, indexed by ``face_id``."""
    people = read_info()
    people["split"] = read_split().reindex(people.index)
    if people.split.isna().any():
        raise ValueError(f"{FOLDER / 'split.csv'} lacks face_id {people.index[people.split.isna()].tolist()}")
    return people


def london_photo(face_id: str, condition: str) -> Path:
    """The photo of one person, ``condition`` ``"neutral"`` or ``"smiling"``.

    Raises:
        ValueError: for an unknown condition. FileNotFoundError: for a photo that is not there.
    """
    if condition not in CONDITIONS:
        raise ValueError(f"condition must be one of {list(CONDITIONS)}; got {condition!r}")
    path = PHOTOS / f"{face_id}_{CONDITIONS[condition]}.jpg"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such London photo (face_id {face_id!r}, {condition})")
    return path


def london_pairs(split: str | None = None) -> pd.DataFrame:
    """One row per person: demographics, split, and the paths of the neutral and smiling photos.

    Args:
        split: ``"dev"``, ``"test"``, or ``None`` for all 102 people.
    """
    people = london_people()
    if split is not None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {list(SPLITS)} or None; got {split!r}")
        people = people[people.split == split]
    for condition in CONDITIONS:
        people[condition] = [london_photo(face_id, condition) for face_id in people.index]
    return people


def london_clip(face_id: str, *, frames_each: int = 30, size: tuple[int, int] = (320, 240)) -> np.ndarray:
    """A webcam-like clip of one person: ``frames_each`` neutral frames, then as many smiling ones.

    The square photo is cropped to the clip's aspect ratio around its centre (the face) and resized, as a camera
    would frame a person at a desk. Used where no camera is: notebook 06 under papermill, Chromium's fake camera in
    the browser test, and ``aulib webcam --source``.

    Args:
        face_id: the person (three digits).
        frames_each: frames per expression.
        size: ``(width, height)`` of the frames.

    Returns:
        ``(2 × frames_each, height, width, 3)`` uint8 RGB.
    """
    import cv2
    from PIL import Image

    width, height = size
    frames = []
    for condition in CONDITIONS:
        photo = np.asarray(Image.open(london_photo(face_id, condition)).convert("RGB"))
        side = photo.shape[1]
        crop_height = min(photo.shape[0], round(side * height / width))
        top = (photo.shape[0] - crop_height) // 2
        frame = cv2.resize(photo[top:top + crop_height], (width, height), interpolation=cv2.INTER_AREA)
        frames += [frame] * frames_each
    return np.stack(frames)
