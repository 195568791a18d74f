"""Action datasets: readers on real-format fixtures (Kinetics-skeleton JSON, NW-UCLA JSON, Penn Action
.mat), their bad-input errors, the preprocessing and the synthetic action clips."""

import json
from pathlib import Path

import numpy as np
import pytest

from chiral_jax import skeletons
from chiral_jax.data import actions as A
from chiral_jax.data import fixtures
from chiral_jax.data.errors import MalformedDatasetFile, MissingDatasetFile
from chiral_jax.data.kinetics_skeleton import load_kinetics_skeleton, read_kinetics_clip
from chiral_jax.data.nw_ucla import load_nw_ucla, normalize_nw_ucla, read_nw_ucla_sequence
from chiral_jax.data.penn_action import ACTIONS, load_penn_action
from chiral_jax.data.synthetic_actions import SyntheticActionsConfig, generate_actions


@pytest.fixture(scope="module")
def kinetics_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("kinetics")
    fixtures.write_kinetics_skeleton(root)
    return root


@pytest.fixture(scope="module")
def ucla_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ucla")
    fixtures.write_nw_ucla(root)
    return root


def test_kinetics_reader(kinetics_dir: Path) -> None:
    data = load_kinetics_skeleton(kinetics_dir)
    # Clips present in the folders; "missing_clip" (label file only) and "no_skeleton" are skipped.
    assert [c.key for c in data["train"]] == ["clipA.json", "clipB.json", "clipC.json"]
    assert [c.key for c in data["test"]] == ["clipD.json", "clipE.json"]
    a = data["train"][0]
    assert a.skeleton.shape == (2, 12, 18, 3) and (a.label, a.label_name) == (0, "run")
    assert data["test"][1].label_name == "wave"
    assert np.all(a.skeleton[:, 3] == 0)  # a frame without people: zeros
    raw = json.loads((kinetics_dir / "kinetics_train" / "clipA.json").read_text())
    frame = raw["data"][0]["skeleton"]
    # Per frame the people come best-first by summed score.
    order = np.argsort([-sum(p["score"]) for p in frame], kind="stable")
    best = frame[order[0]]
    np.testing.assert_allclose(a.skeleton[0, 0, :, 0], best["pose"][0::2], rtol=1e-6)
    np.testing.assert_allclose(a.skeleton[0, 0, :, 2], best["score"], rtol=1e-6)
    # Frames with one person: the second is zeros; with three, the two best are kept.
    assert np.all(data["test"][0].skeleton[1] == 0)
    assert np.all(data["train"][2].skeleton[:, 0, :, 2].sum(-1) > 0)


def test_kinetics_bad_inputs(tmp_path: Path) -> None:
    good = {
        "data": [{"frame_index": 0, "skeleton": [{"pose": [0.5] * 36, "score": [1.0] * 18}]}],
        "label_index": 1,
    }
    cases = {
        "not_json": ("{not json", "not valid JSON"),
        "short_pose": (
            json.dumps(
                {**good, "data": [{"frame_index": 0, "skeleton": [{"pose": [0.1] * 34, "score": [1] * 18}]}]}
            ),
            "36",
        ),
        "no_people": (json.dumps({**good, "data": [{"frame_index": 0, "skeleton": []}]}), "no person"),
        "no_data": (json.dumps({"label_index": 1}), "'data'"),
    }
    for name, (text, message) in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(text)
        with pytest.raises(MalformedDatasetFile, match=message) as err:
            read_kinetics_clip(path)
        assert str(path) in str(err.value)
    # A clip the label file does not list names both files; a missing folder is MissingDatasetFile.
    (tmp_path / "kinetics_train").mkdir()
    (tmp_path / "kinetics_train" / "x.json").write_text(json.dumps(good))
    (tmp_path / "kinetics_train_label.json").write_text("{}")
    with pytest.raises(MalformedDatasetFile, match="not listed"):
        load_kinetics_skeleton(tmp_path)
    (tmp_path / "kinetics_train_label.json").write_text(json.dumps({"x": {"has_skeleton": True}}))
    with pytest.raises(MissingDatasetFile, match="kinetics_val"):
        load_kinetics_skeleton(tmp_path)


def test_nw_ucla_reader_and_bad_inputs(ucla_dir: Path, tmp_path: Path) -> None:
    data = load_nw_ucla(ucla_dir)
    assert [c.key for c in data["train"]] == [
        "a01_s01_e00_v01.json",
        "a02_s02_e01_v02.json",
        "a03_s01_e02_v01.json",
    ]
    assert [c.label for c in data["test"]] == [0, 5]  # labels 1 and 6 (views 3)
    assert data["train"][1].skeleton.shape == (1, 1, 20, 3)
    bad = tmp_path / "a01_s01_e00_v01.json"
    bad.write_text(json.dumps({"skeletons": np.zeros((4, 19, 3)).tolist(), "label": 1}))
    with pytest.raises(MalformedDatasetFile, match=r"\(T, 20, 3\)") as err:
        read_nw_ucla_sequence(bad)
    assert str(bad) in str(err.value)
    bad.write_text("[1, 2")
    with pytest.raises(MalformedDatasetFile, match="not valid JSON"):
        read_nw_ucla_sequence(bad)
    with pytest.raises(MissingDatasetFile):
        load_nw_ucla(tmp_path / "empty")


