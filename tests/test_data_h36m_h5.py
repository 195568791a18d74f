"""Human3.6M in Martinez et al.'s h5 layout, on small fixtures (never the real data)."""

import re

import numpy as np
import pytest

pytest.importorskip("h5py")

from chiral_jax.data import MalformedDatasetFile, MissingDatasetFile, builders, load_h36m_npz
from chiral_jax.data.cameras import (
    Camera,
    h36m_cameras,
    h36m_cameras_h5,
    normalize_screen_coordinates,
    project_to_pixels,
    require_h5py,
    world_to_camera,
)
from chiral_jax.data.fixtures import H36M_H5_ACTIONS, write_h36m_cameras_h5, write_h36m_h5
from chiral_jax.data.h36m import h36m_layout, load_h36m
from chiral_jax.data.h36m_h5 import canonical_take, load_h36m_h5, read_positions_h5
from chiral_jax.skeletons import H36M32_TO_17

IDS = ["54138969", "55011271", "58860488", "60457274"]


def _load(folder, **kw):
    with pytest.warns(UserWarning, match=r"3D files are absent and skipped: S1/Directions 1"):
        return load_h36m(folder, **kw)


def test_cameras_h5_round_trip_matches_package_calibration(tmp_path):
    write_h36m_cameras_h5(tmp_path / "cameras.h5")
    got, ref = h36m_cameras_h5(tmp_path / "cameras.h5"), h36m_cameras()
    assert sorted(got) == sorted(ref)
    for subject, cams in ref.items():
        assert [c.id for c in got[subject]] == IDS
        for a, b in zip(got[subject], cams, strict=True):
            assert (a.res_w, a.res_h) == (b.res_w, b.res_h)
            for name in ("R", "T", "focal", "center", "k", "p"):
                np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=0, atol=1e-12)


def test_h5_layout_splits_camera_frame_and_gt_2d(tmp_path):
    pos3 = write_h36m_h5(tmp_path)
    assert h36m_layout(tmp_path) == "h5"
    data = _load(tmp_path)
    # S11 Directions is left out as VideoPose3D does (corrupted video): S11 has nothing left.
    assert [s.key for s in data["test"]] == [f"S9/Walking/{c}" for c in IDS]
    assert [s.key for s in data["train"]] == [f"S1/{a}/{c}" for a in ("Directions", "Walking 1") for c in IDS]
    cams = h36m_cameras()["S1"]
    for s in data["train"]:
        assert s.num_frames == H36M_H5_ACTIONS["S1"][s.action] and s.fps == 50.0
        cam = cams[IDS.index(s.camera.id)]
        world = pos3["S1"][s.action][:, list(H36M32_TO_17)]  # metres: the file's mm / 1000
        expected = (world - cam.T) @ cam.R.T  # X_cam = R (X - T), by hand
        np.testing.assert_allclose(s.pose_3d + s.trajectory[:, None], expected, atol=1e-5)
        np.testing.assert_allclose(s.pose_3d[:, 0], 0.0, atol=1e-7)
        # Martinez's distortion formula (no clipping) agrees with VideoPose3D's project_to_2d here.
        np.testing.assert_allclose(s.pose_2d_px, project_to_pixels(expected, cam), atol=1e-3)
        np.testing.assert_allclose(
            s.pose_2d, normalize_screen_coordinates(s.pose_2d_px, cam.res_w, cam.res_h), atol=1e-6
        )


def test_h5_equals_videopose3d_npz_conversion(tmp_path):
    """The npz files VideoPose3D's converter makes from the same h5 give the same sequences."""
    pos3 = write_h36m_h5(tmp_path / "h5")
    cams = h36m_cameras()
    out3, out2 = {}, {}
    for subject, takes in pos3.items():
        out3[subject] = {
            a: w.astype(np.float32) for a, w in takes.items() if (subject, a) != ("S11", "Directions")
        }
        out2[subject] = {
            a: [
                project_to_pixels(world_to_camera(w[:, list(H36M32_TO_17)], c), c).astype(np.float32)
                for c in cams[subject]
            ]
            for a, w in out3[subject].items()
        }
    (tmp_path / "npz").mkdir()
    np.savez_compressed(tmp_path / "npz" / "data_3d_h36m.npz", positions_3d=out3)
    np.savez_compressed(tmp_path / "npz" / "data_2d_h36m_gt.npz", positions_2d=out2, metadata={})
    assert h36m_layout(tmp_path / "npz") == "npz"
    a, b = _load(tmp_path / "h5"), load_h36m_npz(tmp_path / "npz")
    for split in ("train", "test"):
        assert [s.key for s in a[split]] == [s.key for s in b[split]]
        for x, y in zip(a[split], b[split], strict=True):
            np.testing.assert_allclose(x.pose_3d, y.pose_3d, atol=1e-6)
            np.testing.assert_allclose(x.trajectory, y.trajectory, atol=1e-5)
            np.testing.assert_allclose(x.pose_2d_px, y.pose_2d_px, atol=1e-3)
            np.testing.assert_allclose(x.intrinsics, y.intrinsics, atol=1e-7)


