"""Penn Action forecasting protocol: normalisation, frame sampling, samples, mirror."""

import dataclasses

import numpy as np
import pytest

from chiral_jax.data.augment import mirror_pixels, mirror_poses
from chiral_jax.data.fixtures import write_penn_action
from chiral_jax.data.forecasting import forecast_samples, normalize_video, sample_indices
from chiral_jax.data.penn_action import ACTIONS, load_penn_action
from chiral_jax.skeletons import PENN_ACTION


@pytest.fixture(scope="module")
def penn(tmp_path_factory):
    folder = tmp_path_factory.mktemp("penn")
    write_penn_action(folder)
    return load_penn_action(folder)


def test_normalize_video_hand_example():
    px = np.array([[[0.0, 0.0], [4.0, 2.0]], [[1.0, 1.0], [3.0, 1.5]]])  # box x 0..4, y 0..2
    coords, centre, half = normalize_video(px)
    np.testing.assert_allclose(centre, [2.0, 1.0])
    assert half == 2.0  # L = max(4, 2) = 4
    np.testing.assert_allclose(coords[0], [[-1.0, -0.5], [1.0, 0.5]])
    np.testing.assert_allclose(coords[1], [[-0.5, 0.0], [0.5, 0.25]])
    assert coords.dtype == np.float32 and centre.shape == (2,)


@pytest.mark.parametrize("tall", [False, True])
def test_normalize_video_longer_side_spans_exactly_minus_one_to_one(tall):
    rng = np.random.default_rng(3)
    px = rng.uniform([100, 50], [500, 250], size=(7, 13, 2))  # wider than tall
    if tall:
        px = px[..., ::-1]
    coords, centre, half = normalize_video(px)
    long_axis, short_axis = (1, 0) if tall else (0, 1)
    assert coords[..., long_axis].min() == pytest.approx(-1.0, abs=1e-6)
    assert coords[..., long_axis].max() == pytest.approx(1.0, abs=1e-6)
    # The shorter side is centred: symmetric, inside [-1, 1].
    short = coords[..., short_axis]
    assert -1 < short.min() < 0 < short.max() < 1 and short.min() == pytest.approx(-short.max(), abs=1e-6)
    np.testing.assert_allclose(coords * half + centre, px, atol=1e-4)


def test_normalize_video_uses_every_joint_and_guards_a_point_box():
    px = np.full((3, 13, 2), [10.0, 20.0])
    coords, centre, half = normalize_video(px)
    np.testing.assert_array_equal(coords, 0.0)
    np.testing.assert_allclose(centre, [10.0, 20.0])
    assert half > 0
    px[1, 5] = [30.0, 20.0]  # one joint (visible or not: visibility is not an argument) sets the box
    coords, centre, half = normalize_video(px)
    assert half == 10.0 and coords[1, 5, 0] == 1.0 and coords[0, 0, 0] == -1.0
    with pytest.raises(ValueError, match=r"\(T>0, J, 2\)"):
        normalize_video(np.zeros((3, 13)))


def test_sample_indices_by_hand():
    np.testing.assert_array_equal(sample_indices(10, 0, 3), [0, 3, 6])  # stride (10 - 1) // 3 = 3
    np.testing.assert_array_equal(sample_indices(10, 5, 3), [5, 8, 9])  # 11 clipped to the last frame
    np.testing.assert_array_equal(sample_indices(10, 9, 3), [9, 9, 9])
    np.testing.assert_array_equal(sample_indices(40, 1, 18), [1 + 2 * k for k in range(18)])  # stride 2
    np.testing.assert_array_equal(sample_indices(5, 2, 4), [2, 3, 4, 4])  # stride 4 // 4 = 1
    np.testing.assert_array_equal(sample_indices(4, 1, 18), [1, 2, 3] + [3] * 15)  # stride 0 -> 1
    np.testing.assert_array_equal(sample_indices(1, 0, 2), [0, 0])
    for bad in [(10, 10, 3), (10, -1, 3), (0, 0, 3), (10, 0, 0)]:
        with pytest.raises(ValueError, match="sample_indices"):
            sample_indices(*bad)


