"""The packaged lifter (``--checkpoint pretrained``) and how its training inputs are made
(chiral_jax.predict.training: motion capture seen as a COCO-17 detector would see it)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from chiral_jax import skeletons
from chiral_jax.data.synthetic import SyntheticConfig, generate
from chiral_jax.predict import PRETRAINED, find_run, load_lifter, pretrained_dir
from chiral_jax.predict import keypoints as kp
from chiral_jax.predict.bvh import read_bvh, read_bvh_poses
from chiral_jax.predict.simulate import coco17_from_h36m, mirror_records
from chiral_jax.predict.training import DetectorOptions, coco17_points, detector_inputs, detector_sequences

ROOT = Path(__file__).resolve().parents[1]
H36M = skeletons.H36M
CMU_DIR = ROOT.parent / "shared" / "data" / "cmu_mocap"
W = H = 1000
EXACT = DetectorOptions(noise_px=0.0, missing_fraction=0.0, missing_frames=0.0)


@pytest.fixture(scope="module")
def clips():
    """Held-out synthetic sequences (subject S2 of a two-subject set), one camera: walking, waving."""
    cfg = SyntheticConfig(
        num_subjects=2, num_test_subjects=1, motions=("walking", "waving"), min_frames=60, max_frames=60,
        num_cameras=1,
    )  # fmt: skip
    return generate(cfg)["test"]


def _mirror(x: np.ndarray) -> np.ndarray:
    dim = x.shape[-1]
    return H36M.spec(dim).transform(x.reshape(len(x), -1)).reshape(x.shape)


# ---------------------------------------------------------------------------------- training inputs


def test_detector_inputs_are_what_predict_makes_of_the_coco_points(clips, tmp_path):
    seq = clips[0]
    cam3d = seq.pose_3d.astype(np.float64) + seq.trajectory[:, None]
    from chiral_jax.data.cameras import project_to_pixels

    coco = project_to_pixels(coco17_points(cam3d), seq.camera)
    records = [
        {"frame_id": t, "instances": [{"keypoints": coco[t].tolist(), "keypoint_scores": [0.9] * 17}]}
        for t in range(len(coco))
    ]
    path = tmp_path / "det.json"
    path.write_text(json.dumps(records))
    prepared = kp.prepare(path, image_size=(seq.camera.res_w, seq.camera.res_h))
    pixels, normalized = detector_inputs(seq, EXACT, np.random.default_rng(0))
    np.testing.assert_allclose(pixels, prepared.pixels, atol=1e-3)
    np.testing.assert_allclose(normalized, prepared.normalized, atol=1e-6)
    # Limbs are the dataset's own joints; pelvis, spine, thorax and head are derived as predict does.
    limbs = [1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16]
    np.testing.assert_allclose(pixels[:, limbs], seq.pose_2d_px[:, limbs], atol=1e-2)
    np.testing.assert_allclose(pixels[:, 0], 0.5 * (pixels[:, 1] + pixels[:, 4]), atol=1e-3)
    assert np.abs(pixels[:, 10] - seq.pose_2d_px[:, 10]).max() > 5  # the head: eyes and ears, lower


def test_coco_points_mirror_with_the_pose():
    """Mirroring the 3D pose (x negated, left <-> right) mirrors the face points too (eyes and ears
    swap sides): a chiral lifter trained on these inputs sees mirrored detections for mirrored people."""
    rng = np.random.default_rng(1)
    pose = generate(SyntheticConfig(num_subjects=2, num_test_subjects=1, min_frames=20, max_frames=20))
    joints = pose["train"][0].pose_3d[:5] + rng.normal(0, 0.01, (5, 17, 3))
    swap = [kp.LAYOUTS["coco17"].index(n.replace("l_", "#").replace("r_", "l_").replace("#", "r_"))
            for n in kp.LAYOUTS["coco17"]]  # fmt: skip
    mirrored = coco17_points(_mirror(joints))
    expected = coco17_points(joints)[:, swap] * np.array([-1.0, 1.0, 1.0])
    np.testing.assert_allclose(mirrored, expected, atol=1e-9)


def test_noise_and_missing_joints(clips):
    seq = clips[0]
    options = DetectorOptions(noise_px=4.0, missing_fraction=0.2, missing_frames=0.05, seed=3)
    clean, _ = detector_inputs(seq, EXACT, np.random.default_rng(0))
    noisy, normalized = detector_inputs(seq, options, np.random.default_rng(0))
    assert np.all(np.isfinite(noisy)) and np.all(np.isfinite(normalized))
    err = np.abs(noisy - clean)
    assert 0.3 < np.median(err) < 20  # noise of a few pixels; gaps interpolated across frames
    copies = detector_sequences(clips, options, copies=2)
    assert [s.action for s in copies] == [s.action for s in clips] + [f"{s.action} #1" for s in clips]
    assert not np.allclose(copies[0].pose_2d, copies[2].pose_2d)  # each copy its own draw
    assert copies[0].pose_3d is clips[0].pose_3d  # targets shared, unchanged
    again = detector_sequences(clips, options, copies=2)
    np.testing.assert_array_equal(again[3].pose_2d, copies[3].pose_2d)  # deterministic
    with pytest.raises(ValueError, match="unknown keys"):
        DetectorOptions.from_config({"noise": 1.0})
    with pytest.raises(ValueError, match="missing_fraction"):
        DetectorOptions(missing_fraction=1.5)


def test_missing_fraction_is_what_is_asked():
    from chiral_jax.predict.training import _missing

    options = DetectorOptions(missing_fraction=0.1, gap_frames=5.0, missing_frames=0.02)
    mask = _missing(np.random.default_rng(0), 20000, options)
    assert 0.09 < mask.mean() < 0.14  # runs overlap a little; whole frames add 2 %
    assert 0.015 < mask.all(axis=1).mean() < 0.03
    assert not _missing(np.random.default_rng(0), 50, EXACT).any()


def test_config_keys_and_the_training_data(tmp_path):
    """The config's data keys reach the task: extra datasets join training, the test split is the
    main dataset's, every 2D input is a detector draw (two copies of each training sequence)."""
    from chiral_jax.predict.training import DetectorLiftingTask
    from chiral_jax.tasks.configs import load_config_file

    config = load_config_file(str(ROOT / "experiments" / "configs" / "lift3d_pretrained.py"))
    assert config.data.name == "cmu_mocap" and tuple(config.data.extra_train) == ("synthetic",)
    assert config.model.kind == "chiral" and config.data.detector.copies == 2
    DetectorOptions.from_config(config.data.detector)
    small = {"seed": 0, "num_subjects": 3, "num_test_subjects": 1, "motions": ("waving",), "num_cameras": 1,
             "min_frames": 40, "max_frames": 40}  # fmt: skip
    config.data.update(name="synthetic", extra_train=("synthetic",), data_dir=str(tmp_path), synthetic=small)
    data = DetectorLiftingTask().load_data(config)
    assert data.name == "synthetic+synthetic (simulated coco17 detections)"
    assert len(data.train) == 2 * (2 + 3) and len(data.test) == 1  # (train + all) x 2 copies; S3
    assert {s.subject for s in data.test} == {"S3"}
    plain = generate(SyntheticConfig(**small))
    assert not np.allclose(data.train[0].pose_2d, plain["train"][0].pose_2d, atol=1e-3)
    np.testing.assert_allclose(data.test[0].pose_3d, plain["test"][0].pose_3d, atol=1e-6)


