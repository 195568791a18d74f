"""Human3.6M / HumanEva readers on fixture npz files in VideoPose3D's format."""

import numpy as np
import pytest

from chiral_jax.data import MalformedDatasetFile, MissingDatasetFile, load_h36m_npz, load_humaneva_npz
from chiral_jax.data.cameras import (
    h36m_cameras,
    humaneva_cameras,
    normalize_screen_coordinates,
    project_to_pixels,
    quaternion_to_matrix,
)
from chiral_jax.data.fixtures import H36M_ACTIONS, HUMANEVA_ACTIONS, write_h36m, write_humaneva
from chiral_jax.skeletons import H36M32_TO_17


def test_h36m_counts_splits_and_trimming(tmp_path):
    write_h36m(tmp_path, extra_2d_frames=3)
    data = load_h36m_npz(tmp_path, "gt")
    assert {s.subject for s in data["train"]} == {"S1"} and {s.subject for s in data["test"]} == {"S9"}
    for split in data.values():
        for s in split:
            # 2D had 3 more frames than 3D: trimmed to the 3D length the file holds.
            assert s.num_frames == H36M_ACTIONS[s.subject][s.action]
            assert s.pose_2d_px.shape == (s.num_frames, 17, 2) and s.pose_3d.shape == (s.num_frames, 17, 3)
    assert len(data["train"]) == 2 * 4 and len(data["test"]) == 4
    assert [s.camera.id for s in data["test"]] == ["54138969", "55011271", "58860488", "60457274"]


def test_h36m_3d_is_camera_frame_and_reprojects(tmp_path):
    pos3 = write_h36m(tmp_path)
    s = load_h36m_npz(tmp_path)["train"][5]  # S1, second action in sorted order, camera 1
    cam = h36m_cameras()["S1"][1]
    assert s.camera.id == cam.id and (s.subject, s.action) == ("S1", "Walking 1")
    world = pos3["S1"]["Walking 1"][:, list(H36M32_TO_17)]
    expected = (world - cam.T) @ cam.R.T  # X_cam = R (X - T), by hand
    np.testing.assert_allclose(s.pose_3d + s.trajectory[:, None], expected, atol=1e-5)
    np.testing.assert_allclose(s.pose_3d[:, 0], 0.0, atol=1e-7)
    np.testing.assert_allclose(
        project_to_pixels(s.pose_3d + s.trajectory[:, None], cam), s.pose_2d_px, atol=1e-3
    )
    np.testing.assert_allclose(s.pose_2d, normalize_screen_coordinates(s.pose_2d_px, 1000, 1000), atol=1e-6)
    assert s.fps == 50.0


def test_h36m_subject_filter_and_any_source(tmp_path):
    write_h36m(tmp_path, source="my_detector")
    data = load_h36m_npz(tmp_path, "my_detector", subjects=["S9"])
    assert not data["train"] and len(data["test"]) == 4


def test_h36m_missing_file_message(tmp_path):
    with pytest.raises(MissingDatasetFile) as err:
        load_h36m_npz(tmp_path, "cpn_ft_h36m_dbb")
    msg = str(err.value)
    assert str(tmp_path / "data_3d_h36m.npz") in msg and "positions_3d" in msg and "DATASETS.md" in msg
    write_h36m(tmp_path)
    with pytest.raises(MissingDatasetFile, match=r"data_2d_h36m_cpn_ft_h36m_dbb\.npz"):
        load_h36m_npz(tmp_path, "cpn_ft_h36m_dbb")


def test_h36m_malformed_files(tmp_path):
    write_h36m(tmp_path)
    np.savez_compressed(tmp_path / "data_2d_h36m_gt.npz", wrong_key=np.zeros(3))
    with pytest.raises(MalformedDatasetFile, match="no key 'positions_2d'"):
        load_h36m_npz(tmp_path)
    (tmp_path / "data_3d_h36m.npz").write_text("not a zip")
    with pytest.raises(MalformedDatasetFile, match=r"data_3d_h36m\.npz"):
        load_h36m_npz(tmp_path)
    write_h36m(tmp_path)
    np.savez_compressed(tmp_path / "data_3d_h36m.npz", positions_3d={"S1": {"Walking": np.zeros((5, 9, 3))}})
    with pytest.raises(MalformedDatasetFile, match=r"shape \(5, 9, 3\)"):
        load_h36m_npz(tmp_path)


def test_humaneva(tmp_path):
    pos3 = write_humaneva(tmp_path)
    data = load_humaneva_npz(tmp_path)
    assert {s.subject for s in data["train"]} == {"Train/S1"}
    assert {s.subject for s in data["test"]} == {"Validate/S2"}
    assert len(data["train"]) == 2 * 3 and len(data["test"]) == 2  # the None view is skipped
    for s in data["train"] + data["test"]:
        assert s.num_frames == HUMANEVA_ACTIONS[s.subject][s.action] and s.fps == 60.0
        assert s.pose_3d.shape[1:] == (15, 3)
        np.testing.assert_array_equal(s.intrinsics, np.zeros(9))
    s = data["test"][1]
    cam = humaneva_cameras()["S2"][1]
    assert s.camera.id == "C2"
    r = quaternion_to_matrix(cam_q := _humaneva_quaternion("S2", 1))
    assert cam_q is not None
    expected = (pos3["Validate/S2"]["Jog 1 chunk0"] - cam.T) @ r  # rotate(conj(q), X - t)
    np.testing.assert_allclose(s.pose_3d + s.trajectory[:, None], expected, atol=1e-5)
    np.testing.assert_allclose(s.pose_2d, normalize_screen_coordinates(s.pose_2d_px, 640, 480), atol=1e-6)


def _humaneva_quaternion(subject, index):
    import json
    from importlib import resources

    d = json.loads(resources.files("chiral_jax.data").joinpath("cameras_humaneva.json").read_text())
    return d["extrinsics"][subject][index]["orientation"]
