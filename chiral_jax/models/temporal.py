"""Temporal convolutional pose lifters after VideoPose3D (Pavllo et al., CVPR 2019).

``expand conv (fw[0])`` -> blocks of ``[dilated conv (fw[i], dilation = prod(fw[:i])) + BN + act +
dropout, 1x1 conv + BN + act + dropout]`` with residuals (center slice; right-aligned when causal)
-> ``1x1 shrink conv``. Input ``(batch, frames, in_spec.size)``, output ``(batch, frames -
receptive_field + 1, out_spec.size)``.

:class:`ChiralTemporalModel` keeps its activations in the even/odd basis from the input split to
the output merge; :class:`TemporalModel` is the plain baseline built from ``nnx.Conv``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from chiral_jax import functional
from chiral_jax.basis import EvenOdd, from_even_odd, to_even_odd
from chiral_jax.nn import ChiralActivation, ChiralBatchNorm, ChiralConv1d, ChiralDropout
from chiral_jax.spec import ChiralSpec

Array = jax.Array
Features = Array | EvenOdd


def _check_widths(filter_widths: Sequence[int]) -> tuple[int, ...]:
    widths = tuple(int(w) for w in filter_widths)
    if not widths or any(w < 1 or w % 2 == 0 for w in widths):
        raise ValueError(f"filter_widths must be a non-empty sequence of odd ints, got {filter_widths}")
    return widths


def _slice_time(x: Features, start: int, stop: int) -> Features:
    return jax.tree.map(lambda a: a[..., start:stop, :], x)


def _residual_slice(x: Features, frames_out: int, causal: bool) -> Features:
    """The frames of ``x`` aligned with a block output of ``frames_out`` frames."""
    frames_in = (x.even if isinstance(x, EvenOdd) else x).shape[-2]
    lost = frames_in - frames_out
    start = lost if causal else lost // 2
    return _slice_time(x, start, start + frames_out)


class ChiralTemporalModel(nnx.Module):
    """Equivariant VideoPose3D lifter.

    Args:
      in_spec: spec of the 2D input, e.g. ``H36M.spec(2)``.
      out_spec: spec of the 3D output, e.g. ``H36M.spec(3)``.
      filter_widths: e.g. ``(3, 3, 3)`` (27 frames) or ``(3, 3, 3, 3, 3)`` (243 frames).
      channels: hidden width, or a hidden :class:`ChiralSpec`.
      negated: for an int width: hidden channels negated by the mirror (the paper's choice, with
        tanh) or not (any activation, e.g. ReLU).
      activation: checked against the hidden spec.
      dropout: rate after every hidden activation.
      causal: residual slices right-aligned (no future frames for the last output).
    """

    def __init__(
        self,
        in_spec: ChiralSpec,
        out_spec: ChiralSpec,
        *,
        filter_widths: Sequence[int] = (3, 3, 3),
        channels: int | ChiralSpec = 1024,
        negated: bool = False,
        activation: str | Callable[[Array], Array] = "relu",
        dropout: float = 0.25,
        causal: bool = False,
        momentum: float = 0.9,
        dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        self.in_spec, self.out_spec = in_spec, out_spec
        self.filter_widths = _check_widths(filter_widths)
        self.causal = causal
        hid = channels if isinstance(channels, ChiralSpec) else ChiralSpec.hidden(channels, negated=negated)
        self.hidden_spec = hid
        self.act = ChiralActivation(hid, activation)
        self.drop = ChiralDropout(dropout, rngs=rngs)
        bn = lambda: ChiralBatchNorm(hid, momentum=momentum, dtype=dtype)  # noqa: E731
        conv = lambda i, o, k, d=1: ChiralConv1d(  # noqa: E731
            i, o, k, kernel_dilation=d, use_bias=False, dtype=dtype, rngs=rngs
        )
        self.expand_conv = conv(in_spec, hid, self.filter_widths[0])
        self.expand_bn = bn()
        convs, bns = [], []
        dilation = self.filter_widths[0]
        for w in self.filter_widths[1:]:
            convs += [conv(hid, hid, w, dilation), conv(hid, hid, 1)]
            bns += [bn(), bn()]
            dilation *= w
        self.layers_conv = nnx.List(convs)
        self.layers_bn = nnx.List(bns)
        self.shrink = ChiralConv1d(hid, out_spec, 1, dtype=dtype, rngs=rngs)

    @property
    def receptive_field(self) -> int:
        return math.prod(self.filter_widths)

    def __call__(self, x: Array) -> Array:
        """(batch, frames, in_spec.size) -> (batch, frames - receptive_field + 1, out_spec.size)."""
        if x.ndim != 3 or x.shape[-2] < self.receptive_field:
            raise ValueError(
                f"ChiralTemporalModel: expected (batch, frames >= {self.receptive_field}, "
                f"{self.in_spec.size}), got {tuple(x.shape)}"
            )
        h = to_even_odd(x, self.in_spec)
        h = self.drop(self.act(self.expand_bn(self.expand_conv(h))))
        for i in range(0, len(self.layers_conv), 2):
            y = self.drop(self.act(self.layers_bn[i](self.layers_conv[i](h))))
            y = self.drop(self.act(self.layers_bn[i + 1](self.layers_conv[i + 1](y))))
            res = _residual_slice(h, y.even.shape[-2], self.causal)
            h = jax.tree.map(jnp.add, res, y)
        return from_even_odd(self.shrink(h), self.out_spec)


class TemporalModel(nnx.Module):
    """The plain VideoPose3D baseline from Flax layers (``nnx.Conv``, ``nnx.BatchNorm``)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        filter_widths: Sequence[int] = (3, 3, 3),
        channels: int = 1024,
        activation: str | Callable[[Array], Array] = "relu",
        dropout: float = 0.25,
        causal: bool = False,
        momentum: float = 0.9,
        dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        self.in_features, self.out_features = in_features, out_features
        self.filter_widths = _check_widths(filter_widths)
        self.causal = causal
        self.fn = functional.get_activation(activation)
        self.drop = nnx.Dropout(dropout, rngs=rngs)
        bn = lambda: nnx.BatchNorm(channels, momentum=momentum, param_dtype=dtype, rngs=rngs)  # noqa: E731
        conv = lambda i, o, k, d=1: nnx.Conv(  # noqa: E731
            i, o, (k,), kernel_dilation=(d,), padding="VALID", use_bias=False, param_dtype=dtype, rngs=rngs
        )
        self.expand_conv = conv(in_features, channels, self.filter_widths[0])
        self.expand_bn = bn()
        convs, bns = [], []
        dilation = self.filter_widths[0]
        for w in self.filter_widths[1:]:
            convs += [conv(channels, channels, w, dilation), conv(channels, channels, 1)]
            bns += [bn(), bn()]
            dilation *= w
        self.layers_conv = nnx.List(convs)
        self.layers_bn = nnx.List(bns)
        self.shrink = nnx.Conv(channels, out_features, (1,), param_dtype=dtype, rngs=rngs)

    @property
    def receptive_field(self) -> int:
        return math.prod(self.filter_widths)

    def __call__(self, x: Array) -> Array:
        if x.ndim != 3 or x.shape[-2] < self.receptive_field or x.shape[-1] != self.in_features:
            raise ValueError(
                f"TemporalModel: expected (batch, frames >= {self.receptive_field}, "
                f"{self.in_features}), got {tuple(x.shape)}"
            )
        h = self.drop(self.fn(self.expand_bn(self.expand_conv(x))))
        for i in range(0, len(self.layers_conv), 2):
            y = self.drop(self.fn(self.layers_bn[i](self.layers_conv[i](h))))
            y = self.drop(self.fn(self.layers_bn[i + 1](self.layers_conv[i + 1](y))))
            h = _residual_slice(h, y.shape[-2], self.causal) + y
        return self.shrink(h)
