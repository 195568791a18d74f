"""The lifting task's trajectory head (``model.trajectory=True``): model, loss, metrics, training,
checkpoint round trip. Its equivariance is the battery's ``temporal_conv_stack_trajectory`` line."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from flax import nnx

from chiral_jax import skeletons
from chiral_jax.data import load_synthetic
from chiral_jax.data.fixtures import TINY_SYNTHETIC
from chiral_jax.equivariance import assert_equivariant
from chiral_jax.models import LifterWithTrajectory, with_root, with_root_spec
from chiral_jax.tasks import lifting, runner
from chiral_jax.tasks import lifting_trajectory as traj
from chiral_jax.tasks.configs import load_config_file

H36M = skeletons.H36M
ROOT = Path(__file__).resolve().parents[1]
TINY_DATA = TINY_SYNTHETIC
WIDTHS = (3, 3)


def _model(kind: str, trajectory: bool, seed: int = 0) -> nnx.Module:
    variant = lifting.Variant(f"{kind}_w16", kind, 16)
    return lifting.make_model(
        variant, H36M, filter_widths=WIDTHS, dropout=0.25, seed=seed, trajectory=trajectory
    )


def _arrays(module: nnx.Module) -> list[np.ndarray]:
    """Every state leaf (parameters, batch statistics, RNG keys as their data)."""
    keys = lambda a: jnp.issubdtype(a.dtype, jax.dtypes.prng_key)  # noqa: E731
    return [np.asarray(jax.random.key_data(a) if keys(a) else a) for a in jax.tree.leaves(nnx.state(module))]


_NETS: dict[tuple[str, bool], nnx.Module] = {}


def _net(kind: str, trajectory: bool) -> nnx.Module:
    """One built net per (kind, head) for the module (construction dominates these tests)."""
    if (kind, trajectory) not in _NETS:
        _NETS[kind, trajectory] = _model(kind, trajectory)
    return _NETS[kind, trajectory]


def _jitted(module: nnx.Module, **kwargs: bool):
    """A jitted pure call with the module's state frozen (same dropout masks on every call)."""
    graphdef, state = nnx.split(module)
    return jax.jit(lambda x: nnx.merge(graphdef, state, copy=True)(x, **kwargs))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["chiral", "baseline"])
def test_head_leaves_the_pose_net_as_it_was(kind):
    """The default's random draws are untouched: with the head on, the pose net has the same
    parameters and gives the same outputs (training mode, dropout included) as without it."""
    x = jax.random.normal(jax.random.key(3), (2, 9, 34))
    plain, both = _net(kind, False), _net(kind, True)
    assert isinstance(both, LifterWithTrajectory) and not isinstance(plain, LifterWithTrajectory)
    for a, b in zip(_arrays(plain), _arrays(both.pose), strict=True):
        np.testing.assert_array_equal(a, b)
    y = _jitted(both)(x)
    assert y.shape == (2, 1, 18 * 3)
    np.testing.assert_array_equal(np.asarray(_jitted(plain)(x)), np.asarray(y[..., : 17 * 3]))


def test_chiral_trajectory_mirrors_with_the_input():
    """make_model's chiral net: mirrored 2D in, mirrored pose and root x negated out (dilated, eval)."""
    model = nnx.clone(_net("chiral", True))
    model.eval()
    f = _jitted(model, strided=False)
    x = jax.random.normal(jax.random.key(0), (2, 15, 34)) + 0.3
    assert_equivariant(f, x, H36M.spec(2), with_root_spec(H36M.spec(3)))
    root, mirrored = np.asarray(f(x))[..., -3:], np.asarray(f(H36M.spec(2).transform(x)))[..., -3:]
    np.testing.assert_allclose(mirrored, root * [-1.0, 1.0, 1.0], atol=1e-5)


