"""Activations kept in the even/odd basis between layers.

:class:`EvenOdd` holds the coordinates of a feature vector in the orthonormal even/odd basis of its
:class:`~chiral_jax.spec.ChiralSpec` (see :meth:`ChiralSpec.split`). Every layer in
:mod:`chiral_jax.functional` and :mod:`chiral_jax.nn` accepts and returns it alongside plain arrays:
given an ``EvenOdd`` it stays in the basis, so a network splits once at its input and merges once at
its output, and every layer in between runs on two half-size contractions with no gathers.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax

from chiral_jax.spec import ChiralSpec

__all__ = ["EvenOdd", "from_even_odd", "to_even_odd"]

Array = jax.Array


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class EvenOdd:
    """Features in the even/odd basis.

    Attributes:
      even: (..., spec.num_even) coordinates in E (the mirror leaves them unchanged).
      odd: (..., spec.num_odd) coordinates in O (the mirror negates them).
    """

    even: Any
    odd: Any

    @property
    def shape(self) -> tuple[int, ...]:
        """Leading shape plus the total channel count (what the merged array would have)."""
        return (*self.even.shape[:-1], self.even.shape[-1] + self.odd.shape[-1])

    @property
    def dtype(self) -> Any:
        return self.even.dtype

    def mirror(self) -> EvenOdd:
        """The mirror ``T`` in this basis: odd coordinates change sign."""
        return EvenOdd(self.even, -self.odd)


def to_even_odd(x: Array | EvenOdd, spec: ChiralSpec) -> EvenOdd:
    """Splits ``(..., spec.size)`` into the even/odd basis (no-op for an ``EvenOdd``)."""
    if isinstance(x, EvenOdd):
        check_even_odd(x, spec, "to_even_odd")
        return x
    even, odd = spec.split(x)
    return EvenOdd(even, odd)


def from_even_odd(x: Array | EvenOdd, spec: ChiralSpec) -> Array:
    """Merges an ``EvenOdd`` back to ``(..., spec.size)`` channels (no-op for an array)."""
    if isinstance(x, EvenOdd):
        check_even_odd(x, spec, "from_even_odd")
        return spec.merge(x.even, x.odd)
    spec.check_channels(x, "from_even_odd")
    return x


def check_even_odd(x: EvenOdd, spec: ChiralSpec, what: str) -> None:
    """Raises ValueError unless ``x``'s halves have the sizes ``spec`` gives them."""
    if x.even.shape[-1] != spec.num_even or x.odd.shape[-1] != spec.num_odd:
        raise ValueError(
            f"{what}: expected even/odd halves of {spec.num_even}/{spec.num_odd} channels for "
            f"{spec!r}, got {x.even.shape[-1]}/{x.odd.shape[-1]}"
        )
    if x.even.shape[:-1] != x.odd.shape[:-1]:
        raise ValueError(
            f"{what}: even and odd halves must share leading dims, got {x.even.shape} and {x.odd.shape}"
        )
