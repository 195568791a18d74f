"""The shared equivariance battery: every chiral layer and composed net, one line each.

The battery (:data:`BATTERY`) lists every chiral layer and a few composed nets, each as one
:class:`BatteryCase`; :func:`check_case` runs one case on a pair of specs, a dtype, a mode
(``train``/``eval``) and a transformation (plain, ``jit``, ``vmap``, ``grad``). Adding a layer to the
library adds one line to :data:`BATTERY`; ``tests/test_battery.py`` runs the cross product.

The functional column (:data:`FUNCTIONAL_CASES`) has one example call per public function of
:mod:`chiral_jax.functional` (and its ``EvenOdd`` form); :func:`check_functional_case` runs it under
``jit``, ``vmap`` and ``grad`` against the eager call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from chiral_jax import functional as F
from chiral_jax import nn, tying
from chiral_jax.basis import from_even_odd, to_even_odd
from chiral_jax.equivariance import assert_equivariant, assert_samplewise_equivariant
from chiral_jax.models import ChiralActionNet, ChiralMLP, ChiralTemporalModel, ChiralTransformerLifter
from chiral_jax.models.trajectory import ROOT_SPEC, LifterWithTrajectory, with_root_spec
from chiral_jax.nn.precision import set_compute_dtype
from chiral_jax.skeletons import H36M
from chiral_jax.spec import ChiralSpec
from chiral_jax.tokens import TokenSpec, joint_channel_spec

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
        ``"invariant"`` (:attr:`invariant_features` invariant channels) or ``"out_with_root"``
        (the out spec and one more center point: a pose net with a trajectory head).
      frames: time steps of sequence inputs.
      pairs: names of the :data:`SPEC_PAIRS` the battery runs this case on (None: all), for
        composed nets whose compile time dominates; their layers run on every pair anyway.
    """

    name: str
    build: Callable[[ChiralSpec, ChiralSpec, nnx.Rngs], nnx.Module]
    input: Literal["vector", "sequence"] = "vector"
    output: Literal["out", "in", "invariant", "out_with_root"] = "out"
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


class _TwoPeoplePadded(nnx.Module):
    """``(batch, time, in) -> (batch, classes)``: an action net on 2-person clips with padding.

    Person 2 is person 1 reversed in time and halved; both get 3 zero frames appended (padding),
    so the mirror of the input mirrors every person of the clip and leaves the padding zero."""

    def __init__(self, net: nnx.Module):
        self.net = net

    def __call__(self, x: Array) -> Array:
        clip = jnp.stack([x, 0.5 * x[:, ::-1]], axis=1)
        return self.net(jnp.pad(clip, ((0, 0), (0, 0), (0, 3), (0, 0))))


def _invariance_size(spec: ChiralSpec) -> int:
    return F.invariance_size(spec)


def _action_net(invariance_layer: int) -> Callable[[ChiralSpec, ChiralSpec, nnx.Rngs], nnx.Module]:
    widths = (6, 8, 8, 10)  # chiral, chiral, invariance, plain, plain (stride 2)
    return lambda i, o, r: _TwoPeoplePadded(
        ChiralActionNet(
            i, 5, widths=widths, invariance_layer=invariance_layer, kernel_size=3, dropout=0.3, rngs=r
        )
    )


def _norm_mask(tokens: Array, threshold: float = 1.0) -> Array:
    """A key / keep mask from the tokens themselves: a token's squared norm is invariant under its
    channel mirror, so the mirrored input carries the mirrored mask (the tokens keep their flags)."""
    return jnp.sum(jnp.square(tokens), axis=-1) > threshold


