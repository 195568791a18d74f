"""Equivariance testing: the light assertions, and the shared layer battery on demand.

``from chiral_jax.testing import assert_equivariant`` needs only JAX and chex. The battery builds
Flax modules, so it is imported the first time one of its names is asked for
(``chiral_jax.testing.BATTERY``), or directly from :mod:`chiral_jax.testing.battery`:

* :data:`~chiral_jax.testing.battery.BATTERY` and :func:`~chiral_jax.testing.battery.check_case`:
  every layer and composed net on the spec pairs (:data:`~chiral_jax.testing.battery.SPEC_PAIRS`),
  dtypes, modes and transformations;
* :data:`~chiral_jax.testing.functional_column.FUNCTIONAL_CASES` and
  :func:`~chiral_jax.testing.functional_column.check_functional_case`: every ``chiral_jax.functional``
  function under ``jit`` / ``vmap`` / ``grad`` with its default arguments (also re-exported by
  :mod:`chiral_jax.testing.battery`);
* :func:`~chiral_jax.testing.battery.randomize_params` and
  :func:`~chiral_jax.testing.battery.as_function`: random parameters, and a module frozen into a
  pure function, for your own checks.
"""

from __future__ import annotations

import importlib
from typing import Any

from chiral_jax.equivariance import (
    assert_equivariant,
    assert_samplewise_equivariant,
    default_tolerance,
    max_violation,
)

_FUNCTIONAL_NAMES = ("FUNCTIONAL_CASES", "FUNCTIONAL_TYPES", "FunctionalCase", "check_functional_case")
_BATTERY_NAMES = (
    "BATTERY",
    "SPEC_PAIRS",
    "BatteryCase",
    "as_function",
    "check_case",
    "make_input",
    "randomize_params",
)

__all__ = [
    *_BATTERY_NAMES,
    *_FUNCTIONAL_NAMES,
    "assert_equivariant",
    "assert_samplewise_equivariant",
    "default_tolerance",
    "max_violation",
]


def __getattr__(name: str) -> Any:
    if name in _BATTERY_NAMES:
        return getattr(importlib.import_module("chiral_jax.testing.battery"), name)
    if name in _FUNCTIONAL_NAMES:
        return getattr(importlib.import_module("chiral_jax.testing.functional_column"), name)
    raise AttributeError(f"module 'chiral_jax.testing' has no attribute {name!r}")