@pytest.mark.slow
def test_trajectory_batch_norms_keep_their_momentum_whatever_the_schedule():
    """The trainer's schedule reaches the pose net only: the trajectory net's running statistics
    follow TRAJECTORY_BN_MOMENTUM (absolute depth is what stale statistics would bias)."""
    from chiral_jax.models.trajectory import TRAJECTORY_BN_MOMENTUM
    from chiral_jax.nn.norm import BatchNormMomentum
    from chiral_jax.train.loop import set_batch_norm_momentum

    model = nnx.clone(_net("chiral", True))
    set_batch_norm_momentum(model, 0.999)  # what the trainer sets before every step
    model(jax.random.normal(jax.random.key(1), (4, 9, 34)))
    pose = jax.tree.leaves(nnx.state(model.pose, BatchNormMomentum))
    head = jax.tree.leaves(nnx.state(model.trajectory, BatchNormMomentum))
    assert pose and head
    np.testing.assert_allclose([float(v) for v in pose], 0.999, rtol=1e-6)
    np.testing.assert_allclose([float(v) for v in head], TRAJECTORY_BN_MOMENTUM, rtol=1e-6)


def test_with_root_skeleton_mirrors_the_root_as_a_center():
    sk = with_root(H36M)
    assert sk.num_joints == 18 and sk.joint_names[-1] == "trajectory"
    assert sk.spec(3) == with_root_spec(H36M.spec(3))
    y = np.arange(18 * 3, dtype=np.float32) + 1
    m = sk.spec(3).transform(y)
    np.testing.assert_array_equal(m[-3:], [-y[-3], y[-2], y[-1]])
    np.testing.assert_array_equal(m[:51], H36M.spec(3).transform(y[:51]))


def test_loss_weights_the_root_error_by_inverse_depth():
    """Against a hand computation: pose MPJPE + mean_b(||p_b - t_b|| / z_b)."""
    rng = np.random.default_rng(0)
    j, b = 17, 4
    target = rng.normal(0, 0.2, (b, 1, j + 1, 3)).astype(np.float32)
    target[:, 0, j] = [[0.1, 0.2, 2.0], [0.0, 0.0, 4.0], [-0.3, 0.1, 5.0], [1.0, -0.5, 8.0]]
    pred = target + rng.normal(0, 0.05, target.shape).astype(np.float32)

    class Fixed(nnx.Module):
        def __call__(self, x, *, strided=None):
            return jnp.asarray(pred.reshape(b, 1, -1))

    batch = {"inputs": jnp.zeros((b, 9, 34)), "targets": jnp.asarray(target.reshape(b, 1, -1))}
    loss, aux = traj.trajectory_loss(j)(Fixed(), batch)
    pose_err = np.mean([np.linalg.norm(pred[i, 0, k] - target[i, 0, k]) for i in range(b) for k in range(j)])
    root_terms = [np.linalg.norm(pred[i, 0, j] - target[i, 0, j]) / target[i, 0, j, 2] for i in range(b)]
    assert float(loss) == pytest.approx(pose_err + sum(root_terms) / b, rel=1e-5)
    assert float(aux["trajectory_loss"]) == pytest.approx(sum(root_terms) / b, rel=1e-5)
    want_mm = 1000 * np.mean([np.linalg.norm(pred[i, 0, j] - target[i, 0, j]) for i in range(b)])
    assert float(aux["trajectory_mm"]) == pytest.approx(want_mm, rel=1e-5)
    assert float(aux["mpjpe_mm"]) == pytest.approx(1000 * pose_err, rel=1e-5)