class _Tokens(nnx.Module):
    """A token-set layer on a pose: the joints of ``in_spec`` are the tokens (``TokenSpec.pose``: the
    joint permutation, each token's coordinates with the spec's negated ones), so every spec pair is a
    token action (scrambled joint orders, all or no coordinates negated, hidden specs of one-channel
    tokens). ``kind``:

    * ``"attention"``: project to a hidden width, masked self-attention, then cross-attention from
      tied target embeddings (one per joint of ``out_spec``) into it, a per-token head to ``out_spec``;
    * ``"layer_norm"``, ``"feed_forward"``, ``"token_embedding"``: shape-preserving (``in_spec``).
    """

    def __init__(self, kind: str, in_spec: ChiralSpec, out_spec: ChiralSpec, *, rngs: nnx.Rngs):
        self.kind, self.in_spec, self.out_spec = kind, in_spec, out_spec
        tok = joint_channel_spec(in_spec)
        hid = ChiralSpec.hidden(12, num_centers=0)
        self.up = nn.TokenLinear(tok, hid, rngs=rngs)
        self.down = nn.TokenLinear(hid, tok, rngs=rngs)
        if kind == "attention":
            self.layer = nn.ChiralMultiHeadAttention(
                TokenSpec.pose(in_spec).with_channels(hid), hid, 2, rngs=rngs
            )
            self.queries = nn.ChiralTokenEmbedding(TokenSpec.joints(out_spec, hid), rngs=rngs)
            self.cross = nn.ChiralMultiHeadAttention(hid, hid, 3, qkv_features=18, rngs=rngs)
            self.head = nn.TokenLinear(hid, joint_channel_spec(out_spec), rngs=rngs)
        elif kind == "layer_norm":
            self.layer = nn.ChiralLayerNorm(hid, center_odd=True)
        elif kind == "feed_forward":
            self.layer = nn.ChiralFeedForward(hid, _hidden(9, False), layers=3, rngs=rngs)
        elif kind == "token_embedding":
            self.layer = nn.ChiralTokenEmbedding(TokenSpec.pose(in_spec).with_channels(hid), rngs=rngs)
        else:
            raise ValueError(f"unknown token layer kind {kind!r}")

    def __call__(self, x: Array) -> Array:
        tokens = x.reshape(*x.shape[:-1], self.in_spec.num_joints, self.in_spec.dim)
        h = self.up(tokens)
        if self.kind == "attention":
            h = self.layer(h, mask=_norm_mask(tokens))
            q = jnp.broadcast_to(self.queries(), (*h.shape[:-2], *self.queries().shape))
            y = self.head(self.cross(q, h, mask=_norm_mask(tokens)))
            return y.reshape(*x.shape[:-1], self.out_spec.size)
        if self.kind == "token_embedding":
            e = self.layer()
            h = h + e.reshape((1,) * (h.ndim - 2) + e.shape)
        else:
            h = self.layer(h)
        return self.down(h).reshape(x.shape)


class _KeepFromInput(nnx.Module):
    """A transformer lifter called with a token-keep mask drawn from its input (:func:`_norm_mask` of
    every source token): the mirrored window keeps the same, mirrored, joints."""

    def __init__(self, model: nnx.Module):
        self.model = model

    def __call__(self, x: Array) -> Array:
        m = self.model
        if m.tokens == "joint":
            tokens = x.reshape(x.shape[0], m.num_source, m.in_spec.dim)
        else:
            tokens = x
        return m(x, keep=_norm_mask(tokens, 0.5 * tokens.shape[-1]))


def _lifter(**kwargs: Any) -> Callable[[ChiralSpec, ChiralSpec, nnx.Rngs], nnx.Module]:
    size = dict(frames=3, layers=1, heads=2, width=16, ffn_layers=2, dropout=0.0)
    return lambda i, o, r: _KeepFromInput(ChiralTransformerLifter(i, o, rngs=r, **{**size, **kwargs}))


def _with_trajectory(i: ChiralSpec, o: ChiralSpec, r: nnx.Rngs) -> nnx.Module:
    """The lifting task's pose net with a trajectory head (the root's camera-frame point)."""
    size = dict(filter_widths=(3, 3), channels=22, dropout=0.2, rngs=r)
    return LifterWithTrajectory(ChiralTemporalModel(i, o, **size), ChiralTemporalModel(i, ROOT_SPEC, **size))


