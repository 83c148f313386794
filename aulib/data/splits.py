"""Subject-independent splits: FERA2015's train/dev partition of BP4D, DISFA's published three folds, SynthAU's
train/val/test, the split every prepared dataset records (:func:`resolve_splits`), and the one specification per
dataset of which splits train, select and evaluate a model (:func:`split_spec`).

Every split is by subject: frames of one person never appear on both sides, otherwise a model
can score well by recognising the person instead of the expression.

- BP4D / FERA2015: the challenge's training partition is the odd-numbered subjects (F001, F003, ...,
  F023 and M001, ..., M017; 21 subjects), its development partition the even-numbered ones (F002,
  ..., F022 and M002, ..., M018; 20 subjects). The FERA2015 test partition is separate and not part
  of BP4D's public release.
- DISFA: papers report 3-fold subject-independent cross-validation. :data:`DISFA_FOLDS` is the
  assignment of JAA-Net (Shao, Liu, Cai and Ma, "Deep Adaptive Attention for Joint Facial Action Unit
  Detection and Face Alignment", ECCV 2018), widely reused since (ME-GraphAU's
  ``tool/DISFA_image_label_process.py`` lists it as ``part1..part3``). Prepared DISFA sets record these folds
  (``fold0``–``fold2``); fold lists differ between papers, so compare by subject, not by fold number. Whether
  Sanchez-Lozano et al. (BMVC 2018) used the same folds is not stated in what we could check;
  :func:`subject_folds` gives a documented, seeded alternative.
- SynthAU (and any other dataset): subject-level train / val / test (:func:`assign_subject_splits`).

Example:
    >>> from aulib.data.splits import fera2015_split, DISFA_FOLDS, subject_folds
    >>> fera2015_split("F001"), fera2015_split("M018")
    ('train', 'dev')
    >>> len(DISFA_FOLDS), sorted(set(DISFA_FOLDS.values()))
    (27, [0, 1, 2])
    >>> subject_folds(["a", "b", "c", "d"], n_folds=2, seed=0) == subject_folds(["d", "c", "b", "a"], 2, 0)
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

# FERA2015 partitions of BP4D (odd numbers train, even numbers dev), written out so that a reader
# can compare them with the challenge paper (Valstar et al., FG 2015) without running code.
FERA2015_TRAIN: tuple[str, ...] = (
    "F001", "F003", "F005", "F007", "F009", "F011", "F013", "F015", "F017", "F019", "F021", "F023",
    "M001", "M003", "M005", "M007", "M009", "M011", "M013", "M015", "M017",
)  # fmt: skip
FERA2015_DEV: tuple[str, ...] = (
    "F002", "F004", "F006", "F008", "F010", "F012", "F014", "F016", "F018", "F020", "F022",
    "M002", "M004", "M006", "M008", "M010", "M012", "M014", "M016", "M018",
)  # fmt: skip

# DISFA's 27 subjects: SN001–SN032 without SN014, SN015, SN019, SN020, SN022.
DISFA_SUBJECTS: tuple[str, ...] = tuple(f"SN{n:03d}" for n in range(1, 33) if n not in (14, 15, 19, 20, 22))

# The 3-fold DISFA split of JAA-Net / ME-GraphAU: subject -> fold index (0 = their "part1").
# Evaluating fold k means testing on the subjects with fold k and training on the others. Note that
# ME-GraphAU's own "fold1" tests on part3: compare by subject lists, not by fold numbers.
_DISFA_PARTS: tuple[tuple[str, ...], ...] = (
    ("SN002", "SN010", "SN001", "SN026", "SN027", "SN032", "SN030", "SN009", "SN016"),
    ("SN013", "SN018", "SN011", "SN028", "SN012", "SN006", "SN031", "SN021", "SN024"),
    ("SN003", "SN029", "SN023", "SN025", "SN008", "SN005", "SN007", "SN017", "SN004"),
)
DISFA_FOLDS: dict[str, int] = {subject: fold for fold, part in enumerate(_DISFA_PARTS) for subject in sorted(part)}

SCHEMES = ("fera2015", "3fold", "disfa3fold")


def fera2015_split(subject: str) -> str:
    """The FERA2015 partition of a BP4D subject.

    Args:
        subject: a BP4D subject id such as ``"F001"``.

    Returns:
        ``"train"`` or ``"dev"``.

    Raises:
        ValueError: for a subject in neither partition.
    """
    if subject in FERA2015_TRAIN:
        return "train"
    if subject in FERA2015_DEV:
        return "dev"
    raise ValueError(f"{subject!r} is not a BP4D subject of the FERA2015 partitions (F001–F023, M001–M018)")


def subject_folds(subjects: Iterable[str], n_folds: int = 3, seed: int = 0) -> dict[str, int]:
    """Assign subjects to ``n_folds`` folds, deterministically.

    The unique subjects are sorted (so the input order does not matter), shuffled with
    ``numpy.random.default_rng(seed).permutation``, and dealt round-robin: the i-th subject of the
    shuffled list goes to fold ``i % n_folds``. Fold sizes therefore differ by at most one.

    Args:
        subjects: subject ids (duplicates are allowed and ignored, e.g. a labels table's column).
        n_folds: the number of folds, at least 2 and at most the number of subjects.
        seed: the shuffle's seed.

    Returns:
        ``{subject: fold}`` with folds ``0 .. n_folds - 1``, in sorted subject order.

    Raises:
        ValueError: if ``n_folds`` is below 2 or exceeds the number of subjects.
    """
    unique = sorted({str(s) for s in subjects})
    if n_folds < 2:
        raise ValueError(f"n_folds must be at least 2, got {n_folds}")
    if n_folds > len(unique):
        raise ValueError(f"cannot split {len(unique)} subjects into {n_folds} folds")
    order = np.random.default_rng(seed).permutation(len(unique))
    folds = {unique[index]: position % n_folds for position, index in enumerate(order)}
    return {subject: folds[subject] for subject in unique}


def split_table(subjects: Iterable[str], scheme: str = "fera2015", n_folds: int = 3, seed: int = 0) -> pd.DataFrame:
    """A table of subjects and their split.

    Args:
        subjects: subject ids (duplicates ignored).
        scheme: ``"fera2015"`` (BP4D train/dev), ``"3fold"`` (:func:`subject_folds` with ``n_folds``
            and ``seed``), or ``"disfa3fold"`` (the published :data:`DISFA_FOLDS`).
        n_folds: folds for ``"3fold"`` (the name says 3, the default; others are allowed).
        seed: the shuffle's seed for ``"3fold"``.

    Returns:
        Columns ``subject, split`` (``"train"`` / ``"dev"``) for ``"fera2015"``, otherwise
        ``subject, fold`` (int); sorted by subject.

    Raises:
        ValueError: for an unknown scheme, or a subject the scheme does not know.
    """
    unique = sorted({str(s) for s in subjects})
    if scheme == "fera2015":
        return pd.DataFrame({"subject": unique, "split": [fera2015_split(s) for s in unique]})
    if scheme == "3fold":
        folds = subject_folds(unique, n_folds=n_folds, seed=seed)
    elif scheme == "disfa3fold":
        unknown = [s for s in unique if s not in DISFA_FOLDS]
        if unknown:
            raise ValueError(f"{unknown} are not DISFA subjects (known: {', '.join(DISFA_SUBJECTS)})")
        folds = {s: DISFA_FOLDS[s] for s in unique}
    else:
        raise ValueError(f"unknown split scheme {scheme!r}; use one of {SCHEMES}")
    return pd.DataFrame({"subject": unique, "fold": np.array([folds[s] for s in unique], dtype=np.int64)})


def _round_half_up(x: float) -> int:
    # Python's round() rounds halves to even (round(2.5) == 2); proportions read better half-up.
    return math.floor(x + 0.5)


def assign_subject_splits(
    subjects: Iterable[str], test: float = 0.25, val: float = 0.15, seed: int = 0
) -> dict[str, str]:
    """A deterministic subject-level train / val / test split (no subject is ever split across two).

    Subjects are sorted, shuffled with ``seed``, and the first ``round(test · n)`` become ``"test"``.
    Validation subjects are then taken from the remaining (training) subjects: ``round(val · n_rest)``
    of them, so ``val`` is a fraction of the training pool, as in a nested split. At least one subject
    always stays in ``"train"``.

    Args:
        subjects: subject ids (duplicates are ignored).
        test: fraction of all subjects held out for testing, in ``[0, 1)``.
        val: fraction of the non-test subjects used for validation, in ``[0, 1)``.
        seed: the shuffle's seed; the same subjects and seed give the same split.

    Returns:
        ``{subject: "train" | "val" | "test"}``, in sorted subject order.

    Raises:
        ValueError: for fractions outside ``[0, 1)``.

    Example:
        >>> split = assign_subject_splits([f"S{i:02d}" for i in range(20)])
        >>> sorted(list(split.values()).count(name) for name in ("train", "val", "test"))
        [2, 5, 13]
    """
    for name, fraction in (("test", test), ("val", val)):
        if not 0 <= fraction < 1:
            raise ValueError(f"{name} must be a fraction in [0, 1); got {fraction}")
    ordered = sorted({str(s) for s in subjects})
    shuffled = [ordered[i] for i in np.random.default_rng(seed).permutation(len(ordered))]
    n_test = min(_round_half_up(test * len(ordered)), max(len(ordered) - 1, 0))
    n_val = min(_round_half_up(val * (len(ordered) - n_test)), max(len(ordered) - n_test - 1, 0))
    names = {s: "test" for s in shuffled[:n_test]}
    names.update({s: "val" for s in shuffled[n_test : n_test + n_val]})
    return {s: names.get(s, "train") for s in ordered}


def default_splits(dataset: str, subjects: Sequence[str]) -> dict[str, str]:
    """The standard split of a dataset: BP4D → FERA 2015 train/dev, DISFA → the published folds (:data:`DISFA_FOLDS`,
    as ``fold0``–``fold2``), anything else → train/val/test by :func:`assign_subject_splits`.

    Args:
        dataset: dataset name.
        subjects: all subjects of the labels table.

    Returns:
        ``{subject: split name}``.
    """
    if dataset == "bp4d":
        return {s: str(fera2015_split(s)) for s in subjects}
    if dataset == "disfa":
        table = split_table(subjects, "disfa3fold")
        return {s: f"fold{k}" for s, k in zip(table.subject, table.fold, strict=True)}
    return assign_subject_splits(subjects)


def resolve_splits(
    dataset: str,
    subjects: Sequence[str],
    splits: Mapping[str, str] | Callable[[str], str] | None = None,
) -> dict[str, str]:
    """Assign every subject to exactly one split.

    Args:
        dataset: dataset name (chooses the default).
        subjects: all subjects.
        splits: ``None`` for :func:`default_splits`, a ``{subject: name}`` mapping, or a callable
            called once per subject that returns its split name.

    Returns:
        ``{subject: split name}`` for exactly ``subjects``, sorted by subject.

    Raises:
        ValueError: when a mapping misses subjects.
    """
    subjects = sorted({str(s) for s in subjects})
    if splits is None:
        mapping = default_splits(dataset, subjects)
    elif isinstance(splits, Mapping):
        mapping = {str(k): str(v) for k, v in splits.items()}
    elif callable(splits):
        mapping = {s: str(splits(s)) for s in subjects}
    else:
        raise TypeError(f"splits must be None, a mapping or a callable; got {type(splits).__name__}")
    missing = [s for s in subjects if s not in mapping]
    if missing:
        raise ValueError(f"The split assignment has no split for subject(s) {missing[:10]}")
    return {s: mapping[s] for s in subjects}


DISFA_N_FOLDS = 3


@dataclass(frozen=True)
class SplitSpec:
    """Which splits of a prepared dataset train, select and evaluate a model: the protocol, in one place.

    Attributes:
        train: the split names whose subjects train the model.
        validation: the split that selects the epoch (``None``: a share of the training subjects is held out
            instead, by :func:`aulib.training.config.split_validation`).
        evaluation: the held-out split whose subjects are scored.
        protocol: the protocol in words, for tables and logs.
    """

    train: tuple[str, ...]
    validation: str | None
    evaluation: str
    protocol: str


def split_spec(dataset: str, fold: int | None = None) -> SplitSpec:
    """The split specification of a dataset, used by training, evaluation, the robustness study, the CLI and
    every notebook.

    - ``bp4d``: FERA2015, train → dev; validation subjects are held out of train.
    - ``disfa``: the published three folds (:data:`DISFA_FOLDS`, JAA-Net's); fold ``k`` (default 0) is scored,
      the other two train, with validation subjects held out of them.
    - anything else (SynthAU): train / val / test.

    Args:
        dataset: the dataset's name (``meta.json``'s ``dataset``).
        fold: DISFA's fold to score (0, 1 or 2); must be ``None`` for other datasets.

    Raises:
        ValueError: for a fold outside 0–2, or a fold given for a dataset without folds.

    Example:
        >>> split_spec("bp4d")
        SplitSpec(train=('train',), validation=None, evaluation='dev', protocol='FERA2015: train → dev')
        >>> spec = split_spec("disfa", fold=1)
        >>> spec.train, spec.evaluation
        (('fold0', 'fold2'), 'fold1')
        >>> split_spec("synthau").evaluation
        'test'
    """
    if dataset == "disfa":
        fold = 0 if fold is None else int(fold)
        if not 0 <= fold < DISFA_N_FOLDS:
            raise ValueError(f"DISFA has folds 0, 1 and 2; got fold {fold}")
        others = tuple(f"fold{k}" for k in range(DISFA_N_FOLDS) if k != fold)
        return SplitSpec(train=others, validation=None, evaluation=f"fold{fold}",
                         protocol=f"DISFA 3-fold (JAA-Net's folds): train on {' + '.join(others)}, test on fold{fold}")
    if fold is not None:
        raise ValueError(f"{dataset} has no folds (only DISFA does); leave fold unset")
    if dataset == "bp4d":
        return SplitSpec(train=("train",), validation=None, evaluation="dev", protocol="FERA2015: train → dev")
    return SplitSpec(train=("train",), validation="val", evaluation="test", protocol="train / val → test")
