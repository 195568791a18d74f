"""Equivariance checks: :func:`assert_equivariant` and the shared layer battery.

``assert_equivariant(fn, x, in_spec, out_spec)`` checks ``fn(T_in x) == T_out fn(x)`` numerically
(chex), for any function: a layer, a whole model, your own code.

The battery (:data:`BATTERY`) lists every chiral layer and a few composed nets, each as one
:class:`BatteryCase`; :func:`check_case` runs one case on a pair of specs, a dtype, a mode
(``train``/``eval``) and a transformation (plain, ``jit``, ``vmap``, ``grad``). Adding a layer to the
library adds one line to :data:`BATTERY`; ``tests/test_battery.py`` runs the cross product.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal

import chex
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from chiral_jax import nn
from chiral_jax.basis import from_even_odd, to_even_odd
from chiral_jax.models import ChiralMLP, ChiralTemporalModel
from chiral_jax.spec import ChiralSpec

__all__ = [
    "BATTERY",
    "BatteryCase",
    "as_function",
    "assert_equivariant",
    "assert_samplewise_equivariant",
    "check_case",
    "default_tolerance",
]

Array = jax.Array
Transform = Literal["jit", "eager", "vmap", "grad"]


def default_tolerance(dtype: Any) -> tuple[float, float]:
    """``(rtol, atol)`` relative to the output's scale: loose enough for reassociated sums, tight
    enough that any leak between the even and odd parts (an O(1) error) fails."""
    if jnp.dtype(dtype) == jnp.float64:
        return 1e-10, 1e-10
    return 1e-4, 1e-4


def _transform_tree(specs: Any, x: Any) -> Any:
    return jax.tree.map(lambda s, a: s.transform(a), specs, x, is_leaf=lambda s: isinstance(s, ChiralSpec))


def assert_equivariant(
    fn: Callable[[Any], Any],
    x: Any,
    in_spec: ChiralSpec | Any,
    out_spec: ChiralSpec | Any,
    *,
    rtol: float | None = None,
    atol: float | None = None,
) -> None:
    """Asserts ``fn(T_in(x)) == T_out(fn(x))`` (to tolerance).

    Args:
      fn: the function to check (deterministic: fix its randomness, e.g. with :func:`as_function`).
      x: an input array ``(..., in_spec.size)``, or a pytree of arrays.
      in_spec, out_spec: specs of the input and output (or pytrees of specs matching ``x`` and
        ``fn(x)``; ``ChiralSpec.invariant(n)`` for invariant outputs).
      rtol, atol: tolerances; ``atol`` is scaled by ``1 + max|fn(x)|``. Default by dtype
        (:func:`default_tolerance`).

    Raises:
      AssertionError: naming the largest violation.
    """
    y = fn(x)
    y_of_mirror = fn(_transform_tree(in_spec, x))
    mirror_of_y = _transform_tree(out_spec, y)
    leaves = jax.tree.leaves(y)
    d_rtol, d_atol = default_tolerance(leaves[0].dtype)
    rtol = d_rtol if rtol is None else rtol
    atol = d_atol if atol is None else atol
    scale = 1.0 + max(float(jnp.max(jnp.abs(leaf))) if leaf.size else 0.0 for leaf in leaves)
    try:
        chex.assert_trees_all_close(y_of_mirror, mirror_of_y, rtol=rtol, atol=atol * scale)
    except AssertionError as err:
        worst = max(
            float(jnp.max(jnp.abs(a - b))) if a.size else 0.0
            for a, b in zip(jax.tree.leaves(y_of_mirror), jax.tree.leaves(mirror_of_y), strict=True)
        )
        raise AssertionError(
            f"not equivariant: max |F(T_in x) - T_out F(x)| = {worst:.3g} (output scale {scale:.3g}, "
            f"rtol={rtol}, atol={atol}x scale)\n{err}"
        ) from None


def assert_samplewise_equivariant(
    fn: Callable[[Array], Array],
    x: Array,
    in_spec: ChiralSpec,
    out_spec: ChiralSpec,
    *,
    rtol: float | None = None,
    atol: float | None = None,
) -> None:
    """Mirroring sample 0 of a batch (axis 0) mirrors its output and leaves the others unchanged.

    Stronger than :func:`assert_equivariant` for layers that mix a batch (batch norm): plain batch
    statistics pass the whole-batch test but fail this one.
    """
    y = fn(x)
    x_one = x.at[0].set(in_spec.transform(x[0]))
    want = y.at[0].set(out_spec.transform(y[0]))
    got = fn(x_one)
    d_rtol, d_atol = default_tolerance(y.dtype)
    scale = 1.0 + float(jnp.max(jnp.abs(y)))
    worst = float(jnp.max(jnp.abs(got - want)))
    if not np.allclose(
        got, want, rtol=d_rtol if rtol is None else rtol, atol=(d_atol if atol is None else atol) * scale
    ):
        raise AssertionError(
            f"not equivariant sample by sample: mirroring sample 0 alone changed the outputs by up to "
            f"{worst:.3g} from the expected (output scale {scale:.3g})"
        )


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
      output: ``"out"`` (the given out spec), ``"in"`` (shape-preserving layers) or
        ``"invariant"`` (:attr:`invariant_features` invariant channels).
      frames: time steps of sequence inputs.
      pairs: names of the :data:`SPEC_PAIRS` the battery runs this case on (None: all), for
        composed nets whose compile time dominates; their layers run on every pair anyway.
    """

    name: str
    build: Callable[[ChiralSpec, ChiralSpec, nnx.Rngs], nnx.Module]
    input: Literal["vector", "sequence"] = "vector"
    output: Literal["out", "in", "invariant"] = "out"
    frames: int = 12
    invariant_features: int = 5
    pairs: tuple[str, ...] | None = None

    def output_spec(self, in_spec: ChiralSpec, out_spec: ChiralSpec) -> ChiralSpec:
        if self.output == "in":
            return in_spec
        if self.output == "invariant":
            return ChiralSpec.invariant(self.invariant_features)
        return out_spec


