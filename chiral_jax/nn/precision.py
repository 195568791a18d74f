"""Mixed precision: the compute dtype of a layer, and switching a built model's compute dtype.

Convention (every layer of :mod:`chiral_jax.nn` and model of :mod:`chiral_jax.models`): keyword-only
``dtype`` (the compute dtype: inputs and the weights materialised from the free parameters are cast
to it; None keeps today's behaviour, computing in the inputs' and parameters' dtypes) and
``param_dtype`` (the free parameters' storage, float32 by default). Batch-norm statistics are
computed from float32 copies of the activations and kept in float32 whatever the compute dtype.
Mirroring is a permutation and sign flips, exact in any float format, so a bfloat16 net is exactly
as equivariant as its arithmetic is reproducible; reassociated sums give ~1e-2 relative
differences (the battery's bfloat16 tolerance,
:data:`chiral_jax.equivariance.BF16_TOLERANCE`).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = ["cast", "compute_dtype", "set_compute_dtype", "statistics_input"]


def cast(tree: Any, dtype: Any) -> Any:
    """Every floating leaf of ``tree`` (arrays, ``EvenOdd`` features, kernel dicts) cast to ``dtype``;
    ``tree`` itself when ``dtype`` is None. None leaves stay None."""
    if dtype is None:
        return tree

    def f(a: Any) -> Any:
        return a.astype(dtype) if jnp.issubdtype(jnp.asarray(a).dtype, jnp.floating) else a

    return jax.tree.map(f, tree)


def statistics_input(x: Any) -> Any:
    """``x`` with every floating leaf of less than 32 bits upcast to float32 (batch-norm statistics)."""

    def f(a: Any) -> Any:
        return a.astype(jnp.float32) if jnp.finfo(a.dtype).bits < 32 else a

    return jax.tree.map(f, x)


def set_compute_dtype(module: nnx.Module, dtype: Any) -> nnx.Module:
    """Sets the compute ``dtype`` of every submodule that has one (in place; returns ``module``).

    For a built model (e.g. the battery's bfloat16 column): the same as having passed ``dtype`` to
    every constructor. Flax's own layers (``nnx.Conv``, ``nnx.BatchNorm``...) have a ``dtype``
    attribute too and are switched alike.
    """
    for _, m in nnx.iter_graph(module):
        if isinstance(m, nnx.Module) and hasattr(m, "dtype"):
            m.dtype = dtype
    return module


def compute_dtype(name: str, key: str = "train.dtype") -> Any:
    """A config's dtype name -> the models' compute dtype: ``"float32"`` -> None (float32
    throughout), ``"bfloat16"`` -> ``jnp.bfloat16`` (float32 parameters and batch-norm statistics);
    ``key`` names the config key in the error."""
    dtypes = {"float32": None, "bfloat16": jnp.bfloat16}
    if name not in dtypes:
        raise ValueError(f"{key} must be float32 or bfloat16, got {name!r}")
    return dtypes[name]
