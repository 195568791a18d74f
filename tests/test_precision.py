"""Mixed precision: bfloat16 compute with float32 parameters and batch-norm statistics, in every
model (the layers' equivariance in bfloat16 is in the battery)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from chiral_jax.models import (
    MLP,
    ChiralMLP,
    ChiralPoseForecaster,
    ChiralTemporalModel,
    PoseForecaster,
    TemporalModel,
)
from chiral_jax.nn.precision import cast, compute_dtype, set_compute_dtype
from chiral_jax.skeletons import H36M, PENN_ACTION

BF16 = jnp.bfloat16


def _float_dtypes(module, kind):
    return {a.dtype for a in jax.tree.leaves(nnx.state(module, kind))}


def _model(name):
    s2, s3, j = H36M.spec(2), H36M.spec(3), H36M.num_joints
    kw = dict(filter_widths=(3, 3), channels=16, dtype=BF16, rngs=nnx.Rngs(0))
    return {
        "chiral_temporal": lambda: (ChiralTemporalModel(s2, s3, **kw), (2, 9, s2.size)),
        "temporal": lambda: (TemporalModel(2 * j, 3 * j, **kw), (2, 9, 2 * j)),
        "chiral_mlp": lambda: (ChiralMLP(s2, s3, (16,), dtype=BF16, rngs=nnx.Rngs(0)), (2, s2.size)),
        "mlp": lambda: (MLP(2 * j, 3 * j, (16,), dtype=BF16, rngs=nnx.Rngs(0)), (2, 2 * j)),
    }[name]()


@nnx.jit
def _call(model, x):
    return model(x)


@pytest.mark.parametrize(
    "name",
    [
        "chiral_temporal",
        *(pytest.param(n, marks=pytest.mark.slow) for n in ("temporal", "chiral_mlp", "mlp")),
    ],
)
def test_models_compute_in_bfloat16_with_float32_state(name):
    model, shape = _model(name)
    assert _float_dtypes(model, nnx.Param) == {np.dtype(jnp.float32)}
    stats = _float_dtypes(model, nnx.BatchStat)
    assert stats <= {np.dtype(jnp.float32)}
    x = jnp.asarray(np.random.default_rng(0).standard_normal(shape), jnp.float32)
    y = _call(model, x)  # training mode: batch norms update their statistics
    assert y.dtype == BF16
    assert _float_dtypes(model, nnx.BatchStat) == stats  # updated, still float32
    # Close to the float32 net with the same parameters (eval mode: both see the same statistics).
    model.eval()
    y16 = _call(model, x)
    set_compute_dtype(model, None)
    y32 = _call(model, x)
    assert y32.dtype == jnp.float32
    scale = float(jnp.max(jnp.abs(y32)))
    np.testing.assert_allclose(np.asarray(y16, np.float32), y32, atol=0.05 * scale + 1e-3)


@pytest.mark.parametrize("cls", [ChiralPoseForecaster, pytest.param(PoseForecaster, marks=pytest.mark.slow)])
def test_forecasters_run_in_bfloat16(cls):
    """The recurrent carries run in the compute dtype; the pose rollout stays float32."""
    model = cls(PENN_ACTION.spec(2), hidden=8, num_layers=1, horizon=3, dtype=BF16, rngs=nnx.Rngs(0))
    assert _float_dtypes(model, nnx.Param) == {np.dtype(jnp.float32)}
    x = jnp.asarray(np.random.default_rng(1).standard_normal((2, 4, PENN_ACTION.spec(2).size)), jnp.float32)
    model.eval()
    y = _call(model, x)
    assert y.shape == (2, 3, x.shape[-1]) and y.dtype == jnp.float32
    assert np.all(np.isfinite(np.asarray(y)))


def test_cast_and_lifting_dtype_key():
    tree = {"a": jnp.ones(2), "i": jnp.arange(2), "none": None}
    out = cast(tree, BF16)
    assert out["a"].dtype == BF16 and out["i"].dtype == jnp.int32 and out["none"] is None
    assert cast(tree, None) is tree
    assert compute_dtype("float32") is None and compute_dtype("bfloat16") == BF16
    with pytest.raises(ValueError, match="float32 or bfloat16"):
        compute_dtype("float16")