class _InBasis(nnx.Module):
    """Runs a layer on even/odd features (checks the ``EvenOdd`` path of layers)."""

    def __init__(self, layer: nnx.Module, in_spec: ChiralSpec, out_spec: ChiralSpec):
        self.layer, self.in_spec, self.out_spec = layer, in_spec, out_spec

    def __call__(self, x: Array) -> Array:
        return from_even_odd(self.layer(to_even_odd(x, self.in_spec)), self.out_spec)


def _hidden(n: int, negated: bool) -> ChiralSpec:
    return ChiralSpec.hidden(n, negated=negated)


class _Recurrent(nnx.Module):
    """``(batch, time, in) -> (batch, time, out)``: a chiral recurrent layer or cell with a non-zero
    initial carry and a chiral read-out of every step.

    The initial carry is computed from the first frame by a chiral linear map (scaled differently
    per layer and state), so it is mirrored with the input (a fixed random carry would not be). A
    cell runs through ``jax.lax.scan`` over its pure ``(carry, x)`` call; a stacked layer through its
    own ``__call__``.
    """

    def __init__(self, layer: nnx.Module, in_spec: ChiralSpec, out_spec: ChiralSpec, *, rngs: nnx.Rngs):
        self.layer, self.in_spec, self.out_spec = layer, in_spec, out_spec
        self.is_cell = isinstance(layer, nn.ChiralLSTMCell | nn.ChiralGRUCell)
        self.is_lstm = isinstance(layer, nn.ChiralLSTMCell | nn.ChiralLSTM)
        self.num_layers = 1 if self.is_cell else layer.num_layers
        self.init = nn.ChiralLinear(in_spec, layer.hidden_spec, rngs=rngs)
        self.readout = nn.ChiralLinear(layer.hidden_spec, out_spec, rngs=rngs)

    def __call__(self, x: Array) -> Array:
        base = self.init(x[:, 0])
        if self.is_lstm:
            carries = [(base * (1.0 + k), jnp.tanh(base) * (0.5 - k)) for k in range(self.num_layers)]
        else:
            carries = [jnp.tanh(base * (1.0 + k)) for k in range(self.num_layers)]
        if self.is_cell:
            _, ys = jax.lax.scan(lambda c, xt: self.layer(c, xt), carries[0], jnp.moveaxis(x, 1, 0))
            ys = jnp.moveaxis(ys, 0, 1)
        else:
            ys, _ = self.layer(x, tuple(carries))
        return self.readout(ys)


def _recurrent(
    kind: str, hidden: str, **kwargs: Any
) -> Callable[[ChiralSpec, ChiralSpec, nnx.Rngs], nnx.Module]:
    """Builds a :class:`_Recurrent` case; ``hidden``: ``"out"`` (the output's joint layout),
    ``"plain"`` / ``"negated"`` (``ChiralSpec.hidden`` of about twice the input channels)."""
    layer_cls = {
        "lstm_cell": nn.ChiralLSTMCell,
        "gru_cell": nn.ChiralGRUCell,
        "lstm": nn.ChiralLSTM,
        "gru": nn.ChiralGRU,
    }[kind]

    def build(i: ChiralSpec, o: ChiralSpec, r: nnx.Rngs) -> nnx.Module:
        if hidden == "out":
            h = o
        else:  # odd sizes: centers, which the mirror negates in the "negated" spec
            h = _hidden(2 * i.size + 1, hidden == "negated")
        return _Recurrent(layer_cls(i, h, rngs=r, **kwargs), i, o, rngs=r)

    return build


# Composed nets compile slowly; their layers run on every pair, the nets on these.
_COMPOSED_PAIRS = ("h36m_2d_to_3d", "scrambled_order", "all_negated", "only_centers", "no_centers", "smpl_3d")