def test_metrics_of_exact_outputs_are_zero_and_absolute_error_adds_the_root():
    test = load_synthetic("test", **TINY_DATA)[:2]
    exact = [t.reshape(len(t), -1) for t in traj.trajectory_targets(test)]
    poses, m = traj.trajectory_metrics(exact, test, 17)
    assert m["trajectory_mm"] == pytest.approx(0, abs=1e-3) and m["mpjpe_abs_mm"] == pytest.approx(
        0, abs=1e-3
    )
    assert poses[0].shape == (len(test[0].pose_3d), 51)
    shift = np.zeros(18 * 3, np.float32)
    shift[-3:] = [0.03, 0.0, 0.04]  # the root 5 cm off: every absolute joint too
    shifted = [e + shift for e in exact]
    _, m = traj.trajectory_metrics(shifted, test, 17)
    assert m["trajectory_mm"] == pytest.approx(50, rel=1e-4) and m["mpjpe_abs_mm"] == pytest.approx(
        50, rel=1e-4
    )
    with pytest.raises(ValueError, match="54"):
        traj.split_outputs(np.zeros((3, 51)), 17)


def test_trajectory_columns_only_with_the_head():
    base = load_config_file(str(ROOT / "experiments" / "configs" / "lift3d.py"))
    assert base.model.trajectory is False and lifting.task_for(base) is lifting.LIFTING
    base.model.trajectory = True
    task = lifting.task_for(base)
    assert task is lifting.LIFTING_TRAJECTORY
    assert [c.key for c in task.columns[-2:]] == ["trajectory_mm", "mpjpe_abs_mm"]
    assert "trajectory_mm" not in [c.key for c in lifting.LIFTING.columns]
    assert set(traj.TRAJECTORY_KEYS) <= set(task.summary_keys)


def _fake_run(workdir: Path, kind: str) -> tuple[Path, nnx.Module]:
    """A run folder with a trajectory head as the runner leaves it (model.json + one checkpoint)."""
    from chiral_jax.train import Checkpointer, amsgrad_torch

    config = load_config_file(str(ROOT / "experiments" / "configs" / "lift3d.py"))
    config.model.filter_widths = WIDTHS
    config.model.width = 16
    config.model.trajectory = True
    variant = lifting.Variant(f"{kind}_w16", kind, 16)
    data = lifting.LiftingData("synthetic", [], [], H36M)
    run = workdir / variant.name / "seed0"
    runner._write_model_metadata(lifting.LIFTING.model_metadata(variant, data, config), str(run), "test")
    model = nnx.clone(_net(kind, True))  # the round trip puts it in eval mode
    optimizer = nnx.Optimizer(model, amsgrad_torch(1e-3), wrt=nnx.Param)
    with Checkpointer(str(run / "checkpoints"), async_save=False) as ckpt:
        ckpt.save(2, nnx.to_pure_dict(nnx.state((model, optimizer))))
    return run, model


