"""The shared trainer's optimizer and schedules: PyTorch-form AMSGrad, learning-rate and batch-norm
momentum schedules."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from chiral_jax.train import (
    amsgrad_torch,
    bn_momentum,
    scale_by_amsgrad_torch,
)


def _torch_amsgrad_reference(grads, lr=0.1, b1=0.9, b2=0.999, eps=1e-8):
    """torch.optim.Adam(amsgrad=True)'s documented update, by hand, for a scalar parameter."""
    p, m, v, v_max, out = 0.0, 0.0, 0.0, 0.0, []
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        v_max = max(v_max, v)
        denom = np.sqrt(v_max) / np.sqrt(1 - b2**t) + eps
        p = p - lr / (1 - b1**t) * m / denom
        out.append(p)
    return np.array(out)


def test_amsgrad_torch_matches_hand_computed_steps(x64):
    grads = [10.0, 0.1, -0.2, 0.05, 0.3, -1.0]
    tx = amsgrad_torch(0.1)
    params = jnp.zeros((), jnp.float64)
    state = tx.init(params)
    got = []
    for g in grads:
        updates, state = tx.update(jnp.asarray(g, jnp.float64), state, params)
        params = optax.apply_updates(params, updates)
        got.append(float(params))
    np.testing.assert_allclose(got, _torch_amsgrad_reference(grads), rtol=1e-5)
    # optax.amsgrad maxes the bias-corrected moment: after a huge first gradient it differs.
    tx2, p2 = optax.amsgrad(0.1), jnp.zeros((), jnp.float64)
    s2 = tx2.init(p2)
    for g in grads:
        u, s2 = tx2.update(jnp.asarray(g, jnp.float64), s2, p2)
        p2 = optax.apply_updates(p2, u)
    assert abs(float(p2) - got[-1]) > 1e-3


def _torch_amsgrad_directions(grads, b1=0.9, b2=0.999, eps=1e-8):
    """PyTorch's AMSGrad step direction (``(p_old - p_new) / lr``) in numpy, for arrays of any shape:
    the running maximum over the raw second moment, bias corrections applied after it."""
    m = np.zeros_like(grads[0])
    v, v_max, out = m.copy(), m.copy(), []
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        v_max = np.maximum(v_max, v)
        out.append((m / (1 - b1**t)) / (np.sqrt(v_max) / np.sqrt(1 - b2**t) + eps))
    return out


def test_scale_by_amsgrad_torch_matches_a_numpy_reference():
    rng = np.random.default_rng(0)
    # A pytree of two arrays; a large first gradient, then small noisy ones (where optax.amsgrad differs).
    grads = [
        {"w": rng.normal(size=(3, 4)) * (100.0 if t == 0 else 0.1), "b": rng.normal(size=5)} for t in range(8)
    ]
    tx = scale_by_amsgrad_torch()
    params = jax.tree.map(jnp.asarray, grads[0])
    state = tx.init(params)
    expected = {k: _torch_amsgrad_directions([g[k] for g in grads]) for k in ("w", "b")}
    for t, g in enumerate(grads):
        updates, state = tx.update(jax.tree.map(jnp.asarray, g), state, params)
        for k in ("w", "b"):
            # rtol: the bias corrections are float32 (1 - 0.999 carries a relative error of ~1e-5).
            np.testing.assert_allclose(np.asarray(updates[k]), expected[k][t], rtol=3e-5, atol=1e-12)
    assert int(state.count) == len(grads)


def test_schedules():
    # The lr decay of VideoPose3D's recipe is optax's continuous exponential decay.
    lr = optax.exponential_decay(init_value=1e-3, transition_steps=100, decay_rate=0.95)
    np.testing.assert_allclose(float(lr(0)), 1e-3)
    np.testing.assert_allclose(float(lr(100)), 0.95e-3, rtol=1e-6)
    np.testing.assert_allclose(float(lr(50)), 1e-3 * 0.95**0.5, rtol=1e-6)
    assert bn_momentum(0.0) == pytest.approx(0.9)
    assert bn_momentum(1.0) == pytest.approx(0.999)
    assert 0.9 < bn_momentum(0.5) < 0.999