BATTERY: tuple[BatteryCase, ...] = (
    BatteryCase("linear", lambda i, o, r: nn.ChiralLinear(i, o, rngs=r)),
    BatteryCase("linear_dense_path", lambda i, o, r: nn.ChiralLinear(i, o, path="dense", rngs=r)),
    BatteryCase("linear_in_basis", lambda i, o, r: _InBasis(nn.ChiralLinear(i, o, rngs=r), i, o)),
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
        "batch_norm_in_basis", lambda i, o, r: _InBasis(nn.ChiralBatchNorm(i), i, i), "sequence", output="in"
    ),
    BatteryCase("activation_tanh", lambda i, o, r: nn.ChiralActivation(i, "tanh"), output="in"),
    BatteryCase(
        "activation_tanh_in_basis",
        lambda i, o, r: _InBasis(nn.ChiralActivation(i, "tanh"), i, i),
        output="in",
    ),
    BatteryCase(
        "dropout_in_basis", lambda i, o, r: _InBasis(nn.ChiralDropout(0.3, rngs=r), i, i), output="in"
    ),
    BatteryCase("invariant", lambda i, o, r: nn.ChiralInvariant(i, 5, rngs=r), output="invariant"),
    BatteryCase(
        "invariant_odd_magnitudes",
        lambda i, o, r: nn.ChiralInvariant(i, 5, odd_magnitudes=True, rngs=r),
        output="invariant",
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
            i, o, filter_widths=(3, 3), channels=_hidden(30, True), activation="tanh", causal=True, rngs=r
        ),
        "sequence",
        pairs=_COMPOSED_PAIRS[:3],
    ),
    # Recurrent cases: hidden specs unlike the input (another joint set, other negated coords, with
    # and without negated channels), a non-zero initial carry, 8 steps; a few spec pairs each, as
    # every pair compiles a scanned program (h36m_2d_to_3d first: the transforms run on it).
    BatteryCase(
        "lstm_cell_negated_hidden",
        _recurrent("lstm_cell", "negated"),
        "sequence",
        frames=8,
        pairs=("h36m_2d_to_3d", "all_negated"),
    ),
    BatteryCase(
        "gru_stacked_joint_hidden_dropout",
        _recurrent("gru", "out", num_layers=2, dropout_rate=0.3),
        "sequence",
        frames=8,
        pairs=("h36m_2d_to_3d", "openpose_2d_to_smpl_3d"),
    ),
    BatteryCase(
        "lstm_stacked_plain_hidden_dropout",
        _recurrent("lstm", "plain", num_layers=2, dropout_rate=0.3),
        "sequence",
        frames=8,
        pairs=("h36m_2d_to_3d", "hidden_odd_sizes"),
    ),
)
"""Every chiral layer and composed net the library offers (one line each)."""


def make_input(case: BatteryCase, spec: ChiralSpec, dtype: Any, seed: int = 0) -> Array:
    shape = (4, spec.size) if case.input == "vector" else (3, case.frames, spec.size)
    # Non-zero mean: a batch norm that forgot the mirrored batch's mean would show.
    x = jax.random.normal(jax.random.key(seed), shape, dtype) + jnp.asarray(0.5, dtype)
    return x


def _perturb(leaves: list[Array], seed: int) -> list[Array]:
    """``leaf + 0.3 * normal`` for every leaf, drawn with numpy: no compiled program per leaf shape
    (which cost the battery ~0.1 s per new shape)."""
    rng = np.random.default_rng(seed)
    return [
        jnp.asarray(np.asarray(leaf) + 0.3 * rng.standard_normal(leaf.shape), dtype=leaf.dtype)
        for leaf in leaves
    ]


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
    """Builds ``case`` with random parameters and asserts it is equivariant (and keeps ``dtype``)."""
    module = case.build(in_spec, out_spec, nnx.Rngs(seed))
    params = nnx.state(module, nnx.Param)
    # Random (not init) values everywhere, so zero-initialized biases and unit scales are tested too.
    leaves, treedef = jax.tree.flatten(params)
    nnx.update(module, jax.tree.unflatten(treedef, _perturb(leaves, seed + 1)))
    if dtype == jnp.float64:
        floats = nnx.state(module, lambda _, v: jnp.issubdtype(jnp.asarray(v[...]).dtype, jnp.floating))
        nnx.update(module, _to_float64(floats))
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
        "hidden_odd_sizes": (_hidden(37, False), _hidden(23, True)),
        "hidden_wide_from_joints": (sk.H36M.spec(2), ChiralSpec.hidden(1024)),
    }


SPEC_PAIRS: dict[str, tuple[ChiralSpec, ChiralSpec]] = _spec_pairs()


def max_violation(fn: Callable[[Any], Any], x: Any, in_spec: ChiralSpec, out_spec: ChiralSpec) -> float:
    """``max |fn(T_in x) - T_out fn(x)|`` (a number, for reports and notebooks)."""
    y = np.asarray(fn(x))
    return float(np.max(np.abs(np.asarray(fn(in_spec.transform(x))) - out_spec.transform(y))))
