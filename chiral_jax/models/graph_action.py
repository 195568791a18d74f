"""Skeleton action recognition nets that keep one feature vector per joint (graph convolutions).

:class:`~chiral_jax.models.ChiralActionNet` folds the joints into the channels in its first layer;
here every block keeps the joints apart, as ST-GCN does: a graph conv over the skeleton's three
partitions (the joint itself, its parent, its children; :func:`chiral_jax.skeletons.graph_partitions`)
with a learned residual adjacency, batch norm and ReLU, then a temporal conv along each joint's
track (kernel ``kernel_size``, "SAME"; stride 2 where the width grows), batch norm, a residual
connection, ReLU and dropout. Global average pooling over joints, time and people, then a linear
classifier. The channel maps are shared by all joints, so a block costs ``J`` times the multiply-adds
of a per-frame layer of its width but holds only ``K + kernel_size`` channel maps.

:class:`ChiralGraphActionNet` ties every block to the mirror (chiral channel maps on the
negation-free hidden specs, a mirror-symmetric adjacency, batch norm with mirror-augmented
statistics), pools, and reads the pooled features through a :class:`~chiral_jax.nn.ChiralInvariance`
layer, so its class scores are exactly invariant to the mirror of the clip. :class:`GraphActionNet`
is the same net from plain layers.

Input: ``(batch, people, frames, joints * channels)`` or ``(batch, people, frames, joints, channels)``;
internally ``(batch * people, joints, frames, channels)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from chiral_jax import functional
from chiral_jax.basis import EvenOdd, to_even_odd
from chiral_jax.models.action import dense_conv, motion_spec
from chiral_jax.nn import (
    BatchNorm,
    ChiralBatchNorm,
    ChiralConv1d,
    ChiralDropout,
    ChiralGraphConv,
    ChiralInvariance,
    GraphConv,
)
from chiral_jax.skeletons import graph_partitions
from chiral_jax.spec import ChiralSpec
from chiral_jax.tokens import TokenSpec

__all__ = ["GRAPH_WIDTHS", "ChiralGraphActionNet", "GraphActionNet", "block_strides"]

Array = jax.Array
Features = Array | EvenOdd
GRAPH_WIDTHS: tuple[int, ...] = (32, 32, 32, 64, 64, 64)
"""Output width of each block (stride 2 into the fourth)."""


def block_strides(widths: Sequence[int]) -> tuple[int, ...]:
    """Time stride of each block: 2 where the width grows over the previous block's, else 1."""
    return tuple(2 if i and w > widths[i - 1] else 1 for i, w in enumerate(widths))