def test_preprocessing() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0.1, 1.0, size=(3, 5, 4, 3)).astype(np.float32)
    x[2] = 0.0
    x[0, 1, 2, 2] = 0.0
    norm = A.normalize_stgcn(x)
    np.testing.assert_allclose(norm[1, ..., :2], x[1, ..., :2] - 0.5, rtol=1e-6)
    assert np.all(norm[0, 1, 2] == 0) and np.all(norm[2] == 0)  # score 0 and absent people: zeros
    assert A.pad_or_crop(x, 3).shape == (3, 3, 4, 3)
    padded = A.pad_or_crop(x, 8)
    assert np.all(padded[:, 5:] == 0) and np.array_equal(padded[:, :5], x)
    # Resampling keeps a linear motion linear and repeats a single frame.
    t = np.linspace(0, 1, 7, dtype=np.float32)[None, :, None, None] * np.ones((1, 7, 2, 3), np.float32)
    np.testing.assert_allclose(A.resample(t, 13)[0, :, 0, 0], np.linspace(0, 1, 13), atol=1e-6)
    assert np.array_equal(A.resample(x[:, :1], 4), np.repeat(x[:, :1], 4, axis=1))
    # The score channel: a joint counts only where both neighbours saw it.
    r = A.resample(x[:1], 9, score_channel=2)
    assert np.all(r[0, 1:4, 2] == 0)  # between frames 0-1 and 1-2 around the unseen joint (0, 1, 2)


def test_augment_clips_and_mirror() -> None:
    spec = skeletons.OPENPOSE18.spec(3)
    rng = np.random.default_rng(0)
    clips = rng.normal(size=(4, 2, 10, spec.size)).astype(np.float32)
    clips[:, 1] = 0.0  # an absent person stays zeros
    out = A.augment_clips(clips, np.random.default_rng(1), window=6, channels=3)
    again = A.augment_clips(clips, np.random.default_rng(1), window=6, channels=3)
    assert out.shape == (4, 2, 6, spec.size) and np.array_equal(out, again)
    assert np.all(out[:, 1] == 0)
    # Scores are never moved; the (x, y) of each clip are a similarity transform of a window.
    scores = out[0, 0].reshape(6, 18, 3)[..., 2]
    windows = [clips[0, 0, s : s + 6].reshape(6, 18, 3)[..., 2] for s in range(5)]
    assert any(np.array_equal(scores, w) for w in windows)
    mirrored = A.augment_clips(clips, np.random.default_rng(1), window=6, channels=3, spec=spec)
    flipped = [not np.allclose(m, o) for m, o in zip(mirrored, out, strict=True)]
    for i, f in enumerate(flipped):
        np.testing.assert_allclose(mirrored[i], spec.transform(out[i]) if f else out[i], atol=1e-6)


def test_penn_action_clips(tmp_path: Path) -> None:
    fixtures.write_penn_action(tmp_path)
    data = load_penn_action(tmp_path)
    video = data["train"][0]
    clip = A.clip_from_penn_action(video, ACTIONS)
    assert clip.skeleton.shape == (1, video.num_frames, 13, 3) and clip.label_name == video.action
    assert np.all(clip.skeleton[0][~video.visibility] == 0)
    vis = clip.skeleton[0][video.visibility]
    assert np.all(vis[:, 2] == 1) and np.abs(vis[:, :2]).max() <= 1.0 + 1e-6


def test_synthetic_actions_mirror_rule() -> None:
    small = dict(num_subjects=3, num_test_subjects=1, takes=1, num_cameras=1, min_frames=20, max_frames=24)
    plain = generate_actions(SyntheticActionsConfig(**small, mirror_test=0.0))
    mirrored = generate_actions(SyntheticActionsConfig(**small, mirror_train=1.0, mirror_test=1.0))
    again = generate_actions(SyntheticActionsConfig(**small, mirror_train=1.0, mirror_test=1.0))
    spec = skeletons.H36M.spec(3)
    assert len(plain["train"]) == 12 and len(plain["test"]) == 6
    for p, m, a in zip(plain["train"], mirrored["train"], again["train"], strict=True):
        assert p.label == m.label and m.source.endswith("_mirrored")
        np.testing.assert_allclose(
            m.skeleton.reshape(-1, spec.size), spec.transform(p.skeleton.reshape(-1, spec.size))
        )
        assert np.array_equal(m.skeleton, a.skeleton)  # deterministic


