"""Subject splits: FERA2015 train/dev, seeded k-fold, and DISFA's published 3 folds."""

from __future__ import annotations

import pytest

from aulib.data.splits import (
    DISFA_FOLDS,
    DISFA_SUBJECTS,
    FERA2015_DEV,
    FERA2015_TRAIN,
    fera2015_split,
    split_table,
    subject_folds,
)


def test_fera2015_partitions_follow_the_odd_even_rule():
    assert len(FERA2015_TRAIN) == 21 and len(FERA2015_DEV) == 20
    assert not set(FERA2015_TRAIN) & set(FERA2015_DEV)
    expected_train = [f"F{n:03d}" for n in range(1, 24, 2)] + [f"M{n:03d}" for n in range(1, 18, 2)]
    expected_dev = [f"F{n:03d}" for n in range(2, 23, 2)] + [f"M{n:03d}" for n in range(2, 19, 2)]
    assert list(FERA2015_TRAIN) == expected_train and list(FERA2015_DEV) == expected_dev
    assert all(fera2015_split(s) == "train" for s in FERA2015_TRAIN)
    assert all(fera2015_split(s) == "dev" for s in FERA2015_DEV)
    for unknown in ("F024", "M019", "SN001", "f001"):
        with pytest.raises(ValueError, match="FERA2015"):
            fera2015_split(unknown)


def test_disfa_subjects_and_published_folds():
    assert len(DISFA_SUBJECTS) == 27 and len(set(DISFA_SUBJECTS)) == 27
    assert {"SN014", "SN015", "SN019", "SN020", "SN022"}.isdisjoint(DISFA_SUBJECTS)
    assert set(DISFA_FOLDS) == set(DISFA_SUBJECTS)
    assert sorted(list(DISFA_FOLDS.values()).count(k) for k in range(3)) == [9, 9, 9]
    assert DISFA_FOLDS["SN001"] == 0 and DISFA_FOLDS["SN006"] == 1 and DISFA_FOLDS["SN004"] == 2


def test_subject_folds_are_balanced_deterministic_and_order_free():
    subjects = [f"S{n:02d}" for n in range(10)]
    folds = subject_folds(subjects, n_folds=3, seed=0)
    assert list(folds) == sorted(subjects)
    assert sorted(list(folds.values()).count(k) for k in range(3)) == [3, 3, 4]
    assert subject_folds(subjects[::-1] + subjects, n_folds=3, seed=0) == folds  # order and duplicates ignored
    assert subject_folds(subjects, n_folds=3, seed=0) == folds
    assert any(subject_folds(subjects, n_folds=3, seed=s) != folds for s in range(1, 5))
    with pytest.raises(ValueError):
        subject_folds(subjects, n_folds=1)
    with pytest.raises(ValueError):
        subject_folds(["a", "b"], n_folds=3)


def test_split_table():
    table = split_table(["M002", "F001", "F001", "F002"], scheme="fera2015")
    assert list(table.columns) == ["subject", "split"]
    assert table.to_dict("list") == {"subject": ["F001", "F002", "M002"], "split": ["train", "dev", "dev"]}
    folds = split_table(DISFA_SUBJECTS, scheme="3fold", seed=3)
    assert list(folds.columns) == ["subject", "fold"] and folds.fold.dtype == "int64"
    assert dict(zip(folds.subject, folds.fold, strict=True)) == subject_folds(DISFA_SUBJECTS, 3, seed=3)
    published = split_table(DISFA_SUBJECTS, scheme="disfa3fold")
    assert dict(zip(published.subject, published.fold, strict=True)) == DISFA_FOLDS
    with pytest.raises(ValueError, match="not DISFA subjects"):
        split_table(["SN014"], scheme="disfa3fold")
    with pytest.raises(ValueError, match="unknown split scheme"):
        split_table(DISFA_SUBJECTS, scheme="loso")


def test_each_dataset_has_one_split_specification():
    from aulib.data.splits import split_spec

    bp4d = split_spec("bp4d")
    assert (bp4d.train, bp4d.validation, bp4d.evaluation) == (("train",), None, "dev")
    for fold in range(3):
        spec = split_spec("disfa", fold)
        assert spec.evaluation == f"fold{fold}" and f"fold{fold}" not in spec.train and len(spec.train) == 2
    assert split_spec("disfa") == split_spec("disfa", 0)
    synthau = split_spec("synthau")
    assert (synthau.train, synthau.validation, synthau.evaluation) == (("train",), "val", "test")
    with pytest.raises(ValueError, match="folds 0, 1 and 2; got fold 3"):
        split_spec("disfa", 3)
    with pytest.raises(ValueError, match="bp4d has no folds"):
        split_spec("bp4d", 1)
