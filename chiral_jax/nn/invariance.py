"""The chiral invariance layer: equivariant features in, mirror-invariant features out."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from chiral_jax import functional
from chiral_jax.basis import EvenOdd
from chiral_jax.spec import ChiralSpec

__all__ = ["ChiralInvariance"]

Array = jax.Array


class ChiralInvariance(nnx.Module):
    """``(..., spec.size)`` (or ``EvenOdd``) -> ``(..., out_features)`` invariant features.

    Parameter-free: keeps the even part, maps the odd part through an even function
    (:func:`chiral_jax.functional.invariance`; ``mode="abs_pairs"`` keeps the magnitudes and the
    relative signs of neighbouring odd coordinates, so only the choice between ``x`` and its
    mirror image is lost). Layers after it may be plain: anything computed from invariant features
    is invariant.

    Attributes:
      spec: the input's spec; mode: see the function; out_features: output channels.
    """

    def __init__(
        self,
        spec: ChiralSpec,
        *,
        mode: functional.InvarianceMode = "abs_pairs",
        dtype: Any | None = None,
        param_dtype: Any = jnp.float32,
    ):
        del param_dtype  # no parameters; accepted for a uniform constructor
        self.spec, self.mode, self.dtype = spec, mode, dtype
        self.out_features = functional.invariance_size(spec, mode)

    def __call__(self, x: Array | EvenOdd) -> Array:
        if self.dtype is not None:
            x = jax.tree.map(lambda a: a.astype(self.dtype), x)
        return functional.invariance(x, self.spec, mode=self.mode)
