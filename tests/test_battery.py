"""The shared equivariance battery: every layer and composed net, on every spec pair."""

import jax
import jax.numpy as jnp
import pytest
from flax import nnx

from chiral_jax import functional, nn, testing
from chiral_jax.skeletons import H36M
from chiral_jax.testing import BATTERY, SPEC_PAIRS

CASES = {case.name: case for case in BATTERY}
# Every case on every spec pair it lists (all, unless it names a few).
CASE_PAIRS = [(c.name, p) for c in BATTERY for p in SPEC_PAIRS if c.pairs is None or p in c.pairs]


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64], ids=["f32", "f64"])
@pytest.mark.parametrize(("case", "pair"), CASE_PAIRS)
def test_battery_specs(case, pair, dtype):
    in_spec, out_spec = SPEC_PAIRS[pair]
    testing.check_case(CASES[case], in_spec, out_spec, dtype=dtype, mode="train")


@pytest.mark.parametrize("transform", ["eager", "vmap", "grad"])
@pytest.mark.parametrize("case", list(CASES))
def test_battery_transforms(case, transform):
    in_spec, out_spec = SPEC_PAIRS["h36m_2d_to_3d"]
    testing.check_case(CASES[case], in_spec, out_spec, transform=transform)


EVAL_PAIRS = ("h36m_2d_to_3d", "scrambled_order", "hidden_odd_sizes")


@pytest.mark.parametrize(("case", "pair"), [(c, p) for c, p in CASE_PAIRS if p in EVAL_PAIRS])
def test_battery_eval_mode(case, pair):
    in_spec, out_spec = SPEC_PAIRS[pair]
    testing.check_case(CASES[case], in_spec, out_spec, mode="eval")


class _LeakyConv(nn.ChiralConv1d):
    """A deliberately broken tying: the dense kernel plus a small non-equivariant perturbation."""

    def __call__(self, x):
        kernel = self.weight
        kernel = kernel + 1e-3 * jax.random.normal(jax.random.key(9), kernel.shape, kernel.dtype)
        return functional.conv1d_dense(x, kernel)


class _UnsymmetrizedNorm(nn.ChiralBatchNorm):
    """Plain batch statistics (the original implementation's bug): breaks sample-wise mirroring."""

    def __call__(self, x):
        mean = jnp.mean(x, axis=(0, 1), keepdims=True)
        var = jnp.var(x, axis=(0, 1), keepdims=True)
        return (x - mean) / jnp.sqrt(var + self.epsilon)


@pytest.mark.parametrize(
    "broken",
    [
        testing.BatteryCase("leaky_conv", lambda i, o, r: _LeakyConv(i, o, 3, rngs=r), "sequence"),
        testing.BatteryCase("plain_norm", lambda i, o, r: _UnsymmetrizedNorm(i), "sequence", output="in"),
    ],
    ids=lambda c: c.name,
)
def test_battery_catches_broken_tying(broken):
    with pytest.raises(AssertionError, match="not equivariant"):
        testing.check_case(broken, H36M.spec(2), H36M.spec(2))


def test_assert_equivariant_accepts_pytrees():
    spec = H36M.spec(2)
    layer = nn.ChiralLinear(spec, spec, rngs=nnx.Rngs(0))
    x = jnp.ones((2, spec.size)) + jnp.arange(spec.size)[None, :] / 7.0
    fn = lambda pair: (layer(pair[0]), layer(pair[1]))  # noqa: E731
    testing.assert_equivariant(fn, (x, 2 * x), (spec, spec), (spec, spec))
    with pytest.raises(AssertionError):
        testing.assert_equivariant(lambda p: (p[0], p[1] + 1.0), (x, x), (spec, spec), (spec, spec))
