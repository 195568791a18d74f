"""Alias of :mod:`chiral_jax.runner.progress` (its former home), kept for existing imports."""

from chiral_jax.runner.progress import *  # noqa: F403
from chiral_jax.runner.progress import __all__  # noqa: F401
