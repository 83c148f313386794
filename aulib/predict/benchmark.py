"""The real-face benchmark: does a model read AU12 higher on each person's smiling photo than on the neutral one?

The Face Research Lab London Set (:mod:`aulib.data.london`) shows 102 people neutral and smiling. Nobody has
FACS-coded the photos, so the benchmark asks what the photos can answer:

- **direction**: the share of people whose smiling photo reads higher than their neutral one, per AU (ties count
  as failures, so a model that reads a constant scores 0%);
- **scale**: the mean reading on neutral and on smiling photos, and the mean gap;
- the same **by group** (gender, ethnicity, age band), each with its number of people. The groups are small, so
  their intervals are wide: they show where the data cannot tell, not that a model "works equally well".

Every interval is a bootstrap over people (:mod:`aulib.method.bootstrap`): the person is the unit, and both of
their photos are drawn together. Shares also get Wilson's interval, which stays honest at 100%.

Each photo goes through the real pipeline (:func:`aulib.predict.predict`'s steps: dlib's detection and 68
landmarks, the model's own alignment, the network, the readout), detected once and read by every model. Models run
in fp32 on the CPU unless told otherwise, so the same model gives the same readings on any machine kind.

Example:
    >>> readings = pd.DataFrame({
    ...     "model": "m", "face_id": ["001", "001", "002", "002"], "condition": ["neutral", "smiling"] * 2,
    ...     "status": "ok", "AU12": [0.5, 2.0, 1.0, 1.0]})
    >>> pairs = pair_table(readings)
    >>> pairs[["AU12_neutral", "AU12_smiling"]].values.tolist()
    [[0.5, 2.0], [1.0, 1.0]]
    >>> summary = summarise(pairs, n_boot=200)
    >>> row = summary.iloc[0]
    >>> row.AU, int(row.n), float(row.share_higher), float(row.mean_gap)  # the tie fails
    ('AU12', 2, 0.5, 0.75)
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from aulib.data.london import CONDITIONS, london_pairs
from aulib.detect import LandmarkDetector, create_detector
from aulib.method.aus import au_label
from aulib.method.bootstrap import mean_difference, paired_bootstrap, share_higher, wilson_interval
from aulib.method.landmarks import as_rgb_uint8
from aulib.predict.loop import OK, align_faces, load_inference_model
from aulib.predict.sources import Frame, read_image

NEUTRAL, SMILING = tuple(CONDITIONS)
GROUPINGS = ("gender", "ethnicity", "age_band")
N_BOOT = 2000
LEVEL = 0.95
# A group smaller than this has an interval that cannot see beyond its few people: it is listed, never compared.
MIN_GROUP = 10


def read_photos(models: Mapping[str, Any], photos: pd.DataFrame, *, detector: str | LandmarkDetector = "dlib",
                device: str = "cpu", precision: str = "fp32", backend: str = "torch",
                progress: bool = True) -> pd.DataFrame:
    """Every model's readings of every photo: one row per model × photo.

    Args:
        models: name → anything :meth:`aulib.inference.model.AUModel.load` takes (a run folder, a model file).
        photos: one row per photo with columns ``face_id``, ``condition`` and ``path`` (or ``image``, an RGB array).
        detector: the landmark backend; each photo is detected once and its largest face read by every model.
        device, precision, backend: how the models run (:func:`aulib.predict.predict`); fp32 on the CPU by default.
        progress: a tqdm bar over the photos.

    Returns:
        Columns ``model, face_id, condition, status`` (``ok`` or ``no_face``) and one intensity column per AU of
        each model (NaN without a face).
    """
    loaded = {name: load_inference_model(model, device=device, precision=precision, backend=backend)
              for name, model in models.items()}
    landmarks = create_detector(detector) if isinstance(detector, str) else detector
    rows = []
    for photo in tqdm(photos.itertuples(index=False), total=len(photos), desc="real faces", unit="photo",
                      disable=not progress):
        image = as_rgb_uint8(photo.image if "image" in photos.columns else read_image(photo.path))
        frame = Frame(source=str(getattr(photo, "path", photo.face_id)), frame=0, timestamp=float("nan"), image=image)
        faces = landmarks.detect(image)[:1]  # the sitter: the largest face
        for name, model in loaded.items():
            row = {"model": name, "face_id": photo.face_id, "condition": photo.condition}
            aligned = align_faces(frame, faces, model)
            if aligned.status == OK:
                result = model.predict_crops(aligned.crops, aligned.aligned)
                values = result.intensities[0].cpu().numpy().astype(float)
                row |= {"status": OK, **{au_label(a): v for a, v in zip(model.aus, values, strict=True)}}
            else:
                row |= {"status": aligned.status}
            rows.append(row)
    return pd.DataFrame(rows)


def read_london(models: Mapping[str, Any], *, split: str | None = None, **options: Any) -> pd.DataFrame:
    """:func:`read_photos` on the London set's pairs (``split``: ``"dev"``, ``"test"`` or ``None`` for all)."""
    pairs = london_pairs(split)
    photos = pd.DataFrame([{"face_id": face_id, "condition": condition, "path": pairs.loc[face_id, condition]}
                           for face_id in pairs.index for condition in CONDITIONS])
    return read_photos(models, photos, **options)


