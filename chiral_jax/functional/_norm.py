"""Chiral batch norm: the statistics of the mirror-augmented batch and the tied affine."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from chiral_jax.basis import EvenOdd
from chiral_jax.functional._common import Array, Features, add_bias, input_even_odd, like_input
from chiral_jax.spec import ChiralSpec, along_last_axis


def batch_norm_statistics(
    x: Features, spec: ChiralSpec, axes: Sequence[int] | None = None
) -> tuple[Array, Array]:
    """Mean and variance of the mirror-augmented batch ``{x, T x}``.

    The augmented mean has no odd part, so it is returned as its even coordinates; the variance is
    shared by the two channels of a pair, so it is returned per channel orbit.

    Args:
      x: ``(..., spec.size)`` or ``EvenOdd``.
      axes: axes reduced over (default: all but the last).

    Returns:
      ``mean_even (num_even,)`` and ``var_orbits (num_orbits,)`` (biased, as in Flax).
    """
    h = input_even_odd(x, spec, "batch_norm input")
    if axes is None:
        axes = tuple(range(h.even.ndim - 1))
    axes = tuple(axes)
    mean_even = jnp.mean(h.even, axis=axes)
    # One pass over the data (as Flax does): E[x^2] - E[x]^2, clipped at 0 against rounding.
    var_even = jnp.maximum(jnp.mean(jnp.square(h.even), axis=axes) - jnp.square(mean_even), 0.0)
    var_odd = jnp.mean(jnp.square(h.odd), axis=axes)  # the augmented batch's odd mean is 0
    p = spec.num_pairs
    # A pair's augmented variance averages its two channels; in the orthonormal basis that is
    # the mean of its u (even) and v (odd) variances.
    var_pairs = 0.5 * (var_even[:p] + var_odd[:p])
    return mean_even, jnp.concatenate([var_pairs, var_even[p:], var_odd[p:]])


def batch_norm(
    x: Features,
    mean_even: Array,
    var_orbits: Array,
    spec: ChiralSpec,
    scale: Array | None = None,
    bias: Array | None = None,
    *,
    epsilon: float = 1e-5,
) -> Features:
    """Normalizes with given statistics (see :func:`batch_norm_statistics`) and the tied affine.

    Args:
      x: ``(..., spec.size)`` or ``EvenOdd``.
      mean_even: ``(num_even,)``; var_orbits: ``(num_orbits,)``.
      scale: free scale ``(num_orbits,)`` or None; bias: free shift ``(num_even,)`` or None.
    """
    h = input_even_odd(x, spec, "batch_norm input")
    inv = jax.lax.rsqrt(var_orbits + epsilon)
    if scale is not None:
        inv = inv * scale
    inv_even, inv_odd = spec.orbits_to_halves(inv)
    even = add_bias((h.even - along_last_axis(mean_even, h.even)) * along_last_axis(inv_even, h.even), bias)
    return like_input(x, EvenOdd(even, h.odd * along_last_axis(inv_odd, h.odd)), spec)
