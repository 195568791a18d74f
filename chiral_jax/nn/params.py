"""Free-parameter storage shared by the layers: empty blocks are not stored.

Some tied blocks are empty by construction: the odd block into an invariant output
``(in.num_odd, 0)``, the odd block out of an input without odd channels, the even bias of an output
whose channels are all odd. They have nothing to learn, and orbax cannot save zero-size arrays, so
a layer keeps ``None`` in their place and rebuilds the zeros when it materialises its weights.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from chiral_jax import tying

__all__ = ["block", "free_blocks", "stored"]

Array = jax.Array


def stored(array: Array) -> nnx.Param | None:
    """``nnx.Param(array)``, or None when ``array`` has no elements."""
    return nnx.Param(array) if array.size else None


def block(param: nnx.Param | None, shape: tuple[int, ...], dtype: Any) -> Array:
    """The stored block's value, or zeros of ``shape`` and ``dtype`` where nothing was stored."""
    return jnp.zeros(shape, dtype) if param is None else param[...]


def free_blocks(
    even: nnx.Param | None, odd: nnx.Param | None, shapes: dict[str, tuple[int, ...]], dtype: Any
) -> tying.KernelFree:
    """``{"even", "odd"}`` free kernel blocks of ``shapes`` from possibly unstored parameters."""
    return {"even": block(even, shapes["even"], dtype), "odd": block(odd, shapes["odd"], dtype)}