@pytest.mark.parametrize("kind", ["chiral", pytest.param("baseline", marks=pytest.mark.slow)])
@pytest.mark.slow
def test_load_lifter_round_trip_exposes_the_trajectory(tmp_path, kind):
    from chiral_jax.predict import load_lifter

    run, model = _fake_run(tmp_path, kind)
    assert json.loads((run / "model.json").read_text())["trajectory"] is True
    lifter = load_lifter(run)
    assert lifter.has_trajectory and isinstance(lifter.model, LifterWithTrajectory)
    for a, b in zip(
        jax.tree.leaves(nnx.state(lifter.model, nnx.Param)),
        jax.tree.leaves(nnx.state(model, nnx.Param)),
        strict=True,
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    x = np.random.default_rng(0).normal(0, 0.3, (20, 17, 2)).astype(np.float32)
    poses, root = lifter.predict_with_trajectory(x)
    assert poses.shape == (20, 17, 3) and root.shape == (20, 3) and np.all(poses[:, 0] == 0)
    np.testing.assert_array_equal(lifter.predict(x), poses)
    model.eval()
    from chiral_jax.data.windows import pad_sequence

    direct = np.asarray(model(pad_sequence(x.reshape(20, -1), 9)[None], strided=False))[0]
    np.testing.assert_allclose(root, direct[:, -3:], atol=1e-6)
    # Flip averaging: the mirrored input's root with x negated back.
    mirrored = H36M.spec(2).transform(x.reshape(20, -1)).reshape(20, 17, 2)
    _, root_m = lifter.predict_with_trajectory(mirrored)
    _, root_avg = lifter.predict_with_trajectory(x, flip_average=True)
    np.testing.assert_allclose(root_avg, 0.5 * (root + root_m * [-1, 1, 1]), atol=1e-6)
    if kind == "chiral":
        np.testing.assert_allclose(root_m, root * [-1, 1, 1], atol=1e-5)


@pytest.mark.slow
def test_tiny_training_with_the_head(tmp_path):
    """Both kinds train with the head (baseline with mirror augmentation, host and device windows
    alike), report the trajectory metrics and their columns, and the pose error is that of the
    same run without the head (the pose net trains as it did)."""
    c = load_config_file(str(ROOT / "experiments" / "configs" / "lift3d.py"))
    c.num_seeds, c.progress = 1, False
    c.data.data_dir = str(tmp_path / "tfds")
    c.data.synthetic = ml_collections.ConfigDict(TINY_DATA)
    c.model.update(filter_widths=WIDTHS, channels=16, equal_params=False)
    c.train.update(epochs=2, batch_size=64)
    plain = lifting.train_and_evaluate(c, str(tmp_path / "plain"))
    c.model.trajectory = True
    results = lifting.train_and_evaluate(c, str(tmp_path / "traj"))
    for with_head, without in zip(results["models"], plain["models"], strict=True):
        assert with_head["name"] == without["name"]
        for key in ("trajectory_mm", "mpjpe_abs_mm", "final_train_trajectory_mm"):
            assert np.isfinite(with_head[key]) and with_head[key] > 0, (with_head["name"], key)
        assert with_head["mpjpe_mm"] == pytest.approx(without["mpjpe_mm"], rel=1e-3)
        assert "trajectory_mm" not in without
    baseline = next(m for m in results["models"] if m["kind"] == "baseline")
    assert "trajectory_mm" in baseline["tta"]
    table = (tmp_path / "traj" / "results.md").read_text()
    assert "trajectory (mm)" in table and "abs. MPJPE (mm)" in table
    assert "trajectory (mm)" not in (tmp_path / "plain" / "results.md").read_text()
    # The host path (grain batches, numpy mirror) takes the same targets.
    c.data.device_resident = False
    host = lifting.train_and_evaluate(c, str(tmp_path / "host"))
    assert np.isfinite(host["models"][1]["trajectory_mm"])


@pytest.mark.slow
def test_predict3d_writes_the_trajectory_and_mirrors_it(tmp_path, predict3d_cli):
    """predict3d.py with a chiral trajectory checkpoint: ``trajectory`` (T, 3) and
    ``poses_3d_camera`` = poses + root; the mirrored video's root has x negated (noise-free input,
    so the mirrored keypoints are exact)."""
    import warnings

    from chiral_jax.predict.simulate import mirror_records, mmpose_records

    cli = predict3d_cli
    run, _ = _fake_run(tmp_path / "runs", "chiral")
    seq = load_synthetic("test", **TINY_DATA)[0]
    w, h = seq.camera.res_w, seq.camera.res_h
    recs = mmpose_records(seq.pose_2d_px[:12], noise_px=0.0, low_score_fraction=0.0)
    paths = {}
    for name, records in (("det", recs), ("mirrored", mirror_records(recs, w))):
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(records))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = cli.predict(str(run), str(paths["det"]), str(tmp_path / "p.npz"), image_size=(w, h))
        mir = cli.predict(str(run), str(paths["mirrored"]), str(tmp_path / "m.npz"), image_size=(w, h))
    saved = np.load(tmp_path / "p.npz")
    assert saved["trajectory"].shape == (12, 3) and saved["poses_3d_camera"].shape == (12, 17, 3)
    np.testing.assert_allclose(saved["poses_3d_camera"], saved["poses_3d"] + saved["trajectory"][:, None])
    np.testing.assert_allclose(mir["trajectory"], out["trajectory"] * [-1, 1, 1], atol=2e-5)
