"""CMU ASF/AMC reader and forward kinematics, on fixture files and (when present) the real data."""

import re
from pathlib import Path

import numpy as np
import pytest

from chiral_jax.data import cmu_mocap as cmu
from chiral_jax.data.errors import MalformedDatasetFile, MissingDatasetFile
from chiral_jax.data.fixtures import write_amc, write_asf
from chiral_jax.skeletons import H36M

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CMU_DIR = SHARED / "data" / "cmu_mocap"
UNIT = 0.0254 / 0.45  # metres per ASF length unit with ":units length 0.45"


@pytest.fixture()
def fixture_dir(tmp_path):
    for subject, trials in (("01", 2), ("03", 1)):
        d = tmp_path / subject
        d.mkdir()
        write_asf(d / f"{subject}.asf")
        for t in range(trials):
            write_amc(d / f"{subject}_{t + 1:02d}.amc", frames=60 + 25 * t, seed=t)
    return tmp_path


def test_asf_units_and_structure(tmp_path):
    write_asf(tmp_path / "s.asf")
    skel = cmu.parse_asf(tmp_path / "s.asf")
    assert skel.length_scale == pytest.approx(UNIT)
    assert skel.bones["lfemur"].length == pytest.approx(7.5 * UNIT)
    assert skel.bones["lfemur"].dof == ("rx", "ry", "rz")
    assert skel.parents["rhumerus"] == "rclavicle"
    assert skel.order.index("thorax") < skel.order.index("lclavicle")
    np.testing.assert_allclose(np.linalg.norm(skel.bones["lfoot"].direction), 1.0)


def test_fk_rest_pose_and_a_hand_computed_rotation(tmp_path):
    write_asf(tmp_path / "s.asf")
    skel = cmu.parse_asf(tmp_path / "s.asf")
    values = write_amc(tmp_path / "z.amc", 2, zero=True)
    motion = cmu.parse_amc(tmp_path / "z.amc", skel)
    pos = cmu.forward_kinematics(skel, motion)
    d = {b.name: b.direction * b.length for b in skel.bones.values()}
    np.testing.assert_allclose(pos["ltibia"][0], d["lhipjoint"] + d["lfemur"] + d["ltibia"], atol=1e-12)
    # Bend the knee: ltibia rx = 90 deg with its axis (0, 0, 20) -> the shin turns about C's x axis.
    motion["ltibia"][:] = 90.0
    pos = cmu.forward_kinematics(skel, motion)
    c = cmu.euler_matrix(np.deg2rad([0, 0, 20]), "XYZ")
    rx90 = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0.0]])
    shin = c @ rx90 @ c.T @ d["ltibia"]
    np.testing.assert_allclose(pos["ltibia"][0] - pos["lfemur"][0], shin, atol=1e-12)
    # Turn the whole body about the vertical (root RY = 90 deg): the bent shin turns with it.
    motion["root"][:, 4] = 90.0
    pos = cmu.forward_kinematics(skel, motion)
    ry90 = np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0.0]])
    np.testing.assert_allclose(pos["ltibia"][0] - pos["lfemur"][0], ry90 @ shin, atol=1e-12)
    assert values["root"].shape == (2, 6)


def test_euler_composition_order():
    # "XYZ": x applied first. (0, 1, 0) -Rx(90)-> (0, 0, 1) -Ry(90)-> (1, 0, 0).
    r = cmu.euler_matrix(np.deg2rad([90.0, 90.0, 0.0]), "XYZ")
    np.testing.assert_allclose(r @ [0.0, 1.0, 0.0], [1.0, 0.0, 0.0], atol=1e-12)
    # Angles are matched to the letters of the order: "YX" with (90, 90) applies y first.
    r = cmu.euler_matrix(np.deg2rad([90.0, 90.0]), "YX")
    np.testing.assert_allclose(r @ [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], atol=1e-12)


