"""ChiralSpec: validation, the transform, the even/odd basis, factories; skeleton tables."""

import jax.numpy as jnp
import numpy as np
import pytest

from chiral_jax import skeletons
from chiral_jax.spec import ChiralSpec

ALL_SPECS = [s.spec(d) for s in skeletons.SKELETONS.values() for d in (2, 3)] + [
    ChiralSpec.hidden(1024),
    ChiralSpec.hidden(37, negated=True),
    ChiralSpec.hidden(10, num_centers=4),
    ChiralSpec.invariant(5),
    ChiralSpec(left=(5, 0, 7), right=(2, 6, 1), center=(4, 3), dim=2, negated=(0,)),
    ChiralSpec(left=(0,), right=(1,), dim=3, negated=(0, 1, 2)),
    ChiralSpec(left=(), right=(), center=(1, 0, 2), dim=2, negated=(1,)),
]


# Each spec compiles its own jax gather: the quick loop takes a skeleton and the three hand-made edge
# cases (scrambled order, all coordinates negated, centers only).
QUICK_SPECS = (ALL_SPECS[0], *ALL_SPECS[-3:])


@pytest.mark.parametrize(
    "spec", [pytest.param(s, marks=() if s in QUICK_SPECS else pytest.mark.slow) for s in ALL_SPECS], ids=repr
)
def test_transform_is_a_signed_permutation_involution(spec):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, spec.size))
    tx = spec.transform(x)
    np.testing.assert_allclose(spec.transform(tx), x)
    # T(x)_i = s_i x_{pi(i)} and the matrix form agree.
    np.testing.assert_allclose(tx, x[..., spec.permutation] * spec.signs)
    np.testing.assert_allclose(tx, x @ spec.matrix().T)
    # jax arrays too, same result, dtype kept.
    tj = spec.transform(jnp.asarray(x, jnp.float32))
    assert tj.dtype == jnp.float32
    np.testing.assert_allclose(tj, tx, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("spec", ALL_SPECS, ids=repr)
def test_split_merge_orthonormal_eigenbasis(spec):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, spec.size))
    even, odd = spec.split(x)
    assert even.shape == (4, spec.num_even) and odd.shape == (4, spec.num_odd)
    assert spec.num_even + spec.num_odd == spec.size
    np.testing.assert_allclose(spec.merge(even, odd), x, atol=1e-12)
    basis = np.concatenate(spec.basis(), axis=1)
    np.testing.assert_allclose(basis.T @ basis, np.eye(spec.size), atol=1e-12)
    # E is the +1 and O the -1 eigenspace of the mirror.
    t_even, t_odd = spec.split(spec.transform(x))
    np.testing.assert_allclose(t_even, even, atol=1e-12)
    np.testing.assert_allclose(t_odd, -odd, atol=1e-12)
    assert spec.num_even == round(np.trace(spec.matrix()) + spec.size) // 2


def test_channel_layout_is_joint_major():
    spec = skeletons.H36M.spec(3)
    x = np.arange(17 * 3, dtype=float).reshape(17, 3)  # value = joint*3 + coord
    tx = spec.transform(x.reshape(-1)).reshape(17, 3)
    # l_hip (4) <- r_hip (1), x negated, y and z kept.
    np.testing.assert_array_equal(tx[4], [-3.0, 4.0, 5.0])
    np.testing.assert_array_equal(tx[0], [-0.0, 1.0, 2.0])


@pytest.mark.parametrize("channels", [1, 2, 3, 17, 1024, 1023])
@pytest.mark.parametrize("negated", [False, True])
def test_hidden_any_channel_count(channels, negated):
    spec = ChiralSpec.hidden(channels, negated=negated)
    assert spec.size == channels
    assert abs(spec.num_even - spec.num_odd) <= 1
    assert spec.has_negated == negated
    x = np.random.default_rng(0).normal(size=(channels,))
    np.testing.assert_allclose(spec.merge(*spec.split(x)), x, atol=1e-12)