# Token layers: H36M joint tokens and joint tokens in a scrambled order (test-time budget).
_TOKEN_PAIRS = ("h36m_2d_to_3d", "scrambled_order")

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
    BatteryCase(
        "dropout_packed_bits_in_basis",
        lambda i, o, r: _InBasis(nn.ChiralDropout(0.25, mask_bits="packed", rngs=r), i, i),
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
        lambda i, o, r: nnx.Sequential(nn.ChiralInvariance(i), nnx.Linear(_invariance_size(i), 5, rngs=r)),
        output="invariant",
        # Parameter-free and elementwise: the edge cases of the even/odd split are what matter.
        pairs=("h36m_2d_to_3d", "only_centers", "no_centers", "all_negated", "hidden_odd_sizes"),
    ),
    BatteryCase(
        "action_net_two_people_padded",
        _action_net(2),
        "sequence",
        output="invariant",
        pairs=("h36m_2d_to_3d",),  # compile-heavy; its layers run on every pair
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
    # The root's x flips with the pose's: on pairs whose outputs are 3D with x negated.
    BatteryCase(
        "temporal_conv_stack_trajectory",
        _with_trajectory,
        "sequence",
        output="out_with_root",
        pairs=("h36m_2d_to_3d", "scrambled_order", "smpl_3d"),
    ),
    # Token sets: the joints are the tokens (random actions from every spec pair), masks from the input.
    BatteryCase(
        "attention_masked_self_cross", lambda i, o, r: _Tokens("attention", i, o, rngs=r), pairs=_TOKEN_PAIRS
    ),
    BatteryCase(
        "layer_norm", lambda i, o, r: _Tokens("layer_norm", i, o, rngs=r), output="in", pairs=_TOKEN_PAIRS
    ),
    BatteryCase(
        "feed_forward_tokens",
        lambda i, o, r: _Tokens("feed_forward", i, o, rngs=r),
        output="in",
        pairs=_TOKEN_PAIRS,
    ),
    BatteryCase(
        "token_embedding",
        lambda i, o, r: _Tokens("token_embedding", i, o, rngs=r),
        output="in",
        pairs=_TOKEN_PAIRS,
    ),
    BatteryCase("transformer_lifter_keep", _lifter(), "sequence", frames=3, pairs=_COMPOSED_PAIRS[:2]),
    BatteryCase(
        "transformer_lifter_frame_tokens",
        _lifter(tokens="frame"),
        "sequence",
        frames=3,
        pairs=_COMPOSED_PAIRS[:1],
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
        pairs=("h36m_2d_to_3d",),  # compile-heavy; its layers run on every pair
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
        "hidden_odd_sizes": (_hidden(37, False), _hidden(23, True)),
        "hidden_wide_from_joints": (sk.H36M.spec(2), ChiralSpec.hidden(1024)),
    }


SPEC_PAIRS: dict[str, tuple[ChiralSpec, ChiralSpec]] = _spec_pairs()


# ---------------------------------------------------------------------------------- functional column


@dataclasses.dataclass(frozen=True)
class FunctionalCase:
    """One example call of a public :mod:`chiral_jax.functional` function, default keyword arguments.

    Attributes:
      function: the name in ``functional.__all__`` it calls.
      call: ``(*args) -> output pytree``; specs and static arguments are closed over.
      args: one builder ``rng -> argument`` per argument (arrays, ``EvenOdd`` features, PRNG keys).
      variant: tells apart several calls of one function (``"even_odd"``: ``EvenOdd`` input).
    """

    function: str
    call: Callable[..., Any]
    args: tuple[Callable[[np.random.Generator], Any], ...]
    variant: str = ""

    @property
    def name(self) -> str:
        return f"{self.function}_{self.variant}" if self.variant else self.function

    def make_args(self, seed: int) -> tuple[Any, ...]:
        rng = np.random.default_rng(seed)
        return tuple(build(rng) for build in self.args)


# Negated channels on both sides, so the activation's oddness check runs.
_S, _T, _INV = H36M.spec(2), H36M.spec(3), ChiralSpec.invariant(5)


def _f32(a: np.ndarray) -> Array:
    return jnp.asarray(a, jnp.float32)


def _feat(*lead: int, eo: bool = False) -> Callable[[np.random.Generator], Any]:
    """``(*lead, _S.size)`` features (non-zero mean), or their ``EvenOdd`` form."""

    def build(r: np.random.Generator) -> Any:
        x = _f32(r.standard_normal((*lead, _S.size)) + 0.5)
        return to_even_odd(x, _S) if eo else x

    return build


def _free(init: Callable[[Array], Any]) -> Callable[[np.random.Generator], Any]:
    """Random values shaped like ``init(key)``'s output: numpy fills ``eval_shape``'s shapes, so no
    initializer compiles."""
    shapes = jax.eval_shape(init, jax.random.key(0))
    return lambda r: jax.tree.map(lambda a: _f32(0.3 * r.standard_normal(a.shape)), shapes)


def _vec(n: int, variance: bool = False) -> Callable[[np.random.Generator], Array]:
    return lambda r: _f32(r.uniform(0.5, 2.0, n) if variance else r.standard_normal(n))


def _key(r: np.random.Generator) -> Array:
    return jax.random.key(int(r.integers(2**31)))


_X, _X_EO, _SEQ, _SEQ_EO = _feat(4), _feat(4, eo=True), _feat(2, 9), _feat(2, 9, eo=True)
_K_LIN = _free(lambda k: tying.init_linear(k, _S, _T))
_K_INV = _free(lambda k: tying.init_linear(k, _S, _INV))
_K_CONV = _free(lambda k: tying.init_conv(k, _S, _T, 3))
_K_DENSE = _free(lambda k: jnp.zeros((3, _S.size, _T.size)))
_BN = (_vec(_S.num_even), _vec(_S.num_orbits, variance=True), _vec(_S.num_orbits), _vec(_S.num_even))

_linear = lambda x, k, b: F.linear(x, k, _S, _T, b)  # noqa: E731
_invariant = lambda x, k, b: F.invariant(x, k, _S, b)  # noqa: E731
_conv1d = lambda x, k, b: F.conv1d(x, k, _S, _T, b)  # noqa: E731
_bn = lambda x, m, v, s, b: F.batch_norm(x, m, v, _S, s, b)  # noqa: E731
_bn_stats = lambda x: F.batch_norm_statistics(x, _S)  # noqa: E731
_dropout = lambda x, k: F.dropout(x, 0.3, k)  # noqa: E731

_HID = ChiralSpec.hidden(8, num_centers=0)
_TOKS = lambda r: _f32(r.standard_normal((2, 17, 8)))  # noqa: E731
_TOKS_EO = lambda r: to_even_odd(_TOKS(r), _HID)  # noqa: E731
_HEADS = lambda r: _f32(r.standard_normal((2, 17, 2, 4)))  # noqa: E731  (batch, tokens, heads, d)
_MASK = lambda r: jnp.asarray(r.random((2, 17)) > 0.3)  # noqa: E731
_EMB = (_vec(TokenSpec.joints(_S, _HID).num_orbits * 4), _vec(TokenSpec.joints(_S, _HID).num_pairs * 4))


def _heads_eo(r: np.random.Generator) -> Any:
    from chiral_jax.basis import EvenOdd

    return EvenOdd(_HEADS(r)[..., :2], _HEADS(r)[..., 2:])


def _embedding(even: Array, odd: Array) -> Any:
    t = TokenSpec.joints(_S, _HID)
    return F.token_embedding({"even": even.reshape(t.num_orbits, 4), "odd": odd.reshape(t.num_pairs, 4)}, t)


_attn = lambda q, k, v, m: F.dot_product_attention(q, k, v, m)  # noqa: E731
_ln = lambda x, s, b: F.layer_norm(x, _HID, s, b)  # noqa: E731
_LN = (_vec(_HID.num_orbits), _vec(_HID.num_even))

_odd_all = lambda x: [F.activation(x, name, _S) for name in F.ODD_ACTIVATIONS]  # noqa: E731
# A Python ``if`` on the verdict: it must be a concrete bool under every transformation.
_if_odd = lambda x: x if F.is_odd_function(jnp.sinh) else -x  # noqa: E731
_EO = "even_odd"

FUNCTIONAL_CASES: tuple[FunctionalCase, ...] = (
    FunctionalCase("linear", _linear, (_X, _K_LIN, _vec(_T.num_even))),
    FunctionalCase("linear", _linear, (_X_EO, _K_LIN, _vec(_T.num_even)), _EO),
    FunctionalCase("invariant", _invariant, (_X, _K_INV, _vec(5))),
    FunctionalCase("invariant", _invariant, (_X_EO, _K_INV, _vec(5)), _EO),
    FunctionalCase("invariance", lambda x: F.invariance(x, _S), (_X,)),
    FunctionalCase("invariance", lambda x: F.invariance(x, _S, mode="abs"), (_X_EO,), _EO),
    FunctionalCase("conv1d", _conv1d, (_SEQ, _K_CONV, _vec(_T.num_even))),
    FunctionalCase("conv1d", _conv1d, (_SEQ_EO, _K_CONV, _vec(_T.num_even)), _EO),
    FunctionalCase("conv1d_dense", F.conv1d_dense, (_SEQ, _K_DENSE, _vec(_T.size))),
    FunctionalCase("batch_norm_statistics", _bn_stats, (_SEQ,)),
    FunctionalCase("batch_norm_statistics", _bn_stats, (_SEQ_EO,), _EO),
    FunctionalCase("batch_norm", _bn, (_SEQ, *_BN)),
    FunctionalCase("batch_norm", _bn, (_SEQ_EO, *_BN), _EO),
    FunctionalCase("dropout", _dropout, (_X, _key)),
    FunctionalCase("dropout", _dropout, (_X_EO, _key), _EO),
    FunctionalCase("activation", lambda x: F.activation(x, "tanh", _S), (_X,)),
    FunctionalCase("activation", lambda x: F.activation(x, "softsign", _S), (_X_EO,), _EO),
    # A user callable: its oddness is probed at trace time, not looked up by name.
    FunctionalCase("activation", lambda x: F.activation(x, jnp.sinh, _S), (_X,), "callable"),
    FunctionalCase("ODD_ACTIVATIONS", _odd_all, (_X,)),
    FunctionalCase("check_activation", lambda x: F.check_activation("hard_tanh", _S)(x), (_X,)),
    FunctionalCase("get_activation", lambda x: F.get_activation("gelu")(x), (_X,)),
    FunctionalCase("is_odd_function", _if_odd, (_X,)),
    FunctionalCase("hard_tanh", F.hard_tanh, (_X,)),
    FunctionalCase("dot_product_attention", _attn, (_HEADS, _HEADS, _HEADS, _MASK)),
    FunctionalCase("dot_product_attention", _attn, (_heads_eo, _heads_eo, _heads_eo, _MASK), _EO),
    FunctionalCase("layer_norm", _ln, (_TOKS, *_LN)),
    FunctionalCase("layer_norm", _ln, (_TOKS_EO, *_LN), _EO),
    FunctionalCase("token_embedding", _embedding, _EMB),
)
"""One example call per public :mod:`chiral_jax.functional` function (and per ``EvenOdd`` form)."""

FUNCTIONAL_TYPES: tuple[str, ...] = ("Padding",)
"""Names in ``functional.__all__`` that are type aliases, with nothing to call."""


def _floating(tree: Any) -> bool:
    return all(jnp.issubdtype(jnp.asarray(leaf).dtype, jnp.floating) for leaf in jax.tree.leaves(tree))


def _assert_trees_close(got: Any, want: Any, what: str, rtol: float = 1e-5, atol: float = 1e-5) -> None:
    """Same structure (an ``EvenOdd`` stays one), dtypes and values to float32 tolerance."""
    if jax.tree.structure(got) != jax.tree.structure(want):
        raise AssertionError(f"{what}: structure {jax.tree.structure(got)} != {jax.tree.structure(want)}")
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        g, w = np.asarray(g), np.asarray(w)
        if g.dtype != w.dtype:
            raise AssertionError(f"{what}: dtype {g.dtype} != {w.dtype}")
        scale = 1.0 + (float(np.max(np.abs(w))) if w.size else 0.0)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol * scale, err_msg=what)


