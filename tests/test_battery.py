"""The shared equivariance battery: every layer and composed net, on every spec pair; and the
functional column: every public function of ``chiral_jax.functional`` under jit, vmap and grad.

The full cross product runs in the slow set (``-m slow``). The quick loop keeps every case in float32
on one spec pair, train and eval; one layer of each kind also under every transform, two in float64;
every functional call under jit, a few under vmap and grad too."""

import os
import re
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest
from flax import nnx

from chiral_jax import functional, nn, testing
from chiral_jax.skeletons import H36M
from chiral_jax.spec import ChiralSpec
from chiral_jax.testing import BATTERY, FUNCTIONAL_CASES, FUNCTIONAL_TYPES, SPEC_PAIRS

CASES = {case.name: case for case in BATTERY}
# Every case on every spec pair it lists (all, unless it names a few).
CASE_PAIRS = [(c.name, p) for c in BATTERY for p in SPEC_PAIRS if c.pairs is None or p in c.pairs]
# The quick loop runs every case once, in float32 on this pair (every case lists it); one layer of
# each kind also under every transform, two of them in float64. The rest is slow.
QUICK_PAIR = "h36m_2d_to_3d"
QUICK_F64 = ("batch_norm", "mlp_tanh_negated")
QUICK_LAYERS = (
    "linear_in_basis",
    "conv1d_strided_dilated_same",
    "batch_norm",
    "dropout_in_basis",
    "mlp_tanh_negated",
)
# Mixed precision (float32 parameters, bfloat16 compute): a case per layer kind and two nets on the
# quick pair (slow), three of them in the quick loop.
QUICK_BF16 = ("conv1d", "batch_norm", "temporal_conv_stack_strided")
BF16_CASES = (
    *QUICK_BF16,
    "invariant_odd_magnitudes",
    "dropout_in_basis",
    "mlp_tanh_negated",
    "gru_stacked_joint_hidden_dropout",
)
DTYPES = {"f32": jnp.float32, "f64": jnp.float64, "bf16": jnp.bfloat16}
SLOW = pytest.mark.slow
# Battery cases that are whole nets (compile-heavy), by name prefix.
NET_CASE_PREFIXES = (
    "mlp",
    "temporal_conv_stack",
    "transformer_lifter",
    "action_net",
    "graph_action_net",
    "gru_stacked",
    "lstm_stacked",
    "ik_",
    "forecaster",
)


def _is_net(case: str) -> bool:
    return case.startswith(NET_CASE_PREFIXES)


# The whole nets in float32 on the quick pair: one of each family in the quick loop (their layers
# all run there); every net, on every pair and dtype, in the slow set.
QUICK_NETS = (
    "temporal_conv_stack_strided",
    "transformer_lifter_keep",
    "lstm_stacked_plain_hidden_dropout",
    "forecaster_seq2seq",
)


def _spec_param(case: str, pair: str, dtype: str):
    f32 = dtype == "f32" and (not _is_net(case) or case in QUICK_NETS)
    quick = pair == QUICK_PAIR and (
        f32 or (dtype == "f64" and case in QUICK_F64) or (dtype == "bf16" and case in QUICK_BF16)
    )
    marks = [m for m, on in ((pytest.mark.x64, dtype == "f64"), (SLOW, not quick)) if on]
    return pytest.param(case, pair, dtype, marks=marks, id=f"{case}-{pair}-{dtype}")


@pytest.mark.parametrize(
    ("case", "pair", "dtype"),
    [
        _spec_param(c, p, d)
        for d in DTYPES
        for c, p in CASE_PAIRS
        if d != "bf16" or (p == QUICK_PAIR and c in BF16_CASES)
    ],
)
def test_battery_specs(case, pair, dtype):
    in_spec, out_spec = SPEC_PAIRS[pair]
    testing.check_case(CASES[case], in_spec, out_spec, dtype=DTYPES[dtype], mode="train")


@pytest.mark.parametrize("transform", ["eager", "vmap", "grad"])
@pytest.mark.parametrize("case", [pytest.param(c, marks=() if c in QUICK_LAYERS else SLOW) for c in CASES])
def test_battery_transforms(case, transform):
    in_spec, out_spec = SPEC_PAIRS[QUICK_PAIR]
    testing.check_case(CASES[case], in_spec, out_spec, transform=transform)


EVAL_PAIRS = ("h36m_2d_to_3d", "scrambled_order", "hidden_odd_sizes")


# Eval mode in the quick loop: the layers on the quick pair (whole nets, compile-heavy, are slow:
# their layers are checked here and the nets in training mode above).
@pytest.mark.parametrize(
    ("case", "pair"),
    [
        pytest.param(c, p, marks=() if p == QUICK_PAIR and not _is_net(c) else SLOW)
        for c, p in CASE_PAIRS
        if p in EVAL_PAIRS
    ],
)
def test_battery_eval_mode(case, pair):
    in_spec, out_spec = SPEC_PAIRS[pair]
    testing.check_case(CASES[case], in_spec, out_spec, mode="eval")


