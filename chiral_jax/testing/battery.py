"""The shared equivariance battery: every chiral layer and composed net, one line each.

The battery (:data:`BATTERY`) lists every chiral layer and a few composed nets, each as one
:class:`BatteryCase`; :func:`check_case` runs one case on a pair of specs, a dtype, a mode
(``train``/``eval``) and a transformation (plain, ``jit``, ``vmap``, ``grad``). Adding a layer to the
library adds one line to :data:`BATTERY`; ``tests/test_battery.py`` runs the cross product. The
wrappers the composed cases build (recurrent read-outs, token masks, the IK nets' joints and
twists, the forecaster fed its targets) are in :mod:`chiral_jax.testing.battery_nets`.

The functional column (:data:`FUNCTIONAL_CASES`, :func:`check_functional_case`: every public
function of :mod:`chiral_jax.functional` under ``jit``, ``vmap`` and ``grad``) lives in
:mod:`chiral_jax.testing.functional_column` and is re-exported here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from chiral_jax import nn
from chiral_jax.equivariance import assert_equivariant, assert_samplewise_equivariant
from chiral_jax.models import ChiralMLP, ChiralTemporalModel
from chiral_jax.models.trajectory import with_root_spec
from chiral_jax.nn.precision import set_compute_dtype
from chiral_jax.spec import ChiralSpec
from chiral_jax.testing import battery_nets as nets
from chiral_jax.testing.functional_column import (
    FUNCTIONAL_CASES,
    FUNCTIONAL_TYPES,
    FunctionalCase,
    check_functional_case,
)

__all__ = [
    "BATTERY",
    "FUNCTIONAL_CASES",
    "FUNCTIONAL_TYPES",
    "SPEC_PAIRS",
    "BatteryCase",
    "FunctionalCase",
    "as_function",
    "check_case",
    "check_functional_case",
    "make_input",
    "randomize_params",
]

Array = jax.Array
Transform = Literal["jit", "eager", "vmap", "grad"]


def as_function(module: nnx.Module) -> Callable[[Any], Any]:
    """A pure function of the input with the module's state (parameters, batch statistics, RNG
    counters) frozen, so that two calls see the same dropout masks and neither changes the module."""
    graphdef, state = nnx.split(module)
    return lambda x: nnx.merge(graphdef, state, copy=True)(x)


# ---------------------------------------------------------------------------------- battery


@dataclasses.dataclass(frozen=True)
class BatteryCase:
    """One layer or net in the battery.

    Attributes:
      name: test id.
      build: ``(in_spec, out_spec, rngs) -> module``; ``module(x)`` maps ``in_spec`` to
        :meth:`output_spec`.
      input: ``"vector"`` ``(batch, in.size)`` or ``"sequence"`` ``(batch, time, in.size)``.
      output: ``"out"`` (the given out spec), ``"in"`` (shape-preserving layers),
        ``"invariant"`` (:attr:`invariant_features` invariant channels), ``"out_with_root"``
        (the out spec and one more center point: a pose net with a trajectory head) or
        ``"out_with_twists"`` (each out joint's coordinates and its twist's (cos, sin):
        :func:`~chiral_jax.testing.battery_nets.twist_spec`, the IK nets).
      frames: time steps of sequence inputs.
      pairs: names of the :data:`SPEC_PAIRS` the battery runs this case on (None: all), for
        composed nets whose compile time dominates; their layers run on every pair anyway.
    """

    name: str
    build: Callable[[ChiralSpec, ChiralSpec, nnx.Rngs], nnx.Module]
    input: Literal["vector", "sequence"] = "vector"
    output: Literal["out", "in", "invariant", "out_with_root", "out_with_twists"] = "out"
    frames: int = 12
    invariant_features: int = 5
    pairs: tuple[str, ...] | None = None

    def output_spec(self, in_spec: ChiralSpec, out_spec: ChiralSpec) -> ChiralSpec:
        if self.output == "in":
            return in_spec
        if self.output == "invariant":
            return ChiralSpec.invariant(self.invariant_features)
        if self.output == "out_with_root":
            return with_root_spec(out_spec)
        if self.output == "out_with_twists":
            return nets.twist_spec(out_spec)
        return out_spec


# Token layers: H36M joint tokens and joint tokens in a scrambled order (test-time budget).
_TOKEN_PAIRS = ("h36m_2d_to_3d", "scrambled_order")

# Composed nets compile slowly; their layers run on every pair, the nets on these.
_COMPOSED_PAIRS = ("h36m_2d_to_3d", "scrambled_order", "all_negated", "only_centers", "no_centers", "smpl_3d")

BATTERY: tuple[BatteryCase, ...] = (
    BatteryCase("linear", lambda i, o, r: nn.ChiralLinear(i, o, rngs=r)),
    BatteryCase("linear_dense_path", lambda i, o, r: nn.ChiralLinear(i, o, path="dense", rngs=r)),
    BatteryCase("linear_in_basis", lambda i, o, r: nets.InBasis(nn.ChiralLinear(i, o, rngs=r), i, o)),
    BatteryCase("conv1d", lambda i, o, r: nn.ChiralConv1d(i, o, 3, rngs=r), "sequence"),
    BatteryCase(
        "conv1d_strided_dilated_same",
        lambda i, o, r: nn.ChiralConv1d(i, o, 3, strides=2, kernel_dilation=2, padding="SAME", rngs=r),
        "sequence",
    ),
    BatteryCase(
        "conv1d_causal_xla",
        lambda i, o, r: nn.ChiralConv1d(i, o, 2, kernel_dilation=3, padding="CAUSAL", impl="xla", rngs=r),
        "sequence",
    ),
    BatteryCase(
        "conv1d_stride_eq_kernel", lambda i, o, r: nn.ChiralConv1d(i, o, 3, strides=3, rngs=r), "sequence"
    ),
    BatteryCase(
        "conv1d_dense_path", lambda i, o, r: nn.ChiralConv1d(i, o, 3, path="dense", rngs=r), "sequence"
    ),
    BatteryCase("batch_norm", lambda i, o, r: nn.ChiralBatchNorm(i, rngs=r), "sequence", output="in"),
    BatteryCase(
        "batch_norm_in_basis",
        lambda i, o, r: nets.InBasis(nn.ChiralBatchNorm(i), i, i),
        "sequence",
        output="in",
    ),
    BatteryCase("activation_tanh", lambda i, o, r: nn.ChiralActivation(i, "tanh"), output="in"),
    BatteryCase(
        "activation_tanh_in_basis",
        lambda i, o, r: nets.InBasis(nn.ChiralActivation(i, "tanh"), i, i),
        output="in",
    ),
    BatteryCase(
        "dropout_in_basis", lambda i, o, r: nets.InBasis(nn.ChiralDropout(0.3, rngs=r), i, i), output="in"
    ),
    BatteryCase(
        "dropout_packed_bits_in_basis",
        lambda i, o, r: nets.InBasis(nn.ChiralDropout(0.25, mask_bits="packed", rngs=r), i, i),
        output="in",
    ),
    BatteryCase("invariant", lambda i, o, r: nn.ChiralInvariant(i, 5, rngs=r), output="invariant"),
    BatteryCase(
        "invariant_odd_magnitudes",
        lambda i, o, r: nn.ChiralInvariant(i, 5, odd_magnitudes=True, rngs=r),
        output="invariant",
    ),
    BatteryCase(
        "invariance_abs_pairs",
        lambda i, o, r: nnx.Sequential(
            nn.ChiralInvariance(i), nnx.Linear(nets.invariance_size(i), 5, rngs=r)
        ),
        output="invariant",
        # Parameter-free and elementwise: the edge cases of the even/odd split are what matter.
        pairs=("h36m_2d_to_3d", "only_centers", "no_centers", "all_negated", "hidden_odd_sizes"),
    ),
    BatteryCase(
        "action_net_two_people_padded",
        nets.action_net(2),
        "sequence",
        output="invariant",
        pairs=("h36m_2d_to_3d",),  # compile-heavy; its layers run on every pair
    ),
    BatteryCase(
        "graph_action_net_two_people_padded",
        nets.graph_action_net,
        "sequence",
        output="invariant",
        pairs=("h36m_2d_to_3d", "scrambled_order"),
    ),
    BatteryCase("mlp_relu", lambda i, o, r: ChiralMLP(i, o, (48, 37), activation="relu", rngs=r)),
    BatteryCase(
        "mlp_tanh_negated", lambda i, o, r: ChiralMLP(i, o, (40,), activation="tanh", negated=True, rngs=r)
    ),
    BatteryCase(
        "temporal_conv_stack",
        lambda i, o, r: ChiralTemporalModel(i, o, filter_widths=(3, 3), channels=33, dropout=0.2, rngs=r),
        "sequence",
        pairs=_COMPOSED_PAIRS,
    ),
    BatteryCase(
        "temporal_conv_stack_strided",
        lambda i, o, r: ChiralTemporalModel(i, o, filter_widths=(3, 3), channels=24, strided=True, rngs=r),
        "sequence",
        frames=18,
        pairs=_COMPOSED_PAIRS[:3],
    ),
    BatteryCase(
        "temporal_conv_stack_tanh_causal",
        lambda i, o, r: ChiralTemporalModel(
            i,
            o,
            filter_widths=(3, 3),
            channels=nets.hidden_spec(30, True),
            activation="tanh",
            causal=True,
            rngs=r,
        ),
        "sequence",
        pairs=_COMPOSED_PAIRS[:3],
    ),
    # The root's x flips with the pose's: on pairs whose outputs are 3D with x negated.
    BatteryCase(
        "temporal_conv_stack_trajectory",
        nets.with_trajectory,
        "sequence",
        output="out_with_root",
        pairs=("h36m_2d_to_3d", "scrambled_order", "smpl_3d"),
    ),
    # Token sets: the joints are the tokens (random actions from every spec pair), masks from the input.
    BatteryCase(
        "attention_masked_self_cross",
        lambda i, o, r: nets.Tokens("attention", i, o, rngs=r),
        pairs=_TOKEN_PAIRS,
    ),
    BatteryCase(
        "layer_norm", lambda i, o, r: nets.Tokens("layer_norm", i, o, rngs=r), output="in", pairs=_TOKEN_PAIRS
    ),
    BatteryCase("graph_conv", lambda i, o, r: nets.GraphTokens(i, rngs=r), output="in", pairs=_TOKEN_PAIRS),
    BatteryCase(
        "feed_forward_tokens",
        lambda i, o, r: nets.Tokens("feed_forward", i, o, rngs=r),
        output="in",
        pairs=_TOKEN_PAIRS,
    ),
    BatteryCase(
        "token_embedding",
        lambda i, o, r: nets.Tokens("token_embedding", i, o, rngs=r),
        output="in",
        pairs=_TOKEN_PAIRS,
    ),
    BatteryCase("transformer_lifter_keep", nets.lifter(), "sequence", frames=3, pairs=_COMPOSED_PAIRS[:2]),
    BatteryCase(
        "transformer_lifter_frame_tokens",
        nets.lifter(tokens="frame"),
        "sequence",
        frames=3,
        pairs=_COMPOSED_PAIRS[:1],
    ),
    # The IK task's nets, joints and twists out: its temporal lifter, its transformer with twist tokens.
    BatteryCase(
        "ik_temporal_twists",
        nets.ik_temporal,
        "sequence",
        output="out_with_twists",
        frames=18,
        pairs=_COMPOSED_PAIRS[:2],
    ),
    BatteryCase(
        "ik_transformer_twist_tokens",
        nets.lifter(twist=True),
        "sequence",
        output="out_with_twists",
        frames=3,
        pairs=_COMPOSED_PAIRS[:2],
    ),
    # Recurrent cases: hidden specs unlike the input (another joint set, other negated coords, with
    # and without negated channels), a non-zero initial carry, 8 steps; a few spec pairs each, as
    # every pair compiles a scanned program (h36m_2d_to_3d first: the transforms run on it).
    BatteryCase(
        "lstm_cell_negated_hidden",
        nets.recurrent("lstm_cell", "negated"),
        "sequence",
        frames=8,
        pairs=("h36m_2d_to_3d", "all_negated"),
    ),
    BatteryCase(
        "gru_stacked_joint_hidden_dropout",
        nets.recurrent("gru", "out", num_layers=2, dropout_rate=0.3),
        "sequence",
        frames=8,
        pairs=("h36m_2d_to_3d",),  # compile-heavy; its layers run on every pair
    ),
    BatteryCase(
        "lstm_stacked_plain_hidden_dropout",
        nets.recurrent("lstm", "plain", num_layers=2, dropout_rate=0.3),
        "sequence",
        frames=8,
        pairs=("h36m_2d_to_3d", "hidden_odd_sizes"),
    ),
    # The forecasting task's net (on Penn Action 2D poses there), fed observed frames and its targets.
    BatteryCase(
        "forecaster_seq2seq",
        nets.forecaster,
        "sequence",
        output="in",
        frames=10,
        pairs=("h36m_2d_to_3d", "penn_2d"),
    ),
)
"""Every chiral layer and composed net the library offers (one line each)."""


def make_input(case: BatteryCase, spec: ChiralSpec, dtype: Any, seed: int = 0) -> Array:
    shape = (4, spec.size) if case.input == "vector" else (3, case.frames, spec.size)
    # Non-zero mean: a batch norm that forgot the mirrored batch's mean would show.
    x = jax.random.normal(jax.random.key(seed), shape, dtype) + jnp.asarray(0.5, dtype)
    return x


def randomize_params(module: nnx.Module, seed: int = 0, scale: float = 0.3, dtype: Any = None) -> nnx.Module:
    """Adds ``scale * normal`` to every ``nnx.Param`` of ``module`` in place (and returns it), so that
    zero-initialized biases and unit scales are tested too; ``dtype`` optionally casts the parameters.

    Draws with numpy: a ``jax.random`` draw compiles one program per leaf shape (~0.1 s each).
    """
    if dtype is not None and jax.dtypes.canonicalize_dtype(dtype) != np.dtype(dtype):
        # Without x64 JAX would silently store float32 and the test would check less than it says.
        raise ValueError(f"randomize_params: dtype {np.dtype(dtype)} needs jax.enable_x64(True)")
    rng = np.random.default_rng(seed)
    leaves, treedef = jax.tree.flatten(nnx.state(module, nnx.Param))
    new = [
        jnp.asarray(np.asarray(a) + scale * rng.standard_normal(a.shape), a.dtype if dtype is None else dtype)
        for a in leaves
    ]
    nnx.update(module, jax.tree.unflatten(treedef, new))
    return module


def _to_float64(tree: Any) -> Any:
    return jax.tree.map(lambda a: jnp.asarray(np.asarray(a, np.float64)), tree)


def check_case(
    case: BatteryCase,
    in_spec: ChiralSpec,
    out_spec: ChiralSpec,
    *,
    dtype: Any = jnp.float32,
    mode: Literal["train", "eval"] = "train",
    transform: Transform = "jit",
    seed: int = 0,
) -> None:
    """Builds ``case`` with random parameters and asserts it is equivariant (and keeps ``dtype``).

    ``dtype`` float32 / float64: parameters and input in it. bfloat16 (or float16): mixed
    precision, float32 parameters with every layer's compute dtype set to it
    (:func:`chiral_jax.nn.precision.set_compute_dtype`), checked to
    :data:`chiral_jax.equivariance.BF16_TOLERANCE`.
    """
    if jax.dtypes.canonicalize_dtype(dtype) != np.dtype(dtype):
        raise ValueError(f"check_case: dtype {np.dtype(dtype)} needs jax.enable_x64(True)")
    module = randomize_params(case.build(in_spec, out_spec, nnx.Rngs(seed)), seed + 1)
    if dtype == jnp.float64:
        floats = nnx.state(module, lambda _, v: jnp.issubdtype(jnp.asarray(v[...]).dtype, jnp.floating))
        nnx.update(module, _to_float64(floats))
    elif jnp.finfo(dtype).bits < 32:
        set_compute_dtype(module, dtype)
    if mode == "eval":
        module.eval()
    fn = as_function(module)
    jitted = jax.jit(fn)  # one wrapper: its three calls below compile once
    x = make_input(case, in_spec, dtype, seed + 2)
    y = jitted(x)
    want = case.output_spec(in_spec, out_spec)
    if y.shape[-1] != want.size or y.dtype != x.dtype:
        raise AssertionError(f"{case.name}: got {y.shape} {y.dtype}, want last axis {want.size}, {x.dtype}")
    # Compiled by default: op-by-op dispatch costs the suite seconds per composed net.
    if transform == "jit":
        assert_equivariant(jitted, x, in_spec, want)
        assert_samplewise_equivariant(jitted, x, in_spec, want)
    elif transform == "eager":
        assert_equivariant(fn, x, in_spec, want)
    elif transform == "vmap":
        xs = jnp.stack([x, x[::-1] * 0.5])
        assert_equivariant(jax.jit(jax.vmap(fn)), xs, in_spec, want)
    elif transform == "grad":
        # The gradient of an invariant scalar of the output is equivariant on the input side.
        grad_fn = jax.grad(lambda z: jnp.sum(jnp.square(fn(z))))
        assert_equivariant(jax.jit(grad_fn), x, in_spec, in_spec)
    else:
        raise ValueError(f"unknown transform {transform!r}")


def _spec_pairs() -> dict[str, tuple[ChiralSpec, ChiralSpec]]:
    """The spec pairs every battery case runs on: skeletons and edge cases (see tests)."""
    from chiral_jax import skeletons as sk

    scrambled = ChiralSpec(left=(5, 0, 7), right=(2, 6, 1), center=(4, 3), dim=2, negated=(0,))
    return {
        "h36m_2d_to_3d": (sk.H36M.spec(2), sk.H36M.spec(3)),
        "humaneva_2d_to_3d": (sk.HUMANEVA15.spec(2), sk.HUMANEVA15.spec(3)),
        "penn_2d": (sk.PENN_ACTION.spec(2), sk.PENN_ACTION.spec(2)),
        "openpose_2d_to_smpl_3d": (sk.OPENPOSE18.spec(2), sk.SMPL24.spec(3)),
        "smpl_3d": (sk.SMPL24.spec(3), sk.SMPL24.spec(3)),
        "no_centers": (
            ChiralSpec(left=(0, 2), right=(1, 3), dim=2, negated=(0,)),
            ChiralSpec(left=(1,), right=(0,), dim=3, negated=(0,)),
        ),
        "only_centers": (
            ChiralSpec(left=(), right=(), center=(0, 1, 2), dim=2, negated=(0,)),
            ChiralSpec(left=(), right=(), center=(1, 0), dim=3, negated=(0,)),
        ),
        "no_negated": (sk.H36M.spec(2, negated=()), sk.H36M.spec(3, negated=())),
        "all_negated": (sk.PENN_ACTION.spec(2, negated=(0, 1)), sk.H36M.spec(3, negated=(0, 1, 2))),
        "scrambled_order": (scrambled, sk.H36M.spec(3)),
        "hidden_odd_sizes": (nets.hidden_spec(37, False), nets.hidden_spec(23, True)),
        "hidden_wide_from_joints": (sk.H36M.spec(2), ChiralSpec.hidden(1024)),
    }


SPEC_PAIRS: dict[str, tuple[ChiralSpec, ChiralSpec]] = _spec_pairs()