def test_distortion_against_hand_computed_pixel(tmp_path):
    # World -> camera: a 90 degree turn about x (not symmetric, so a missed transpose shows),
    # camera centre T = (0, -4, 1.5) m. The point X = (0.8, 0, 1.1) is X_cam = (0.8, 0.4, 4.0):
    # x = 0.2, y = 0.1, r2 = 0.05; radial = 1 + 0.1 r2 = 1.005; tan = p0 y + p1 x = 0.005;
    # x_d = x (radial + tan) + p1 r2 = 0.203, y_d = y (radial + tan) + p0 r2 = 0.1015;
    # u = 1000 x_d + 500 = 703, v = 1000 y_d + 500 = 601.5 (camera 55011271: 1000 x 1000).
    r = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])
    cam = Camera("55011271", 1000, 1000, r, [0, -4, 1.5], [1000, 1000], [500, 500], [0.1, 0, 0], [0.01, 0.02])
    ref = h36m_cameras()["S1"]
    world = np.tile(np.array([0.8, 0.0, 1.1]), (3, 32, 1))
    world[:, 1:] += np.random.default_rng(0).normal(scale=0.1, size=(3, 31, 3))
    write_h36m_h5(
        tmp_path, poses={"S1": {"Walking": world}}, cameras={"S1": (ref[0], cam, *ref[2:])}, frames_first=True
    )
    with pytest.warns(UserWarning, match="absent"):
        seqs = load_h36m_h5(tmp_path)
    s = seqs[1]
    assert s.camera.id == "55011271"
    np.testing.assert_allclose(s.trajectory, [[0.8, 0.4, 4.0]] * 3, atol=1e-6)
    np.testing.assert_allclose(s.pose_2d_px[:, 0], [[703.0, 601.5]] * 3, atol=1e-3)
    np.testing.assert_allclose(s.pose_2d[:, 0], [[703 / 500 - 1, 601.5 / 500 - 1]] * 3, atol=1e-6)
    # Distortion matters here: without it the pixel is (700, 600).
    np.testing.assert_allclose(project_to_pixels(s.trajectory[0], cam, apply_distortion=False), [700, 600])


def test_take_names_and_warning_scope(tmp_path):
    assert canonical_take("TakingPhoto 1") == "Photo 1" and canonical_take("WalkingDog") == "WalkDog"
    assert canonical_take("Walking 1") == "Walking 1" and canonical_take("WalkDog 1") == "WalkDog 1"
    write_h36m_h5(tmp_path, {"S9": {"WalkingDog 1": 8}})
    with pytest.warns(UserWarning) as rec:
        seqs = load_h36m_h5(tmp_path, subjects=["S9"])
    assert len(rec) == 1 and "29 of the release's 3D files" in str(rec[0].message)
    assert {s.action for s in seqs} == {"WalkDog 1"}


def test_h5_errors_name_what_is_wrong(tmp_path, monkeypatch):
    write_h36m_h5(tmp_path, {"S1": {"Walking": 5}})
    with pytest.raises(ValueError, match=r"ground-truth 2D only.*data_2d_h36m_cpn\.npz"):
        load_h36m(tmp_path, "cpn")
    (tmp_path / "cameras.h5").unlink()
    with pytest.raises(MissingDatasetFile, match=re.escape(str(tmp_path / "cameras.h5"))):
        load_h36m(tmp_path)
    write_h36m_cameras_h5(tmp_path / "cameras.h5")
    bad = tmp_path / "S1" / "MyPoses" / "3D_positions" / "Walking.h5"
    with require_h5py().File(bad, "w") as f:
        f["positions"] = np.zeros((96, 4))
    with pytest.raises(MalformedDatasetFile, match=r"no dataset '3D_positions'"):
        read_positions_h5(bad)
    with require_h5py().File(bad, "w") as f:
        f["3D_positions"] = np.zeros((95, 4))
    with pytest.raises(MalformedDatasetFile, match=r"expected float \(96, T\)"):
        read_positions_h5(bad)
    with pytest.raises(MissingDatasetFile, match=r"S5"):
        load_h36m_h5(tmp_path, subjects=["S5"])
    monkeypatch.setitem(__import__("sys").modules, "h5py", None)
    with pytest.raises(ImportError, match=r"chiral_jax\[h36m\]"):
        require_h5py()


def test_h5_layout_through_the_registry_and_tfds(tmp_path):
    write_h36m_h5(tmp_path / "manual")
    with pytest.warns(UserWarning, match="absent"):
        b = builders.build("h36m", manual_dir=tmp_path / "manual", data_dir=tmp_path / "data")
    summary = builders.summarize(b)
    assert summary["config"] == "gt" and summary["num_joints"] == 17
    assert summary["splits"] == {
        "train": {"sequences": 8, "frames": 4 * (40 + 25)},
        "test": {"sequences": 4, "frames": 4 * 30},
    }
    back = builders.read_split(b, "train")
    assert back[0].key == "S1/Directions/54138969" and (back[0].camera.res_w, back[0].camera.res_h) == (
        1000,
        1002,
    )


@pytest.mark.slow
def test_cli_builds_the_h5_layout(tmp_path):
    import json
    import subprocess
    import sys

    write_h36m_h5(tmp_path / "manual")
    cmd = [sys.executable, "-m", "chiral_jax.data", "h36m", "--manual_dir", str(tmp_path / "manual")]
    out = subprocess.run([*cmd, "--data_dir", str(tmp_path / "d")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "S1/Directions 1" in out.stderr  # the one warning naming absent takes
    summary = json.loads(out.stdout.strip())
    assert summary["splits"]["test"] == {"sequences": 4, "frames": 120}
    bad = subprocess.run(
        [*cmd, "--keypoints", "cpn", "--data_dir", str(tmp_path / "e")], capture_output=True, text=True
    )
    assert bad.returncode != 0 and "ground-truth 2D only" in bad.stderr and bad.stdout == ""