def test_nw_ucla_normalization_commutes_with_mirror(ucla_dir: Path) -> None:
    clip = load_nw_ucla(ucla_dir)["train"][0].skeleton
    spec = skeletons.KINECT_V1.spec(3)
    flat = lambda s: s.reshape(*s.shape[:2], -1)  # noqa: E731
    mirror = spec.transform(flat(clip)).reshape(clip.shape)
    for kw in ({}, {"align": True}, {"align": True, "scale": "none"}):
        expected = spec.transform(flat(normalize_nw_ucla(clip, **kw)))
        np.testing.assert_allclose(flat(normalize_nw_ucla(mirror, **kw)), expected, atol=1e-5)
    # Aligned: the first frame's hips and shoulders run along +x (no depth component).
    x = normalize_nw_ucla(clip, align=True, scale="none")[0, 0]
    u = x[[16, 8]].sum(0) - x[[12, 4]].sum(0)
    assert u[0] > 0 and abs(u[2]) < 1e-5
    with pytest.raises(ValueError, match="scale"):
        normalize_nw_ucla(clip, scale="height")


def test_cli_summary_of_action_builds(ucla_dir: Path, kinetics_dir: Path, tmp_path: Path, capsys) -> None:
    from chiral_jax.data.__main__ import main

    for name, folder, joints, frames in (
        ("nw_ucla", ucla_dir, 20, (9 + 1 + 14, 11 + 5)),
        ("kinetics_skeleton", kinetics_dir, 18, (28, 16)),
    ):
        assert main([name, "--manual_dir", str(folder), "--data_dir", str(tmp_path)]) == 0
        summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert summary["num_joints"] == joints
        assert (summary["splits"]["train"]["frames"], summary["splits"]["test"]["frames"]) == frames
    bad = tmp_path / "bad" / "all_sqe"
    bad.mkdir(parents=True)
    (bad / "a01_s01_e00_v01.json").write_text("{")
    assert main(["nw_ucla", "--manual_dir", str(bad.parent), "--data_dir", str(tmp_path / "other")]) == 2
    assert "a01_s01_e00_v01.json" in capsys.readouterr().err


def test_rotation_about_the_vertical_axis() -> None:
    from chiral_jax.data.rotate import rotate_about_vertical, vertical_rotation_matrix

    r = vertical_rotation_matrix(0.7, 1)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.isclose(np.linalg.det(r), 1.0) and np.array_equal(r[1], [0, 1, 0])
    # The mirror x -> -x conjugates the rotation to its inverse, so symmetric angles stay symmetric.
    m = np.diag([-1.0, 1.0, 1.0])
    np.testing.assert_allclose(m @ r @ m, vertical_rotation_matrix(-0.7, 1), atol=1e-12)
    p = np.random.default_rng(0).normal(size=(5, 20, 3)).astype(np.float32)
    q = rotate_about_vertical(p, 0.7)
    assert q.dtype == np.float32 and np.allclose(q[..., 1], p[..., 1])
    np.testing.assert_allclose(np.linalg.norm(q, axis=-1), np.linalg.norm(p, axis=-1), rtol=1e-5)
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        rotate_about_vertical(p[..., :2], 0.1)
    with pytest.raises(ValueError, match="vertical_axis"):
        vertical_rotation_matrix(0.1, 3)


def test_augment_clips_view_rotation() -> None:
    spec = skeletons.KINECT_V1.spec(3)
    clips = np.random.default_rng(0).normal(size=(6, 1, 8, spec.size)).astype(np.float32)
    kw = dict(window=8, channels=3, score_channel=None, coords=3, rotation_deg=0.0, translation=0.0)
    out = A.augment_clips(clips, np.random.default_rng(2), vertical_rotation=1.0, scale=(1.0, 1.0), **kw)
    p, q = clips.reshape(6, 1, 8, 20, 3), out.reshape(6, 1, 8, 20, 3)
    np.testing.assert_allclose(q[..., 1], p[..., 1], atol=1e-6)  # the vertical coordinate stays
    np.testing.assert_allclose(np.linalg.norm(q, axis=-1), np.linalg.norm(p, axis=-1), rtol=1e-5)
    assert not np.allclose(q[..., 0], p[..., 0])
    scaled = A.augment_clips(clips, np.random.default_rng(2), scale=(0.8, 1.2), **kw).reshape(q.shape)
    ratio = np.linalg.norm(scaled, axis=-1) / np.linalg.norm(p, axis=-1)
    assert np.allclose(ratio, ratio[:, :, :1, :1], rtol=1e-4) and np.all((ratio > 0.79) & (ratio < 1.21))
    tilted = A.augment_clips(clips, np.random.default_rng(2), tilt=0.3, scale=(1.0, 1.0), **kw)
    tilted = tilted.reshape(q.shape)
    np.testing.assert_allclose(tilted[..., 0], p[..., 0], atol=1e-6)  # about x: x stays
    with pytest.raises(ValueError, match="coords=3"):
        A.augment_clips(clips, np.random.default_rng(2), window=8, channels=3, vertical_rotation=0.5)
