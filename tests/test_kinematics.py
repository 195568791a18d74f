"""Rotations, forward / inverse kinematics (twist-swing), mirror behaviour, body models, CMU rotations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from chiral_jax import rotations as R
from chiral_jax.data import cmu_mocap as cmu
from chiral_jax.data import synthetic
from chiral_jax.data.fixtures import write_amc, write_asf
from chiral_jax.kinematics import (
    BodyModel,
    chain,
    children_of,
    forward_kinematics,
    inverse_kinematics,
    mirror_rotations,
    mirror_twist,
    twist_angles,
    write_synthetic_body_model,
)
from chiral_jax.skeletons import H36M, SKELETONS, SMPL24


def _random_rotations(rng, shape, scale=1.0):
    return np.asarray(R.axis_angle_to_matrix(rng.normal(size=(*shape, 3)) * scale), np.float32)


# ---------------------------------------------------------------------------------- rotations


def test_rotation_conversions_round_trip_numpy_and_jax():
    rng = np.random.default_rng(0)
    aa = rng.normal(size=(50, 3))
    aa[0] = 0.0
    aa[1] = [np.pi - 1e-4, 0, 0]
    m = R.axis_angle_to_matrix(aa)
    assert m.dtype == np.float64
    np.testing.assert_allclose(m @ np.swapaxes(m, -1, -2), np.broadcast_to(np.eye(3), m.shape), atol=1e-12)
    np.testing.assert_allclose(R.axis_angle_to_matrix(R.matrix_to_axis_angle(m)), m, atol=1e-9)
    np.testing.assert_allclose(R.quaternion_to_matrix(R.matrix_to_quaternion(m)), m, atol=1e-12)
    np.testing.assert_allclose(R.rotation_6d_to_matrix(R.matrix_to_rotation_6d(m)), m, atol=1e-12)
    np.testing.assert_allclose(
        R.geodesic_angle(np.eye(3), m), np.minimum(np.linalg.norm(aa, axis=-1), np.pi), atol=1e-6
    )
    # Euler: XYZ composes x first.
    e = R.euler_to_matrix(np.array([0.3, -0.2, 0.5]), "XYZ")
    np.testing.assert_allclose(
        e, R.axis_rotation("z", 0.5) @ R.axis_rotation(1, -0.2) @ R.axis_rotation(0, 0.3)
    )
    # JAX in, JAX out, same values; gradients finite at the identity (one compilation for all).
    mj = R.axis_angle_to_matrix(jnp.asarray(aa[:4], jnp.float32))
    assert isinstance(mj, jax.Array)
    np.testing.assert_allclose(mj, m[:4], atol=1e-5)
    fs = (
        lambda v: R.axis_angle_to_matrix(v).sum(),
        lambda v: R.matrix_to_axis_angle(R.axis_angle_to_matrix(v)).sum(),
        lambda v: R.geodesic_angle(jnp.eye(3), R.axis_angle_to_matrix(v)),
        lambda v: R.rotation_between(v, jnp.asarray([0.0, 0.0, 1.0])).sum(),
        lambda v: R.rotation_6d_to_matrix(jnp.concatenate([v, v])).sum(),
    )
    grads = jax.jit(lambda v: [jax.grad(f)(v) for f in fs])(jnp.zeros(3))
    assert all(np.isfinite(g).all() for g in grads)
    # rotation_between: maps a onto b, also antiparallel.
    for a, b in (([1.0, 2, 3], [-1.0, 0.5, 2]), ([0, 0, 1.0], [0, 0, -2.0])):
        r = R.rotation_between(np.array(a), np.array(b))
        np.testing.assert_allclose(
            r @ (np.array(a) / np.linalg.norm(a)), np.array(b) / np.linalg.norm(b), atol=1e-9
        )
        assert np.isclose(np.linalg.det(r), 1.0)


# ---------------------------------------------------------------------------------- kinematics


def _asf_tree(tmp_path):
    write_asf(tmp_path / "s.asf")
    _names, parents, rest = cmu.asf_tree(cmu.parse_asf(tmp_path / "s.asf"))
    return parents, rest


@pytest.mark.slow
@pytest.mark.parametrize("tree", ["h36m", "smpl24", "asf"])
def test_ik_inverts_fk_on_every_non_leaf_joint(tree, tmp_path):
    rng = np.random.default_rng(1)
    if tree == "asf":
        parents, rest = _asf_tree(tmp_path)
    else:
        sk = {"h36m": H36M, "smpl24": SMPL24}[tree]
        parents, rest = sk.parents, rng.normal(size=(sk.num_joints, 3)) * 0.2
    rest = np.asarray(rest, np.float32)
    j = len(parents)
    children = children_of(parents)
    rots = _random_rotations(rng, (2, 3, j))
    joints = forward_kinematics(rots, rest, parents)
    twist = twist_angles(rots, rest, parents, children)
    assert twist.shape == (2, 3, j, 2)
    np.testing.assert_allclose(jnp.linalg.norm(twist, axis=-1), 1.0, atol=1e-5)
    # Any translation of the input is ignored; FK keeps the root at its rest position.
    back = inverse_kinematics(joints + 5.0, twist, rest, parents, children)
    inner = [i for i in range(j) if children[i] >= 0]
    np.testing.assert_allclose(back[..., inner, :, :], rots[..., inner, :, :], atol=5e-5)
    np.testing.assert_allclose(forward_kinematics(back, rest, parents), joints, atol=5e-5)
    if tree == "h36m":  # under an outer jit and vmap: the same rotations
        f = jax.jit(jax.vmap(lambda x, t: inverse_kinematics(x, t, rest, parents, children)))
        np.testing.assert_allclose(f(joints, twist), back, atol=1e-5)


@pytest.mark.slow
def test_ik_gradients_finite_at_degenerate_configurations():
    parents, children = H36M.parents, children_of(H36M.parents)
    rest = np.asarray(synthetic.rest_joints(synthetic.subject_bones(np.random.default_rng(0))), np.float32)
    twist = jnp.tile(jnp.asarray([1.0, 0.0]), (17, 1))

    def loss(x, t):
        return jnp.sum(inverse_kinematics(x, t, rest, parents, children) ** 2)

    grad = jax.jit(jax.grad(loss, argnums=(0, 1)))
    for x in (jnp.zeros((17, 3)), jnp.asarray(rest), jnp.asarray(rest).at[:, 1].set(0.0)):
        gx, gt = grad(x, twist * 0.0)
        assert np.isfinite(gx).all() and np.isfinite(gt).all()


@pytest.mark.slow
def test_fk_reproduces_joints_with_matching_bone_lengths_only():
    rng = np.random.default_rng(2)
    rest = np.asarray(rng.normal(size=(17, 3)) * 0.2, np.float32)
    rots = _random_rotations(rng, (2, 3, 17))
    joints = np.asarray(forward_kinematics(rots, rest, H36M.parents))
    children = children_of(H36M.parents)
    twist = twist_angles(rots, rest, H36M.parents, children)
    # Stretch one forearm: FK(IK) keeps the rest lengths, so that bone changes, its direction does not.
    stretched = joints.copy()
    stretched[..., 13, :] = joints[..., 12, :] + 1.5 * (joints[..., 13, :] - joints[..., 12, :])
    out = np.asarray(
        forward_kinematics(
            inverse_kinematics(stretched, twist, rest, H36M.parents, children), rest, H36M.parents
        )
    )
    np.testing.assert_allclose(out[..., :13, :], joints[..., :13, :], atol=5e-5)
    bone = out[..., 13, :] - out[..., 12, :]
    np.testing.assert_allclose(np.linalg.norm(bone, axis=-1), np.linalg.norm(rest[13] - rest[12]), rtol=1e-4)


def test_mirror_mirrors_rotations_and_flips_twist_sine():
    rng = np.random.default_rng(3)
    # A mirror-symmetric rest pose (the synthetic body's).
    rest = np.asarray(synthetic.rest_joints(synthetic.subject_bones(rng)), np.float32)
    perm = H36M.spec(1).joint_permutation
    m = np.diag([-1.0, 1.0, 1.0]).astype(np.float32)
    np.testing.assert_allclose(rest[perm] @ m, rest, atol=1e-6)
    rots = _random_rotations(rng, (2, 3, 17), 0.7)
    children = H36M.twist_children  # mirror-consistent twist children
    joints = forward_kinematics(rots, rest, H36M.parents)
    twist = twist_angles(rots, rest, H36M.parents, children)
    mirrored = mirror_rotations(rots, perm)
    # FK of the mirrored rotations is the mirrored pose.
    np.testing.assert_allclose(
        forward_kinematics(mirrored, rest, H36M.parents), joints[..., perm, :] @ m, atol=1e-5
    )
    # Its twists are the twists with joints swapped and sines negated ...
    np.testing.assert_allclose(
        twist_angles(mirrored, rest, H36M.parents, children), mirror_twist(twist, perm), atol=1e-5
    )
    # ... and IK of the mirrored pose and twists gives the mirrored rotations.
    back = inverse_kinematics(
        joints[..., perm, :] @ m, mirror_twist(twist, perm), rest, H36M.parents, children
    )
    inner = [i for i in range(17) if children[i] >= 0]
    np.testing.assert_allclose(back[..., inner, :, :], mirrored[..., inner, :, :], atol=5e-5)


def test_bad_trees_and_shapes_raise():
    with pytest.raises(ValueError, match="children\\[1\\]"):
        twist_angles(np.eye(3)[None].repeat(3, 0), np.zeros((3, 3)), (-1, 0, 1), (1, 0, -1))
    with pytest.raises(ValueError, match="rotations"):
        forward_kinematics(np.zeros((2, 3, 3)), np.zeros((3, 3)), (-1, 0, 1))
    with pytest.raises(ValueError, match=r"not reachable|no root"):
        forward_kinematics(np.zeros((2, 3, 3)), np.zeros((2, 3)), (1, 0))


def test_twist_children_attribute():
    # H36M's, typed once: the pelvis twists about the spine, the thorax about the neck.
    assert H36M.twist_children == (7, 2, 3, -1, 5, 6, -1, 8, 9, 10, -1, 12, 13, -1, 15, 16, -1)
    assert cmu.H36M_TWIST_CHILDREN == H36M.twist_children
    for sk in SKELETONS.values():
        if sk.parents is None:
            assert sk.twist_children is None
            continue
        tc = sk.twist_children
        assert tc == children_of(sk.parents, center=sk.center)
        assert all(c == -1 or sk.parents[c] == j for j, c in enumerate(tc))
        assert all((c == -1) == (j not in sk.parents) for j, c in enumerate(tc))
        # Mirror-consistent wherever a joint has a central child or a single one (OpenPose's nose has
        # only the two eyes, a genuinely chiral choice).
        perm = sk.spec(1).joint_permutation
        for j, c in enumerate(tc):
            kids = [k for k, p in enumerate(sk.parents) if p == j]
            if len(kids) == 1 or set(kids) & set(sk.center):
                assert tc[perm[j]] == (perm[c] if c >= 0 else -1), (sk.name, j)


def test_chain_numpy_in_numpy_out_and_matches_jax():
    rng = np.random.default_rng(0)
    rots = _random_rotations(rng, (4, 17), 0.8).astype(np.float64)
    offsets = rng.normal(size=(17, 3))
    root = rng.normal(size=(4, 3))
    g, x = chain(rots, offsets, H36M.parents, root)
    assert isinstance(g, np.ndarray) and isinstance(x, np.ndarray) and x.dtype == np.float64
    np.testing.assert_array_equal(x[:, 0], root + offsets[0])
    gj, xj = chain(jnp.asarray(rots, jnp.float32), offsets, H36M.parents, root)
    assert isinstance(xj, jax.Array)
    np.testing.assert_allclose(np.asarray(xj), x, atol=1e-5)
    np.testing.assert_allclose(np.asarray(gj), g, atol=1e-5)
    # forward_kinematics is chain with the rest pose's offsets and the root at its rest position.
    rest = synthetic.rest_joints(offsets * (np.arange(17) > 0)[:, None]) + 1.0
    np.testing.assert_allclose(
        np.asarray(forward_kinematics(rots.astype(np.float32), rest.astype(np.float32), H36M.parents)),
        chain(rots, offsets * (np.arange(17) > 0)[:, None], H36M.parents, np.ones(3))[1],
        atol=1e-5,
    )


# ---------------------------------------------------------------------------------- body model


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".npz", ".pkl"])
def test_body_model_files_and_skinning(tmp_path, suffix):
    rng = np.random.default_rng(4)
    rest = np.asarray(rng.normal(size=(24, 3)) * 0.2)
    rest[0] = 0.0
    path = write_synthetic_body_model(tmp_path / f"model{suffix}", rest, SMPL24.parents)
    model = BodyModel.from_file(path)
    assert model.parents == SMPL24.parents and model.num_betas == 4
    betas = np.zeros((2, 4), np.float32)
    np.testing.assert_allclose(model.rest_joints(betas)[0], rest, atol=1e-6)
    # Identity pose: the template mesh; a pose: the mesh joints are FK of the rest joints.
    ident = np.broadcast_to(np.eye(3, dtype=np.float32), (2, 24, 3, 3))
    out = model(ident, betas)
    np.testing.assert_allclose(out["vertices"][0], model.v_template, atol=1e-5)
    rots = _random_rotations(rng, (2, 24), 0.5)
    betas = rng.normal(size=(2, 4)).astype(np.float32)
    out = model(rots, betas, translation=np.ones((2, 3), np.float32))
    want = forward_kinematics(rots, model.rest_joints(betas[0]), model.parents) + 1.0
    np.testing.assert_allclose(out["joints"][0], want[0], atol=1e-5)
    # Vertices bound to one joint only (the joint vertices, weight 1) move rigidly with it.
    np.testing.assert_allclose(out["vertices"][:, :24], out["joints"], atol=1e-5)


def test_body_model_pickle_refuses_other_globals(tmp_path):
    import pickle

    path = tmp_path / "evil.pkl"
    with open(path, "wb") as f:
        pickle.dump({"v_template": print}, f)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        BodyModel.from_file(path)
    with pytest.raises(FileNotFoundError, match="SMPL website"):
        BodyModel.from_file(tmp_path / "none.npz")


# ---------------------------------------------------------------------------------- CMU rotations


def _check_trial(d, rigid):
    g = d["rotations"]
    par = np.asarray(H36M.parents)
    local = g.copy()
    local[:, 1:] = np.swapaxes(g[:, par[1:]], -1, -2) @ g[:, 1:]
    fk = np.asarray(forward_kinematics(local.astype(np.float32), d["rest"], H36M.parents))
    rel = d["joints"] - d["joints"][:, :1]
    # Bones that are a single ASF bone carried by the parent's rotation are exact.
    pr = par[rigid]
    np.testing.assert_allclose(fk[:, rigid] - fk[:, pr], rel[:, rigid] - rel[:, pr], atol=1e-4)
    return local


def test_cmu_fixture_rotations_reproduce_the_joints(tmp_path):
    write_asf(tmp_path / "s.asf")
    write_amc(tmp_path / "m.amc", frames=30, seed=1)
    d = cmu.load_trial_kinematics(tmp_path / "s.asf", tmp_path / "m.amc")
    assert d["joints"].shape == (13, 17, 3) and d["rotations"].shape == (13, 17, 3, 3)
    _check_trial(d, [1, 2, 3, 4, 5, 6, 8, 10, 12, 13, 15, 16])
    # The rest pose stands up (z up) with the left hip at +x (the data's left).
    assert d["rest"][10, 2] > 0.3 and d["rest"][4, 0] > 0


@pytest.mark.slow
def test_real_cmu_rotations(shared_dir):
    base = shared_dir / "data" / "cmu_mocap" / "02"
    if not (base / "02_01.amc").is_file():
        pytest.skip("CMU subject 02 not present")
    d = cmu.load_trial_kinematics(base / "02.asf", base / "02_01.amc")
    np.testing.assert_allclose(d["joints"], cmu.load_trial(base / "02.asf", base / "02_01.amc"), atol=0.05)
    local = _check_trial(d, [1, 2, 3, 4, 5, 6, 8, 10, 12, 13, 15, 16])
    twist = twist_angles(local.astype(np.float32), d["rest"], H36M.parents, cmu.H36M_TWIST_CHILDREN)
    # The knee (one dof) never twists; the upper arms do.
    phi = np.degrees(np.arctan2(twist[..., 1], twist[..., 0]))
    assert np.abs(phi[:, 2]).max() < 0.01 and np.abs(phi[:, 11]).mean() > 2.0
