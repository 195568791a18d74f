"""Seq2seq pose forecasters: equivariance of the whole rollout, teacher forcing, jit, errors, and a
short training run on synthetic periodic motion that must beat the untrained model."""

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from chiral_jax import testing
from chiral_jax.data.periodic import periodic_motion
from chiral_jax.models import ChiralPoseForecaster, PoseForecaster, pose_velocity_spec
from chiral_jax.skeletons import PENN_ACTION

SPEC = PENN_ACTION.spec(2)
OBS, HORIZON = 8, 16


def _poses(batch: int, frames: int, seed: int, dtype=jnp.float32) -> jax.Array:
    """Pixel-like poses: far from the origin, so normalization matters."""
    x = jax.random.normal(jax.random.key(seed), (batch, frames, SPEC.size), dtype)
    return 40.0 * x + 300.0


def test_pose_velocity_spec_mirrors_both_halves():
    spec = pose_velocity_spec(SPEC)
    assert spec.size == 52 and spec.negated == (0,)
    pose, vel = _poses(2, 1, 0)[:, 0], _poses(2, 1, 1)[:, 0]
    both = jnp.concatenate([pose, vel], axis=-1)
    want = jnp.concatenate([SPEC.transform(pose), SPEC.transform(vel)], axis=-1)
    np.testing.assert_allclose(spec.transform(both), want)


@pytest.mark.x64
@pytest.mark.parametrize(
    "cell, velocity, negated",
    [
        # The quick loop's forecaster equivariance is the battery's forecaster_seq2seq line.
        pytest.param("lstm", "initial", False, marks=pytest.mark.slow),
        pytest.param("gru", "frame", True, marks=pytest.mark.slow),
        pytest.param("lstm", "frame", True, marks=pytest.mark.slow),
    ],
)
def test_rollout_equivariant_free_running(cell, velocity, negated):
    """Mirroring the observed poses mirrors all 16 forecast steps (evaluation: free running)."""
    model = ChiralPoseForecaster(
        hidden=24, negated=negated, num_layers=2, cell=cell, velocity=velocity, rngs=nnx.Rngs(0)
    )
    testing.randomize_params(model, seed=3, scale=0.2, dtype=jnp.float64)
    model.eval()
    fn = jax.jit(testing.as_function(model))
    obs = _poses(3, OBS, 0, jnp.float64)
    assert fn(obs).shape == (3, HORIZON, SPEC.size)
    testing.assert_equivariant(fn, obs, SPEC, SPEC)
    # A mirror in pixel coordinates (x -> W - x) too: the model centres its input.
    shift = jnp.zeros(SPEC.size, jnp.float64).at[0::2].set(640.0).reshape(1, 1, -1)
    y, y_mirror = fn(obs), fn(SPEC.transform(obs) + shift)
    np.testing.assert_allclose(y_mirror, SPEC.transform(y) + shift, rtol=1e-9, atol=1e-7)


@pytest.mark.slow
@pytest.mark.x64
def test_rollout_equivariant_with_teacher_forcing():
    """Training mode: same random draws, mirrored observations and targets -> mirrored forecast."""
    model = ChiralPoseForecaster(hidden=20, num_layers=1, teacher_forcing=0.5, rngs=nnx.Rngs(0))
    testing.randomize_params(model, seed=3, scale=0.2, dtype=jnp.float64)
    graphdef, state = nnx.split(model)
    fn = jax.jit(lambda a: nnx.merge(graphdef, state, copy=True)(a[0], a[1]))
    args = (_poses(3, OBS, 0, jnp.float64), _poses(3, HORIZON, 1, jnp.float64))
    testing.assert_equivariant(fn, args, (SPEC, SPEC), SPEC)
    # Teacher forcing changes the forecast (it is used) but never the first step.
    model.eval()
    free = jax.jit(testing.as_function(model))(args[0])
    forced = fn(args)
    np.testing.assert_allclose(forced[:, 0], free[:, 0], rtol=1e-9)
    assert not np.allclose(forced[:, 1:], free[:, 1:])


@pytest.mark.slow  # ~6 s of eager scans
def test_teacher_forcing_zero_is_free_running():
    model = ChiralPoseForecaster(hidden=16, num_layers=1, teacher_forcing=0.0, rngs=nnx.Rngs(0))
    obs, tgt = _poses(2, OBS, 0), _poses(2, HORIZON, 1)
    train = model(obs, tgt)
    model.eval()
    np.testing.assert_allclose(model(obs), train, rtol=1e-6)


