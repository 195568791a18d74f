"""Test settings: float32 by default, as users run; float64 only where a test asks for it (the
``x64`` fixture or ``@pytest.mark.x64``); strict rank promotion."""

import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

# Tests compile hundreds of small programs and run each once, so LLVM's optimizations cost more than
# they save: measured 2-2.5x on battery cases (10 cases: 30-34 s -> 15-18 s CPU). The flag only sets
# LLVM's level for the emitted code; XLA's HLO passes (fusion, algebraic rewrites, precision) are
# unchanged, so float32 results can differ from users' at most in rounding. test_battery_default_xla_flags
# (slow) reruns every battery case in float32 with XLA's defaults. Set before JAX starts its backend.
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture
def x64() -> Iterator[None]:
    """float64 available for the test (``jnp.float64`` arrays stay float64); off again afterwards."""
    with jax.enable_x64(True):
        yield


@pytest.fixture(autouse=True)
def _x64_marker(request: pytest.FixtureRequest) -> Iterator[None]:
    """``@pytest.mark.x64`` (on a test, a class, a module or a ``pytest.param``) does what ``x64`` does."""
    if request.node.get_closest_marker("x64") is None:
        yield
    else:
        with jax.enable_x64(True):
            yield


@pytest.fixture
def shared_dir() -> Path:
    """``../shared`` beside the checkout; skips the test when it is absent (a user's machine)."""
    if not SHARED.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED}")
    return SHARED


BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def benchmark_script() -> Callable[[str], ModuleType]:
    """``load(name)``: the module of ``benchmarks/<name>.py`` (the scripts are not a package)."""

    def load(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(f"chiral_benchmarks_{name}", BENCHMARKS / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses in the script look their module up
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def predict3d_cli() -> ModuleType:
    """``experiments/predict3d.py`` as a module, loaded once per process: it defines absl flags at
    import, which a second load in the same process would define twice."""
    name = "predict3d_cli"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "experiments" / "predict3d.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
