"""Elementwise activations checked against a spec, and the parameter-free invariance layer."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from chiral_jax.basis import EvenOdd, check_even_odd
from chiral_jax.functional._common import Array, Features, input_even_odd
from chiral_jax.spec import ChiralSpec

_SQRT_HALF = float(1.0 / np.sqrt(2.0))


def hard_tanh(x: Array) -> Array:
    """``clip(x, -1, 1)``: odd."""
    return jnp.clip(x, -1.0, 1.0)


ODD_ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "tanh": jnp.tanh,
    "softsign": jax.nn.soft_sign,
    "hard_tanh": hard_tanh,
    "identity": lambda x: x,
}
"""Named odd activations (usable on specs with negated channels)."""

_ANY_ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    **ODD_ACTIVATIONS,
    "relu": jax.nn.relu,
    "gelu": jax.nn.gelu,
    "silu": jax.nn.silu,
    "elu": jax.nn.elu,
    "leaky_relu": jax.nn.leaky_relu,
}

_PROBE = np.concatenate([np.linspace(-4.0, 4.0, 81), [-1e-3, 1e-3, -0.37, 0.37, -10.0, 10.0]])


def get_activation(fn: str | Callable[[Array], Array]) -> Callable[[Array], Array]:
    """A callable for a name in ``{tanh, softsign, hard_tanh, identity, relu, gelu, silu, elu,
    leaky_relu}`` or the callable itself."""
    if callable(fn):
        return fn
    try:
        return _ANY_ACTIVATIONS[fn]
    except KeyError:
        raise ValueError(f"unknown activation {fn!r}; known: {sorted(_ANY_ACTIVATIONS)}") from None


def is_odd_function(fn: Callable[[Array], Array]) -> bool:
    """Whether ``fn(-x) == -fn(x)`` on a fixed float32 probe grid (compared in float64, tolerance 1e-6).

    Safe to call inside ``jax.jit`` / ``vmap`` / ``grad``: the probe is evaluated eagerly
    (``jax.ensure_compile_time_eval``), since a staged-out probe would be a tracer numpy cannot read.
    """
    with jax.ensure_compile_time_eval():
        probe = jnp.asarray(_PROBE, jnp.float32)
        a, b = fn(probe), fn(-probe)
    if isinstance(a, jax.core.Tracer) or isinstance(b, jax.core.Tracer):
        raise ValueError(
            f"is_odd_function: {fn!r} depends on traced values (it closes over a jit/grad input), so "
            "its oddness cannot be checked at trace time; check it outside the transformation, or "
            "pass check=False to activation()"
        )
    return bool(np.allclose(np.asarray(b, np.float64), -np.asarray(a, np.float64), rtol=1e-5, atol=1e-6))


@functools.cache
def _is_odd_named(name: str) -> bool:
    """Verdict per named activation, computed once: a module checks its activation on every trace."""
    return is_odd_function(_ANY_ACTIVATIONS[name])


def check_activation(fn: str | Callable[[Array], Array], spec: ChiralSpec) -> Callable[[Array], Array]:
    """Returns the activation callable, or raises ValueError if it would break equivariance on
    ``spec``: a negated channel needs an odd function (``f(-x) = -f(x)``)."""
    f = get_activation(fn)
    if spec.has_negated and not (_is_odd_named(fn) if isinstance(fn, str) else is_odd_function(f)):
        name = fn if isinstance(fn, str) else getattr(fn, "__name__", repr(fn))
        raise ValueError(
            f"activation {name!r} is not odd (f(-x) != -f(x)), but {spec!r} negates coordinates "
            f"{spec.negated} under the mirror, so the net would not be equivariant. Use an odd "
            f"activation ({', '.join(ODD_ACTIVATIONS)}) or a hidden spec without negated channels "
            "(ChiralSpec.hidden(n, negated=False)), on which any activation is exact."
        )
    return f


def activation(
    x: Features, fn: str | Callable[[Array], Array], spec: ChiralSpec, *, check: bool = True
) -> Features:
    """An elementwise activation, applied per channel (checked against ``spec``).

    On ``EvenOdd`` features it acts on each pair's channels ``a = (u + v)/sqrt2``,
    ``b = (u - v)/sqrt2`` and returns to the basis, with contiguous slices only.
    """
    f = check_activation(fn, spec) if check else get_activation(fn)
    if not isinstance(x, EvenOdd):
        spec.check_channels(x, "activation input")
        return f(x)
    check_even_odd(x, spec, "activation input")
    p = spec.num_pairs
    u, v = x.even[..., :p], x.odd[..., :p]
    # a = x_left, b = s * x_right; f(s b) = s f(b) for s = +1 or f odd, so this is f per channel.
    # (XLA fuses this round trip into one pass over u and v, as cheap as the activation on the
    # merged channels; a ReLU-only form in the basis, (u + max(|u|, |v|)) / 2 and
    # (v + sign(u) clip(v, -|u|, |u|)) / 2, measured slower: docs/performance.md.)
    fa, fb = f((u + v) * _SQRT_HALF), f((u - v) * _SQRT_HALF)
    even = jnp.concatenate([(fa + fb) * _SQRT_HALF, f(x.even[..., p:])], axis=-1)
    odd = jnp.concatenate([(fa - fb) * _SQRT_HALF, f(x.odd[..., p:])], axis=-1)
    return EvenOdd(even, odd)


# ---------------------------------------------------------------------------------- invariance


InvarianceMode = Literal["abs_pairs", "abs", "square"]


def invariance_size(spec: ChiralSpec, mode: InvarianceMode = "abs_pairs") -> int:
    """Channels of :func:`invariance`'s output for ``spec``: ``num_even + num_odd`` (``abs``,
    ``square``), plus ``num_odd - 1`` neighbour relative signs (``abs_pairs``)."""
    if mode not in ("abs_pairs", "abs", "square"):
        raise ValueError(f"invariance mode must be 'abs_pairs', 'abs' or 'square', got {mode!r}")
    extra = max(spec.num_odd - 1, 0) if mode == "abs_pairs" else 0
    return spec.num_even + spec.num_odd + extra


def invariance(
    x: Features, spec: ChiralSpec, *, mode: InvarianceMode = "abs_pairs", epsilon: float = 1e-6
) -> Array:
    """Chiral invariance layer: equivariant features ``(..., spec.size)`` (or ``EvenOdd``) ->
    mirror-invariant features ``(..., invariance_size(spec, mode))``, parameter-free.

    The even coordinates ``e`` are invariant already and are kept as they are; only the odd ones
    ``o`` (which the mirror negates) need an even function:

    * ``"abs"``: ``[e, |o|]``; keeps every magnitude, loses the signs of ``o``;
    * ``"square"``: ``[e, o**2]`` (smooth; squares the scale of ``o``);
    * ``"abs_pairs"`` (default): ``[e, |o|, r]`` with the neighbour relative signs
      ``r_k = o_k o_{k+1} / (|o_k| + |o_{k+1}| + epsilon)`` (even: the mirror negates both factors;
      homogeneous of degree 1 like ``|o|``, with bounded gradients). ``|o|`` and the signs of
      ``r`` give ``o`` up to ONE global sign wherever the odd coordinates are non-zero, so the
      output identifies the pair ``{x, T x}`` itself: no information is dropped beyond which of the
      two mirror images was seen (a zero odd coordinate breaks the chain of relative signs there).
    """
    size = invariance_size(spec, mode)  # validates the mode
    h = input_even_odd(x, spec, "invariance input")
    e, o = h.even, h.odd
    if mode == "square":
        parts = [e, jnp.square(o)]
    else:
        a = jnp.abs(o)
        parts = [e, a]
        if mode == "abs_pairs" and size > spec.num_even + spec.num_odd:
            parts.append(o[..., :-1] * o[..., 1:] / (a[..., :-1] + a[..., 1:] + epsilon))
    return jnp.concatenate(parts, axis=-1)