@pytest.mark.slow  # ~6 s per cell of eager rollouts
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_baseline_shapes_and_jit(cell):
    model = PoseForecaster(hidden=16, num_layers=2, cell=cell, rngs=nnx.Rngs(0))
    chiral = ChiralPoseForecaster(hidden=16, num_layers=2, cell=cell, rngs=nnx.Rngs(0))
    obs, tgt = _poses(2, OBS, 0), _poses(2, HORIZON, 1)
    y = nnx.jit(lambda m, o, t: m(o, t))(model, obs, tgt)
    assert y.shape == (2, HORIZON, SPEC.size)
    model.eval()
    np.testing.assert_allclose(jax.jit(testing.as_function(model))(obs), model(obs), rtol=1e-5, atol=1e-3)
    # Same widths: the chiral model has about half the parameters.
    count = lambda m: sum(a.size for a in jax.tree.leaves(nnx.state(m, nnx.Param)))  # noqa: E731
    assert 0.4 < count(chiral) / count(model) < 0.6
    assert model(obs, horizon=5).shape == (2, 5, SPEC.size)


def test_bad_inputs():
    model = ChiralPoseForecaster(hidden=16, num_layers=1, rngs=nnx.Rngs(0))
    with pytest.raises(
        ValueError, match=r"expected observed poses \(batch, frames >= 1, 26\), got \(2, 8, 24\)"
    ):
        model(jnp.ones((2, 8, 24), jnp.float32))
    with pytest.raises(ValueError, match=r"frames >= 1"):
        model(jnp.ones((2, 0, 26), jnp.float32))
    with pytest.raises(ValueError, match=r"expected targets .* \(2, 16, 26\), got \(2, 15, 26\)"):
        model(jnp.ones((2, 8, 26), jnp.float32), jnp.ones((2, 15, 26), jnp.float32))
    with pytest.raises(ValueError, match="horizon"):
        ChiralPoseForecaster(horizon=0, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="teacher_forcing"):
        ChiralPoseForecaster(teacher_forcing=1.5, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="velocity"):
        PoseForecaster(velocity="last", rngs=nnx.Rngs(0))


def test_periodic_motion_data():
    a = periodic_motion(5, 30, seed=1)
    assert a.shape == (5, 30, 26) and a.dtype == np.float32
    np.testing.assert_array_equal(a, periodic_motion(5, 30, seed=1))
    assert not np.allclose(a[:, 0], a[:, 10])  # it moves
    # Left and right limbs do not just mirror each other (asymmetric motion).
    mirrored = SPEC.transform(a)
    assert not np.allclose(mirrored - mirrored.mean(axis=2, keepdims=True), a - a.mean(axis=2, keepdims=True))


@pytest.mark.slow
def test_training_reduces_forecast_error():
    """A few hundred Adam steps on periodic motion: the forecast error falls well below both the
    untrained model's and the zero-velocity forecast's (repeating the last observed pose)."""
    t0 = time.perf_counter()
    data = periodic_motion(320, OBS + HORIZON, seed=0)
    train, test = data[:256], jnp.asarray(data[256:])
    model = ChiralPoseForecaster(
        hidden=64, num_layers=1, horizon=HORIZON, teacher_forcing=0.5, rngs=nnx.Rngs(0)
    )
    optimizer = nnx.Optimizer(model, optax.adam(3e-3), wrt=nnx.Param)

    def loss_fn(m, seq):
        return jnp.mean(jnp.square(m(seq[:, :OBS], seq[:, OBS:]) - seq[:, OBS:]))

    @nnx.jit
    def step(m, opt, seq):
        loss, grads = nnx.value_and_grad(loss_fn)(m, seq)
        opt.update(m, grads)
        return loss

    @nnx.jit
    def test_error(m, seq):
        return jnp.mean(jnp.square(m(seq[:, :OBS], deterministic=True) - seq[:, OBS:]))

    untrained = float(test_error(model, test))
    zero_velocity = float(jnp.mean(jnp.square(test[:, OBS - 1 : OBS] - test[:, OBS:])))
    rng = np.random.default_rng(0)
    for _ in range(300):
        step(model, optimizer, jnp.asarray(train[rng.choice(len(train), 64, replace=False)]))
    trained = float(test_error(model, test))
    assert trained < 0.5 * untrained, (trained, untrained)
    assert trained < 0.5 * zero_velocity, (trained, zero_velocity)
    assert time.perf_counter() - t0 < 120  # ~10 s on an idle 2-core CPU
