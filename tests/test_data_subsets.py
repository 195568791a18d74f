"""Deterministic limited-data subsets."""

import numpy as np
import pytest

from chiral_jax.data import subsets, synthetic


@pytest.fixture(scope="module")
def train():
    return synthetic.load_synthetic("train", num_cameras=2)


def test_by_subjects_and_actions(train):
    s1 = subsets.by_subjects(train, ["S1"])
    assert s1 and {s.subject for s in s1} == {"S1"}
    assert len(s1) == len(synthetic.MOTIONS) * 2
    waves = subsets.by_actions(train, ["waving"])
    assert waves and all(s.action.startswith("waving") for s in waves)


@pytest.mark.parametrize("fraction", [0.001, 0.01, 0.05, 0.1, 0.5, 1.0])
def test_by_fraction_sizes_and_determinism(train, fraction):
    a = subsets.by_fraction(train, fraction, subjects=["S1"])
    b = subsets.by_fraction(train, fraction, subjects=["S1"])
    pool = subsets.by_subjects(train, ["S1"])
    expected = sum(round(s.num_frames * fraction) for s in pool)
    assert sum(s.num_frames for s in a) == expected
    assert [s.key for s in a] == [s.key for s in b]
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.pose_2d, y.pose_2d)


def test_by_fraction_is_contiguous_and_shared_across_cameras(train):
    sub = subsets.by_fraction(train, 0.1, subjects=["S2"])
    by_take = {}
    for s in sub:
        full = next(f for f in train if f.key == s.key)
        # Locate the run inside the full sequence: it is contiguous.
        n = s.num_frames
        starts = [
            t for t in range(full.num_frames - n + 1) if np.array_equal(full.pose_3d[t : t + n], s.pose_3d)
        ]
        assert len(starts) == 1
        start = starts[0]
        by_take.setdefault(s.action, set()).add((start, s.num_frames))
    assert all(len(v) == 1 for v in by_take.values())  # every camera keeps the same span
    other_seed = subsets.by_fraction(train, 0.1, subjects=["S2"], seed=1)
    assert any(not np.array_equal(x.pose_2d, y.pose_2d) for x, y in zip(sub, other_seed, strict=True))


def test_downsample(train):
    d = subsets.downsample(train[:2], 2)
    assert d[0].num_frames == (train[0].num_frames + 1) // 2 and d[0].fps == 25.0
    np.testing.assert_array_equal(d[0].pose_3d, train[0].pose_3d[::2])
    with pytest.raises(ValueError):
        subsets.by_fraction(train, 0.0)