@pytest.mark.parametrize(("observed", "n"), [(2, 18), (1, 17)])
def test_forecast_samples_one_per_frame(penn, observed, n):
    videos = penn["train"]
    s = forecast_samples(videos, observed=observed, future=16)
    total = sum(v.num_frames for v in videos)
    assert s["poses"].shape == (total, n, 13, 2) and s["poses"].dtype == np.float32
    assert s["visible"].shape == (total, n, 13) and s["visible"].dtype == bool
    for k in ("video", "start", "half_size", "action"):
        assert s[k].shape == (total,)
    assert s["centre"].shape == (total, 2)
    # Every sample is its video's normalised frames at sample_indices, in order of videos and starts.
    np.testing.assert_array_equal(
        s["video"], np.repeat(np.arange(len(videos)), [v.num_frames for v in videos])
    )
    np.testing.assert_array_equal(s["start"], np.concatenate([np.arange(v.num_frames) for v in videos]))
    for i in [0, 5, total // 2, total - 1]:
        v = videos[s["video"][i]]
        coords, centre, half = normalize_video(v.keypoints_px)
        np.testing.assert_array_equal(s["centre"][i], centre)
        idx = sample_indices(v.num_frames, int(s["start"][i]), n)
        np.testing.assert_array_equal(s["poses"][i], coords[idx])
        np.testing.assert_array_equal(s["visible"][i], v.visibility[idx])
        assert s["half_size"][i] == np.float32(half) and s["action"][i] == ACTIONS.index(v.action)
        np.testing.assert_allclose(
            s["poses"][i] * s["half_size"][i] + s["centre"][i], v.keypoints_px[idx], atol=1e-3
        )
    assert np.abs(s["poses"]).max() <= 1.0 + 1e-6


def test_forecast_samples_empty_and_bad_arguments():
    s = forecast_samples([])
    assert s["poses"].shape == (0, 18, 13, 2) and s["video"].shape == (0,)
    with pytest.raises(ValueError, match="observed and future"):
        forecast_samples([], observed=0)


def test_mirror_commutes_with_normalisation(penn):
    video = penn["test"][0]
    width = video.image_size[0]
    coords, _, half = normalize_video(video.keypoints_px)
    mirrored_px = mirror_pixels(video.keypoints_px, width, PENN_ACTION)  # x -> W - x, left <-> right
    # By hand for one joint: left shoulder (1) of the mirror is the right shoulder (2) at W - x.
    np.testing.assert_allclose(
        mirrored_px[0, 1], [width - video.keypoints_px[0, 2, 0], video.keypoints_px[0, 2, 1]]
    )
    coords_m, _, half_m = normalize_video(mirrored_px)
    assert half_m == pytest.approx(half)
    flipped = coords[:, _swap()] * np.array([-1.0, 1.0], np.float32)
    np.testing.assert_allclose(coords_m, flipped, atol=1e-5)
    np.testing.assert_allclose(coords_m, mirror_poses(coords, PENN_ACTION), atol=1e-5)
    # ... hence the samples of the mirrored video are the mirrored samples.
    mirrored = dataclasses.replace(
        video, keypoints_px=mirrored_px.astype(np.float32), visibility=video.visibility[:, _swap()]
    )
    a, b = forecast_samples([video]), forecast_samples([mirrored])
    np.testing.assert_allclose(b["poses"], mirror_poses(a["poses"], PENN_ACTION), atol=1e-5)
    np.testing.assert_array_equal(b["visible"], a["visible"][..., _swap()])


def _swap() -> list[int]:
    """Penn Action's left/right joint permutation (head stays)."""
    perm = list(range(13))
    for left, right in zip(PENN_ACTION.left, PENN_ACTION.right, strict=True):
        perm[left], perm[right] = right, left
    return perm
