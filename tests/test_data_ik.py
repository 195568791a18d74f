"""The IK data path: the synthetic_ik / cmu_mocap_ik builds (poses plus joint rotations and rest
joints), read back by data.ik_data.load_ik_splits, and the lifting builds they leave unchanged."""

import ml_collections
import numpy as np
import pytest

tfds = pytest.importorskip("tensorflow_datasets")

from chiral_jax import kinematics, metrics, skeletons  # noqa: E402
from chiral_jax.data import builders, ik_data, synthetic  # noqa: E402
from chiral_jax.data.fixtures import write_amc, write_asf  # noqa: E402

TINY = {"num_subjects": 2, "num_test_subjects": 1, "min_frames": 12, "max_frames": 12, "num_cameras": 2}
TINY_MOTIONS = ("waving", "limping")
POSE_FIELDS = ("pose_2d_px", "pose_2d", "pose_3d", "trajectory")


def _data(tmp_path, **kw):
    base = {"name": "synthetic", "data_dir": str(tmp_path), "num_cameras": 4}
    base["synthetic"] = {**TINY, "motions": TINY_MOTIONS}
    return ml_collections.ConfigDict({**base, **kw})


def test_record_round_trips_through_its_example():
    seqs = ik_data.generate_synthetic_ik(synthetic.SyntheticConfig(**TINY, motions=("waving",)))
    s = seqs["test"][0]
    back = ik_data.IkSequence.from_example(s.to_example())
    assert back.key == s.key and back.twist is None
    for f in POSE_FIELDS:
        np.testing.assert_array_equal(getattr(back.seq, f), getattr(s.seq, f))
    np.testing.assert_array_equal(back.rotations, s.rotations)
    np.testing.assert_array_equal(back.rest, s.rest)
    assert s.rotations.dtype == np.float32 and s.rotations.shape == (12, 17, 3, 3)


@pytest.mark.slow  # two TFDS builds and the twist compilation
def test_synthetic_ik_build_is_the_lifting_build_plus_consistent_rotations(tmp_path):
    splits = ik_data.load_ik_splits(_data(tmp_path))
    options = {**TINY, "motions": TINY_MOTIONS}
    lifting = builders.load_splits("synthetic", data_dir=tmp_path, synthetic=options)
    ref = synthetic.generate(synthetic.SyntheticConfig(**options))
    for split in ("train", "test"):
        assert (
            [s.key for s in splits[split]] == [s.key for s in lifting[split]] == [s.key for s in ref[split]]
        )
        for s, lift, r in zip(splits[split], lifting[split], ref[split], strict=True):
            for f in POSE_FIELDS:  # the IK build's poses are the lifting build's, which are the generator's
                np.testing.assert_array_equal(getattr(s.seq, f), getattr(lift, f))
                np.testing.assert_array_equal(getattr(lift, f), getattr(r, f))
            # Forward kinematics of the stored rotations on the rest joints gives the 3D poses.
            fk = np.asarray(kinematics.forward_kinematics(s.rotations, s.rest, skeletons.H36M.parents))
            np.testing.assert_allclose(fk - fk[:, :1], s.seq.pose_3d, atol=2e-5)
            assert s.twist.shape == (12, 17, 2)
            np.testing.assert_allclose(np.linalg.norm(s.twist, axis=-1), 1.0, atol=1e-5)
    # The lifting build keeps its features and version; the IK build adds rotations and rest.
    lift_b = builders.make_builder("synthetic", data_dir=tmp_path, synthetic=options)
    ik_b = builders.make_builder("synthetic_ik", data_dir=tmp_path, synthetic=options)
    assert str(lift_b.version) == "1.1.0"
    lift_keys = set(lift_b.info.features.keys())
    assert "rotations" not in lift_keys and set(ik_b.info.features.keys()) == lift_keys | {
        "rotations",
        "rest",
    }
    # IK of the true joints and twists recovers the rotations (the oracle is exact on this tree).
    oracle = metrics.ik_by_take(splits["test"])
    assert oracle["mpjpe_after_ik_mm"] < 0.05 and oracle["rotation_error_deg"] < 0.05
    assert oracle["twist_error_deg"] == 0.0


@pytest.mark.slow  # CMU fixture files, two builds
def test_cmu_mocap_ik_build_options_and_filters(tmp_path):
    root = tmp_path / "cmu"
    for subject, trials in (("01", 2), ("02", 1), ("03", 1)):
        (root / subject).mkdir(parents=True)
        write_asf(root / subject / f"{subject}.asf")
        for t in range(trials):
            write_amc(root / subject / f"{subject}_{t + 1:02d}.amc", frames=60, seed=t)
    data = _data(tmp_path / "data", name="cmu_mocap", manual_dir=str(root), num_cameras=1)
    splits = ik_data.load_ik_splits(data)
    assert [s.key for s in splits["test"]] == ["03/03_01/virtual0"]
    assert [s.key for s in splits["train"]] == ["01/01_01/virtual0", "01/01_02/virtual0", "02/02_01/virtual0"]
    s = splits["train"][0]
    assert s.rotations.shape == (s.seq.num_frames, 17, 3, 3) and s.rest.shape == (17, 3)
    # The rotations are the camera-frame local rotations: their global form is orthonormal.
    glob = np.asarray(kinematics.global_rotations(s.rotations, skeletons.H36M.parents))
    np.testing.assert_allclose(
        glob @ np.swapaxes(glob, -1, -2), np.broadcast_to(np.eye(3), glob.shape), atol=1e-5
    )
    # Subjects and trials are chosen when reading the build (one build for every choice).
    data.update({"subjects_train": ("01",), "subjects_test": ("02",), "max_trials": 1})
    picked = ik_data.load_ik_splits(data)
    assert [s.key for s in picked["train"]] == ["01/01_01/virtual0"]
    assert [s.key for s in picked["test"]] == ["02/02_01/virtual0"]
    # 4 cameras (the default) is the registered default config: another build.
    data.num_cameras = 4
    assert len(ik_data.load_ik_splits(data)["train"]) == 4
    assert builders.make_builder("cmu_mocap_ik").builder_config.name == "default"


@pytest.mark.slow
def test_ik_metrics_are_zero_on_the_truth_and_average_by_frames():
    seqs = ik_data.with_twists(
        ik_data.generate_synthetic_ik(synthetic.SyntheticConfig(**TINY, motions=("waving",)))["test"]
    )
    s = seqs[0]
    m = metrics.ik_metrics(s.seq.pose_3d, s.twist, s.seq.pose_3d, s.twist, s.rotations, s.rest)
    assert m["frames"] == 12 and m["mpjpe_mm"] == 0.0 and m["bone_length_error_mm"] == 0.0
    assert metrics.average_over_frames([{"frames": 1.0, "a": 2.0}, {"frames": 3.0, "a": 2.0}]) == {"a": 1.0}
    assert metrics.bone_lengths(s.rest).shape == (16,)