def test_fk_preserves_bone_lengths_and_symmetry(tmp_path):
    write_asf(tmp_path / "s.asf")
    skel = cmu.parse_asf(tmp_path / "s.asf")
    write_amc(tmp_path / "m.amc", 30, seed=4)
    pos = cmu.forward_kinematics(skel, cmu.parse_amc(tmp_path / "m.amc", skel))
    for name, bone in skel.bones.items():
        lengths = np.linalg.norm(pos[name] - pos[skel.parents[name]], axis=-1)
        np.testing.assert_allclose(lengths, bone.length, rtol=1e-10, err_msg=name)
    h = cmu.cmu_to_h36m(skel, pos)
    limbs = np.linalg.norm(h[:, 1:] - h[:, np.asarray(H36M.parents)[1:]], axis=-1)
    np.testing.assert_allclose(
        limbs[:, [j - 1 for j in H36M.left]], limbs[:, [j - 1 for j in H36M.right]], rtol=1e-10
    )


def test_resample_120_to_50():
    x = np.arange(121.0)[:, None]  # one second at 120 Hz, value = frame index
    y = cmu.resample(x, 120, 50)
    assert y.shape == (51, 1)
    np.testing.assert_allclose(y[:, 0], np.arange(51) * 2.4)


def test_load_cmu_mocap_fixture_counts_and_cameras(fixture_dir):
    data = cmu.load_cmu_mocap(fixture_dir, num_cameras=3)
    assert {s.subject for s in data["train"]} == {"01"} and {s.subject for s in data["test"]} == {"03"}
    assert len(data["train"]) == 2 * 3 and len(data["test"]) == 3
    counts = {s.action: s.num_frames for s in data["train"]}
    assert counts == {"01_01": (60 - 1) * 50 // 120 + 1, "01_02": (85 - 1) * 50 // 120 + 1}
    s = data["train"][0]
    assert s.pose_3d.shape == (s.num_frames, 17, 3) and np.all(s.trajectory[:, 2] > 3.0)


def test_errors_name_the_path(tmp_path, fixture_dir):
    with pytest.raises(MissingDatasetFile, match=re.escape(str(tmp_path / "nowhere"))):
        cmu.load_cmu_mocap(tmp_path / "nowhere")
    skel = cmu.parse_asf(fixture_dir / "01" / "01.asf")
    bad = tmp_path / "bad.amc"
    bad.write_text("1\nroot 0 0 0 0 0 0\nlfemur 1 2\n")
    with pytest.raises(MalformedDatasetFile, match=r"bad\.amc") as err:
        cmu.parse_amc(bad, skel)
    assert "mocap.cs.cmu.edu" in str(err.value)


def _real(name):
    if not CMU_DIR.is_dir():
        pytest.skip(f"{CMU_DIR} absent (real CMU data is only on the project's machines)")
    return CMU_DIR / name


def test_real_cmu_trial():
    asf, amc = _real("02/02.asf"), _real("02/02_03.amc")
    skel = cmu.parse_asf(asf)
    motion = cmu.parse_amc(amc, skel)
    frames = sum(1 for line in amc.read_text().splitlines() if line.strip().isdigit())
    assert motion["root"].shape == (frames, 6)
    pos = cmu.forward_kinematics(skel, motion)
    for name, bone in skel.bones.items():
        lengths = np.linalg.norm(pos[name] - pos[skel.parents[name]], axis=-1)
        np.testing.assert_allclose(lengths, bone.length, rtol=1e-9)
    h = cmu.cmu_to_h36m(skel, pos)
    limbs = np.linalg.norm(h[:, 1:] - h[:, np.asarray(H36M.parents)[1:]], axis=-1)
    left, right = [j - 1 for j in H36M.left], [j - 1 for j in H36M.right]
    np.testing.assert_allclose(limbs[:, left], limbs[:, right], rtol=0.05)
    assert 1.4 < limbs[0, [1, 2]].sum() / 0.5 < 2.0  # thigh + shin ~ 0.8 m: metres, not inches
    # A real (not mirrored) body: toes point forward = up x (right hip - left hip), in z-up world.
    world = {k: cmu.to_z_up(v) for k, v in pos.items()}
    right = world["rhipjoint"] - world["lhipjoint"]
    forward = np.cross([0.0, 0.0, 1.0], right)
    toes = world["rtoes"] - world["rfoot"]
    assert np.mean(np.sum(forward * toes, axis=-1) > 0) > 0.95
    trial = cmu.load_trial(skel, amc)
    assert trial.shape == ((frames - 1) * 50 // 120 + 1, 17, 3)
    assert abs(np.min(trial[..., 2])) < 0.2  # feet near the floor, z up