def test_hidden_ratio_and_invariant():
    s = ChiralSpec.hidden_ratio(1000, even_fraction=0.75)
    assert s.size == 1000 and s.num_even == 750
    s = ChiralSpec.hidden_ratio(1000, even_fraction=0.25, negated=True)
    assert s.num_even == 250 and s.num_odd == 750
    with pytest.raises(ValueError, match="at least"):
        ChiralSpec.hidden_ratio(10, even_fraction=0.2)
    inv = ChiralSpec.invariant(4)
    assert inv.num_odd == 0 and inv.num_even == 4
    np.testing.assert_array_equal(inv.transform(np.arange(4.0)), np.arange(4.0))


def test_orbit_helpers_round_trip():
    spec = ChiralSpec(left=(5, 0, 7), right=(2, 6, 1), center=(4, 3), dim=2, negated=(0,))
    vals = np.arange(spec.num_orbits, dtype=float)
    chans = spec.orbits_to_channels(vals)
    # Pair partners carry the same value; the mirror (up to signs) leaves it unchanged.
    np.testing.assert_array_equal(chans[spec.permutation], chans)
    np.testing.assert_array_equal(spec.channels_to_orbits(chans), vals)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(left=(0, 1), right=(2,), center=(3,)), "left has 2 joints"),
        (dict(left=(0,), right=(0,), center=(1,)), "appears twice"),
        (dict(left=(0,), right=(1,), center=(5,)), "out of range"),
        (dict(left=(0,), right=(1,), center=(2,), dim=2, negated=(2,)), "negated coordinate 2"),
        (dict(left=(0,), right=(1,), dim=2, negated=(0, 0)), "twice"),
        (dict(left=(), right=(), center=()), "no joints"),
        (dict(left=(0,), right=(1,), dim=0), "dim must be"),
        (dict(left=(0.5,), right=(1,)), "integers"),
    ],
)
def test_malformed_specs_raise(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        ChiralSpec(**kwargs)


def test_wrong_channel_count_names_expected_and_got():
    spec = skeletons.H36M.spec(2)
    with pytest.raises(ValueError, match=r"expected 34 channels .* got 51"):
        spec.transform(np.zeros((2, 51)))
    with pytest.raises(ValueError, match="expected 17 even"):
        spec.merge(np.zeros((2, 16)), np.zeros((2, 17)))


def test_specs_are_hashable_static_values():
    a, b = skeletons.H36M.spec(2), skeletons.H36M.spec(2)
    assert a == b and hash(a) == hash(b) and a != skeletons.H36M.spec(3)


@pytest.mark.parametrize("skel", list(skeletons.SKELETONS.values()), ids=lambda s: s.name)
def test_skeleton_tables_are_mirror_symmetric(skel):
    perm = skel.spec(1).joint_permutation
    assert len(skel.joint_names) == skel.num_joints
    for j, name in enumerate(skel.joint_names):
        partner = skel.joint_names[perm[j]]
        if name.startswith("l_"):
            assert partner == "r_" + name[2:], (name, partner)
        elif name.startswith("r_"):
            assert partner == "l_" + name[2:], (name, partner)
        elif not name.startswith("joint"):
            assert partner == name
    if skel.parents is not None:
        for j, p in enumerate(skel.parents):
            q = skel.parents[perm[j]]
            assert (p == -1 and q == -1) or q == perm[p], f"{skel.name}: joint {j} parent {p}, mirror {q}"


def test_h36m32_to_17_matches_h36m_tree():
    kept = skeletons.H36M32_TO_17
    assert len(kept) == 17
    spec32, spec17 = skeletons.H36M32.spec(1), skeletons.H36M.spec(1)
    # Keeping joints commutes with the mirror.
    np.testing.assert_array_equal(
        spec32.joint_permutation[list(kept)], [kept[i] for i in spec17.joint_permutation]
    )


def test_skeleton_lookup():
    assert skeletons.get("smpl24") is skeletons.SMPL24
    assert skeletons.SMPL24.index("l_wrist") == 20
    with pytest.raises(KeyError, match="unknown skeleton"):
        skeletons.get("nope")