def reading_aus(readings: pd.DataFrame) -> list[str]:
    """The AU columns of a readings table (``AU06``, …), in column order."""
    return [c for c in readings.columns if c.startswith("AU") and c[2:].isdigit()]


def pair_table(readings: pd.DataFrame, people: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per model and person: each AU's neutral and smiling reading side by side.

    Args:
        readings: :func:`read_photos`'s table (``model, face_id, condition`` and AU columns).
        people: demographics indexed by ``face_id`` (:func:`aulib.data.london.london_people`), joined when given.

    Returns:
        Columns ``model, face_id``, ``<AU>_neutral``, ``<AU>_smiling`` per AU, and the people's columns.

    A person with one photo missing gets NaN for it (read as not higher by :func:`summarise`).

    Raises:
        ValueError: when a photo appears twice, or when no photo of a condition is there at all.
    """
    aus = reading_aus(readings)
    counts = readings.groupby(["model", "face_id", "condition"]).size()
    if (counts > 1).any():
        raise ValueError(f"readings hold a photo twice: {counts[counts > 1].index.tolist()[:3]}")
    wide = readings.pivot(index=["model", "face_id"], columns="condition", values=aus)
    missing = [c for c in (NEUTRAL, SMILING) if c not in wide.columns.get_level_values(1)]
    if missing:
        raise ValueError(f"readings have no {missing} photos")
    wide.columns = [f"{au}_{condition}" for au, condition in wide.columns]
    ordered = [f"{au}_{condition}" for au in aus for condition in (NEUTRAL, SMILING)]
    table = wide[ordered].reset_index()
    if people is not None:
        table = table.join(people, on="face_id")
    return table


def _group_rows(pairs: pd.DataFrame, aus: Sequence[str], n_boot: int, level: float,
                seed: int) -> list[dict[str, Any]]:
    """One row per AU for one model (and group): every AU's share and gap from one paired bootstrap."""
    neutral = pairs[[f"{au}_{NEUTRAL}" for au in aus]].to_numpy(float)
    smiling = pairs[[f"{au}_{SMILING}" for au in aus]].to_numpy(float)
    n, count = len(pairs), len(aus)
    higher = np.sum(smiling > neutral, axis=0)  # NaN (no face) compares False: not higher
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a group without a single reading: NaN means
        mean_neutral, mean_smiling = np.nanmean(neutral, axis=0), np.nanmean(smiling, axis=0)
    if n >= 2:
        both = paired_bootstrap(neutral, smiling, lambda a, b: np.concatenate([share_higher(a, b),
                                                                                mean_difference(a, b)]),
                                n_boot=n_boot, level=level, seed=seed)
        estimate, low, high = both.estimate, both.low, both.high
    else:  # one person: no interval
        estimate = np.concatenate([higher / max(n, 1), mean_smiling - mean_neutral])
        low = high = np.full(2 * count, np.nan)
    rows = []
    for k, au in enumerate(aus):
        wilson = wilson_interval(int(higher[k]), n, level) if n else (np.nan, np.nan)
        rows.append({"AU": au, "n": n, "higher": int(higher[k]),
                     "share_higher": estimate[k], "share_low": low[k], "share_high": high[k],
                     "wilson_low": wilson[0], "wilson_high": wilson[1],
                     "mean_neutral": mean_neutral[k], "mean_smiling": mean_smiling[k],
                     "mean_gap": estimate[count + k], "gap_low": low[count + k], "gap_high": high[count + k]})
    return rows


def summarise(pairs: pd.DataFrame, *, by: str | None = None, n_boot: int = N_BOOT, level: float = LEVEL,
              seed: int = 0) -> pd.DataFrame:
    """Direction and scale per model (and group) and AU, with bootstrap intervals over people.

    Args:
        pairs: :func:`pair_table`'s table (with the people's columns when ``by`` is given).
        by: a column to break down by (``gender``, ``ethnicity``, ``age_band``), or ``None``.
        n_boot, level, seed: the bootstrap's (:func:`aulib.method.bootstrap.paired_bootstrap`).

    Returns:
        One row per model, group and AU: ``n`` people, ``higher`` (how many read higher smiling),
        ``share_higher`` with ``share_low``–``share_high`` (bootstrap) and ``wilson_low``–``wilson_high``,
        ``mean_neutral``, ``mean_smiling``, ``mean_gap`` (smiling − neutral) with ``gap_low``–``gap_high``.
        A pair with a missing reading (no face found) counts as not higher and is left out of the means.
    """
    aus = [c.rsplit("_", 1)[0] for c in pairs.columns if c.endswith(f"_{NEUTRAL}")]
    keys = ["model"] + ([by] if by else [])
    if by and by not in pairs.columns:
        raise ValueError(f"cannot break down by {by!r}: the pair table has no such column (join the people)")
    rows = []
    for key, group in pairs.groupby(keys, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        # a model is scored on its own AUs: a column that is NaN for every person is an AU it does not read
        model_aus = [au for au in aus if pairs.loc[pairs["model"] == key[0], [f"{au}_{NEUTRAL}", f"{au}_{SMILING}"]]
                     .notna().any(axis=None)]
        for row in _group_rows(group, model_aus, n_boot, level, seed):
            row = dict(zip(keys, key, strict=True)) | row
            if by:
                row["group_by"] = by
                row["group"] = row.pop(by)
            rows.append(row)
    table = pd.DataFrame(rows)
    if by:
        table["too_few"] = table.n < MIN_GROUP
        first = ["model", "group_by", "group"]
        table = table[first + [c for c in table.columns if c not in first]]
    return table


def group_table(pairs: pd.DataFrame, groupings: Sequence[str] = GROUPINGS, **options: Any) -> pd.DataFrame:
    """:func:`summarise` broken down by each of ``groupings`` in turn, stacked."""
    return pd.concat([summarise(pairs, by=by, **options) for by in groupings], ignore_index=True)


def format_interval(estimate: float, low: float, high: float, *, percent: bool = False) -> str:
    """``"0.95 [0.90, 0.99]"`` (or ``"95% [90, 99]"``) for tables; NaN bounds are left out.

    Example:
        >>> format_interval(0.9706, 0.9314, 1.0, percent=True), format_interval(1.234, 0.9, 1.5)
        ('97% [93, 100]', '1.23 [0.90, 1.50]')
    """
    if percent:
        text = f"{100 * estimate:.0f}%"
        return text if np.isnan(low) else f"{text} [{100 * low:.0f}, {100 * high:.0f}]"
    text = f"{estimate:.2f}"
    return text if np.isnan(low) else f"{text} [{low:.2f}, {high:.2f}]"


def display_table(summary: pd.DataFrame, aus: Sequence[str] = ("AU12", "AU06")) -> pd.DataFrame:
    """The course's readable view of :func:`summarise`: one row per model (and group), chosen AUs only.

    The share's interval is the bootstrap's; Wilson's is beside it, because a bootstrap over people who all read
    higher has zero width."""
    keys = [c for c in ("model", "split", "group_by", "group") if c in summary.columns]
    rows = []
    chosen = summary[summary.AU.isin(aus)]
    order = chosen.AU.map({au: k for k, au in enumerate(aus)})
    for _, row in chosen.assign(_order=order).sort_values([*keys, "_order"], kind="stable").iterrows():
        rows.append({**{k: row[k] for k in keys}, "AU": row.AU, "n": int(row.n),
                     "smiling reads higher": format_interval(row.share_higher, row.share_low, row.share_high,
                                                             percent=True),
                     "Wilson interval": f"[{100 * row.wilson_low:.0f}, {100 * row.wilson_high:.0f}]",
                     "mean neutral": f"{row.mean_neutral:.2f}", "mean smiling": f"{row.mean_smiling:.2f}",
                     "gap": format_interval(row.mean_gap, row.gap_low, row.gap_high)})
    return pd.DataFrame(rows)


def split_summary(pairs: pd.DataFrame, splits: Sequence[str] = ("test", "dev"), **options: Any) -> pd.DataFrame:
    """:func:`summarise` per London split (``"all"`` for everyone), with a ``split`` column first.

    The *test* people give the numbers the course reports; the *dev* people are for decisions made while looking
    at the benchmark. Both are shown, labelled.
    """
    if "split" not in pairs.columns:
        raise ValueError("the pair table has no 'split' column: join the people (pair_table(readings, people))")
    parts = []
    for split in splits:
        chosen = pairs if split == "all" else pairs[pairs["split"] == split]
        if chosen.empty:
            raise ValueError(f"no pairs in split {split!r}; the table has {sorted(pairs['split'].unique())}")
        parts.append(summarise(chosen, **options).assign(split=split))
    table = pd.concat(parts, ignore_index=True)
    return table[["split"] + [c for c in table.columns if c != "split"]]


def paired_model_difference(pairs: pd.DataFrame, base: str, other: str, *, aus: Sequence[str] = ("AU12", "AU06"),
                            n_boot: int = N_BOOT, level: float = LEVEL, seed: int = 0) -> pd.DataFrame:
    """Two models read on the same people, paired by person: ``other − base`` in mean gap and mean neutral reading.

    Each bootstrap draw takes the same people for both models (:func:`aulib.method.bootstrap.paired_bootstrap`), so
    the interval says whether another sample of people would give the same sign. A person either model could not
    read (no face) is left out of both.

    Args:
        pairs: :func:`pair_table`'s table holding both models.
        base, other: model names in ``pairs``.
        aus: the AUs to compare.
        n_boot, level, seed: the bootstrap's.

    Returns:
        One row per AU and quantity (``gap``: smiling − neutral; ``neutral``: the reading on neutral photos;
        ``higher``: the share of people whose smiling photo reads strictly higher): ``AU, quantity, n, base, other,
        difference, low, high`` (means over the people; difference = other − base).

    Example:
        >>> readings = pd.DataFrame({"model": ["a"] * 4 + ["b"] * 4, "face_id": ["1", "1", "2", "2"] * 2,
        ...                          "condition": ["neutral", "smiling"] * 4, "status": "ok",
        ...                          "AU12": [0.5, 2.0, 1.0, 1.5, 0.5, 3.0, 1.0, 2.5]})
        >>> row = paired_model_difference(pair_table(readings), "a", "b", aus=["AU12"], n_boot=100).iloc[0]
        >>> row.quantity, float(row.base), float(row.other), float(row.difference)
        ('gap', 1.0, 2.0, 1.0)
    """
    wide = {name: pairs[pairs["model"] == name].set_index("face_id") for name in (base, other)}
    for name, table in wide.items():
        if table.empty:
            raise ValueError(f"no model {name!r} in the pair table; it holds {sorted(pairs['model'].unique())}")
    people = wide[base].index.intersection(wide[other].index)
    rows = []
    for au in aus:
        values = {}
        for name, table in wide.items():
            neutral, smiling = (table.loc[people, f"{au}_{c}"].to_numpy(float) for c in (NEUTRAL, SMILING))
            # "higher": 1 where the smiling photo reads strictly higher (a tie fails, as in summarise)
            values[name] = np.stack([smiling - neutral, neutral, (smiling > neutral).astype(float)], axis=1)
            values[name][np.isnan(smiling - neutral), 2] = np.nan
        both = ~np.isnan(values[base]).any(axis=1) & ~np.isnan(values[other]).any(axis=1)
        interval = paired_bootstrap(values[base][both], values[other][both], n_boot=n_boot, level=level, seed=seed)
        for k, quantity in enumerate(("gap", "neutral", "higher")):
            rows.append({"AU": au, "quantity": quantity, "n": int(both.sum()),
                         "base": float(values[base][both, k].mean()), "other": float(values[other][both, k].mean()),
                         "difference": float(np.atleast_1d(interval.estimate)[k]),
                         "low": float(np.atleast_1d(interval.low)[k]), "high": float(np.atleast_1d(interval.high)[k])})
    return pd.DataFrame(rows)


def anchor_readings(path: str | None = None) -> pd.DataFrame:
    """MediaPipe's blendshape proxies on the London photos as a readings table (``benchmarks/mediapipe_london.py``).

    ``AU12`` is 5 × mean(mouthSmileLeft, mouthSmileRight); ``AU07`` is 5 × mean(eyeSquintLeft, eyeSquintRight), a
    lid-tightening proxy (ICT-FaceKit's FACS table maps eyeSquint to AU7, not AU6). Blendshape weights are not FACS
    intensities: only directions and gaps compare with aulib's.
    """
    from aulib.data.london import FOLDER

    table = pd.read_csv(path or FOLDER / "anchor_mediapipe.csv", dtype={"face_id": str})
    return pd.DataFrame({"model": "MediaPipe blendshapes (5× proxy)", "face_id": table.face_id,
                         "condition": table.condition, "status": np.where(table.detected == 1, OK, "no_face"),
                         "AU07": table.mp_eyesquint_5x, "AU12": table.mp_au12_5x_mouthSmile})
