"""Alias of :mod:`chiral_jax.runner.cli` (its former home), kept for existing imports."""

from chiral_jax.runner.cli import *  # noqa: F403
from chiral_jax.runner.cli import __all__  # noqa: F401
