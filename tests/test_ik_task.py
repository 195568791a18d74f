"""The IK task: output layout and its mirror, the chiral lifter's equivariance, data consistency,
and a tiny end-to-end run of experiments/ik_cmu.py on written CMU fixture files."""

import importlib.util
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from chiral_jax import kinematics, metrics
from chiral_jax.data.fixtures import write_amc, write_asf
from chiral_jax.equivariance import assert_equivariant
from chiral_jax.tasks import ik
from chiral_jax.testing.battery import as_function

EXPERIMENT = Path(__file__).resolve().parents[1] / "experiments" / "ik_cmu.py"


def _config(**data):
    spec = importlib.util.spec_from_file_location("ik_cfg", EXPERIMENT.parent / "configs" / "ik_cmu.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    c = mod.get_config()
    c.num_seeds, c.progress = 1, False
    c.model.width, c.model.filter_widths = 16, (3, 3)
    c.train.epochs, c.train.batch_size = 1, 32
    c.data.update(data)
    return c


def test_output_layout_mirror_is_joint_mirror_and_twist_flip():
    rng = np.random.default_rng(0)
    joints, twist = rng.normal(size=(4, 17, 3)), rng.normal(size=(4, 17, 2))
    flat = np.asarray(ik._flat(jnp.asarray(joints), jnp.asarray(twist)))
    j2, t2 = ik.split_outputs(jnp.asarray(ik.output_spec().transform(flat)), 17)
    perm = ik.SKELETON.spec(1).joint_permutation
    np.testing.assert_allclose(j2, joints[:, perm] * [-1, 1, 1], atol=1e-6)
    np.testing.assert_allclose(t2, kinematics.mirror_twist(twist, perm), atol=1e-6)
    # The transformer's dict form reads the same.
    j3, t3 = ik.split_outputs({"joints": jnp.asarray(joints.reshape(4, -1)), "twist": jnp.asarray(twist)}, 17)
    np.testing.assert_allclose(j3, joints, atol=1e-6)
    np.testing.assert_allclose(t3, twist, atol=1e-6)


def test_chiral_lifter_with_twists_is_exactly_equivariant():
    c = _config()
    variant = ik.lifting.Variant("chiral", "chiral", 16)
    model = ik.make_model(variant, c.model, seed=0)
    model.eval()
    x = np.random.default_rng(1).normal(size=(2, 9, 34)).astype(np.float32)
    f = jax.jit(as_function(model))  # eval mode: no dropout, batch norm from its statistics
    assert_equivariant(f, x, ik.SKELETON.spec(2), ik.output_spec())
    with pytest.raises(ValueError, match=r"model\.architecture"):
        wrong = ml_collections.ConfigDict({**c.model.to_dict(), "architecture": "gru"})
        ik.make_model(variant, wrong, seed=0)


@pytest.mark.slow
def test_synthetic_targets_are_the_mocap_kinematics(tmp_path):
    c = _config(
        synthetic={"seed": 0, "num_subjects": 2, "num_test_subjects": 1, "min_frames": 20, "max_frames": 20},
        data_dir=str(tmp_path),
    )
    c.data.synthetic.num_cameras = 1
    c.data.synthetic.motions = ("waving", "punching")
    splits = ik.load_data(c.data)
    s = splits["test"][0]
    fk = np.asarray(kinematics.forward_kinematics(s.rotations, s.rest, ik.PARENTS))
    np.testing.assert_allclose(fk - fk[:, :1], s.seq.pose_3d, atol=2e-5)
    assert s.targets.shape == (s.seq.num_frames, 17 * 5)
    # The oracle (IK of the true joints and twists) is exact on the synthetic tree.
    oracle = metrics.ik_by_take(splits["test"])
    assert oracle["mpjpe_after_ik_mm"] < 0.05 and oracle["rotation_error_deg"] < 0.05
    assert oracle["twist_error_deg"] == 0.0


@pytest.mark.slow
def test_experiment_runs_on_cmu_fixture_files(tmp_path):
    for subject, trials in (("01", 1), ("03", 1)):
        d = tmp_path / "cmu" / subject
        d.mkdir(parents=True)
        write_asf(d / f"{subject}.asf")
        for t in range(trials):
            write_amc(d / f"{subject}_{t + 1:02d}.amc", frames=120, seed=t)
    c = _config(
        name="cmu_mocap", manual_dir=str(tmp_path / "cmu"), num_cameras=1, data_dir=str(tmp_path / "tfds")
    )
    c.model.filter_widths = (3,)
    spec = importlib.util.spec_from_file_location("ik_cmu_script", EXPERIMENT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    text = script.run(c, str(tmp_path / "work"))
    assert "MPJPE after IK" in text
    results = json.loads((tmp_path / "work" / "results.json").read_text())
    fields = ("name", "kind", "seed", "params", "mpjpe_mm", "mpjpe_after_ik_mm", "bone_length_error_mm")
    fields += ("rotation_error_deg", "twist_error_deg")
    assert {m["kind"] for m in results["models"]} == {"chiral", "baseline"}
    for m in results["models"]:
        assert all(k in m for k in fields) and np.isfinite(m["mpjpe_after_ik_mm"])
    assert len(results["summary"]) == 2 and "oracle_ik" in results


def _transformer_config(**data):
    spec = importlib.util.spec_from_file_location(
        "ik_tf_cfg", EXPERIMENT.parent / "configs" / "ik_cmu_transformer.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    c = mod.get_config()
    c.num_seeds, c.progress = 1, False
    c.model.num_layers, c.model.heads, c.model.width, c.model.ffn_layers = 1, 2, 8, 1
    c.train.epochs, c.train.batch_size, c.train.warmup_steps = 2, 32, 2
    c.eval.average_last = 2
    c.data.update(data)
    return c


@pytest.mark.slow  # ~5 s: building and compiling the transformer
def test_chiral_transformer_joints_and_twists_are_exactly_mirror_equivariant():
    c = _transformer_config()
    model = ik.make_model(ik.lifting.Variant("tf", "chiral", 8), c.model, seed=0)
    model.eval()
    x = np.random.default_rng(2).normal(size=(3, c.model.frames, 34)).astype(np.float32)
    f = jax.jit(as_function(model))  # one compilation for both calls
    out, out_m = f(jnp.asarray(x)), f(jnp.asarray(ik.SKELETON.spec(2).transform(x)))
    assert out["joints"].shape == (3, 17 * 3) and out["twist"].shape == (3, 17, 2)
    perm = ik.SKELETON.spec(1).joint_permutation
    np.testing.assert_allclose(
        out_m["joints"], ik.SKELETON.spec(3).transform(np.asarray(out["joints"])), atol=1e-5
    )
    twist = np.asarray(out["twist"])
    np.testing.assert_allclose(out_m["twist"], twist[:, perm] * [1, -1], atol=1e-5)
    np.testing.assert_allclose(out_m["twist"], kinematics.mirror_twist(twist, perm), atol=1e-5)


@pytest.mark.slow
def test_ik_task_trains_and_evaluates_transformers(tmp_path):
    c = _transformer_config(
        synthetic={"seed": 0, "num_subjects": 2, "num_test_subjects": 1, "min_frames": 24, "max_frames": 24},
        data_dir=str(tmp_path / "tfds"),
    )
    c.data.synthetic.num_cameras = 1
    c.data.synthetic.motions = ("waving", "punching")
    c.model.kind, c.train.epochs, c.eval.average_last = "chiral", 1, 1  # compilation dominates
    results = ik.train_and_evaluate(c, str(tmp_path / "work"))
    models = results["models"]
    assert [m["kind"] for m in models] == ["chiral"]
    for m in models:
        assert m["name"].startswith("transformer_") and np.isfinite(m["mpjpe_after_ik_mm"])
        assert np.isfinite(m["twist_error_deg"]) and m["params"] > 0