# ---------------------------------------------------------------------------------- the packaged lifter


def test_packaged_lifter_is_small_and_found_by_name():
    folder = pretrained_dir()
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert (folder / "model.json") in files and sum(p.stat().st_size for p in files) <= 5 * 2**20
    assert find_run(PRETRAINED) == folder
    meta = json.loads((folder / "model.json").read_text())
    assert meta["variant"]["kind"] == "chiral" and meta["skeleton"] == "h36m"
    assert meta["config"]["data"]["manual_dir"] == ""  # no folder of the training machine


@pytest.fixture(scope="module")
def pretrained():
    return load_lifter(PRETRAINED)


def test_packaged_lifter_lifts_coco17_detections_to_finite_mirrored_poses(pretrained, clips, tmp_path):
    seq = clips[0]
    coco = coco17_from_h36m(seq.pose_2d_px)
    records = [
        {"frame_id": t, "instances": [{"keypoints": coco[t].tolist(), "keypoint_scores": [0.9] * 17}]}
        for t in range(len(coco))
    ]
    (tmp_path / "a.json").write_text(json.dumps(records))
    (tmp_path / "m.json").write_text(json.dumps(mirror_records(records, W)))
    a = kp.prepare(tmp_path / "a.json", image_size=(W, H))
    m = kp.prepare(tmp_path / "m.json", image_size=(W, H))
    poses, root = pretrained.predict_with_trajectory(a.normalized)
    assert poses.shape == (60, 17, 3) and np.all(np.isfinite(poses)) and np.all(poses[:, 0] == 0)
    # A person: limbs of plausible length (thigh 0.3 - 0.6 m), a walk lifted within reach of the truth.
    thigh = np.linalg.norm(poses[:, 2] - poses[:, 1], axis=-1)
    assert 0.3 < np.median(thigh) < 0.6
    assert np.mean(np.linalg.norm(poses - seq.pose_3d, axis=-1)) < 0.15
    mirrored, mroot = pretrained.predict_with_trajectory(m.normalized)
    np.testing.assert_allclose(mirrored, _mirror(poses), atol=1e-4)  # chiral: exactly, up to rounding
    if pretrained.has_trajectory:
        assert np.all(np.isfinite(root)) and np.all(root[:, 2] > 1.0)  # in front of the camera
        np.testing.assert_allclose(mroot, root * np.array([-1.0, 1.0, 1.0]), atol=1e-4)


