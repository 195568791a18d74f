"""Metrics against hand-computed cases."""

import numpy as np
import pytest

from chiral_jax import metrics


def _pose(seed: int = 0, joints: int = 17) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(joints, 3))


def _rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


def test_mpjpe_hand_computed():
    target = np.zeros((2, 4, 3))
    pred = target.copy()
    pred[0, :, :2] = [0.003, 0.004]  # 5 mm on every joint of frame 0
    pred[1, 0, 2] = 0.010  # 10 mm on one joint of frame 1
    assert metrics.mpjpe(pred, target) == pytest.approx((4 * 0.005 + 0.010) / 8)
    np.testing.assert_allclose(metrics.per_joint_errors(pred, target)[1], [0.01, 0, 0, 0])


def test_p_mpjpe_invariant_to_similarity():
    x = _pose(1)
    y = 2.5 * x @ _rotation(2).T + np.array([1.0, -2.0, 3.0])
    assert metrics.p_mpjpe(y, x) == pytest.approx(0.0, abs=1e-10)
    assert metrics.mpjpe(y, x) > 0.5


def test_p_mpjpe_does_not_undo_a_reflection():
    x = _pose(3)
    reflected = x * np.array([-1.0, 1.0, 1.0])
    assert metrics.p_mpjpe(reflected, x) > 0.1
    # ... and the aligned copy is a proper rotation of the input: det of the fitted map > 0.
    aligned = metrics.procrustes_align(reflected, x)
    a, b = aligned - aligned.mean(0), reflected - reflected.mean(0)
    m = np.linalg.lstsq(b, a, rcond=None)[0]
    assert np.linalg.det(m) > 0


def test_p_mpjpe_batched_matches_per_pose():
    x = np.stack([_pose(s) for s in range(5)])
    y = x + np.random.default_rng(9).normal(scale=0.1, size=x.shape)
    per = [metrics.p_mpjpe(y[i], x[i]) for i in range(5)]
    assert metrics.p_mpjpe(y, x) == pytest.approx(np.mean(per))


def test_n_mpjpe_scale_only():
    x = _pose(4)
    assert metrics.n_mpjpe(0.7 * x, x) == pytest.approx(0.0, abs=1e-12)
    assert metrics.n_mpjpe(x @ _rotation(5).T, x) > 0.1
    # Hand case: pred = 2x on a single joint -> scale 1/2 recovers x exactly.
    assert metrics.n_mpjpe(np.array([[2.0, 0, 0]]), np.array([[1.0, 0, 0]])) == pytest.approx(0.0)


def test_mpjve():
    t = np.linspace(0, 1, 10)[:, None, None] * np.ones((10, 3, 3))
    assert metrics.mpjve(t + 5.0, t) == pytest.approx(0.0)  # a constant offset has no velocity error
    pred = t.copy()
    pred[5:] += 0.03  # one step of 3 cm between frames 4 and 5
    assert metrics.mpjve(pred, t) == pytest.approx(0.03 * np.sqrt(3) / 9)


def test_pck():
    target = np.zeros((1, 4, 2))
    pred = np.array([[[0.01, 0], [0.04, 0], [0.06, 0], [0.0, 0.2]]])
    assert metrics.pck(pred, target, 0.05) == pytest.approx(0.5)
    assert metrics.pck(pred, target, 0.05, scale=np.array([2.0])) == pytest.approx(0.75)
    vis = np.array([[1, 1, 0, 0]])
    assert metrics.pck(pred, target, 0.05, visible=vis) == pytest.approx(1.0)


def test_top_k_accuracy():
    logits = np.array([[0.1, 0.5, 0.4], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5]])
    labels = np.array([2, 0, 0])
    assert metrics.top_k_accuracy(logits, labels, 1) == pytest.approx(1 / 3)
    assert metrics.top_k_accuracy(logits, labels, 2) == pytest.approx(2 / 3)
    assert metrics.top_k_accuracy(logits, labels, 3) == pytest.approx(1.0)


def test_aggregate_by_action():
    errs = [np.full(10, 1.0), np.full(30, 3.0), np.full(5, 2.0)]
    out = metrics.aggregate_by_action(errs, ["Walking 1", "Walking", "Photo 2"])
    assert out["Walking"] == pytest.approx((10 + 90) / 40)  # frame-weighted within an action type
    assert out["Photo"] == pytest.approx(2.0)
    assert out["average"] == pytest.approx((2.5 + 2.0) / 2)  # unweighted over action types
    assert metrics.action_type("TakingPhoto 1") == "Photo"
    assert metrics.action_type("Walking 1 chunk0") == "Walking"


