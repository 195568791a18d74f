"""Alias of :mod:`chiral_jax.runner` (the runner's former home), kept for existing imports."""

from chiral_jax.runner import *  # noqa: F403
from chiral_jax.runner import __all__  # noqa: F401
from chiral_jax.runner.comparison import _config_hash, _done_record, _write_model_metadata  # noqa: F401
