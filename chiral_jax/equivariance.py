"""Numerical equivariance checks for any function: :func:`assert_equivariant` and friends.

``assert_equivariant(fn, x, in_spec, out_spec)`` checks ``fn(T_in x) == T_out fn(x)`` (chex), for a
layer, a whole model or your own code. This module needs only JAX and chex (no Flax), so
``import chiral_jax`` stays light; the layer battery lives in :mod:`chiral_jax.testing.battery`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np

from chiral_jax.spec import ChiralSpec

__all__ = [
    "assert_equivariant",
    "assert_samplewise_equivariant",
    "default_tolerance",
    "flip_average",
    "max_violation",
]

Array = jax.Array


BF16_TOLERANCE = (2e-2, 2e-2)
"""``(rtol, atol)`` of equivariance checks in bfloat16 (and float16), ``atol`` relative to the
output's scale: bfloat16 keeps 8 significant bits (relative spacing 2**-7), the mirrored input's sums
run in another order and every layer rounds again; a leak between the even and odd parts is still
an O(1) error."""


def default_tolerance(dtype: Any) -> tuple[float, float]:
    """``(rtol, atol)`` relative to the output's scale: loose enough for reassociated sums, tight
    enough that any leak between the even and odd parts (an O(1) error) fails."""
    if jnp.dtype(dtype) == jnp.float64:
        return 1e-10, 1e-10
    if jnp.issubdtype(dtype, jnp.floating) and jnp.finfo(dtype).bits < 32:
        return BF16_TOLERANCE
    return 1e-4, 1e-4


def _transform_tree(specs: Any, x: Any) -> Any:
    return jax.tree.map(lambda s, a: s.transform(a), specs, x, is_leaf=lambda s: isinstance(s, ChiralSpec))


def assert_equivariant(
    fn: Callable[[Any], Any],
    x: Any,
    in_spec: ChiralSpec | Any,
    out_spec: ChiralSpec | Any,
    *,
    rtol: float | None = None,
    atol: float | None = None,
) -> None:
    """Asserts ``fn(T_in(x)) == T_out(fn(x))`` (to tolerance).

    Args:
      fn: the function to check (deterministic: fix its randomness, e.g. with :func:`as_function`).
      x: an input array ``(..., in_spec.size)``, or a pytree of arrays.
      in_spec, out_spec: specs of the input and output (or pytrees of specs matching ``x`` and
        ``fn(x)``; ``ChiralSpec.invariant(n)`` for invariant outputs).
      rtol, atol: tolerances; ``atol`` is scaled by ``1 + max|fn(x)|``. Default by dtype
        (:func:`default_tolerance`).

    Raises:
      AssertionError: naming the largest violation.
    """
    y = fn(x)
    y_of_mirror = fn(_transform_tree(in_spec, x))
    mirror_of_y = _transform_tree(out_spec, y)
    leaves = jax.tree.leaves(y)
    d_rtol, d_atol = default_tolerance(leaves[0].dtype)
    rtol = d_rtol if rtol is None else rtol
    atol = d_atol if atol is None else atol
    scale = 1.0 + max(float(jnp.max(jnp.abs(leaf))) if leaf.size else 0.0 for leaf in leaves)
    try:
        chex.assert_trees_all_close(y_of_mirror, mirror_of_y, rtol=rtol, atol=atol * scale)
    except AssertionError as err:
        worst = max(
            float(jnp.max(jnp.abs(a - b))) if a.size else 0.0
            for a, b in zip(jax.tree.leaves(y_of_mirror), jax.tree.leaves(mirror_of_y), strict=True)
        )
        raise AssertionError(
            f"not equivariant: max |F(T_in x) - T_out F(x)| = {worst:.3g} (output scale {scale:.3g}, "
            f"rtol={rtol}, atol={atol}x scale)\n{err}"
        ) from None


def assert_samplewise_equivariant(
    fn: Callable[[Array], Array],
    x: Array,
    in_spec: ChiralSpec,
    out_spec: ChiralSpec,
    *,
    rtol: float | None = None,
    atol: float | None = None,
) -> None:
    """Mirroring sample 0 of a batch (axis 0) mirrors its output and leaves the others unchanged.

    Stronger than :func:`assert_equivariant` for layers that mix a batch (batch norm): plain batch
    statistics pass the whole-batch test but fail this one.
    """
    y = fn(x)
    x_one = x.at[0].set(in_spec.transform(x[0]))
    want = y.at[0].set(out_spec.transform(y[0]))
    got = fn(x_one)
    d_rtol, d_atol = default_tolerance(y.dtype)
    scale = 1.0 + float(jnp.max(jnp.abs(y)))
    worst = float(jnp.max(jnp.abs(got - want)))
    if not np.allclose(
        got, want, rtol=d_rtol if rtol is None else rtol, atol=(d_atol if atol is None else atol) * scale
    ):
        raise AssertionError(
            f"not equivariant sample by sample: mirroring sample 0 alone changed the outputs by up to "
            f"{worst:.3g} from the expected (output scale {scale:.3g})"
        )


def max_violation(fn: Callable[[Any], Any], x: Any, in_spec: ChiralSpec, out_spec: ChiralSpec) -> float:
    """``max |fn(T_in x) - T_out fn(x)|`` (a number, for reports and notebooks)."""
    y = np.asarray(fn(x))
    return float(np.max(np.abs(np.asarray(fn(in_spec.transform(x))) - out_spec.transform(y))))


def flip_average(
    apply: Callable[[Any], Any], in_spec: Any, out_spec: Any
) -> Callable[[Any], Any]:
    """Test-time flip averaging: ``x -> 0.5 * (F(x) + T_out F(T_in x))``.

    ``apply`` maps ``(..., in_spec.size)`` to ``(..., out_spec.size)`` (``in_spec``/``out_spec``
    may be pytrees of specs matching the input and output trees). Both passes are one traced
    function, so under ``jax.jit`` they compile (and fuse) together. For a chiral net the average
    equals ``F(x)`` up to rounding; for a plain net it is the symmetrised prediction.
    """

    def averaged(x: Any) -> Any:
        y = apply(x)
        y_mirror = _transform_tree(out_spec, apply(_transform_tree(in_spec, x)))
        return jax.tree.map(lambda a, b: 0.5 * (a + b), y, y_mirror)

    return averaged