def _two_people(clips) -> list[dict]:
    """mmpose records of two people: a walk on the left, a wave on the right that starts at frame 6."""
    a = coco17_from_h36m(clips[0].pose_2d_px) + np.array([-220.0, 0.0])
    b = coco17_from_h36m(clips[1].pose_2d_px) + np.array([220.0, 0.0])
    rng = np.random.default_rng(0)
    records = []
    for t in range(len(a)):
        people = [(a[t], 0.9)] + ([(b[t], 0.8)] if t >= 6 else [])
        rng.shuffle(people)
        records.append(
            {
                "frame_id": t,
                "instances": [
                    {
                        "keypoints": (xy + rng.normal(0, 1.0, xy.shape)).round(2).tolist(),
                        "keypoint_scores": [s] * 17,
                    }
                    for xy, s in people
                ],
            }
        )
    return records


@pytest.mark.slow
def test_cli_two_people_tracks_bvh_and_mirror(clips, tmp_path, predict3d_cli):
    cli = predict3d_cli
    records = _two_people(clips)
    det, mir = tmp_path / "two.json", tmp_path / "two_mirrored.json"
    det.write_text(json.dumps(records))
    mir.write_text(json.dumps(mirror_records(records, W)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cli.main(["predict3d.py", "--checkpoint", "pretrained", "--keypoints", str(det), "--image_size",
                  f"{W},{H}", "--out", str(tmp_path / "p.npz"), "--people", "all", "--bvh",
                  str(tmp_path / "out.bvh"), "--fps", "50"])  # fmt: skip
        mirrored = cli.predict(
            "pretrained", str(mir), str(tmp_path / "m.npz"), image_size=(W, H), people=None
        )
    out = np.load(tmp_path / "p.npz")
    tracks, frames = out["tracks_3d"], out["track_frames"]
    assert tracks.shape == (2, 60, 17, 3) and frames.sum(axis=1).tolist() == [60, 54]
    assert np.all(np.isfinite(tracks[frames])) and np.all(np.isnan(tracks[1, :6]))
    assert str(out["checkpoint"]).startswith(str(pretrained_dir()))
    # Person 0 (the longest track) is the walk on the left: its pelvis pixels are there.
    assert np.all(out["tracks_2d"][0, :, 0, 0] < W / 2) and np.all(out["tracks_2d"][1, 6:, 0, 0] > W / 2)
    for k, path in enumerate([tmp_path / "out.bvh", tmp_path / "out_1.bvh"]):
        parsed = read_bvh(path)
        assert len(parsed.names) == 23 and parsed.motion.shape == (int(frames[k].sum()), 72)
        assert parsed.frame_time == pytest.approx(1 / 50)
        assert np.all(np.isfinite(read_bvh_poses(path)))
    if "trajectory" in out.files:
        np.testing.assert_allclose(out["poses_3d_camera"], out["poses_3d"] + out["trajectory"][:, None])
        assert np.all(np.isfinite(out["trajectory"]))
    # The mirrored video: the same two tracks, mirrored poses.
    mt = mirrored["tracks_3d"]
    np.testing.assert_array_equal(mirrored["track_frames"], frames)
    for k in range(2):
        np.testing.assert_allclose(mt[k][frames[k]], _mirror(tracks[k][frames[k]]), atol=1e-4)


@pytest.mark.slow
@pytest.mark.skipif(not CMU_DIR.is_dir(), reason=f"CMU motion capture not found at {CMU_DIR}")
def test_packaged_lifter_errors_on_cmu_subject_03(pretrained):
    """The README's figures: the packaged lifter on CMU subject 03 (4 virtual cameras) seen through the
    training config's detector simulation (the test draw)."""
    from chiral_jax.data.cmu_mocap import load_cmu_mocap
    from chiral_jax.tasks.lifting import evaluate

    meta = pretrained.metadata
    options = DetectorOptions.from_config(meta["config"]["data"]["detector"])
    test = load_cmu_mocap(CMU_DIR, subjects=("03",))["test"]
    test = detector_sequences(test, options, copies=1, stream=1)
    model = pretrained.model
    found = evaluate(
        model, test, H36M, receptive_field=pretrained.receptive_field, trajectory=pretrained.has_trajectory
    )
    stated = json.loads((pretrained_dir() / "model.json").read_text())["test_errors_mm"]
    assert found["mpjpe_mm"] == pytest.approx(stated["mpjpe"], abs=0.05)
    assert found["p_mpjpe_mm"] == pytest.approx(stated["p_mpjpe"], abs=0.05)
    # docs/predict.md: exact COCO points (no noise, no gaps).
    exact = evaluate(
        model, detector_sequences(test, EXACT, copies=1, stream=1), H36M,
        receptive_field=pretrained.receptive_field, trajectory=pretrained.has_trajectory,
    )  # fmt: skip
    assert (round(exact["mpjpe_mm"], 1), round(exact["p_mpjpe_mm"], 1)) == (79.5, 66.4)
    if pretrained.has_trajectory:
        assert found["trajectory_mm"] == pytest.approx(stated["trajectory"], abs=0.05)
        assert round(exact["trajectory_mm"], 1) == 298.0
        # docs/predict.md: the root error is mostly depth (mean |error| per camera axis, mm).
        errors = [np.abs(pretrained.predict_with_trajectory(s.pose_2d)[1] - s.trajectory) for s in test]
        per_axis = 1000 * np.concatenate(errors).mean(axis=0)
        np.testing.assert_allclose(per_axis, [61.6, 83.2, 262.1], atol=0.1)
        assert np.mean([s.trajectory[:, 2].mean() for s in test]) == pytest.approx(5.5, abs=0.1)


def test_model_only_checkpoint_is_what_load_lifter_reads(pretrained):
    """The packaged checkpoint holds the model's arrays only (entry 0; no optimizer state)."""
    from chiral_jax.train.checkpoint import Checkpointer, CheckpointMismatchError

    with Checkpointer(str(pretrained_dir() / "checkpoints")) as ckpt:
        with pytest.raises(CheckpointMismatchError, match="entry 1") as err:
            ckpt.restore_part(1, {"mu": np.zeros(1, np.float32)})
    assert err.value.saved == {} and Path(err.value.path) == pretrained.checkpoint
