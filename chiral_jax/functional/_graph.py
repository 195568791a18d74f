"""Chiral graph convolution over the joints of a skeleton (features keep one vector per joint).

``y_i = sum_k sum_j A_k[i, j] (x_j @ W_k)``: every joint's features go through the same chiral
channel map ``W_k`` of partition ``k`` and are mixed across joints by the ``(J, J)`` matrix
``A_k``. The mirror permutes the joints (``P``) and acts on every joint's channels; the layer is
equivariant when each ``W_k`` is chiral (:func:`chiral_jax.tying.init_graph`) and each ``A_k``
commutes with the joint permutation, ``A_k[P][:, P] = A_k``
(:func:`chiral_jax.tying.graph_adjacency`): then ``T(y) = graph_conv(T(x))`` with
``T(x)_j = channel_spec.transform(x_{P j})``.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from chiral_jax import tying
from chiral_jax.basis import EvenOdd
from chiral_jax.functional._common import Array, Features, input_even_odd, like_input, matmul
from chiral_jax.spec import ChiralSpec


def _partition_matmul(x: Array, kernel: Array, precision: Any) -> Array:
    """``(..., c) @ (K, c, d)`` -> ``(..., K, d)`` as one 2-D matmul (see ``matmul``)."""
    k, c, d = kernel.shape
    y = matmul(x, jnp.transpose(kernel, (1, 0, 2)).reshape(c, k * d), precision)
    return y.reshape(*x.shape[:-1], k, d)


def _mix_joints(z: Array, adjacency: Array, joint_axis: int) -> Array:
    """``z`` ``(..., K, d)`` with joints on ``joint_axis`` -> ``(..., d)``: sum over k and j."""
    zj = jnp.moveaxis(z, (joint_axis, z.ndim - 2), (0, 1))  # (J, K, rest..., d)
    y = jnp.tensordot(adjacency, zj, axes=([0, 2], [1, 0]))  # (I, rest..., d)
    return jnp.moveaxis(y, 0, joint_axis)


def graph_conv(
    x: Features,
    kernel: tying.KernelFree,
    adjacency: Array,
    in_spec: ChiralSpec,
    out_spec: ChiralSpec,
    *,
    joint_axis: int = -2,
    precision: Any = None,
) -> Features:
    """Chiral graph convolution ``(..., J, ..., in_spec.size) -> (..., J, ..., out_spec.size)``.

    Args:
      x: per-joint features (array or ``EvenOdd`` in ``in_spec``'s basis, the channel spec of one
        joint), joints on ``joint_axis`` (counted on ``x``'s array shape, channels last).
      kernel: ``{"even": (K, nE_in, nE_out), "odd": (K, nO_in, nO_out)}``, one chiral channel map
        per partition (:func:`chiral_jax.tying.init_graph`).
      adjacency: ``(K, J, J)`` joint mixing per partition, row ``i`` reads into joint ``i``; it must
        commute with the mirror's joint permutation for the layer to be equivariant
        (:func:`chiral_jax.tying.graph_adjacency` builds such matrices).
    """
    h = input_even_odd(x, in_spec, "graph_conv input")
    ndim = h.even.ndim
    axis = joint_axis % ndim
    if axis == ndim - 1:
        raise ValueError(f"graph_conv: joint_axis {joint_axis} is the channel axis of a {ndim}-d input")
    k, j = adjacency.shape[0], h.even.shape[axis]
    if adjacency.shape != (k, j, j) or kernel["even"].shape[0] != k or kernel["odd"].shape[0] != k:
        raise ValueError(
            f"graph_conv: expected adjacency (K, {j}, {j}) and K kernels per half, got adjacency "
            f"{tuple(adjacency.shape)}, kernels {tuple(kernel['even'].shape)} / {tuple(kernel['odd'].shape)}"
        )
    even = _mix_joints(_partition_matmul(h.even, kernel["even"], precision), adjacency, axis)
    odd = _mix_joints(_partition_matmul(h.odd, kernel["odd"], precision), adjacency, axis)
    return like_input(x, EvenOdd(even, odd), out_spec)


def graph_conv_dense(x: Array, kernel: Array, adjacency: Array, *, joint_axis: int = -2) -> Array:
    """The plain graph convolution with the same conventions (``kernel`` ``(K, c_in, c_out)``),
    for baselines."""
    axis = joint_axis % x.ndim
    return _mix_joints(_partition_matmul(x, kernel, None), adjacency, axis)
