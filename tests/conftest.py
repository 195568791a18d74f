"""Test settings: float64 available (tests pass dtypes explicitly), strict rank promotion."""

import os
from pathlib import Path

# Tests compile hundreds of small programs and run each once: XLA's backend optimizations cost
# more than they save here (about 2x on the battery). Must be set before JAX starts its backend.
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")

import jax
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture
def shared_dir() -> Path:
    """``../shared`` beside the checkout; skips the test when it is absent (a user's machine)."""
    if not SHARED.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED}")
    return SHARED
