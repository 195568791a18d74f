"""Temporal convolutional pose lifters after VideoPose3D (Pavllo et al., CVPR 2019).

``expand conv (fw[0])`` -> blocks of ``[conv (fw[i]) + BN + act + dropout, 1x1 conv + BN + act +
dropout]`` with residuals -> ``1x1 shrink conv``. Two ways to run the same weights:

* dilated (evaluation; ``strided=False``): block ``i`` dilates by ``prod(fw[:i])``; input
  ``(batch, frames, in)`` -> output ``(batch, frames - receptive_field + 1, out)``, residuals are
  center slices (right-aligned when causal);
* strided (training; ``strided=True``): stride = kernel width, no dilation; each window of
  ``receptive_field`` input frames gives one output frame, with far fewer FLOPs than the dilated
  net on the same window. Residuals take the center (causal: last) frame of every group.

:class:`ChiralTemporalModel` keeps its activations in the even/odd basis from the input split to
the output merge. :class:`TemporalModel` is the plain baseline: Flax layers (``nnx.Conv``,
``nnx.BatchNorm``), run through the same slice-and-matmul conv as the chiral net so that timings
compare the layers, not two conv implementations.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp
from flax import nnx

from chiral_jax import functional, tying
from chiral_jax.basis import EvenOdd, from_even_odd, to_even_odd
from chiral_jax.nn import BatchNorm, ChiralActivation, ChiralBatchNorm, ChiralConv1d, ChiralDropout
from chiral_jax.nn.precision import cast
from chiral_jax.spec import ChiralSpec

__all__ = ["ChiralTemporalModel", "TemporalModel", "hidden_spec_for"]

Array = jax.Array
Features = Array | EvenOdd


def _check_widths(filter_widths: Sequence[int]) -> tuple[int, ...]:
    widths = tuple(int(w) for w in filter_widths)
    if not widths or any(w < 1 or w % 2 == 0 for w in widths):
        raise ValueError(f"filter_widths must be a non-empty sequence of odd ints, got {filter_widths}")
    return widths


def hidden_spec_for(channels: int | ChiralSpec, negated: bool) -> ChiralSpec:
    return channels if isinstance(channels, ChiralSpec) else ChiralSpec.hidden(channels, negated=negated)


def _time_slice(x: Features, start: int, stop: int | None, step: int = 1) -> Features:
    return jax.tree.map(lambda a: a[..., start:stop:step, :], x)


def _frames(x: Features) -> int:
    return (x.even if isinstance(x, EvenOdd) else x).shape[-2]


class _TemporalBase(nnx.Module):
    """The VideoPose3D control flow; subclasses provide the layers and the input/output basis."""

    filter_widths: tuple[int, ...]
    causal: bool
    strided: bool

    @property
    def receptive_field(self) -> int:
        return math.prod(self.filter_widths)

    def _conv(self, layer: Any, x: Features, width: int, dilation: int, strided: bool) -> Features:
        raise NotImplementedError

    def _check_input(self, x: Array, channels: int, strided: bool) -> None:
        r = self.receptive_field
        frames = x.shape[-2] if x.ndim == 3 else None
        ok = x.ndim == 3 and x.shape[-1] == channels and frames >= r and (not strided or frames % r == 0)
        if not ok:
            need = f"a multiple of {r}" if strided else f">= {r}"
            raise ValueError(
                f"{type(self).__name__}: expected (batch, frames {need}, {channels}) "
                f"({'strided' if strided else 'dilated'} mode), got {tuple(x.shape)}"
            )

    def _body(self, h: Features, strided: bool) -> Features:
        widths = self.filter_widths
        h = self.drop(self.act(self.expand_bn(self._conv(self.expand_conv, h, widths[0], 1, strided))))
        dilation = widths[0]
        for i, w in enumerate(widths[1:]):
            conv, pointwise = self.layers_conv[2 * i], self.layers_conv[2 * i + 1]
            bn, bn_pointwise = self.layers_bn[2 * i], self.layers_bn[2 * i + 1]
            y = self.drop(self.act(bn(self._conv(conv, h, w, dilation, strided))))
            y = self.drop(self.act(bn_pointwise(self._conv(pointwise, y, 1, 1, strided))))
            if strided:
                res = _time_slice(h, w - 1 if self.causal else w // 2, None, w)
            else:
                lost = _frames(h) - _frames(y)
                start = lost if self.causal else lost // 2
                res = _time_slice(h, start, start + _frames(y))
            h = jax.tree.map(jnp.add, res, y)
            dilation *= w
        return self._conv(self.shrink, h, 1, 1, strided)


class ChiralTemporalModel(_TemporalBase):
    """Equivariant VideoPose3D lifter.

    Args:
      in_spec: spec of the 2D input, e.g. ``H36M.spec(2)``.
      out_spec: spec of the 3D output, e.g. ``H36M.spec(3)``.
      filter_widths: e.g. ``(3, 3, 3)`` (27 frames) or ``(3, 3, 3, 3, 3)`` (243 frames).
      channels: hidden width, or a hidden :class:`ChiralSpec` (any even/odd split).
      negated: for an int width: hidden channels negated by the mirror (the paper's choice, with
        tanh) or not (any activation, e.g. ReLU).
      activation: checked against the hidden spec.
      dropout: rate after every hidden activation.
      dropout_bits: how the dropout masks' random bits are drawn ("byte", the default, | "word" |
        "packed"; :func:`chiral_jax.functional.dropout`): same distribution, cheaper draws.
      dropout_basis: ``"even_odd"`` (default: exact equivariance per mask) or ``"channels"``
        (plain channel dropout, as PyTorch chirality nets train; :class:`~chiral_jax.nn.ChiralDropout`).
      causal: no future frames (residuals right-aligned).
      strided: run as the strided training net by default (``__call__(strided=...)`` overrides).
      momentum: batch norm's running-average momentum, Flax's convention (0.9 = PyTorch's 0.1).
      init: ``"torch"`` (default: PyTorch's ``Conv1d`` init, which VideoPose3D's recipe was tuned
        with; each even/odd block drawn as a PyTorch layer of its own half size) or ``"lecun"``
        (Flax's default); :func:`chiral_jax.tying.initializers`, docs/design.md "Initialization".
      dtype: compute dtype (e.g. ``jnp.bfloat16``; None: the parameters'); param_dtype: parameters'
        (batch-norm statistics stay float32; :mod:`chiral_jax.nn.precision`).
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
        dropout_bits: functional.MaskBits | None = None,
        dropout_basis: Literal["even_odd", "channels"] = "even_odd",
        causal: bool = False,
        strided: bool = False,
        momentum: float = 0.9,
        init: tying.InitScheme = "torch",
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        self.in_spec, self.out_spec, self.dtype = in_spec, out_spec, dtype
        self.filter_widths = _check_widths(filter_widths)
        self.causal, self.strided = causal, strided
        hid = self.hidden_spec = hidden_spec_for(channels, negated)
        self.act = ChiralActivation(hid, activation)
        self.drop = ChiralDropout(dropout, mask_bits=dropout_bits, basis=dropout_basis, spec=hid, rngs=rngs)

        def conv(a: ChiralSpec, b: ChiralSpec, k: int, bias: bool = False) -> ChiralConv1d:
            kernel_init, bias_init = tying.initializers(init, k * a.num_even, "init")
            return ChiralConv1d(
                a, b, k, use_bias=bias, kernel_init=kernel_init, bias_init=bias_init if bias else None,
                dtype=dtype, param_dtype=param_dtype, rngs=rngs,
            )  # fmt: skip

        def bn() -> ChiralBatchNorm:
            return ChiralBatchNorm(hid, momentum=momentum, dtype=dtype, param_dtype=param_dtype)

        self.expand_conv, self.expand_bn = conv(in_spec, hid, self.filter_widths[0]), bn()
        self.layers_conv = nnx.List([conv(hid, hid, k) for w in self.filter_widths[1:] for k in (w, 1)])
        self.layers_bn = nnx.List([bn() for _ in self.filter_widths[1:] for _ in range(2)])
        self.shrink = conv(hid, out_spec, 1, bias=True)

    def _conv(self, layer: ChiralConv1d, x: Features, width: int, dilation: int, strided: bool) -> Features:
        if strided:
            return layer(x, strides=width, kernel_dilation=1)
        return layer(x, strides=1, kernel_dilation=dilation)

    def __call__(self, x: Array, *, strided: bool | None = None) -> Array:
        """(batch, frames, in_spec.size) -> (batch, frames', out_spec.size); see the module doc."""
        strided = self.strided if strided is None else strided
        self._check_input(x, self.in_spec.size, strided)
        return from_even_odd(self._body(to_even_odd(x, self.in_spec), strided), self.out_spec)


class TemporalModel(_TemporalBase):
    """The plain VideoPose3D baseline from Flax layers (same arguments, ReLU by default; the same
    :class:`chiral_jax.nn.ChiralDropout`, so ``dropout_bits`` draws the same kind of masks).

    ``init="torch"`` (default) draws kernels and the shrink bias as PyTorch's ``Conv1d`` does
    (U(+-1/sqrt(in * k))); ``"lecun"``: Flax's lecun-normal kernels and zero bias."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        filter_widths: Sequence[int] = (3, 3, 3),
        channels: int = 1024,
        activation: str | Callable[[Array], Array] = "relu",
        dropout: float = 0.25,
        dropout_bits: functional.MaskBits | None = None,
        causal: bool = False,
        strided: bool = False,
        momentum: float = 0.9,
        init: tying.InitScheme = "torch",
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        self.in_features, self.out_features, self.dtype = in_features, out_features, dtype
        self.filter_widths = _check_widths(filter_widths)
        self.causal, self.strided = causal, strided
        self.act = functional.get_activation(activation)
        # The same (plain, per-channel) dropout as the chiral net: timings compare the layers.
        self.drop = ChiralDropout(dropout, mask_bits=dropout_bits, rngs=rngs)

        def conv(a: int, b: int, k: int, bias: bool = False) -> nnx.Conv:
            kernel_init, bias_init = tying.initializers(init, k * a, "init")
            return nnx.Conv(
                a, b, (k,), padding="VALID", use_bias=bias, kernel_init=kernel_init, bias_init=bias_init,
                dtype=dtype, param_dtype=param_dtype, rngs=rngs,
            )  # fmt: skip

        def bn() -> BatchNorm:  # Flax's, with the momentum as state (chiral_jax.nn.BatchNorm)
            return BatchNorm(channels, momentum=momentum, dtype=dtype, param_dtype=param_dtype, rngs=rngs)

        self.expand_conv, self.expand_bn = conv(in_features, channels, self.filter_widths[0]), bn()
        self.layers_conv = nnx.List(
            [conv(channels, channels, k) for w in self.filter_widths[1:] for k in (w, 1)]
        )
        self.layers_bn = nnx.List([bn() for _ in self.filter_widths[1:] for _ in range(2)])
        self.shrink = conv(channels, out_features, 1, bias=True)

    def _conv(self, layer: nnx.Conv, x: Array, width: int, dilation: int, strided: bool) -> Array:
        bias = None if layer.bias is None else layer.bias[...]
        x, kernel, bias = cast((x, layer.kernel[...], bias), layer.dtype)
        if strided:
            return functional.conv1d_dense(x, kernel, bias, strides=width)
        return functional.conv1d_dense(x, kernel, bias, dilation=dilation)

    def __call__(self, x: Array, *, strided: bool | None = None) -> Array:
        strided = self.strided if strided is None else strided
        self._check_input(x, self.in_features, strided)
        return self._body(x, strided)
