"""Alias of :mod:`chiral_jax.runner.config_help` (its former home), kept for existing imports."""

from chiral_jax.runner.config_help import *  # noqa: F403
from chiral_jax.runner.config_help import __all__  # noqa: F401
