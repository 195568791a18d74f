"""The wrappers and builders behind the composed cases of :data:`chiral_jax.testing.battery.BATTERY`.

Each turns a layer or net into ``module(x)`` on ``(batch, in.size)`` or ``(batch, time, in.size)``
inputs with one array out (a basis change, a recurrent read-out, token masks drawn from the input,
two-person clips, a forecaster fed its own future), so that one battery line checks it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from chiral_jax import functional as F
from chiral_jax import nn
from chiral_jax.basis import from_even_odd, to_even_odd
from chiral_jax.models import (
    ChiralActionNet,
    ChiralGraphActionNet,
    ChiralTemporalModel,
    ChiralTransformerLifter,
)
from chiral_jax.models.seq2seq import ChiralPoseForecaster
from chiral_jax.models.trajectory import ROOT_SPEC, LifterWithTrajectory
from chiral_jax.skeletons import graph_partitions
from chiral_jax.spec import ChiralSpec
from chiral_jax.tokens import TokenSpec, joint_channel_spec

Array = jax.Array
Builder = Callable[[ChiralSpec, ChiralSpec, nnx.Rngs], nnx.Module]


class InBasis(nnx.Module):
    """Runs a layer on even/odd features (checks the ``EvenOdd`` path of layers)."""

    def __init__(self, layer: nnx.Module, in_spec: ChiralSpec, out_spec: ChiralSpec):
        self.layer, self.in_spec, self.out_spec = layer, in_spec, out_spec

    def __call__(self, x: Array) -> Array:
        return from_even_odd(self.layer(to_even_odd(x, self.in_spec)), self.out_spec)


def hidden_spec(n: int, negated: bool) -> ChiralSpec:
    return ChiralSpec.hidden(n, negated=negated)


class Recurrent(nnx.Module):
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


def recurrent(
    kind: str, hidden: str, **kwargs: Any
) -> Callable[[ChiralSpec, ChiralSpec, nnx.Rngs], nnx.Module]:
    """Builds a :class:`Recurrent` case; ``hidden``: ``"out"`` (the output's joint layout),
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
            h = hidden_spec(2 * i.size + 1, hidden == "negated")
        return Recurrent(layer_cls(i, h, rngs=r, **kwargs), i, o, rngs=r)

    return build


class TwoPeoplePadded(nnx.Module):
    """``(batch, time, in) -> (batch, classes)``: an action net on 2-person clips with padding.

    Person 2 is person 1 reversed in time and halved; both get 3 zero frames appended (padding),
    so the mirror of the input mirrors every person of the clip and leaves the padding zero."""

    def __init__(self, net: nnx.Module):
        self.net = net

    def __call__(self, x: Array) -> Array:
        clip = jnp.stack([x, 0.5 * x[:, ::-1]], axis=1)
        return self.net(jnp.pad(clip, ((0, 0), (0, 0), (0, 3), (0, 0))))


def invariance_size(spec: ChiralSpec) -> int:
    return F.invariance_size(spec)


def action_net(invariance_layer: int) -> Callable[[ChiralSpec, ChiralSpec, nnx.Rngs], nnx.Module]:
    widths = (6, 8, 8, 10)  # chiral, chiral, invariance, plain, plain (stride 2)
    return lambda i, o, r: TwoPeoplePadded(
        ChiralActionNet(
            i, 5, widths=widths, invariance_layer=invariance_layer, kernel_size=3, dropout=0.3, rngs=r
        )
    )


def star_parents(spec: ChiralSpec) -> tuple[int, ...]:
    """A mirror-symmetric tree on any spec's joints: every joint hangs from the first center joint,
    which the mirror fixes (specs without a center joint are refused)."""
    if not spec.center:
        raise ValueError("star_parents: the spec has no center joint to hang the tree from")
    root = spec.center[0]
    return tuple(-1 if j == root else root for j in range(spec.num_joints))


def graph_action_net(i: ChiralSpec, o: ChiralSpec, r: nnx.Rngs) -> nnx.Module:
    """The graph action net (two blocks, the second strided, a learned adjacency perturbed away
    from zero so the tying is exercised) on 2-person padded clips."""
    net = ChiralGraphActionNet(i, star_parents(i), 5, widths=(6, 8), kernel_size=3, dropout=0.3, rngs=r)
    for layer in net.spatial:
        layer.adjacency[...] = jax.random.normal(r.params(), layer.adjacency.shape)
    return TwoPeoplePadded(net)


class GraphTokens(nnx.Module):
    """Graph convs on a pose's joint tokens: ``in_spec`` poses -> hidden (learned adjacency,
    perturbed from zero) -> ``in_spec`` poses again (shape-preserving)."""

    def __init__(self, in_spec: ChiralSpec, *, rngs: nnx.Rngs):
        self.in_spec = in_spec
        tok, hid = TokenSpec.pose(in_spec), ChiralSpec.hidden(9)
        parts = graph_partitions(star_parents(in_spec), in_spec.joint_permutation)
        self.up = nn.ChiralGraphConv(tok, hid, parts, rngs=rngs)
        self.down = nn.ChiralGraphConv(self.up.out_tokens, tok.channel_spec, parts, rngs=rngs)
        for layer in (self.up, self.down):
            layer.adjacency[...] = jax.random.normal(rngs.params(), layer.adjacency.shape)

    def __call__(self, x: Array) -> Array:
        t = x.reshape(*x.shape[:-1], self.in_spec.num_joints, self.in_spec.dim)
        return self.down(jax.nn.relu(self.up(t))).reshape(x.shape)


def norm_mask(tokens: Array, threshold: float = 1.0) -> Array:
    """A key / keep mask from the tokens themselves: a token's squared norm is invariant under its
    channel mirror, so the mirrored input carries the mirrored mask (the tokens keep their flags)."""
    return jnp.sum(jnp.square(tokens), axis=-1) > threshold


class Tokens(nnx.Module):
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
            self.layer = nn.ChiralFeedForward(hid, hidden_spec(9, False), layers=3, rngs=rngs)
        elif kind == "token_embedding":
            self.layer = nn.ChiralTokenEmbedding(TokenSpec.pose(in_spec).with_channels(hid), rngs=rngs)
        else:
            raise ValueError(f"unknown token layer kind {kind!r}")

    def __call__(self, x: Array) -> Array:
        tokens = x.reshape(*x.shape[:-1], self.in_spec.num_joints, self.in_spec.dim)
        h = self.up(tokens)
        if self.kind == "attention":
            h = self.layer(h, mask=norm_mask(tokens))
            q = jnp.broadcast_to(self.queries(), (*h.shape[:-2], *self.queries().shape))
            y = self.head(self.cross(q, h, mask=norm_mask(tokens)))
            return y.reshape(*x.shape[:-1], self.out_spec.size)
        if self.kind == "token_embedding":
            e = self.layer()
            h = h + e.reshape((1,) * (h.ndim - 2) + e.shape)
        else:
            h = self.layer(h)
        return self.down(h).reshape(x.shape)


class KeepFromInput(nnx.Module):
    """A transformer lifter called with a token-keep mask drawn from its input (:func:`norm_mask` of
    every source token): the mirrored window keeps the same, mirrored, joints. A lifter with twist
    tokens returns ``(batch, J * (dim + 2))``: each output joint's coordinates then its
    ``(cos, sin)`` (:func:`twist_spec`)."""

    def __init__(self, model: nnx.Module):
        self.model = model

    def __call__(self, x: Array) -> Array:
        m = self.model
        if m.tokens == "joint":
            tokens = x.reshape(x.shape[0], m.num_source, m.in_spec.dim)
        else:
            tokens = x
        y = m(x, keep=norm_mask(tokens, 0.5 * tokens.shape[-1]))
        if isinstance(y, dict):  # twist tokens: joints and twists joint-major, as twist_spec lays out
            joints = y["joints"].reshape(*y["twist"].shape[:-1], m.out_spec.dim)
            y = jnp.concatenate([joints, y["twist"]], axis=-1).reshape(x.shape[0], -1)
        return y


def lifter(**kwargs: Any) -> Callable[[ChiralSpec, ChiralSpec, nnx.Rngs], nnx.Module]:
    size = dict(frames=3, layers=1, heads=2, width=16, ffn_layers=2, dropout=0.0)
    return lambda i, o, r: KeepFromInput(ChiralTransformerLifter(i, o, rngs=r, **{**size, **kwargs}))


def with_trajectory(i: ChiralSpec, o: ChiralSpec, r: nnx.Rngs) -> nnx.Module:
    """The lifting task's pose net with a trajectory head (the root's camera-frame point)."""
    size = dict(filter_widths=(3, 3), channels=22, dropout=0.2, rngs=r)
    return LifterWithTrajectory(ChiralTemporalModel(i, o, **size), ChiralTemporalModel(i, ROOT_SPEC, **size))


def twist_spec(out_spec: ChiralSpec) -> ChiralSpec:
    """Joints and twists, joint-major: ``out_spec``'s coordinates then ``(cos phi, sin phi)`` per
    joint; the mirror flips the sine (as the IK task's ``H36M.spec(5, negated=(0, 4))``)."""
    o = out_spec
    return ChiralSpec(o.left, o.right, o.center, o.dim + 2, (*o.negated, o.dim + 1))


def ik_temporal(i: ChiralSpec, o: ChiralSpec, r: nnx.Rngs) -> nnx.Module:
    """The IK task's temporal lifter: VideoPose3D's strided training net onto joints and twists
    (:func:`twist_spec`), ReLU on hidden channels the mirror permutes (the chiral variant)."""
    return ChiralTemporalModel(
        i,
        twist_spec(o),
        filter_widths=(3, 3),
        channels=hidden_spec(24, False),
        dropout=0.2,
        strided=True,
        rngs=r,
    )


class Forecast(nnx.Module):
    """``(batch, time, in) -> (batch, horizon, in)``: a forecaster in training, as the forecasting
    task calls it: the first ``time - horizon`` frames observed, the last ``horizon`` its targets
    (teacher forcing draws per sample and step, frozen with the module's RNG state)."""

    def __init__(self, model: nnx.Module):
        self.model = model

    def __call__(self, x: Array) -> Array:
        h = self.model.horizon
        return self.model(x[:, :-h], x[:, -h:])


def forecaster(i: ChiralSpec, o: ChiralSpec, r: nnx.Rngs) -> nnx.Module:
    """The forecasting task's chiral seq2seq net (int width, stacked LSTM, residual decoding,
    normalised inside, teacher forcing 0.5, dropout between layers) on ``in_spec`` poses."""
    net = ChiralPoseForecaster(
        i, hidden=12, num_layers=2, cell="lstm", horizon=4, teacher_forcing=0.5, dropout_rate=0.3, rngs=r
    )
    return Forecast(net)
