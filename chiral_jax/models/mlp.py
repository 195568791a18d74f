"""Multi-layer perceptrons: :class:`ChiralMLP` and its plain baseline :class:`MLP`."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from chiral_jax import functional
from chiral_jax.basis import EvenOdd, from_even_odd, to_even_odd
from chiral_jax.nn import ChiralActivation, ChiralLinear
from chiral_jax.spec import ChiralSpec

Array = jax.Array


class ChiralMLP(nnx.Module):
    """Equivariant MLP ``(..., in_spec.size) -> (..., out_spec.size)``.

    Splits into the even/odd basis once, stays there through every hidden layer, merges once.

    Args:
      in_spec, out_spec: specs of input and output (e.g. ``H36M.spec(2)`` -> ``H36M.spec(3)``).
      hidden: one spec per hidden layer, or ints (then ``ChiralSpec.hidden(n, negated=...)``).
      activation: name or callable; checked against every hidden spec (a non-odd activation on a
        spec with negated channels is an error).
      negated: for int hidden sizes: whether hidden channels are negated by the mirror.
      dtype, param_dtype: compute and parameter dtypes (:mod:`chiral_jax.nn.precision`).
    """

    def __init__(
        self,
        in_spec: ChiralSpec,
        out_spec: ChiralSpec,
        hidden: Sequence[int | ChiralSpec] = (256, 256),
        *,
        activation: str | Callable[[Array], Array] = "relu",
        negated: bool = False,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        self.in_spec, self.out_spec, self.dtype = in_spec, out_spec, dtype
        specs = [h if isinstance(h, ChiralSpec) else ChiralSpec.hidden(h, negated=negated) for h in hidden]
        dims = [in_spec, *specs, out_spec]
        self.layers = nnx.List(
            [
                ChiralLinear(a, b, dtype=dtype, param_dtype=param_dtype, rngs=rngs)
                for a, b in itertools.pairwise(dims)
            ]
        )
        self.activations = nnx.List([ChiralActivation(s, activation) for s in specs])

    def __call__(self, x: Array) -> Array:
        h: EvenOdd = to_even_odd(x, self.in_spec)
        for layer, act in zip(self.layers[:-1], self.activations, strict=True):
            h = act(layer(h))
        return from_even_odd(self.layers[-1](h), self.out_spec)


class MLP(nnx.Module):
    """The plain baseline: ``nnx.Linear`` layers with the same widths and activation."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: Sequence[int] = (256, 256),
        *,
        activation: str | Callable[[Array], Array] = "relu",
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        dims = [in_features, *hidden, out_features]
        self.dtype = dtype
        self.layers = nnx.List(
            [
                nnx.Linear(a, b, dtype=dtype, param_dtype=param_dtype, rngs=rngs)
                for a, b in itertools.pairwise(dims)
            ]
        )
        self.fn = functional.get_activation(activation)

    def __call__(self, x: Array) -> Array:
        for layer in self.layers[:-1]:
            x = self.fn(layer(x))
        return self.layers[-1](x)
