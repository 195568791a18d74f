"""Lifting your own keypoints: run folders rebuilt from model.json, detector formats, the CLI."""

from __future__ import annotations

import json
import math
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from chiral_jax import skeletons
from chiral_jax.predict import ModelMismatchError, find_run, load_lifter
from chiral_jax.predict import keypoints as kp
from chiral_jax.predict.simulate import coco17_from_h36m, mirror_records, mmpose_records

ROOT = Path(__file__).resolve().parents[1]
H36M = skeletons.H36M
SAVED_PARAMS: dict[str, list[np.ndarray]] = {}  # the weights each fake run saved
W, H = 1000, 800


def _pose_pixels(t: int = 12, seed: int = 0) -> np.ndarray:
    """A plausible H36M-17 pixel sequence: a rest pose (x right, y down) with small motion."""
    rest = np.array(
        [
            [500, 400], [470, 400], [470, 520], [470, 640], [530, 400], [530, 520], [530, 640],
            [500, 340], [500, 280], [500, 250], [500, 220], [545, 285], [560, 350], [565, 410],
            [455, 285], [440, 350], [435, 410],
        ],
        dtype=np.float64,
    )  # fmt: skip
    rng = np.random.default_rng(seed)
    wave = np.sin(np.linspace(0, np.pi, t))[:, None, None] * rng.normal(0, 5, (1, 17, 2))
    return rest[None] + wave


def _fake_run(workdir: Path, kind: str = "chiral", channels: int = 16, seed: int = 0) -> Path:
    """A run folder as the runner leaves it (model.json + one checkpoint), without training."""
    import jax
    import ml_collections
    from flax import nnx

    from chiral_jax.tasks import lifting, runner
    from chiral_jax.tasks.configs import load_config_file
    from chiral_jax.train import Checkpointer, amsgrad_torch

    config: ml_collections.ConfigDict = load_config_file(str(ROOT / "experiments" / "configs" / "lift3d.py"))
    config.model.filter_widths = (3, 3)
    config.model.width = channels
    variant = lifting.Variant(f"{kind}_w{channels}", kind, channels)
    data = lifting.LiftingData("synthetic", [], [], H36M)
    run = workdir / variant.name / f"seed{seed}"
    runner._write_model_metadata(lifting.LIFTING.model_metadata(variant, data, config), str(run), "test")
    model = lifting.make_model(variant, H36M, filter_widths=(3, 3), dropout=0.25, seed=seed + 1)
    optimizer = nnx.Optimizer(model, amsgrad_torch(1e-3), wrt=nnx.Param)
    with Checkpointer(str(run / "checkpoints"), async_save=False) as ckpt:
        ckpt.save(3, nnx.to_pure_dict(nnx.state((model, optimizer))))
    SAVED_PARAMS[variant.name] = [np.asarray(p) for p in jax.tree.leaves(nnx.state(model, nnx.Param))]
    return run


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    run = _fake_run(root, "chiral")
    # A second variant's folder for the lookup tests (a copy: find_run reads only the names).
    shutil.copytree(run, root / "baseline_w16" / "seed0")
    meta = json.loads((run / "model.json").read_text())
    meta["variant"].update(name="baseline_w16")
    (root / "baseline_w16" / "seed0" / "model.json").write_text(json.dumps(meta))
    return root


def _mirror_poses(poses: np.ndarray, dim: int) -> np.ndarray:
    t = len(poses)
    return H36M.spec(dim).transform(poses.reshape(t, -1)).reshape(t, 17, dim)


# ---------------------------------------------------------------------------------- restoring


def test_runner_writes_model_json_that_rebuilds_the_model(workdir):
    meta = json.loads((workdir / "chiral_w16" / "seed0" / "model.json").read_text())
    assert meta["task"] == "lifting" and meta["skeleton"] == "h36m"
    assert meta["variant"]["width"] == 16 and meta["receptive_field"] == 9
    assert meta["joint_names"] == list(H36M.joint_names)
    lifter = load_lifter(workdir, "chiral_w16")
    assert lifter.epoch == 3 and lifter.kind == "chiral"
    x = np.random.default_rng(0).normal(0, 0.3, (20, 17, 2)).astype(np.float32)
    y = lifter.predict(x)
    assert y.shape == (20, 17, 3) and np.all(y[:, 0] == 0)
    # The restored weights are the saved ones.
    import jax
    from flax import nnx

    restored = [np.asarray(p) for p in jax.tree.leaves(nnx.state(lifter.model, nnx.Param))]
    for got, want in zip(restored, SAVED_PARAMS["chiral_w16"], strict=True):
        np.testing.assert_array_equal(got, want)
    # Mirrored input, mirrored output, exactly.
    np.testing.assert_allclose(lifter.predict(_mirror_poses(x, 2)), _mirror_poses(y, 3), atol=1e-6)


