"""BVH export (chiral_jax.predict.bvh): the file's structure, its read-back through the module's own
parser and forward kinematics, degenerate poses, twists, and the Euler conversion it relies on."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from chiral_jax import rotations as rot
from chiral_jax import skeletons
from chiral_jax.data import synthetic as syn
from chiral_jax.predict import bvh

H36M = skeletons.H36M
CAM_FROM_WORLD = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])  # synthetic z-up -> camera y-down


def _lifted_like(t: int = 30, seed: int = 0) -> np.ndarray:
    """Camera-frame poses (T, 17, 3) of a synthetic squat, made non-rigid like a lifter's output:
    bone lengths vary by a few percent and every joint has 1 cm of noise."""
    rng = np.random.default_rng(seed)
    world = syn.motion_world("squatting", syn.subject_bones(rng), rng, t)
    cam = world @ CAM_FROM_WORLD.T + [0.1, 0.2, 4.0]
    return cam + rng.normal(0.0, 0.01, cam.shape)


def _normalized(poses: np.ndarray) -> np.ndarray:
    x = poses - poses[:, :1]
    return bvh.normalize_bones(x, bvh.median_bone_lengths(x))


def test_written_bvh_reads_back_to_the_poses_with_median_bones(tmp_path):
    poses = _lifted_like(30)
    path = bvh.write_bvh(tmp_path / "a.bvh", poses, fps=50)
    text = path.read_text()
    assert text.startswith("HIERARCHY\nROOT Hips\n{\n\tOFFSET 0.000000 0.000000 0.000000\n")
    assert "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation" in text
    assert "MOTION\nFrames: 30\nFrame Time: 0.02000000\n" in text
    b = bvh.read_bvh(path)
    h = bvh.hierarchy()
    assert b.names == h.names and len(b.names) == 23 and b.parents == h.parents
    assert b.channels[0][:3] == ("Xposition", "Yposition", "Zposition")
    assert all(c == ("Zrotation", "Xrotation", "Yrotation") for c in b.channels[1:])
    assert b.num_channels == 6 + 22 * 3 and b.motion.shape == (30, 72) and b.frame_time == pytest.approx(0.02)
    assert sorted(b.names[j] for j in b.end_sites) == [
        "HeadTop",
        "LeftFoot",
        "LeftHand",
        "RightFoot",
        "RightHand",
    ]
    assert np.all(b.motion[:, :3] == 0)  # no trajectory: the root at the origin
    back = bvh.read_bvh_poses(path)
    ref = _normalized(poses)
    err = np.linalg.norm(back - ref, axis=-1).max()
    assert err < 1e-3  # metres: within 1 mm (float text rounding gives ~1e-7 m)
    # The input was not rigid: the median-bone poses differ from it, the file reproduces those.
    assert np.linalg.norm((poses - poses[:, :1]) - ref, axis=-1).max() > 0.01
    lengths = bvh.median_bone_lengths(poses)
    bones = np.linalg.norm(back[:, 1:] - back[:, H36M.parents[1:]], axis=-1)
    np.testing.assert_allclose(bones, np.broadcast_to(lengths[1:], (30, 16)), atol=1e-6)


def test_units_order_and_trajectory(tmp_path):
    poses = _lifted_like(12, seed=1)
    traj = poses[:, 0].copy()
    for units, order in (("m", "ZXY"), ("cm", "XYZ"), ("cm", "YZX")):
        path = bvh.write_bvh(
            tmp_path / f"{units}{order}.bvh", poses, fps=30, trajectory=traj, units=units, order=order
        )
        b = bvh.read_bvh(path)
        assert b.channels[1] == tuple(f"{a}rotation" for a in order)
        assert b.frame_time == pytest.approx(1 / 30, abs=1e-8)
        back = bvh.read_bvh_poses(path, units=units)
        np.testing.assert_allclose(back, _normalized(poses) + traj[:, None], atol=1e-6)
    hip_width = np.linalg.norm(bvh.read_bvh(tmp_path / "mZXY.bvh").offsets[bvh.hierarchy().h36m[1]])
    assert 0.05 < hip_width < 0.3  # metres
    assert np.allclose(
        bvh.read_bvh(tmp_path / "cmXYZ.bvh").offsets / 100, bvh.read_bvh(tmp_path / "mZXY.bvh").offsets
    )


def test_parser_composes_channels_in_the_listed_order(tmp_path):
    # Written by hand: Zrotation 90 then Xrotation 90 means R = Rz Rx; B's offset (0, 10, 0) goes to
    # Rz(90) Rx(90) (0, 10, 0) = Rz(90) (0, 0, 10) = (0, 0, 10) (Rx Rz would give (-10, 0, 0)).
    path = tmp_path / "hand.bvh"
    path.write_text(
        "HIERARCHY\nROOT A\n{\n OFFSET 0 0 0\n CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation "
        "Yrotation\n JOINT B\n {\n  OFFSET 0 10 0\n  CHANNELS 3 Zrotation Xrotation Yrotation\n  End Site\n"
        "  {\n   OFFSET 0 5 0\n  }\n }\n}\nMOTION\nFrames: 3\nFrame Time: 0.1\n"
        "0 0 0 0 0 0 0 0 0\n1 2 3 90 0 0 0 0 0\n0 0 0 90 90 0 0 0 0\n"
    )
    b = bvh.read_bvh(path)
    x = bvh.bvh_forward_kinematics(b, end_sites=True)
    np.testing.assert_allclose(x[0], [[0, 0, 0], [0, 10, 0], [0, 15, 0]], atol=1e-9)
    np.testing.assert_allclose(x[1], [[1, 2, 3], [-9, 2, 3], [-14, 2, 3]], atol=1e-9)
    np.testing.assert_allclose(x[2, 1], [0, 0, 10], atol=1e-9)


def _t_pose_camera(lengths: np.ndarray) -> np.ndarray:
    return bvh.rest_pose(lengths) @ bvh.BVH_FROM_CAMERA.T  # BVH axes -> camera (its own inverse)


def test_straight_limbs_folded_limbs_and_leaves(tmp_path):
    lengths = bvh.median_bone_lengths(_lifted_like(5))
    rest = _t_pose_camera(lengths)
    idx = H36M.index
    # Frame 0: the T-pose itself (straight limbs: every swing the identity) -> all angles 0.
    # Frame 1: the rest pose turned 40 degrees about the vertical axis, with a straight left arm
    # pointing forward (elbow and wrist collinear with the shoulder).
    # Frame 2: degenerate swings: the right forearm folded back onto the upper arm (180 degrees at
    # the elbow) and the left leg pointing straight up (the thigh opposite its rest direction).
    turned = rest @ rot.axis_rotation("y", np.radians(40.0)).T
    arm = turned.copy()
    forward = np.array([0.0, 0.0, -1.0]) @ rot.axis_rotation("y", np.radians(40.0)).T  # towards the camera
    sho = arm[idx("l_shoulder")]
    arm[idx("l_elbow")] = sho + lengths[idx("l_elbow")] * forward
    arm[idx("l_wrist")] = arm[idx("l_elbow")] + lengths[idx("l_wrist")] * forward
    folded = rest.copy()
    elbow = folded[idx("r_elbow")]
    folded[idx("r_wrist")] = (
        elbow + (folded[idx("r_shoulder")] - elbow) / lengths[idx("r_elbow")] * lengths[idx("r_wrist")]
    )
    up = np.array([0.0, -1.0, 0.0])  # camera y is down
    folded[idx("l_knee")] = folded[idx("l_hip")] + lengths[idx("l_knee")] * up
    folded[idx("l_foot")] = folded[idx("l_knee")] + lengths[idx("l_foot")] * up
    poses = np.stack([rest, arm, folded])
    path = bvh.write_bvh(tmp_path / "d.bvh", poses, fps=25, lengths=lengths)
    b = bvh.read_bvh(path)
    assert np.abs(b.motion[0]).max() < 1e-4  # the rest pose: zero channels
    back = bvh.read_bvh_poses(path)
    np.testing.assert_allclose(back, poses - poses[:, :1], atol=1e-6)
    # Leaves (feet, head top, hands) keep zero rotations; their positions come from their parents.
    h = bvh.hierarchy()
    for leaf in h.leaves:
        col = 6 + 3 * (leaf - 1)
        assert np.abs(b.motion[:, col : col + 3]).max() == 0.0, h.names[leaf]
    assert {h.names[j] for j in h.leaves} == set(b.names[j] for j in b.end_sites)


def _twist_angle(r: np.ndarray, bone: np.ndarray) -> np.ndarray:
    """The twist of rotations r (T, 3, 3) about the unit rest bone (swing-twist, as kinematics)."""
    axis = bone / np.linalg.norm(bone)
    moved = r @ axis
    w = np.swapaxes(rot.rotation_between(np.broadcast_to(axis, moved.shape), moved), -1, -2) @ r
    cos = (np.trace(w, axis1=-2, axis2=-1) - 1) / 2
    sin = np.stack([w[:, 2, 1] - w[:, 1, 2], w[:, 0, 2] - w[:, 2, 0], w[:, 1, 0] - w[:, 0, 1]], -1) @ axis / 2
    return np.arctan2(sin, cos)


def test_given_twists_turn_bones_about_themselves_only(tmp_path):
    poses = _lifted_like(8, seed=2)
    phi = np.linspace(-1.0, 1.0, 8)
    twist = np.zeros((8, 17, 2))
    twist[..., 0] = 1.0
    elbow = H36M.index("l_elbow")
    twist[:, elbow] = np.stack([np.cos(phi), np.sin(phi)], -1)
    plain = bvh.write_bvh(tmp_path / "plain.bvh", poses, fps=50)
    twisted = bvh.write_bvh(tmp_path / "twisted.bvh", poses, fps=50, twist=twist)
    np.testing.assert_allclose(bvh.read_bvh_poses(twisted), bvh.read_bvh_poses(plain), atol=1e-6)
    h = bvh.hierarchy()
    b = h.h36m[elbow]  # LeftForeArm: its parent LeftArm is no connector, so its local is the IK's
    lengths = bvh.median_bone_lengths(poses)
    bone = bvh.rest_pose(lengths)[H36M.index("l_wrist")] - bvh.rest_pose(lengths)[elbow]
    for path, want in ((plain, np.zeros(8)), (twisted, phi)):
        m = bvh.read_bvh(path).motion[:, 6 + 3 * (b - 1) : 9 + 3 * (b - 1)]
        r = rot.euler_to_matrix(np.radians(m[:, ::-1]), "YXZ")  # channels Z X Y: R = Rz Rx Ry
        np.testing.assert_allclose(_twist_angle(r, bone), want, atol=1e-5)


def test_angles_are_continuous_in_time(tmp_path):
    # A joint turning steadily through +-180 degrees: no 360-degree jumps between frames.
    lengths = bvh.median_bone_lengths(_lifted_like(5))
    rest = _t_pose_camera(lengths)
    turns = np.radians(np.arange(0, 720, 20.0))
    poses = np.stack([rest @ rot.axis_rotation("y", a).T for a in turns])
    b = bvh.read_bvh(bvh.write_bvh(tmp_path / "spin.bvh", poses, fps=50, lengths=lengths))
    assert np.abs(np.diff(b.motion[:, 3:6], axis=0)).max() < 21.0
    np.testing.assert_allclose(bvh.read_bvh_poses(tmp_path / "spin.bvh"), poses - poses[:, :1], atol=1e-6)


@pytest.mark.parametrize("order", ["".join(p) for p in itertools.permutations("XYZ")])
def test_matrix_to_euler_inverts_euler_to_matrix(order):
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(0)
    a = rng.uniform(-np.pi, np.pi, (200, 3))
    a[:, 1] /= 2
    a[:5, 1] = [np.pi / 2, -np.pi / 2, np.pi / 2, 1e-12, -np.pi / 2]  # gimbal lock and the identity-ish
    r = rot.euler_to_matrix(a, order)
    back = rot.matrix_to_euler(r, order)
    np.testing.assert_allclose(rot.euler_to_matrix(back, order), r, atol=1e-9)
    np.testing.assert_allclose(back[5:], a[5:], atol=1e-9)
    # rotations' first-letter-first order is scipy's extrinsic (lower-case) sequence.
    np.testing.assert_allclose(Rotation.from_euler(order.lower(), a).as_matrix(), r, atol=1e-12)
    with pytest.raises(ValueError, match="Tait-Bryan"):
        rot.matrix_to_euler(r, "XYX")


def test_bad_input(tmp_path):
    poses = _lifted_like(4)
    bad = poses.copy()
    bad[2, 5] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite joints \(first at frame 2\)"):
        bvh.write_bvh(tmp_path / "x.bvh", bad, fps=50)
    with pytest.raises(ValueError, match=r"expected \(T >= 1, 17, 3\)"):
        bvh.write_bvh(tmp_path / "x.bvh", poses[:, :12], fps=50)
    for fps in (0, -25, float("nan"), "fast"):
        with pytest.raises(ValueError, match="expected a positive frame rate"):
            bvh.write_bvh(tmp_path / "x.bvh", poses, fps=fps)
    assert (
        "Frame Time: 0.04000000" in bvh.write_bvh(tmp_path / "f32.bvh", poses, fps=np.float32(25)).read_text()
    )
    with pytest.raises(ValueError, match=r"trajectory: expected finite \(T=4, 3\)"):
        bvh.write_bvh(tmp_path / "x.bvh", poses, fps=50, trajectory=np.zeros((3, 3)))
    path = bvh.write_bvh(tmp_path / "ok.bvh", poses, fps=50)
    lines = path.read_text().splitlines()
    (tmp_path / "short.bvh").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(
        bvh.BVHError, match=r"short\.bvh: 216 motion numbers; expected Frames x channels = 4 x 72"
    ):
        bvh.read_bvh(tmp_path / "short.bvh")
    (tmp_path / "cut.bvh").write_text("\n".join(lines[:10]) + "\n")
    with pytest.raises(bvh.BVHError, match=r"cut\.bvh, line 10: 'the end of the file'; expected"):
        bvh.read_bvh(tmp_path / "cut.bvh")
    (tmp_path / "chan.bvh").write_text(
        path.read_text().replace("CHANNELS 3 Zrotation", "CHANNELS 3 Wrotation", 1)
    )
    with pytest.raises(bvh.BVHError, match=r"joint 'RHipJoint' has channels \['Wrotation'\]"):
        bvh.read_bvh(tmp_path / "chan.bvh")


@pytest.mark.slow
def test_numpy_ik_is_kinematics_inverse_kinematics():
    from chiral_jax.kinematics import children_of, inverse_kinematics

    poses = _lifted_like(6, seed=3)
    x = poses - poses[:, :1]
    lengths = bvh.median_bone_lengths(x)
    xb = bvh.normalize_bones(x @ bvh.BVH_FROM_CAMERA.T, lengths)
    rest = bvh.rest_pose(lengths)
    twist = np.random.default_rng(0).normal(size=(6, 17, 2))
    ours, _ = bvh._inverse_kinematics(xb, twist, rest)
    children = children_of(H36M.parents, center=H36M.center)
    theirs = np.asarray(inverse_kinematics(xb, twist, rest, H36M.parents, children))
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
