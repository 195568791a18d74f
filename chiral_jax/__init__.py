"""chiral_jax: chirality-equivariant layers and models for human poses in JAX / Flax NNX.

The flow: :mod:`~chiral_jax.spec` (how a mirror acts) -> :mod:`~chiral_jax.tying` (free
parameters <-> equivariant weights, pure functions) -> :mod:`~chiral_jax.functional` (pure layers,
fast even/odd path) -> :mod:`~chiral_jax.nn` (Flax NNX modules) -> :mod:`~chiral_jax.models`.
"""

from chiral_jax import functional, nn, skeletons, testing, tying
from chiral_jax.basis import EvenOdd, from_even_odd, to_even_odd
from chiral_jax.spec import ChiralSpec
from chiral_jax.testing import assert_equivariant

__version__ = "0.1.0"

__all__ = [
    "ChiralSpec",
    "EvenOdd",
    "assert_equivariant",
    "from_even_odd",
    "functional",
    "nn",
    "skeletons",
    "testing",
    "to_even_odd",
    "tying",
]
