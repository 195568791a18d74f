"""Functional layers: the fast even/odd path agrees with the dense reference and with Flax.

Comparisons at 1e-12 run in float64 (``x64``); the linear paths also in float32, as users run. The
functional column of ``tests/test_battery.py`` runs every function under jit, vmap and grad."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from chiral_jax import functional as F
from chiral_jax import skeletons, tying
from chiral_jax.basis import EvenOdd, from_even_odd, to_even_odd
from chiral_jax.spec import ChiralSpec

H2, H3 = skeletons.H36M.spec(2), skeletons.H36M.spec(3)
SCRAMBLED = ChiralSpec(left=(5, 0, 7), right=(2, 6, 1), center=(4, 3), dim=2, negated=(0,))
PAIRS = [(H2, H3), (SCRAMBLED, ChiralSpec.hidden(23, negated=True)), (ChiralSpec.hidden(40), H2)]
SLOW = pytest.mark.slow  # more pairs / specs of a check the quick loop runs once


def _x(shape, seed=0, dtype=jnp.float64):
    return jax.random.normal(jax.random.key(seed), shape, dtype)


def _linear_case(i: int, dtype: str):
    marks = [pytest.mark.x64] if dtype == "f64" else []
    if i == 2 or dtype == "f64":  # quick: float32 on H36M and on the scrambled pair
        marks.append(SLOW)
    return pytest.param(*PAIRS[i], dtype, marks=marks, id=f"pair{i}-{dtype}")


@pytest.mark.parametrize(
    ("a", "b", "dtype"), [_linear_case(i, d) for i in range(len(PAIRS)) for d in ("f32", "f64")]
)
def test_linear_paths_agree(a, b, dtype):
    dtype, atol = {"f32": (jnp.float32, 1e-5), "f64": (jnp.float64, 1e-12)}[dtype]
    kernel = tying.init_linear(jax.random.key(0), a, b, dtype=dtype)
    bias = _x((b.num_even,), 5, dtype)
    x = _x((2, 3, a.size), 0, dtype)
    fast = F.linear(x, kernel, a, b, bias)
    dense = F.linear(x, kernel, a, b, bias, path="dense")
    assert fast.dtype == dense.dtype == dtype
    np.testing.assert_allclose(fast, dense, atol=atol)
    in_basis = F.linear(to_even_odd(x, a), kernel, a, b, bias)
    assert isinstance(in_basis, EvenOdd)
    np.testing.assert_allclose(from_even_odd(in_basis, b), dense, atol=atol)


CONV_SETTINGS = [
    dict(strides=1, dilation=1, padding="VALID"),
    dict(strides=2, dilation=1, padding="SAME"),
    dict(strides=1, dilation=3, padding="VALID"),
    dict(strides=3, dilation=1, padding="VALID"),  # the strided training model's reshape path
    dict(strides=2, dilation=2, padding="CAUSAL"),
    dict(strides=1, dilation=2, padding=(3, 1)),
]


# Quick: the plain conv and a strided, dilated, causal one (pads and strided slices).
QUICK_CONV = (0, 4)


@pytest.mark.x64
@pytest.mark.parametrize(
    "setting",
    [pytest.param(s, marks=() if i in QUICK_CONV else SLOW) for i, s in enumerate(CONV_SETTINGS)],
    ids=str,
)
@pytest.mark.parametrize(("a", "b"), [PAIRS[0], pytest.param(*PAIRS[1], marks=SLOW)])
def test_conv_paths_and_flax_agree(a, b, setting):
    kernel = tying.init_conv(jax.random.key(0), a, b, 3, dtype=jnp.float64)
    x = _x((2, 19, a.size))
    fast = F.conv1d(x, kernel, a, b, **setting)
    dense = F.conv1d(x, kernel, a, b, path="dense", **setting)
    xla = F.conv1d(x, kernel, a, b, impl="xla", **setting)
    np.testing.assert_allclose(fast, dense, atol=1e-12)
    np.testing.assert_allclose(xla, dense, atol=1e-12)
    # Flax's own conv with the dense kernel: our conventions are Flax's.
    padding = setting["padding"]
    span = setting["dilation"] * 2
    flax_padding = {"CAUSAL": [(span, 0)]}.get(padding, padding)
    if isinstance(flax_padding, tuple):
        flax_padding = [flax_padding]
    conv = nnx.Conv(
        a.size,
        b.size,
        (3,),
        strides=setting["strides"],
        kernel_dilation=setting["dilation"],
        padding=flax_padding,
        use_bias=False,
        param_dtype=jnp.float64,
        rngs=nnx.Rngs(0),
    )
    conv.kernel[...] = tying.conv_kernel(kernel, a, b)
    np.testing.assert_allclose(conv(x), dense, atol=1e-12)


def test_conv_too_short_input_is_a_clear_error():
    kernel = tying.init_conv(jax.random.key(0), H2, H3, 3)
    with pytest.raises(ValueError, match="shorter than the receptive field 7"):
        F.conv1d(jnp.zeros((1, 5, 34)), kernel, H2, H3, dilation=3)
    with pytest.raises(ValueError, match=r"expected \(batch, time, channels\)"):
        F.conv1d(jnp.zeros((5, 34)), kernel, H2, H3)
    with pytest.raises(ValueError, match="expected 34 channels"):
        F.conv1d(jnp.zeros((1, 5, 30)), kernel, H2, H3)


@pytest.mark.x64
@pytest.mark.parametrize(
    "spec",
    [
        H3,
        pytest.param(SCRAMBLED, marks=SLOW),
        pytest.param(ChiralSpec.hidden(9, negated=True), marks=SLOW),
        pytest.param(ChiralSpec.hidden(12), marks=SLOW),
    ],
)
def test_batch_norm_uses_the_mirror_augmented_batch(spec):
    x = _x((6, 5, spec.size)) * 2.0 + 1.0
    mean_even, var_orbits = F.batch_norm_statistics(x, spec)
    # Reference: plain per-channel batch norm over the batch concatenated with its mirror.
    both = jnp.concatenate([x, spec.transform(x)], axis=0)
    mean, var = jnp.mean(both, axis=(0, 1)), jnp.var(both, axis=(0, 1))
    want = (both[:6] - mean[None, None]) / jnp.sqrt(var[None, None] + 1e-5)
    np.testing.assert_allclose(F.batch_norm(x, mean_even, var_orbits, spec), want, atol=1e-10)
    np.testing.assert_allclose(spec.orbits_to_channels(var_orbits), var, atol=1e-12)
    np.testing.assert_allclose(spec.merge(mean_even, jnp.zeros(spec.num_odd)), mean, atol=1e-12)
    # With the tied affine: scale per orbit, shift per even coordinate.
    scale, shift = _x((spec.num_orbits,), 1), _x((spec.num_even,), 2)
    got = F.batch_norm(x, mean_even, var_orbits, spec, scale, shift)
    full_scale, full_shift = tying.batch_norm_scale(scale, spec), tying.batch_norm_bias(shift, spec)
    np.testing.assert_allclose(got, want * full_scale[None, None] + full_shift[None, None], atol=1e-10)


def test_activation_checks_oddness_against_the_spec():
    neg, free = ChiralSpec.hidden(8, negated=True), ChiralSpec.hidden(8)
    for name in ("relu", "gelu", "silu", "elu", "leaky_relu"):
        with pytest.raises(ValueError, match="is not odd"):
            F.check_activation(name, neg)
        F.check_activation(name, free)  # any activation on a negation-free spec
    for name in F.ODD_ACTIVATIONS:
        F.check_activation(name, neg)
    F.check_activation(lambda x: x**3, neg)  # a custom odd callable passes the numerical check
    with pytest.raises(ValueError, match="is not odd"):
        F.check_activation(jnp.cosh, neg)
    with pytest.raises(ValueError, match="unknown activation"):
        F.get_activation("swish2")


@pytest.mark.x64
@pytest.mark.parametrize(
    "spec", [H3, pytest.param(ChiralSpec.hidden(9, negated=True), marks=SLOW), ChiralSpec.hidden(12)]
)
def test_activation_in_basis_equals_per_channel(spec):
    fn = "tanh" if spec.has_negated else "relu"
    x = _x((4, spec.size))
    got = from_even_odd(F.activation(to_even_odd(x, spec), fn, spec), spec)
    np.testing.assert_allclose(got, F.get_activation(fn)(x), atol=1e-12)


def test_dropout():
    x = jnp.ones((1000, 8))
    assert F.dropout(x, 0.5, None, deterministic=True) is x
    y = F.dropout(x, 0.25, jax.random.key(0))
    kept = np.asarray(y != 0)
    assert 0.7 < kept.mean() < 0.8
    np.testing.assert_allclose(np.asarray(y)[kept], 1 / 0.75)
    eo = F.dropout(EvenOdd(x, x), 0.25, jax.random.key(0))
    assert not np.array_equal(eo.even != 0, eo.odd != 0)  # independent masks per half
    # Any rate: the kept fraction is the rate rounded to 1/256, and the output is unbiased.
    big = jnp.ones((20000, 8), jnp.float32)
    z = np.asarray(F.dropout(big, 0.1, jax.random.key(1)))
    assert abs((z != 0).mean() - (1 - 26 / 256)) < 0.005
    assert abs(z.mean() - 1.0) < 0.01
    with pytest.raises(ValueError, match="PRNG key"):
        F.dropout(x, 0.5, None)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        F.dropout(x, 1.0, jax.random.key(0))


@pytest.mark.x64
def test_invariant_head_reads_even_part_and_odd_magnitudes():
    kernel = tying.init_linear(jax.random.key(0), H2, ChiralSpec.invariant(4), dtype=jnp.float64)
    assert kernel["odd"].shape == (H2.num_odd, 0)
    mags = _x((H2.num_odd, 4), 3)
    x = _x((5, H2.size))
    y = F.invariant(x, kernel, H2, odd_magnitudes=mags)
    np.testing.assert_allclose(F.invariant(H2.transform(x), kernel, H2, odd_magnitudes=mags), y, atol=1e-12)
    even, odd = H2.split(x)
    np.testing.assert_allclose(y, even @ kernel["even"] + jnp.abs(odd) @ mags, atol=1e-12)


def test_dense_path_rejects_even_odd_and_unknown_path():
    kernel = tying.init_linear(jax.random.key(0), H2, H3)
    with pytest.raises(ValueError, match="takes channel arrays"):
        F.linear(to_even_odd(jnp.zeros((1, 34)), H2), kernel, H2, H3, path="dense")
    with pytest.raises(ValueError, match="path must be"):
        F.linear(jnp.zeros((1, 34)), kernel, H2, H3, path="fast")
    with pytest.raises(ValueError, match="expected even/odd halves of 17/17"):
        F.linear(EvenOdd(jnp.zeros((1, 16)), jnp.zeros((1, 17))), kernel, H2, H3)
