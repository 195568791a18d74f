"""Skeleton action recognition nets after the Chirality Nets paper's "Ours-Conv" (its Table 4).

Ten layers alternate **spatial** mixing (a dense map across all joints and channels of one frame,
applied to every frame: a 1x1 conv) and **temporal** convolution (kernel 9 over time, "SAME"
padding); every layer is followed by batch norm and ReLU, temporal layers also by dropout. Widths
follow ST-GCN's ten blocks (64 x 4, 128 x 3, 256 x 3); a temporal layer strides 2 where the width
grew since the previous temporal layer, which puts ST-GCN's two downsamplings (at 128 and 256) in
the same places. Then global average pooling over time and people and a linear classifier.

Per-joint layout: the first spatial layer reads the whole frame (joints x channels) and every
later layer works on a per-frame feature vector of the layer's width (joints are folded into
channels). ST-GCN keeps ``joints x width`` features; a dense chiral mixing of those would cost
``joints^2`` times the weights of a graph convolution (18^2 x 256^2 ~ 21 M per layer), while the
per-frame layout keeps the net at ST-GCN's size and makes every spatial layer one matmul.

:class:`ChiralActionNet` runs its first ``invariance_layer`` layers as chiral equivariant layers
(in the even/odd basis), then a :class:`~chiral_jax.nn.ChiralInvariance` layer, then plain layers,
so its class scores are exactly invariant to the mirror of the input clip. :class:`ActionNet` is
the same net from plain layers (the baseline).

Input: ``(batch, people, frames, in_features)`` or ``(batch, people, frames, joints, channels)``;
people fold into the batch (the mirror acts on each person); zero frames / zero people (padding)
are processed like any input and averaged in, as ST-GCN does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from chiral_jax import functional
from chiral_jax.basis import to_even_odd
from chiral_jax.nn import (
    BatchNorm,
    ChiralBatchNorm,
    ChiralConv1d,
    ChiralDropout,
    ChiralInvariance,
    ChiralLinear,
)
from chiral_jax.spec import ChiralSpec

__all__ = [
    "ST_GCN_WIDTHS",
    "ActionNet",
    "ChiralActionNet",
    "dense_conv",
    "layer_kinds",
    "layer_strides",
    "motion_features",
    "motion_spec",
]

Array = jax.Array
ST_GCN_WIDTHS: tuple[int, ...] = (64, 64, 64, 64, 128, 128, 128, 256, 256, 256)
"""Output width of each of the ten layers (ST-GCN's block widths)."""


def layer_kinds(num_layers: int) -> tuple[str, ...]:
    """``"spatial"`` for even layer indices (0, 2, ...), ``"temporal"`` for odd ones."""
    return tuple("spatial" if i % 2 == 0 else "temporal" for i in range(num_layers))


def layer_strides(widths: Sequence[int]) -> tuple[int, ...]:
    """Time stride of each layer: 2 for a temporal layer whose width exceeds the previous temporal
    layer's (ST-GCN downsamples where its width grows), else 1."""
    out, last = [], None
    for kind, w in zip(layer_kinds(len(widths)), widths, strict=True):
        out.append(2 if kind == "temporal" and last is not None and w > last else 1)
        if kind == "temporal":
            last = w
    return tuple(out)


def motion_spec(spec: ChiralSpec) -> ChiralSpec:
    """The spec of :func:`motion_features`: per joint the ``dim`` coordinates, then their ``dim``
    frame-to-frame differences, each negated where the coordinate is."""
    negated = spec.negated + tuple(d + spec.dim for d in spec.negated)
    return ChiralSpec(spec.left, spec.right, spec.center, 2 * spec.dim, negated)


def motion_features(x: Array, dim: int) -> Array:
    """``(N, T, J * dim)`` -> ``(N, T, J * 2 dim)``: per joint its coordinates and their change since
    the previous frame (0 on the first frame). The difference is linear and acts per channel, so it
    commutes with the mirror (:func:`motion_spec`). Padding frames give a jump where they start."""
    n, t, f = x.shape
    p = x.reshape(n, t, f // dim, dim)
    v = jnp.concatenate([jnp.zeros_like(p[:, :1]), p[:, 1:] - p[:, :-1]], axis=1)
    return jnp.concatenate([p, v], axis=-1).reshape(n, t, 2 * f)


def _check_args(widths: Sequence[int], invariance_layer: int | None, kernel_size: int) -> tuple[int, ...]:
    widths = tuple(int(w) for w in widths)
    if not widths or any(w < 1 for w in widths):
        raise ValueError(f"widths must be a non-empty sequence of positive ints, got {widths}")
    if invariance_layer is not None and not 0 <= invariance_layer <= len(widths):
        raise ValueError(f"invariance_layer must be in 0..{len(widths)}, got {invariance_layer}")
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd int, got {kernel_size}")
    return widths


class _ActionBase(nnx.Module):
    """Shared control flow: fold people into the batch, run ``self.layers``, pool, classify."""

    in_features: int
    num_classes: int
    motion_dim: int = 0  # coordinates per joint when motion features are added (0: none)

    def _fold(self, x: Array) -> tuple[Array, int, int]:
        if x.ndim == 5:
            x = x.reshape(*x.shape[:3], -1)
        if x.ndim != 4 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"{type(self).__name__}: expected (batch, people, frames, {self.in_features}) or "
                f"(batch, people, frames, joints, channels) with joints x channels = {self.in_features}, "
                f"got {tuple(x.shape)}"
            )
        b, m, t, f = x.shape
        h = x.reshape(b * m, t, f)
        return (motion_features(h, self.motion_dim) if self.motion_dim else h), b, m

    def _run_layer(self, i: int, h: Any) -> Any:
        raise NotImplementedError

    def features(self, x: Array) -> Array:
        """Pooled invariant (chiral) or plain features ``(batch, widths[-1])`` before the classifier."""
        h, b, m = self._fold(x)
        for i in range(len(self.widths)):
            h = self._run_layer(i, h)
        h = self._after_layers(h)
        pooled = jnp.mean(h, axis=1)  # over time
        return jnp.mean(pooled.reshape(b, m, -1), axis=1)  # over people

    def _after_layers(self, h: Any) -> Array:
        return h

    def __call__(self, x: Array) -> Array:
        """``(batch, people, frames, in_features)`` -> class scores ``(batch, num_classes)``."""
        return self.classifier(self.features(x))


class ChiralActionNet(_ActionBase):
    """Mirror-invariant action classifier (see the module docstring).

    Args:
      in_spec: the input's spec per frame, e.g. ``OPENPOSE18.spec(3)`` for (x, y, score) with x
        negated (the score is not).
      num_classes: class scores out.
      widths: output width of each layer (ten for the paper's net).
      invariance_layer: the invariance layer follows this many layers (0: on the input; the paper
        and the default: 4; ``len(widths)``: after the last layer, before pooling).
      kernel_size: temporal kernel.
      dropout: rate after every temporal layer.
      invariance_mode: see :func:`chiral_jax.functional.invariance`.
      momentum: batch-norm running-average momentum (Flax's convention).
      motion: also feed each joint's frame-to-frame change (:func:`motion_features`).
    """

    def __init__(
        self,
        in_spec: ChiralSpec,
        num_classes: int,
        *,
        widths: Sequence[int] = ST_GCN_WIDTHS,
        invariance_layer: int = 4,
        kernel_size: int = 9,
        dropout: float = 0.5,
        invariance_mode: functional.InvarianceMode = "abs_pairs",
        momentum: float = 0.9,
        motion: bool = False,
        dtype: Any | None = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        self.widths = _check_args(widths, invariance_layer, kernel_size)
        self.in_features, self.num_classes = in_spec.size, num_classes
        self.motion_dim = in_spec.dim if motion else 0
        self.in_spec = in_spec = motion_spec(in_spec) if motion else in_spec  # what layer 0 reads
        self.invariance_layer, self.kinds = invariance_layer, layer_kinds(len(self.widths))
        self.strides = layer_strides(self.widths)
        self.drop = ChiralDropout(dropout, rngs=rngs)
        ops, norms, hidden = [], [], []
        spec: ChiralSpec | int = in_spec
        for i, (kind, w, s) in enumerate(zip(self.kinds, self.widths, self.strides, strict=True)):
            if i == invariance_layer:
                self.invariance = ChiralInvariance(spec, mode=invariance_mode, dtype=dtype)
                spec = self.invariance.out_features
            if i < invariance_layer:
                hid = ChiralSpec.hidden(w)
                if kind == "spatial":
                    ops.append(
                        ChiralLinear(
                            spec, hid, use_bias=False, dtype=dtype, param_dtype=param_dtype, rngs=rngs
                        )
                    )
                else:
                    ops.append(
                        ChiralConv1d(
                            spec,
                            hid,
                            kernel_size,
                            strides=s,
                            padding="SAME",
                            use_bias=False,
                            dtype=dtype,
                            param_dtype=param_dtype,
                            rngs=rngs,
                        )
                    )
                norms.append(ChiralBatchNorm(hid, momentum=momentum, dtype=dtype, param_dtype=param_dtype))
                hidden.append(hid)
                spec = hid
            else:
                ops.append(_plain_op(kind, spec, w, kernel_size, s, dtype, param_dtype, rngs))
                norms.append(BatchNorm(w, momentum=momentum, dtype=dtype, param_dtype=param_dtype, rngs=rngs))
                spec = w
        if invariance_layer == len(self.widths):
            self.invariance = ChiralInvariance(spec, mode=invariance_mode, dtype=dtype)
            spec = self.invariance.out_features
        self.ops, self.norms, self.hidden_specs = nnx.List(ops), nnx.List(norms), tuple(hidden)
        self.classifier = nnx.Linear(spec, num_classes, dtype=dtype, param_dtype=param_dtype, rngs=rngs)

    def _run_layer(self, i: int, h: Any) -> Any:
        if i == 0 and self.invariance_layer > 0:
            h = to_even_odd(h, self.in_spec)
        if i == self.invariance_layer:
            h = self.invariance(h)
        op, norm = self.ops[i], self.norms[i]
        if i >= self.invariance_layer:
            return _plain_layer(self, i, op, norm, h)
        # ReLU per channel: exact on the negation-free hidden specs (the mirror only permutes).
        y = functional.activation(norm(op(h)), "relu", self.hidden_specs[i], check=False)
        return self.drop(y) if self.kinds[i] == "temporal" else y

    def _after_layers(self, h: Any) -> Array:
        return self.invariance(h) if self.invariance_layer == len(self.widths) else h


def _plain_op(
    kind: str,
    features_in: int,
    w: int,
    kernel_size: int,
    stride: int,
    dtype: Any | None,
    param_dtype: Any,
    rngs: nnx.Rngs,
):
    if kind == "spatial":
        return nnx.Linear(features_in, w, use_bias=False, dtype=dtype, param_dtype=param_dtype, rngs=rngs)
    return nnx.Conv(
        features_in,
        w,
        (kernel_size,),
        strides=stride,
        padding="SAME",
        use_bias=False,
        dtype=dtype,
        param_dtype=param_dtype,
        rngs=rngs,
    )


def dense_conv(conv: nnx.Conv, h: Array, stride: int) -> Array:
    """A plain ``nnx.Conv``'s kernel applied ("SAME", ``stride``) with the slice-and-matmul conv the
    chiral layers use, so timings of chiral and plain nets compare the layers, not two conv codes.
    ``h``: ``(batch, time, in)``; the conv's compute dtype applies, as ``nnx.Conv`` would."""
    kernel = conv.kernel[...]
    if conv.dtype is not None:
        h, kernel = h.astype(conv.dtype), kernel.astype(conv.dtype)
    return functional.conv1d_dense(h, kernel, strides=stride, padding="SAME")


def _plain_layer(net: _ActionBase, i: int, op: Any, norm: Any, h: Array) -> Array:
    y = op(h) if net.kinds[i] == "spatial" else dense_conv(op, h, net.strides[i])
    y = jax.nn.relu(norm(y))
    return net.drop(y) if net.kinds[i] == "temporal" else y


class ActionNet(_ActionBase):
    """The plain baseline: :class:`ChiralActionNet`'s architecture from Flax layers (no invariance).

    Args:
      in_features: joints x channels per frame; the rest as :class:`ChiralActionNet`.
      motion_dim: coordinates per joint, to add their frame-to-frame changes
        (:func:`motion_features`; 0: none).
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        *,
        widths: Sequence[int] = ST_GCN_WIDTHS,
        kernel_size: int = 9,
        dropout: float = 0.5,
        momentum: float = 0.9,
        motion_dim: int = 0,
        dtype: Any | None = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        self.widths = _check_args(widths, None, kernel_size)
        self.in_features, self.num_classes = in_features, num_classes
        if motion_dim < 0 or (motion_dim and in_features % motion_dim):
            raise ValueError(f"motion_dim must be 0 or divide in_features {in_features}, got {motion_dim}")
        self.motion_dim = int(motion_dim)
        self.kinds, self.strides = layer_kinds(len(self.widths)), layer_strides(self.widths)
        self.drop = ChiralDropout(dropout, rngs=rngs)
        ops, norms, f = [], [], in_features * (2 if motion_dim else 1)
        for kind, w, s in zip(self.kinds, self.widths, self.strides, strict=True):
            ops.append(_plain_op(kind, f, w, kernel_size, s, dtype, param_dtype, rngs))
            norms.append(BatchNorm(w, momentum=momentum, dtype=dtype, param_dtype=param_dtype, rngs=rngs))
            f = w
        self.ops, self.norms = nnx.List(ops), nnx.List(norms)
        self.classifier = nnx.Linear(f, num_classes, dtype=dtype, param_dtype=param_dtype, rngs=rngs)

    def _run_layer(self, i: int, h: Array) -> Array:
        return _plain_layer(self, i, self.ops[i], self.norms[i], h)
