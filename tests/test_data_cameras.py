"""Camera transforms: round trips, the packaged calibrations, normalization."""

import json
from pathlib import Path

import numpy as np
import pytest

from chiral_jax.data import cameras as C

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def _pose_in_front(cam: C.Camera, seed: int = 0) -> np.ndarray:
    """A (5, 17, 3) world-frame cloud ~5 m in front of ``cam``."""
    rng = np.random.default_rng(seed)
    centre = cam.T + 5.0 * cam.R[2]
    return centre + rng.normal(scale=0.5, size=(5, 17, 3))


def test_world_camera_round_trip():
    cam = C.h36m_cameras()["S1"][0]
    x = _pose_in_front(cam)
    xc = C.world_to_camera(x, cam)
    assert np.all(xc[..., 2] > 0)
    np.testing.assert_allclose(C.camera_to_world(xc, cam), x, atol=1e-12)


@pytest.mark.parametrize("subject", ["S1", "S9", "S11"])
@pytest.mark.parametrize("index", range(4))
def test_project_and_recover_with_distortion(subject, index):
    cam = C.h36m_cameras()[subject][index]
    x = _pose_in_front(cam, seed=index)
    xc = C.world_to_camera(x, cam)
    uv = C.project_to_pixels(xc, cam)
    assert np.all(np.abs(uv - cam.center) < 1000)
    recovered = C.camera_to_world(C.back_project(uv, xc[..., 2], cam), cam)
    np.testing.assert_allclose(recovered, x, atol=1e-9)
    # Distortion matters (a recovery ignoring it is off), so the round trip exercises it.
    wrong = C.back_project(uv, xc[..., 2], cam, apply_distortion=False)
    assert np.max(np.abs(wrong - xc)) > 1e-4


def test_projection_matches_videopose3d_normalized_form():
    cam = C.h36m_cameras()["S5"][2]
    xc = C.world_to_camera(_pose_in_front(cam), cam)
    px = C.project_to_pixels(xc, cam)
    norm = C.project_normalized(xc, C.intrinsics_vector(cam))
    np.testing.assert_allclose(norm, C.normalize_screen_coordinates(px, cam.res_w, cam.res_h), atol=1e-6)


def test_normalize_screen_coordinates_round_trip_and_values():
    uv = np.array([[0.0, 0.0], [1000.0, 1002.0], [500.0, 501.0]])
    n = C.normalize_screen_coordinates(uv, 1000, 1002)
    np.testing.assert_allclose(n[0], [-1.0, -1.002])
    np.testing.assert_allclose(n[1], [1.0, 1.002])
    np.testing.assert_allclose(n[2], [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(C.image_coordinates(n, 1000, 1002), uv)


def test_h36m_calibration_is_sane():
    cams = C.h36m_cameras()
    assert sorted(cams) == ["S1", "S11", "S5", "S6", "S7", "S8", "S9"]
    for subject, lst in cams.items():
        assert tuple(c.id for c in lst) == C.H36M_CAMERA_IDS
        for c in lst:
            np.testing.assert_allclose(c.R @ c.R.T, np.eye(3), atol=1e-6)
            assert np.linalg.det(c.R) == pytest.approx(1.0, abs=1e-6)
            # Cameras look at the capture area (world origin region), from ~1.5 m height.
            to_origin = -c.T / np.linalg.norm(c.T)
            assert c.R[2] @ to_origin > 0.8, (subject, c.id)
            assert 0.5 < c.T[2] < 2.5


def test_humaneva_calibration_is_sane():
    cams = C.humaneva_cameras()
    assert sorted(cams) == ["S1", "S2", "S3"]
    for lst in cams.values():
        assert tuple(c.id for c in lst) == C.HUMANEVA_CAMERA_IDS
        for c in lst:
            np.testing.assert_allclose(c.R @ c.R.T, np.eye(3), atol=1e-6)
            assert (c.res_w, c.res_h) == (640, 480)
            assert not c.has_intrinsics
            assert c.R[2] @ (-c.T / np.linalg.norm(c.T)) > 0.7  # looking at the capture area


def test_package_data_matches_shared_copy():
    for name in ("cameras_h36m.json", "cameras_humaneva.json"):
        shared = SHARED / "data" / name
        if not shared.is_file():
            pytest.skip(f"{shared} absent (no shared data folder on this machine)")
        packaged = Path(C.__file__).with_name(name)
        assert json.loads(packaged.read_text()) == json.loads(shared.read_text())


def test_look_at_camera_sees_target_at_centre():
    cam = C.look_at_camera([4.0, 3.0, 1.6], [0.0, 0.0, 1.0])
    uv = C.project_to_pixels(C.world_to_camera(np.array([0.0, 0.0, 1.0]), cam), cam)
    np.testing.assert_allclose(uv, cam.center, atol=1e-9)
    # Image y points down: a point above the target appears higher (smaller v).
    up = C.project_to_pixels(C.world_to_camera(np.array([0.0, 0.0, 1.5]), cam), cam)
    assert up[1] < cam.center[1]
