"""Graph convolution over skeleton joints: :class:`ChiralGraphConv` and its plain twin :class:`GraphConv`.

Features keep one vector per joint, ``(..., J, ..., C)``; every joint shares the channel maps (one
per partition) and the partitions' ``(J, J)`` mixing matrices spread them along the skeleton
(:func:`chiral_jax.functional.graph_conv`). Both layers learn a residual adjacency on top of the
fixed partitions (zero at the start, as in adaptive graph nets); the chiral layer ties it to the
mirror (:func:`chiral_jax.tying.graph_adjacency`), the plain one leaves it free.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from chiral_jax import functional, tying
from chiral_jax.basis import EvenOdd
from chiral_jax.nn.params import free_blocks, stored
from chiral_jax.nn.precision import cast
from chiral_jax.spec import ChiralSpec
from chiral_jax.tokens import TokenSpec

__all__ = ["ChiralGraphConv", "GraphConv"]

Array = jax.Array


def _check_partitions(partitions: Any, num_tokens: int | None, what: str) -> np.ndarray:
    a = np.asarray(partitions, np.float32)
    if a.ndim != 3 or a.shape[1] != a.shape[2] or (num_tokens is not None and a.shape[1] != num_tokens):
        want = "(K, J, J)" if num_tokens is None else f"(K, {num_tokens}, {num_tokens})"
        raise ValueError(f"{what}: partitions must be {want}, got shape {a.shape}")
    return a


class ChiralGraphConv(nnx.Module):
    """Equivariant graph conv on joint tokens ``(..., J, ..., C_in) -> (..., J, ..., C_out)``.

    Args:
      tokens: the mirror on the input: joint permutation and each joint's channel spec
        (``TokenSpec.pose(pose_spec)`` for raw coordinates).
      out_spec: each joint's output channel spec (``ChiralSpec.hidden(w)``).
      partitions: ``(K, J, J)`` fixed mixing matrices that commute with the joint permutation
        (:func:`chiral_jax.skeletons.graph_partitions`); checked here.
      learn_adjacency: also learn a tied residual ``(K, J, J)`` adjacency (starts at zero).
      joint_axis: the joints' axis of the input array.

    Attributes:
      kernel_even: (K, nE_in, nE_out); kernel_odd: (K, nO_in, nO_out); adjacency: (K, J, J) free
      residual or None.
    """

    def __init__(
        self,
        tokens: TokenSpec,
        out_spec: ChiralSpec,
        partitions: Any,
        *,
        learn_adjacency: bool = True,
        joint_axis: int = -2,
        kernel_init: tying.Initializer = tying.default_kernel_init,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        base = _check_partitions(partitions, tokens.num_tokens, "ChiralGraphConv")
        perm = tokens.perm_array
        if not np.allclose(base[:, perm][:, :, perm], base):
            raise ValueError(
                "ChiralGraphConv: the partitions do not commute with the tokens' mirror permutation "
                f"{tuple(perm)}; the layer would not be equivariant"
            )
        self.tokens, self.in_spec, self.out_spec = tokens, tokens.channel_spec, out_spec
        self.partitions, self.joint_axis, self.dtype, self.param_dtype = base, joint_axis, dtype, param_dtype
        free = tying.init_graph(
            rngs.params(), self.in_spec, out_spec, base.shape[0], kernel_init=kernel_init, dtype=param_dtype
        )
        self.shapes = {k: tuple(v.shape) for k, v in free.items()}
        self.kernel_even, self.kernel_odd = stored(free["even"]), stored(free["odd"])
        self.adjacency = nnx.Param(jnp.zeros(base.shape, param_dtype)) if learn_adjacency else None

    @property
    def out_tokens(self) -> TokenSpec:
        return self.tokens.with_channels(self.out_spec)

    @property
    def mixing(self) -> Array:
        """The ``(K, J, J)`` joint mixing in use (fixed partitions plus the tied residual)."""
        if self.adjacency is None:
            return jnp.asarray(self.partitions, self.param_dtype)
        return tying.graph_adjacency(self.adjacency[...], self.partitions, self.tokens.permutation)

    def __call__(self, x: Array | EvenOdd) -> Array | EvenOdd:
        kernel = free_blocks(self.kernel_even, self.kernel_odd, self.shapes, self.param_dtype)
        x, kernel, mixing = cast((x, kernel, self.mixing), self.dtype)
        return functional.graph_conv(
            x, kernel, mixing, self.in_spec, self.out_spec, joint_axis=self.joint_axis
        )


class GraphConv(nnx.Module):
    """The plain graph conv ``(..., J, ..., c_in) -> (..., J, ..., c_out)`` (baselines): one free
    ``(c_in, c_out)`` map per partition, a free residual adjacency (zero at the start).

    Attributes:
      kernel: (K, c_in, c_out); adjacency: (K, J, J) or None.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        partitions: Any,
        *,
        learn_adjacency: bool = True,
        joint_axis: int = -2,
        kernel_init: tying.Initializer = tying.default_kernel_init,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        base = _check_partitions(partitions, None, "GraphConv")
        self.partitions, self.joint_axis, self.dtype, self.param_dtype = base, joint_axis, dtype, param_dtype
        keys = jax.random.split(rngs.params(), base.shape[0])
        self.kernel = nnx.Param(
            jnp.stack([kernel_init(k, (in_features, out_features), param_dtype) for k in keys])
        )
        self.adjacency = nnx.Param(jnp.zeros(base.shape, param_dtype)) if learn_adjacency else None

    @property
    def mixing(self) -> Array:
        base = jnp.asarray(self.partitions, self.param_dtype)
        return base if self.adjacency is None else base + self.adjacency[...]

    def __call__(self, x: Array) -> Array:
        x, kernel, mixing = cast((x, self.kernel[...], self.mixing), self.dtype)
        return functional.graph_conv_dense(x, kernel, mixing, joint_axis=self.joint_axis)