@pytest.mark.slow
def test_battery_default_xla_flags():
    """conftest compiles with LLVM optimizations off (suite time); users run XLA's defaults. Every
    layer case (the nets compose them) in float32 on the first pair, and the functional column under
    jit, compiled as users do."""
    env = {**os.environ, "XLA_FLAGS": ""}  # set, so conftest's setdefault keeps it
    layers = [c for c in CASES if not c.startswith(NET_CASE_PREFIXES)]
    nets = " and ".join(f"not {p}" for p in NET_CASE_PREFIXES)
    select = f"test_battery_specs and {QUICK_PAIR}-f32 and {nets} or test_functional_under_transforms and jit"
    cmd = [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", __file__, "-k", select]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert re.search(rf"\b{len(layers) + len(FUNCTIONAL_CASES)} passed\b", run.stdout), run.stdout[-2000:]


def test_battery_f64_needs_x64():
    """Without x64 a float64 request would silently run float32: refused instead."""
    in_spec, out_spec = SPEC_PAIRS[QUICK_PAIR]
    with pytest.raises(ValueError, match="enable_x64"):
        testing.check_case(CASES["linear"], in_spec, out_spec, dtype=jnp.float64)
    with pytest.raises(ValueError, match="enable_x64"):
        testing.randomize_params(nn.ChiralLinear(in_spec, out_spec, rngs=nnx.Rngs(0)), dtype=jnp.float64)


# ---------------------------------------------------------------------------------- functional column


QUICK_FUNCTIONAL = ("activation", "dropout")


def test_functional_column_covers_every_public_name():
    """Adding a function to ``functional.__all__`` needs a line in ``FUNCTIONAL_CASES``."""
    called = {c.function for c in FUNCTIONAL_CASES}
    assert sorted(set(functional.__all__) - called - set(FUNCTIONAL_TYPES)) == []
    assert called <= set(functional.__all__)
    # Only type aliases may go without a line.
    assert not any(callable(getattr(functional, name)) for name in FUNCTIONAL_TYPES)
    assert len({c.name for c in FUNCTIONAL_CASES}) == len(FUNCTIONAL_CASES)


@pytest.mark.parametrize(
    ("case", "transform"),
    [
        # Every call under jit in the quick loop (~0.3 s each); vmap and grad (eager grads: ~1 s) of
        # the trace-time activation check and of PRNG keys there too, the rest in the slow set.
        pytest.param(c, t, id=f"{c.name}-{t}", marks=() if t == "jit" or c.name in QUICK_FUNCTIONAL else SLOW)
        for c in FUNCTIONAL_CASES
        for t in ("jit", "vmap", "grad")
    ],
)
def test_functional_under_transforms(case, transform):
    testing.check_functional_case(case, transform)


def test_functional_rejects_non_odd_activation_under_jit():
    """The oddness check raises its own error at trace time, not a tracer conversion error."""
    spec = H36M.spec(2)
    x = jnp.ones((2, spec.size))
    with pytest.raises(ValueError, match="not odd"):
        jax.jit(lambda a: functional.activation(a, "relu", spec))(x)
    with pytest.raises(ValueError, match="not odd"):
        jax.jit(lambda a: functional.activation(a, jnp.cosh, spec))(x)
    with pytest.raises(ValueError, match="depends on traced values"):
        jax.jit(lambda a: functional.activation(a, lambda z: jnp.tanh(z * a[0, 0]), spec))(x)
    assert jax.jit(lambda a: functional.activation(a, "relu", H36M.spec(2, negated=())))(x).shape == x.shape


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


@pytest.mark.slow  # every case's state built: compile-free but heavy (~16 s on the quick pair)
@pytest.mark.parametrize("pairs", ["quick", "all"])
def test_battery_states_hold_no_empty_arrays(pairs):
    """Orbax cannot save zero-size arrays: no layer may store an empty tied block (e.g. the odd
    block into an invariant output), on the quick pair (quick loop) or any spec pair (slow)."""
    empty = []
    for name, pair in CASE_PAIRS:
        if pairs == "quick" and pair != QUICK_PAIR:
            continue
        state = nnx.state(CASES[name].build(*SPEC_PAIRS[pair], nnx.Rngs(0)))
        for path, leaf in jax.tree_util.tree_leaves_with_path(state):
            if getattr(leaf, "size", 1) == 0:
                empty.append(f"{name} on {pair}: {jax.tree_util.keystr(path)} {leaf.shape}")
    assert not empty, "\n".join(empty)


@pytest.mark.parametrize(
    "build",
    [
        lambda r: nn.ChiralInvariant(H36M.spec(2), 5, odd_magnitudes=True, rngs=r),
        # No odd input channels: the odd block (0, num_odd) is empty.
        lambda r: nn.ChiralLinear(ChiralSpec.invariant(4), H36M.spec(3), rngs=r),
        lambda r: nn.ChiralConv1d(H36M.spec(2), ChiralSpec.invariant(6), 3, rngs=r),
    ],
    ids=["invariant_head", "linear_from_invariant", "conv_to_invariant"],
)
def test_layers_with_empty_blocks_checkpoint_and_restore(build, tmp_path):
    from chiral_jax.train.checkpoint import Checkpointer

    layer = testing.randomize_params(build(nnx.Rngs(0)), 1)
    x = jax.random.normal(jax.random.key(2), (2, 3, layer.in_spec.size))
    want = layer(x)
    with Checkpointer(str(tmp_path), async_save=False) as ckpt:
        ckpt.save(1, nnx.state(layer))
    fresh = build(nnx.Rngs(7))
    with Checkpointer(str(tmp_path)) as ckpt:
        epoch, state = ckpt.restore_latest(nnx.state(fresh))
    nnx.update(fresh, state)
    assert epoch == 1
    assert jnp.array_equal(fresh(x), want)