@pytest.mark.slow
def test_dense_lifter_mirrors_only_with_flip_averaging(tmp_path):
    dense = load_lifter(_fake_run(tmp_path, "baseline"))
    assert dense.kind == "baseline"
    x = np.random.default_rng(0).normal(0, 0.3, (20, 17, 2)).astype(np.float32)
    y = dense.predict(x)
    assert np.abs(dense.predict(_mirror_poses(x, 2)) - _mirror_poses(y, 3)).max() > 1e-3
    ya = dense.predict(x, flip_average=True)
    np.testing.assert_allclose(
        dense.predict(_mirror_poses(x, 2), flip_average=True), _mirror_poses(ya, 3), atol=1e-5
    )


def test_checkpoint_of_another_model_or_width_is_refused(workdir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(workdir / "chiral_w16" / "seed0", run)
    meta = json.loads((run / "model.json").read_text())
    meta["variant"].update(kind="baseline", width=32)
    (run / "model.json").write_text(json.dumps(meta))
    with pytest.raises(
        ModelMismatchError, match=r"holds a chiral net of hidden width 16.*asks for .*baseline, width 32"
    ):
        load_lifter(run)
    meta["variant"].update(kind="chiral", width=24)
    (run / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelMismatchError, match=r"width 16.*width 24"):
        load_lifter(run)
    with pytest.raises(ModelMismatchError, match=r"holds variant 'chiral_w16'.*'baseline_w16'"):
        load_lifter(workdir / "chiral_w16" / "seed0", "baseline_w16")


def test_run_folder_lookup(workdir, tmp_path):
    with pytest.raises(ValueError, match=r"2 variants: baseline_w16, chiral_w16; pass --variant"):
        find_run(workdir)
    assert find_run(workdir, "baseline_w16") == workdir / "baseline_w16" / "seed0"
    assert find_run(workdir / "chiral_w16") == workdir / "chiral_w16" / "seed0"
    assert find_run(workdir / "chiral_w16" / "seed0" / "checkpoints") == workdir / "chiral_w16" / "seed0"
    with pytest.raises(FileNotFoundError, match="holds baseline_w16, chiral_w16"):
        find_run(workdir, "chiral_w99")
    with pytest.raises(FileNotFoundError, match=r"no model\.json"):
        find_run(tmp_path)


# ---------------------------------------------------------------------------------- formats


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def _coco_flat(xy: np.ndarray, scores: np.ndarray) -> list[float]:
    return np.concatenate([xy, scores[:, None]], axis=1).ravel().tolist()


def test_every_format_reads_to_the_same_h36m_keypoints(tmp_path):
    px = _pose_pixels(8)
    coco = coco17_from_h36m(px)
    ones = np.ones(17)
    # mmpose inferencer JSON (frame 3 missing: nobody detected).
    recs = mmpose_records(px, noise_px=0.0, missing_frames=(3,), low_score_fraction=0.0)
    mm = _write(tmp_path / "mm.json", recs)
    # COCO results: two people in frame 0, the confident one listed second.
    results = [{"image_id": 0, "keypoints": _coco_flat(coco[0] * 0.5, ones * 0.9), "score": 0.2}]
    results += [{"image_id": t, "keypoints": _coco_flat(coco[t], ones * 0.9), "score": 0.9} for t in range(8)]
    cr = _write(tmp_path / "coco.json", results)
    npz = tmp_path / "kp.npz"
    np.savez(npz, keypoints=coco, image_size=np.array([W, H]))
    # OpenPose folders: BODY_25 and COCO-18 (reordered COCO points, the unused ones set apart).
    folders = {}
    for layout in ("body25", "openpose18"):
        folder = tmp_path / layout
        folder.mkdir()
        names = kp.LAYOUTS[layout]
        for t in range(8):
            pts = np.zeros((len(names), 3))
            for i, n in enumerate(names):
                if n in kp.LAYOUTS["coco17"]:
                    pts[i] = [*coco[t, kp.LAYOUTS["coco17"].index(n)], 0.8]
                else:
                    pts[i] = [1.0, 1.0, 0.8]  # neck, mid-hip, feet: not used by the table
            _write(
                folder / f"clip_{t:012d}_keypoints.json",
                {"people": [{"pose_keypoints_2d": pts.ravel().tolist()}]},
            )
        folders[layout] = folder
    # VideoPose3D 2D npz, H36M-17 (the mapping is skipped).
    vp = tmp_path / "data_2d_custom.npz"
    np.savez(
        vp,
        positions_2d={"clip": {"custom": [px.astype(np.float32)]}},
        metadata={"layout_name": "h36m", "num_joints": 17, "video_metadata": {"clip": {"w": W, "h": H}}},
    )
    assert [kp.detect_format(p) for p in (mm, cr, npz, folders["body25"], vp)] == [
        "coco17", "coco17", "coco17", "openpose", "h36m",
    ]  # fmt: skip
    expected = coco17_from_h36m(px)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got_mm = kp.prepare(mm, image_size=(W, H))
    assert any("filled 17 missing joint positions" in str(w.message) for w in caught)
    assert got_mm.filled[3].all() and not got_mm.filled[[2, 4]].any()
    np.testing.assert_allclose(got_mm.pixels[3], (got_mm.pixels[2] + got_mm.pixels[4]) / 2, atol=1e-4)
    ref = kp.prepare(cr, "coco17", image_size=(W, H))  # every frame detected
    keep = [t for t in range(8) if t != 3]
    np.testing.assert_allclose(got_mm.pixels[keep], ref.pixels[keep], atol=1e-2)  # mmpose: 2 decimals
    for path, fmt, size in (
        (npz, "auto", None),
        (folders["body25"], "openpose", (W, H)),
        (folders["openpose18"], "auto", (W, H)),
    ):
        got = kp.prepare(path, fmt, image_size=size)
        assert got.image_size == (W, H) and got.pixels.shape == (8, 17, 2), path
        np.testing.assert_allclose(got.pixels, ref.pixels, atol=1e-3)
    vp3d = kp.prepare(vp, "h36m")
    np.testing.assert_allclose(vp3d.pixels, px, atol=1e-3)
    # The table: limbs and head round-trip; pelvis and thorax are the mean of hips and shoulders.
    idx = H36M.index
    np.testing.assert_allclose(got_mm.pixels[0, idx("head")], px[0, idx("head")], atol=1e-3)
    np.testing.assert_allclose(got_mm.pixels[0, idx("l_wrist")], px[0, idx("l_wrist")], atol=1e-3)
    c = kp.LAYOUTS["coco17"].index
    np.testing.assert_allclose(
        got_mm.pixels[0, 0], (expected[0, c("l_hip")] + expected[0, c("r_hip")]) / 2, atol=1e-3
    )
    np.testing.assert_allclose(
        got_mm.pixels[0, idx("spine")], (got_mm.pixels[0, 0] + got_mm.pixels[0, idx("thorax")]) / 2, atol=1e-4
    )
    # VideoPose3D's screen normalisation: x in [-1, 1], the aspect kept.
    np.testing.assert_allclose(got_mm.normalized, got_mm.pixels / W * 2 - [1, H / W], atol=1e-6)


@pytest.mark.parametrize(
    "case, match",
    [
        ("suffix", r"bad\.txt: unknown keypoint format.*expected a \.json"),
        ("no_keypoints", r"nokp\.json: JSON without keypoints; expected mmpose"),
        ("zero_frames", r"empty\.json: 0 frames.*expected mmpose"),
        ("no_size", r"mm\.json \(mmpose json\) does not store the image size; expected --image_size"),
        ("nan", r"nan\.npz: NaN or infinite keypoints \(first at frame 2, joint 5\); expected an npz"),
        ("shape", r"shape\.npz: 'keypoints' of shape \(4, 12, 2\); expected an npz"),
        ("format", r"--format 'mp4': unknown format; expected one of auto, coco17, openpose, h36m"),
        ("wrong_format", r"mm\.json: --format openpose asked, but the file reads as coco17"),
        ("never", r"joint 'l_wrist' is never detected"),
    ],
)
def test_bad_input_errors_name_the_file_and_what_was_expected(tmp_path, case, match):
    px = _pose_pixels(4)
    path, fmt, size = tmp_path / "mm.json", "auto", None
    _write(path, mmpose_records(px, noise_px=0.0, low_score_fraction=0.0))
    if case == "suffix":
        path = tmp_path / "bad.txt"
        path.write_text("x")
    elif case == "no_keypoints":
        path = _write(tmp_path / "nokp.json", {"images": []})
    elif case == "zero_frames":
        path = _write(tmp_path / "empty.json", [{"frame_id": 0, "instances": []}])
    elif case in ("nan", "shape"):
        coco = coco17_from_h36m(px)
        if case == "nan":
            coco[2, 5, 0] = np.nan
        else:
            coco = coco[:, :12]
        path = tmp_path / f"{case}.npz"
        np.savez(path, keypoints=coco, image_size=[W, H])
    elif case == "format":
        fmt = "mp4"
    elif case == "wrong_format":
        fmt = "openpose"
    elif case == "never":
        recs = mmpose_records(px, noise_px=0.0, low_score_fraction=0.0)
        for r in recs:
            r["instances"][1]["keypoint_scores"][kp.LAYOUTS["coco17"].index("l_wrist")] = 0.0
        _write(path, recs)
        size = (W, H)
    with pytest.raises(kp.KeypointError, match=match):
        kp.prepare(path, fmt, image_size=size if case != "no_size" else None)


# ---------------------------------------------------------------------------------- the command


@pytest.mark.slow
def test_predict3d_writes_poses_and_mirrors_exactly(workdir, tmp_path, predict3d_cli):

    cli = predict3d_cli
    px = _pose_pixels(10)
    recs = mmpose_records(px, noise_px=1.0, missing_frames=(4,))
    det = _write(tmp_path / "det.json", recs)
    mir = _write(tmp_path / "det_mirrored.json", mirror_records(recs, W))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = cli.predict(
            str(workdir), str(det), str(tmp_path / "p.npz"), variant="chiral_w16", image_size=(W, H),
            render=str(tmp_path / "p.png"), frame=2,
        )  # fmt: skip
        mirrored = cli.predict(
            str(workdir), str(mir), str(tmp_path / "m.npz"), variant="chiral_w16", image_size=(W, H)
        )
    saved = np.load(tmp_path / "p.npz")
    assert saved["poses_3d"].shape == (10, 17, 3) and saved["keypoints_2d"].shape == (10, 17, 2)
    assert list(saved["joint_names"]) == list(H36M.joint_names)
    assert str(saved["checkpoint"]).endswith("chiral_w16/seed0/checkpoints/latest/3")
    assert str(saved["input_hash"]) == kp.input_hash(det) and str(saved["input_hash"]).startswith("sha256:")
    assert saved["filled"][4].all() and saved["variant"] == "chiral_w16"
    assert (tmp_path / "p.png").stat().st_size > 1000
    np.testing.assert_allclose(mirrored["poses_3d"], _mirror_poses(out["poses_3d"], 3), atol=2e-5)
    assert math.isclose(float(np.abs(out["poses_3d"][:, 0]).max()), 0.0)


@pytest.mark.slow
def test_render_gif(tmp_path):
    from chiral_jax.render import render_prediction

    px = _pose_pixels(4)
    poses = np.random.default_rng(0).normal(0, 0.3, (4, 17, 3))
    path = render_prediction(px, poses, tmp_path / "a.gif", image_size=(W, H), fps=10)
    assert Path(path).read_bytes()[:3] == b"GIF"
    with pytest.raises(ValueError, match=r"expected a \.gif, \.mp4 or \.png"):
        render_prediction(px, poses, tmp_path / "a.avi")


def test_demo_config_loads():
    from chiral_jax.tasks import lifting
    from chiral_jax.tasks.configs import load_config_file

    config = load_config_file(str(ROOT / "experiments" / "configs" / "lift3d_predict_demo.py"))
    names = [v.name for v in lifting.variants(config.model, config.train.augment)]
    assert names == ["chiral_plain_relu_w128"]
