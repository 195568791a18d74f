"""Tying: the free parameters span exactly the space of equivariant maps (checked in float64: ``x64``)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from chiral_jax import skeletons, tying
from chiral_jax.spec import ChiralSpec


def random_spec(rng: np.random.Generator) -> ChiralSpec:
    joints = rng.permutation(int(rng.integers(1, 7)))
    pairs = int(rng.integers(0, len(joints) // 2 + 1))
    dim = int(rng.integers(1, 4))
    negated = tuple(int(d) for d in np.flatnonzero(rng.random(dim) < 0.5))
    return ChiralSpec(
        left=tuple(joints[:pairs]),
        right=tuple(joints[pairs : 2 * pairs]),
        center=tuple(joints[2 * pairs :]),
        dim=dim,
        negated=negated,
    )


_rng = np.random.default_rng(42)
SPEC_PAIRS = [
    (skeletons.H36M.spec(2), skeletons.H36M.spec(3)),
    (skeletons.PENN_ACTION.spec(2), ChiralSpec.hidden(9)),
    (ChiralSpec.hidden(8, negated=True), ChiralSpec.invariant(3)),
    (skeletons.HUMANEVA15.spec(2, negated=()), skeletons.HUMANEVA15.spec(2, negated=(0, 1))),
    (ChiralSpec(left=(), right=(), center=(0, 1), dim=2, negated=(0,)), ChiralSpec.hidden(5)),
] + [(random_spec(_rng), random_spec(_rng)) for _ in range(25)]


def _null_space_dim(a: np.ndarray) -> int:
    return a.shape[1] - np.linalg.matrix_rank(a)


PAIR_IDS = [f"pair{i}" for i in range(len(SPEC_PAIRS))]
# The hand-picked pairs in the quick loop; the 25 random ones (one compile each) in the slow set.
NUM_QUICK = 3


def _pairs(n: int) -> list:
    return [
        pytest.param(*SPEC_PAIRS[i], id=PAIR_IDS[i], marks=() if i < NUM_QUICK else pytest.mark.slow)
        for i in range(n)
    ]


@pytest.mark.x64
@pytest.mark.parametrize(("in_spec", "out_spec"), _pairs(len(SPEC_PAIRS)))
def test_free_parameters_span_all_equivariant_maps(in_spec, out_spec):
    constraint = tying.equivariance_constraint(in_spec, out_spec)
    assert tying.num_free_linear(in_spec, out_spec) == _null_space_dim(constraint)
    # linear_weight is linear and injective: its image has the full null-space dimension, and
    # every weight in it satisfies the constraint.
    free = tying.init_linear(jax.random.key(0), in_spec, out_spec, dtype=jnp.float64)
    flat, unravel = ravel_pytree(free)
    jac = jax.jit(jax.jacfwd(lambda v: tying.linear_weight(unravel(v), in_spec, out_spec).reshape(-1)))(flat)
    jac = np.asarray(jac)
    assert np.linalg.matrix_rank(jac) == tying.num_free_linear(in_spec, out_spec)
    np.testing.assert_allclose(constraint @ jac, 0.0, atol=1e-12)


def test_original_block_tying_is_a_strict_subset():
    # y_c = x_l - x_r flips sign under the swap, so it is an equivariant map into a negated center.
    # Block tyings that only connect centers to centers and pairs to pairs pin it to zero; the
    # even/odd basis contains it.
    spec_in = ChiralSpec(left=(0,), right=(1,), dim=1)  # pure swap
    spec_out = ChiralSpec(left=(), right=(), center=(0,), dim=1, negated=(0,))  # negated center
    w = np.array([[1.0], [-1.0]])  # y = x_l - x_r
    np.testing.assert_allclose(tying.equivariance_constraint(spec_in, spec_out) @ w.reshape(-1), 0.0)
    free = tying.project_linear(jnp.asarray(w), spec_in, spec_out)
    np.testing.assert_allclose(tying.linear_weight(free, spec_in, spec_out), w, atol=1e-12)


@pytest.mark.x64
@pytest.mark.parametrize(("in_spec", "out_spec"), _pairs(8))
def test_projection_is_the_orthogonal_projection(in_spec, out_spec):
    rng = np.random.default_rng(3)
    w = jnp.asarray(rng.normal(size=(in_spec.size, out_spec.size)))
    projected = tying.linear_weight(tying.project_linear(w, in_spec, out_spec), in_spec, out_spec)
    # The average over the group {id, mirror}: (W + M_in^T W M_out) / 2 in the x @ W convention.
    m_in, m_out = in_spec.matrix(), out_spec.matrix()
    np.testing.assert_allclose(projected, (w + m_in.T @ w @ m_out) / 2, atol=1e-12)
    # project o weight = id on free parameters.
    free = tying.init_linear(jax.random.key(1), in_spec, out_spec, dtype=jnp.float64)
    again = tying.project_linear(tying.linear_weight(free, in_spec, out_spec), in_spec, out_spec)
    for k in free:
        np.testing.assert_allclose(again[k], free[k], atol=1e-12)


@pytest.mark.x64
def test_bias_lives_in_the_even_part():
    spec = skeletons.H36M.spec(3)
    b = tying.linear_bias(jnp.arange(spec.num_even, dtype=jnp.float64) + 1.0, spec)
    np.testing.assert_allclose(spec.transform(np.asarray(b)), b, atol=1e-12)
    assert tying.num_free_bias(spec) == _null_space_dim(spec.matrix() - np.eye(spec.size))
    # x of the center joints (negated) must be zero.
    assert np.all(np.asarray(b).reshape(17, 3)[list(skeletons.H36M.center), 0] == 0)
    np.testing.assert_allclose(tying.project_bias(b, spec), jnp.arange(spec.num_even) + 1.0, atol=1e-12)


@pytest.mark.x64
def test_conv_kernel_is_one_equivariant_map_per_tap():
    a, b = skeletons.PENN_ACTION.spec(2), ChiralSpec.hidden(11, negated=True)
    free = tying.init_conv(jax.random.key(0), a, b, 3, dtype=jnp.float64)
    kernel = tying.conv_kernel(free, a, b)
    assert kernel.shape == (3, a.size, b.size)
    constraint = tying.equivariance_constraint(a, b)
    for tap in kernel:
        np.testing.assert_allclose(constraint @ np.asarray(tap).reshape(-1), 0.0, atol=1e-12)
    assert tying.num_free_conv(a, b, 3) == 3 * tying.num_free_linear(a, b)
    back = tying.project_conv(kernel, a, b)
    np.testing.assert_allclose(back["odd"], free["odd"], atol=1e-12)


@pytest.mark.x64
def test_batch_norm_affine_tying():
    spec = ChiralSpec(left=(5, 0, 7), right=(2, 6, 1), center=(4, 3), dim=2, negated=(0,))
    free = tying.init_batch_norm(spec)
    assert free["scale"].shape == (spec.num_orbits,) and free["bias"].shape == (spec.num_even,)
    scale = tying.batch_norm_scale(jnp.arange(spec.num_orbits, dtype=jnp.float64), spec)
    # The mirror permutes channels; a tied scale must be invariant under that permutation.
    np.testing.assert_array_equal(np.asarray(scale)[spec.permutation], scale)
    proj = tying.project_batch_norm(scale, jnp.zeros(spec.size), spec)
    np.testing.assert_allclose(proj["scale"], np.arange(spec.num_orbits))


def test_init_variance_matches_a_dense_layer():
    a, b = ChiralSpec.hidden(512), ChiralSpec.hidden(512)
    free = tying.init_linear(jax.random.key(0), a, b)
    x = jax.random.normal(jax.random.key(1), (2048, a.size))
    y = x @ tying.linear_weight(free, a, b)
    assert 0.8 < float(jnp.var(y)) < 1.2  # lecun-normal: unit output variance for unit inputs


def test_bad_parameter_shapes_raise():
    a, b = skeletons.H36M.spec(2), skeletons.H36M.spec(3)
    free = tying.init_linear(jax.random.key(0), a, b)
    with pytest.raises(ValueError, match=r"even block must end in \(17, 28\)"):
        tying.linear_weight({"even": free["even"][:, :-1], "odd": free["odd"]}, a, b)
    with pytest.raises(ValueError, match="expected 28 free bias"):
        tying.linear_bias(jnp.zeros(5), b)
    with pytest.raises(ValueError, match=r"ending in \(34, 51\)"):
        tying.project_linear(jnp.zeros((34, 50)), a, b)
    with pytest.raises(ValueError, match="kernel_size"):
        tying.init_conv(jax.random.key(0), a, b, 0)