def _check(
    widths: Sequence[int], kernel_size: int, strides: Sequence[int] | None
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    widths = tuple(int(w) for w in widths)
    if not widths or any(w < 1 for w in widths):
        raise ValueError(f"widths must be a non-empty sequence of positive ints, got {widths}")
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd int, got {kernel_size}")
    strides = block_strides(widths) if strides is None else tuple(int(s) for s in strides)
    if len(strides) != len(widths) or any(s < 1 for s in strides):
        raise ValueError(f"strides must be one positive int per block ({len(widths)}), got {strides}")
    return widths, strides


class _GraphBase(nnx.Module):
    """Shared control flow: fold people, run the blocks on ``(N, J, T, C)``, pool, classify."""

    num_joints: int
    dim: int
    bones: bool = False
    bone_parents: tuple[int, ...] = ()

    def _set_bones(self, bones: bool, parents: Sequence[int]) -> None:
        self.bones = bool(bones)
        self.bone_parents = tuple(j if p < 0 else int(p) for j, p in enumerate(parents))

    def _build_blocks(
        self,
        first: Any,
        channels: Callable[[int], Any],
        spatial: Callable[[Any, Any], Any],
        temporal: Callable[[Any, Any, int, int], Any],
        norm: Callable[[Any], Any],
        kernel_size: int,
    ) -> Any:
        """Makes every block's layers, in one order for both nets (the seeded draws follow it).

        ``first``: the input's channels (a spec or a count); ``channels(w)``: a block's output
        channels; the factories make a graph conv ``(c_in, c_out)``, a temporal conv ``(c_in,
        c_out, kernel, stride)`` and a batch norm ``(c)``. Returns the last block's channels."""
        layers: dict[str, list[Any]] = {k: [] for k in ("sp", "t", "sn", "tn", "r", "rn")}
        c = first
        for i, (w, s) in enumerate(zip(self.widths, self.strides, strict=True)):
            h = channels(w)
            layers["sp"].append(spatial(c, h))
            layers["t"].append(temporal(h, h, kernel_size, s))
            layers["sn"].append(norm(h))
            layers["tn"].append(norm(h))
            shortcut = bool(i) and (c != h or s != 1)  # the first block has none
            layers["r"].append(temporal(c, h, 1, s) if shortcut else None)
            layers["rn"].append(norm(h) if shortcut else None)
            c = h
        self.spatial, self.temporal = nnx.List(layers["sp"]), nnx.List(layers["t"])
        self.spatial_norms, self.temporal_norms = nnx.List(layers["sn"]), nnx.List(layers["tn"])
        self.residual, self.residual_norms = nnx.List(layers["r"]), nnx.List(layers["rn"])
        return c

    def _fold(self, x: Array) -> tuple[Array, int, int]:
        j, c = self.num_joints, self.dim
        if x.ndim == 4 and x.shape[-1] == j * c:
            x = x.reshape(*x.shape[:3], j, c)
        if x.ndim != 5 or x.shape[-2:] != (j, c):
            raise ValueError(
                f"{type(self).__name__}: expected (batch, people, frames, {j * c}) or "
                f"(batch, people, frames, {j}, {c}), got {tuple(x.shape)}"
            )
        b, m, t = x.shape[:3]
        h = x.reshape(b * m, t, j, c)
        if self.bones:  # each joint's offset from its parent (0 at the root): mirrors like the joint
            h = jnp.concatenate([h, h - h[:, :, self.bone_parents]], axis=-1)
        return jnp.transpose(h, (0, 2, 1, 3)), b, m

    def _temporal(self, conv: Any, h: Features, stride: int) -> Features:
        """A conv along every joint's track: ``(N, J, T, C)`` folded to ``(N J, T, C)`` and back."""
        n, j = h.shape[:2]
        y = self._conv(conv, jax.tree.map(lambda a: a.reshape(n * j, *a.shape[2:]), h), stride)
        return jax.tree.map(lambda a: a.reshape(n, j, *a.shape[1:]), y)

    def _conv(self, conv: Any, h: Features, stride: int) -> Features:
        raise NotImplementedError

    def _enter(self, h: Array) -> Features:
        return h

    def _dropout(self, h: Features) -> Features:
        return self.drop(h)

    def _relu(self, i: int, h: Features) -> Features:
        return jax.nn.relu(h)

    def features(self, x: Array) -> Array:
        """Pooled features ``(batch, F)`` before the classifier (invariant for the chiral net)."""
        h, b, m = self._fold(x)
        h = self._enter(h)
        for i in range(len(self.widths)):
            s = self.strides[i]
            y = self._relu(i, self.spatial_norms[i](self.spatial[i](h)))
            y = self.temporal_norms[i](self._temporal(self.temporal[i], y, s))
            if self.residual[i] is not None:
                y = jax.tree.map(jnp.add, y, self.residual_norms[i](self._temporal(self.residual[i], h, s)))
            elif i:  # identity shortcut (same width, stride 1)
                y = jax.tree.map(jnp.add, y, h)
            h = self._dropout(self._relu(i, y))
        pooled = jax.tree.map(lambda a: jnp.mean(jnp.mean(a, axis=(1, 2)).reshape(b, m, -1), axis=1), h)
        return self._head_features(pooled)

    def _head_features(self, pooled: Features) -> Array:
        return pooled

    def __call__(self, x: Array) -> Array:
        """Clips -> class scores ``(batch, num_classes)``."""
        return self.classifier(self.features(x))


class ChiralGraphActionNet(_GraphBase):
    """Mirror-invariant graph action classifier (see the module docstring).

    Args:
      in_spec: the pose spec of one frame (joints, ``dim`` channels per joint, the negated ones),
        e.g. ``KINECT_V1.spec(3)``.
      parents: the skeleton's kinematic tree (mirror-symmetric), for the partitions.
      num_classes: class scores out.
      widths: output width of each block.
      kernel_size: temporal kernel.
      dropout: rate after every block.
      strides: time stride of each block (default :func:`block_strides`; the first block's stride
        drops the input's frame rate, there is no shortcut around it).
      learn_adjacency: learn a tied residual adjacency per block.
      bones: also feed each joint's offset from its parent (its bone; 0 at the root), which
        mirrors like the joint itself (the tree is mirror-symmetric).
      invariance_mode: see :func:`chiral_jax.functional.invariance`.
      momentum: batch-norm running-average momentum (Flax's convention).
    """

    def __init__(
        self,
        in_spec: ChiralSpec,
        parents: Sequence[int],
        num_classes: int,
        *,
        widths: Sequence[int] = GRAPH_WIDTHS,
        kernel_size: int = 9,
        dropout: float = 0.2,
        strides: Sequence[int] | None = None,
        learn_adjacency: bool = True,
        bones: bool = False,
        invariance_mode: functional.InvarianceMode = "abs_pairs",
        momentum: float = 0.9,
        dtype: Any | None = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        self.widths, self.strides = _check(widths, kernel_size, strides)
        self.num_joints, self.dim, self.num_classes = in_spec.num_joints, in_spec.dim, num_classes
        partitions = graph_partitions(parents, in_spec.joint_permutation)
        self._set_bones(bones, parents)
        tokens = TokenSpec.pose(motion_spec(in_spec) if bones else in_spec)
        self.in_channel_spec = tokens.channel_spec
        self.orbit_index = tuple(int(k) for k in tokens.orbits["index"])
        self.num_orbits = max(self.orbit_index) + 1
        kw = dict(dtype=dtype, param_dtype=param_dtype)
        conv = dict(padding="SAME", use_bias=False, rngs=rngs, **kw)
        last = self._build_blocks(
            tokens.channel_spec,
            ChiralSpec.hidden,
            lambda c, h: ChiralGraphConv(
                tokens.with_channels(c),
                h,
                partitions,
                learn_adjacency=learn_adjacency,
                joint_axis=1,
                rngs=rngs,
                **kw,
            ),
            lambda c, h, k, s: ChiralConv1d(c, h, k, strides=s, **conv),
            lambda h: ChiralBatchNorm(h, momentum=momentum, **kw),
            kernel_size,
        )
        self.drop = ChiralDropout(dropout, rngs=rngs)
        self.invariance = ChiralInvariance(last, mode=invariance_mode, dtype=dtype)
        self.classifier = nnx.Linear(self.invariance.out_features, num_classes, rngs=rngs, **kw)

    def _enter(self, h: Array) -> Features:
        # The even/odd basis of every joint's channels: dropout masks there are exact for any mask.
        return to_even_odd(h, self.in_channel_spec)

    def _relu(self, i: int, h: Features) -> Features:
        # Exact on the negation-free hidden specs (the mirror only permutes channels); block i's
        # spec is its batch norms'.
        return functional.activation(h, "relu", self.spatial_norms[i].spec, check=False)

    def _conv(self, conv: Any, h: Features, stride: int) -> Features:
        return conv(h)

    def _dropout(self, h: Features) -> Features:
        """Dropout with one mask per joint orbit (a joint and its mirror partner share it), drawn
        on the even/odd coordinates: exactly equivariant for every mask, like the per-frame net's."""
        if self.drop.deterministic or self.drop.rate == 0.0:
            return h
        n, _, t = h.shape[:3]
        ones = jax.tree.map(lambda a: jnp.ones((n, self.num_orbits, t, a.shape[-1]), a.dtype), h)
        mask = self.drop(ones)
        return jax.tree.map(lambda a, k: a * k[:, self.orbit_index], h, mask)

    def _head_features(self, pooled: Features) -> Array:
        return self.invariance(pooled)


class GraphActionNet(_GraphBase):
    """The plain baseline: :class:`ChiralGraphActionNet`'s architecture from plain layers.

    Args:
      num_joints, dim: the input's joints and channels per joint; ``parents`` as the chiral net's
        (no symmetry needed); the rest as :class:`ChiralGraphActionNet`.
    """

    def __init__(
        self,
        num_joints: int,
        dim: int,
        parents: Sequence[int],
        num_classes: int,
        *,
        widths: Sequence[int] = GRAPH_WIDTHS,
        kernel_size: int = 9,
        dropout: float = 0.2,
        strides: Sequence[int] | None = None,
        learn_adjacency: bool = True,
        bones: bool = False,
        momentum: float = 0.9,
        dtype: Any | None = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        self.widths, self.strides = _check(widths, kernel_size, strides)
        self.num_joints, self.dim, self.num_classes = int(num_joints), int(dim), num_classes
        partitions = graph_partitions(parents)
        if partitions.shape[1] != self.num_joints:
            raise ValueError(f"GraphActionNet: {partitions.shape[1]} parents for {num_joints} joints")
        self._set_bones(bones, parents)
        kw = dict(dtype=dtype, param_dtype=param_dtype)
        conv = dict(padding="SAME", use_bias=False, rngs=rngs, **kw)
        c = self._build_blocks(
            self.dim * (2 if bones else 1),
            int,
            lambda c, w: GraphConv(
                c, w, partitions, learn_adjacency=learn_adjacency, joint_axis=1, rngs=rngs, **kw
            ),
            lambda c, w, k, s: nnx.Conv(c, w, (k,), **conv),
            lambda w: BatchNorm(w, momentum=momentum, rngs=rngs, **kw),
            kernel_size,
        )
        self.drop = ChiralDropout(dropout, rngs=rngs)
        self.classifier = nnx.Linear(c, num_classes, rngs=rngs, **kw)

    def _conv(self, conv: Any, h: Array, stride: int) -> Array:
        return dense_conv(conv, h, stride)