def test_accepts_jax_arrays():
    jnp = pytest.importorskip("jax.numpy")
    x = _pose(6)
    assert metrics.mpjpe(jnp.asarray(x + 1.0), jnp.asarray(x)) == pytest.approx(np.sqrt(3), rel=1e-5)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shapes differ"):
        metrics.mpjpe(np.zeros((3, 3)), np.zeros((4, 3)))


def test_pck_per_step_hand_computed():
    target = np.zeros((2, 2, 2, 2))  # (samples, steps, joints, xy)
    pred = target.copy()
    pred[0, 0, 0] = [0.03, 0.04]  # 0.05 < 0.1: correct
    pred[0, 0, 1] = [0.1, 0.0]  # exactly 0.1: not below the threshold
    pred[1, 0, 0] = [0.0, 0.3]  # wrong
    pred[1, 0, 1] = [5.0, 5.0]  # wrong, but invisible
    visible = np.ones((2, 2, 2), bool)
    visible[1, 0, 1] = False
    out = metrics.pck_per_step(pred, target, visible)  # alpha 0.05 of size 2: threshold 0.1
    assert isinstance(out, np.ndarray) and out.shape == (2,)
    np.testing.assert_allclose(out, [100 / 3, 100.0])
    np.testing.assert_allclose(
        metrics.pck_per_step(pred, target, visible, alpha=0.1, size=1.5), [200 / 3, 100]
    )
    visible[:, 1] = False
    assert np.isnan(metrics.pck_per_step(pred, target, visible)[1])


def test_pck_tprnn_code_pairs_the_flat_vector_as_the_released_code():
    # 3 joints; the code's flat pose is [x0, x1, x2, y0, y1, y2], read as pairs (x0, x1), (x2, y0), (y1, y2).
    target = np.zeros((1, 1, 3, 2))
    pred = target.copy()
    pred[0, 0, 0] = [0.08, 0.0]
    pred[0, 0, 1] = [0.08, 0.0]
    visible = np.ones((1, 1, 3), bool)
    # Per joint: errors 0.08, 0.08, 0 -> all below 0.1.
    np.testing.assert_allclose(metrics.pck_per_step(pred, target, visible), [100.0])
    # Pairs: (0.08, 0.08) -> 0.113 wrong, (0, 0) and (0, 0) correct.
    np.testing.assert_allclose(metrics.pck_tprnn_code(pred, target, visible), [200 / 3])
    # The mask applies to pseudo-joints by index: hiding joint 2 hides the pair (y1, y2).
    visible[0, 0, 2] = False
    np.testing.assert_allclose(metrics.pck_tprnn_code(pred, target, visible), [50.0])
    np.testing.assert_allclose(metrics.pck_per_step(pred, target, visible), [100.0])


def test_pck_tprnn_code_penn_layout_and_agreement():
    # 13 joints: pseudo-joint 6 is (x12, y0). Errors of 0.08 in x12 and in y0: two correct joints,
    # one wrong pair.
    target = np.random.default_rng(0).uniform(-1, 1, size=(4, 3, 13, 2))
    pred = target.copy()
    pred[:, :, 12, 0] += 0.08
    pred[:, :, 0, 1] += 0.08
    visible = np.ones((4, 3, 13), bool)
    np.testing.assert_allclose(metrics.pck_per_step(pred, target, visible), [100.0] * 3)
    np.testing.assert_allclose(metrics.pck_tprnn_code(pred, target, visible), [1200 / 13] * 3)
    # Errors along one axis only for every joint: both readings agree.
    shifted = target + np.array([0.0, 0.07])
    np.testing.assert_allclose(
        metrics.pck_tprnn_code(shifted, target, visible), metrics.pck_per_step(shifted, target, visible)
    )


@pytest.mark.parametrize("fn", [metrics.pck_per_step, metrics.pck_tprnn_code])
def test_forecast_pck_shape_errors(fn):
    x = np.zeros((2, 3, 13, 2))
    with pytest.raises(ValueError, match=r"\(samples, steps, joints, 2\)"):
        fn(x, x[:, :2], np.ones((2, 3, 13)))
    with pytest.raises(ValueError, match=r"\(samples, steps, joints, 2\)"):
        fn(x[..., :1], x[..., :1], np.ones((2, 3, 13)))
    with pytest.raises(
        ValueError, match=r"visible must be \(samples, steps, joints\) = \(2, 3, 13\), got \(2, 3\)"
    ):
        fn(x, x, np.ones((2, 3)))
