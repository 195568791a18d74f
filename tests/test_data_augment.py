"""Mirror augmentation: an involution that matches the skeleton's spec transform and the cameras."""

import numpy as np
import pytest

from chiral_jax.data import augment, cameras
from chiral_jax.data.windows import PoseWindows
from chiral_jax.skeletons import H36M, HUMANEVA15


def _rng_poses(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


@pytest.mark.parametrize("skeleton,dim", [(H36M, 2), (H36M, 3), (HUMANEVA15, 3)])
def test_mirror_is_an_involution_matching_the_spec(skeleton, dim):
    x = _rng_poses((4, 9, skeleton.num_joints, dim))
    m = augment.mirror_poses(x, skeleton)
    np.testing.assert_array_equal(augment.mirror_poses(m, skeleton), x)
    spec = skeleton.spec(dim)
    flat = x.reshape(4, 9, -1)
    np.testing.assert_array_equal(m.reshape(4, 9, -1), spec.transform(flat))
    np.testing.assert_array_equal(augment.mirror_poses(flat, skeleton, dim), spec.transform(flat))
    # By hand: the left wrist's mirrored x is minus the right wrist's x.
    if skeleton is H36M:
        lw, rw = H36M.index("l_wrist"), H36M.index("r_wrist")
        np.testing.assert_array_equal(m[..., lw, 0], -x[..., rw, 0])
        np.testing.assert_array_equal(m[..., lw, 1:], x[..., rw, 1:])


def test_mirrored_3d_projects_to_mirrored_2d_with_mirrored_intrinsics():
    cam = cameras.h36m_cameras()["S9"][1]
    xc = cameras.world_to_camera(cam.T + 5 * cam.R[2] + _rng_poses((6, 17, 3), 1) * 0.4, cam)
    k = cameras.intrinsics_vector(cam)
    p2d = cameras.project_normalized(xc, k)
    mirrored_2d = augment.mirror_poses(p2d, H36M)
    mirrored_k = augment.mirror_intrinsics(k)
    from_mirrored_3d = cameras.project_normalized(augment.mirror_poses(xc, H36M), mirrored_k)
    np.testing.assert_allclose(from_mirrored_3d, mirrored_2d, atol=1e-9)
    # Without the principal-point / tangential fix the identity fails (the camera is off-centre).
    wrong = cameras.project_normalized(augment.mirror_poses(xc, H36M), k)
    assert np.max(np.abs(wrong - mirrored_2d)) > 1e-3
    np.testing.assert_array_equal(augment.mirror_intrinsics(augment.mirror_intrinsics(k)), k)


def test_mirror_pixels_matches_normalized_mirror():
    px = _rng_poses((3, 17, 2)) * 100 + 500
    w, h = 1000, 1002
    mp = augment.mirror_pixels(px, w)
    n = cameras.normalize_screen_coordinates(px, w, h)
    mn = cameras.normalize_screen_coordinates(mp, w, h)
    np.testing.assert_allclose(mn, augment.mirror_poses(n), atol=1e-5)
    np.testing.assert_allclose(augment.mirror_pixels(mp, w), px, atol=1e-4)


def test_mirror_augment_in_batches():
    inputs = [_rng_poses((20, 17, 2), 2)]
    targets = [_rng_poses((20, 17, 3), 3)]
    intr = [np.arange(9, dtype=np.float32)]
    w = PoseWindows(inputs, targets, receptive_field=5, intrinsics=intr, flatten=True)
    plain = w.gather(np.arange(20))
    all_flip = next(w.batches(20, shuffle=False, augment=augment.MirrorAugment(1.0)))
    assert all_flip["mirrored"].all()
    np.testing.assert_array_equal(all_flip["inputs"], H36M.spec(2).transform(plain["inputs"]))
    np.testing.assert_array_equal(all_flip["targets"], H36M.spec(3).transform(plain["targets"]))
    np.testing.assert_array_equal(all_flip["intrinsics"][:, [2, 7]], -plain["intrinsics"][:, [2, 7]])
    none = next(w.batches(20, shuffle=False, augment=augment.MirrorAugment(0.0)))
    np.testing.assert_array_equal(none["inputs"], plain["inputs"])
    half = next(w.batches(20, shuffle=False, seed=5, augment=augment.MirrorAugment(0.5)))
    f = half["mirrored"]
    assert 0 < f.sum() < 20
    np.testing.assert_array_equal(half["inputs"][~f], plain["inputs"][~f])
    np.testing.assert_array_equal(half["inputs"][f], H36M.spec(2).transform(plain["inputs"][f]))
    # The source arrays are untouched.
    np.testing.assert_array_equal(w.gather(np.arange(20))["inputs"], plain["inputs"])
