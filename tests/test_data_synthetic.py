"""The synthetic default dataset: determinism, body symmetry, asymmetric motions, chirality."""

import numpy as np
import pytest

from chiral_jax.data import synthetic
from chiral_jax.data.cameras import camera_to_world, project_to_pixels
from chiral_jax.skeletons import H36M

PARENTS = np.asarray(H36M.parents)
SMALL = dict(num_subjects=3, num_test_subjects=1, min_frames=60, max_frames=80, num_cameras=2)


@pytest.fixture(scope="module")
def data():
    return synthetic.generate()


def _bones(pose: np.ndarray) -> np.ndarray:
    return np.linalg.norm(pose[..., 1:, :] - pose[..., PARENTS[1:], :], axis=-1)


def test_identical_across_builds_with_same_seed():
    a = synthetic.generate(synthetic.SyntheticConfig(seed=3, noise_px=1.0, **SMALL))
    b = synthetic.generate(synthetic.SyntheticConfig(seed=3, noise_px=1.0, **SMALL))
    for split in ("train", "test"):
        assert [s.key for s in a[split]] == [s.key for s in b[split]]
        for x, y in zip(a[split], b[split], strict=True):
            for f in ("pose_2d_px", "pose_2d", "pose_3d", "trajectory"):
                assert np.array_equal(getattr(x, f), getattr(y, f))
    c = synthetic.generate(synthetic.SyntheticConfig(seed=4, noise_px=1.0, **SMALL))
    assert not np.array_equal(a["train"][0].pose_3d, c["train"][0].pose_3d)


def test_default_size_and_splits(data):
    cfg = synthetic.SyntheticConfig()
    assert {s.subject for s in data["train"]} == set(cfg.train_subjects) == {f"S{i}" for i in range(1, 7)}
    assert {s.subject for s in data["test"]} == {"S7", "S8"}
    frames = sum(s.num_frames for split in data.values() for s in split)
    assert 20_000 <= frames <= 100_000
    assert {s.action.split()[0] for s in data["train"]} == set(synthetic.MOTIONS)
    s = data["train"][0]
    assert s.pose_2d.shape == (s.num_frames, 17, 2) and s.pose_3d.shape == (s.num_frames, 17, 3)
    assert s.pose_2d.dtype == np.float32
    np.testing.assert_allclose(s.pose_3d[:, 0], 0.0)


def test_bone_lengths_constant_and_left_right_symmetric(data):
    for s in data["train"][::7]:
        b = _bones(s.pose_3d)
        assert np.max(b.std(axis=0)) < 1e-5
        left = [j - 1 for j in H36M.left]  # bone index = child joint - 1
        right = [j - 1 for j in H36M.right]
        np.testing.assert_allclose(b[:, left], b[:, right], atol=1e-5)
    # Subjects differ in size.
    lengths = {s.subject: _bones(s.pose_3d)[0].sum() for s in data["train"]}
    assert max(lengths.values()) - min(lengths.values()) > 0.05


def test_2d_is_the_projection_of_3d(data):
    s = data["test"][5]
    absolute = s.pose_3d + s.trajectory[:, None]
    np.testing.assert_allclose(project_to_pixels(absolute, s.camera), s.pose_2d_px, atol=1e-3)
    assert np.all(s.pose_2d_px > 0) and np.all(s.pose_2d_px < 1000)


def test_body_is_not_mirrored(data):
    """The nose is in front of the body: up x (r_hip - l_hip) points forward for a right-handed human."""
    for s in data["train"][::11]:
        world = camera_to_world(s.pose_3d + s.trajectory[:, None], s.camera)
        right = world[:, H36M.index("r_hip")] - world[:, H36M.index("l_hip")]
        forward = np.cross([0.0, 0.0, 1.0], right)
        nose = world[:, H36M.index("neck_nose")] - world[:, H36M.index("thorax")]
        assert np.mean(np.sum(forward * nose, axis=-1) > 0) > 0.95, s.key


def _angle(a, b, c):
    """Angle at b (T,) of the triangle a-b-c, (T, 3) each."""
    u, v = a - b, c - b
    cos = np.sum(u * v, -1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(v, axis=-1)
    return np.arccos(np.clip(cos, -1, 1))


def _joint_range(seqs, side, joints):
    i, j, k = (H36M.index(f"{side}_{n}") for n in joints)
    return np.mean([np.ptp(_angle(s.pose_3d[:, i], s.pose_3d[:, j], s.pose_3d[:, k])) for s in seqs])


def test_asymmetric_motions_use_the_right_side(data):
    train = data["train"]
    wave = [s for s in train if s.action.startswith("waving")]
    punch = [s for s in train if s.action.startswith("punching")]
    limp = [s for s in train if s.action.startswith("limping")]
    arm, leg = ("shoulder", "elbow", "wrist"), ("hip", "knee", "foot")
    # Punching: the right elbow extends and bends, the left one stays at guard.
    assert _joint_range(punch, "r", arm) > 5 * max(_joint_range(punch, "l", arm), 1e-3)
    # Limping: the right knee bends much less than the left one.
    assert _joint_range(limp, "l", leg) > 2 * _joint_range(limp, "r", leg)
    # Waving raises the right wrist above the head, never the left.
    w = np.concatenate([camera_to_world(s.pose_3d + s.trajectory[:, None], s.camera) for s in wave])
    head_z = w[:, H36M.index("head"), 2]
    assert np.mean(w[:, H36M.index("r_wrist"), 2] > head_z) > 0.9
    assert np.mean(w[:, H36M.index("l_wrist"), 2] > head_z) == 0


def test_noise_only_touches_2d():
    clean = synthetic.generate(synthetic.SyntheticConfig(**SMALL))["train"][0]
    noisy = synthetic.generate(synthetic.SyntheticConfig(noise_px=2.0, **SMALL))["train"][0]
    np.testing.assert_array_equal(clean.pose_3d, noisy.pose_3d)
    d = noisy.pose_2d_px - clean.pose_2d_px
    assert 1.5 < d.std() < 2.5


def test_load_synthetic_split_and_subjects():
    train = synthetic.load_synthetic("train", subjects=["S2"], **SMALL)
    assert train and {s.subject for s in train} == {"S2"}
    with pytest.raises(ValueError, match="unknown motions"):
        synthetic.SyntheticConfig(motions=("flying",))
