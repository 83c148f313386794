"""The AU catalogue: sets, centre definitions, and the 66-point layout."""

from __future__ import annotations

import numpy as np
import pytest

from aulib.method.aus import (
    AUS,
    BP4D_AUS,
    DISFA_AUS,
    Centre,
    au_centres,
    au_label,
    centre_tables,
    landmark_index,
    resolve_aus,
)


def test_benchmark_sets_and_channel_order():
    assert BP4D_AUS == (6, 10, 12, 14, 17)
    assert DISFA_AUS == (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)
    assert resolve_aus("bp4d") == BP4D_AUS and resolve_aus("DISFA") == DISFA_AUS
    assert [au_label(a) for a in BP4D_AUS] == ["AU06", "AU10", "AU12", "AU14", "AU17"]


def test_every_au_is_described():
    for number in set(BP4D_AUS) | set(DISFA_AUS):
        au = AUS[number]
        assert au.number == number and au.name and au.muscle and au.appearance.endswith(".")
        assert au.centres, f"AU{number} has no centres"


def test_centres_follow_their_landmarks(face68):
    centres, valid = au_centres(face68, BP4D_AUS)
    iod = np.linalg.norm(face68[45] - face68[36])
    assert valid.sum(axis=1).tolist() == [2, 2, 2, 2, 1]
    # AU12 pulls the lip corners: exactly landmarks 48 and 54.
    np.testing.assert_allclose(centres[2, :2], face68[[48, 54]])
    # AU17 sits midway between the lower lip (57) and the chin (8).
    np.testing.assert_allclose(centres[4, 0], (face68[57] + face68[8]) / 2)
    # AU14's dimples lie 0.1 IOD outwards from each corner along the eye line (here horizontal).
    np.testing.assert_allclose(centres[3, 0], face68[48] + [-0.1 * iod, 0], atol=1e-9)
    np.testing.assert_allclose(centres[3, 1], face68[54] + [0.1 * iod, 0], atol=1e-9)


def test_offsets_rotate_with_the_face(face68):
    # Rotating the face by 90° about the origin must rotate every centre the same way: offsets live
    # in the face frame, not the image frame.
    rotation = np.array([[0.0, -1.0], [1.0, 0.0]])
    centres, _ = au_centres(face68, DISFA_AUS)
    rotated, _ = au_centres(face68 @ rotation.T, DISFA_AUS)
    np.testing.assert_allclose(rotated, centres @ rotation.T, atol=1e-9)


def test_disfa_66_point_layout_gives_the_same_centres(face68):
    face66 = np.delete(face68, [60, 64], axis=0)
    c68, v68 = au_centres(face68, DISFA_AUS)
    c66, v66 = au_centres(face66, DISFA_AUS)
    np.testing.assert_array_equal(v68, v66)
    np.testing.assert_allclose(c66[v66], c68[v68])
    assert landmark_index(59, 66) == 59 and landmark_index(61, 66) == 60 and landmark_index(67, 66) == 65
    with pytest.raises(ValueError, match="inner-mouth corner"):
        landmark_index(64, 66)


def test_centre_tables_are_weighted_means():
    weights, offsets, valid = centre_tables(DISFA_AUS)
    np.testing.assert_allclose(weights.sum(axis=-1)[valid], 1.0)
    assert weights.shape == (12, 3, 68) and offsets.shape == (12, 3, 2)
    assert not weights[~valid].any()


def test_bad_definitions_and_names_are_reported():
    with pytest.raises(ValueError, match="sum to 1"):
        Centre((1, 2), (0.5, 0.6))
    with pytest.raises(ValueError, match=r"0\.\.67"):
        Centre((70,), (1.0,))
    with pytest.raises(ValueError, match="not in the catalogue"):
        resolve_aus([6, 99])
    with pytest.raises(ValueError, match="Unknown AU set"):
        resolve_aus("ck+")
    with pytest.raises(ValueError, match="shape"):
        au_centres(np.zeros((10, 2)))