def check_functional_case(
    case: FunctionalCase, transform: Literal["jit", "vmap", "grad"], seed: int = 0
) -> None:
    """Runs ``case`` under ``transform`` and compares it with the eager call.

    ``jit``: ``jit(call)(*args) == call(*args)``. ``vmap``: over two examples stacked on a new axis
    (every argument batched), against the two eager calls. ``grad``: of ``sum(square(output))``
    w.r.t. the floating arguments, jitted against eager.
    """
    args = case.make_args(seed)
    if transform == "jit":
        _assert_trees_close(jax.jit(case.call)(*args), case.call(*args), f"{case.name} under jit")
    elif transform == "vmap":
        other = case.make_args(seed + 1)
        stacked = jax.tree.map(lambda a, b: jnp.stack([a, b]), args, other)
        want = jax.tree.map(lambda a, b: jnp.stack([a, b]), case.call(*args), case.call(*other))
        _assert_trees_close(jax.vmap(case.call)(*stacked), want, f"{case.name} under vmap")
    elif transform == "grad":
        argnums = tuple(i for i, a in enumerate(args) if _floating(a))

        def loss(*a: Any) -> Array:
            return sum(jnp.sum(jnp.square(leaf)) for leaf in jax.tree.leaves(case.call(*a)))

        grad = jax.grad(loss, argnums=argnums)
        _assert_trees_close(jax.jit(grad)(*args), grad(*args), f"{case.name} under grad", rtol=1e-4)
    else:
        raise ValueError(f"unknown transform {transform!r}")
