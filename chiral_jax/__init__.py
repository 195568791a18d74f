"""chiral_jax: chirality-equivariant layers and models for human poses in JAX / Flax NNX.

The flow: :mod:`~chiral_jax.spec` (how a mirror acts) -> :mod:`~chiral_jax.tying` (free
parameters <-> equivariant weights, pure functions) -> :mod:`~chiral_jax.functional` (pure layers,
fast even/odd path) -> :mod:`~chiral_jax.nn` (Flax NNX modules) -> :mod:`~chiral_jax.models` ->
:mod:`~chiral_jax.tasks` (experiments, compared by :mod:`~chiral_jax.runner`).

``import chiral_jax`` loads the framework-free core only (JAX, numpy, chex): specs, skeletons,
tying, the functional layers, the even/odd basis and :func:`assert_equivariant`. The Flax layers,
models, data pipeline, training, runner and tasks load when first used (``chiral_jax.nn``, or
``from chiral_jax import nn``).
"""

from __future__ import annotations

import importlib
from typing import Any

from chiral_jax import basis, functional, skeletons, spec, tying
from chiral_jax.basis import EvenOdd, from_even_odd, to_even_odd
from chiral_jax.equivariance import assert_equivariant
from chiral_jax.spec import ChiralSpec

__version__ = "0.1.0"

# Subpackages that need Flax, TFDS, grain or matplotlib, and the pure-JAX rotations and kinematics
# (not needed by the core): imported on first attribute access.
_LAZY = (
    "data",
    "kinematics",
    "metrics",
    "models",
    "nn",
    "predict",
    "render",
    "rotations",
    "runner",
    "tasks",
    "testing",
    "train",
)

__all__ = [
    "ChiralSpec",
    "EvenOdd",
    "assert_equivariant",
    "basis",
    "from_even_odd",
    "functional",
    "skeletons",
    "spec",
    "to_even_odd",
    "tying",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(f"chiral_jax.{name}")
    raise AttributeError(f"module 'chiral_jax' has no attribute {name!r}")
