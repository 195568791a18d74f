"""Alias of :mod:`chiral_jax.runner.configs` (its former home), kept for existing imports."""

from chiral_jax.runner.configs import *  # noqa: F403
from chiral_jax.runner.configs import __all__  # noqa: F401
