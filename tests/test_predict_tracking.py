"""Several people: detections linked into tracks (chiral_jax.predict.tracking), the readers' people."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from chiral_jax import skeletons
from chiral_jax.predict import keypoints as kp
from chiral_jax.predict import tracking
from chiral_jax.predict.simulate import coco17_from_h36m

H36M = skeletons.H36M
W, H = 1000, 800
# H36M-17 pixels about the pelvis (y down).
REST = np.array(
    [
        [0, 0], [-30, 0], [-30, 120], [-30, 240], [30, 0], [30, 120], [30, 240], [0, -60], [0, -120],
        [0, -150], [0, -180], [45, -115], [60, -50], [65, 10], [-45, -115], [-60, -50], [-65, 10],
    ],
    dtype=np.float64,
)  # fmt: skip


def _walker(t: int, start: float, stop: float, y: float, scale: float, seed: int) -> np.ndarray:
    """(T, 17, 2) H36M-17 pixels of a person walking along x from ``start`` to ``stop``."""
    rng = np.random.default_rng(seed)
    x = np.linspace(start, stop, t)
    swing = np.sin(np.linspace(0, 4 * np.pi, t))[:, None, None] * rng.normal(0, 6, (1, 17, 2))
    return REST[None] * scale + swing + np.stack([x, np.full(t, y)], -1)[:, None]


def _crossing(t: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Two people walking towards each other; their boxes overlap in the middle frames."""
    a = _walker(t, 250, 750, 400, 1.0, 0)
    b = _walker(t, 750, 250, 420, 0.95, 1)
    return a, b


def _box(p: np.ndarray) -> np.ndarray:
    return np.concatenate([p.min(0), p.max(0)])


def _iou(p: np.ndarray, q: np.ndarray) -> float:
    a, b = _box(p), _box(q)
    lo, hi = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    inter = np.prod(np.clip(hi - lo, 0, None))
    return float(inter / (np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter))


def _records(people: dict[int, np.ndarray], t: int, missing: dict[int, set[int]], seed: int = 0) -> list:
    """mmpose records, the people listed in a random order per frame, some frames missing someone."""
    rng = np.random.default_rng(seed)
    records = []
    for f in range(t):
        inst = []
        for k, px in people.items():
            if f in missing.get(k, set()):
                continue
            coco = coco17_from_h36m(px[f : f + 1])[0] + rng.normal(0, 1.0, (17, 2))
            inst.append({"keypoints": coco.round(2).tolist(), "keypoint_scores": [0.9 - 0.1 * k] * 17})
        order = rng.permutation(len(inst))
        records.append({"frame_id": f, "instances": [inst[i] for i in order]})
    return records


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_two_people_who_cross_keep_their_identities(tmp_path):
    t = 30
    a, b = _crossing(t)
    overlap = [_iou(a[f], b[f]) for f in range(t)]
    assert min(overlap[13:17]) > 0.35 and min(overlap[14:16]) > 0.65  # the boxes overlap as they pass
    # b is missed for 3 frames just after the crossing: a short gap the track survives.
    recs = _records({0: a, 1: b}, t, {1: {17, 18, 19}})
    raw = kp.read_keypoints(_write(tmp_path / "two.json", recs))
    assert raw.people is not None and [len(p) for p in raw.people][16:21] == [2, 1, 1, 1, 2]
    tracks = tracking.track_people(raw)
    assert len(tracks) == 2
    first, second = tracks  # longest first: a (30 detections), then b (27)
    assert len(first) == 30 and len(second) == 27
    np.testing.assert_array_equal(second.rows, [f for f in range(t) if f not in (17, 18, 19)])
    for track, truth in ((first, a), (second, b)):
        h36m, _ = kp.to_h36m(tracking.track_keypoints(raw, track))
        got = h36m[track.rows - track.first, 0]  # the pelvis: the mean of the COCO hips
        want = truth[track.rows][:, [1, 4]].mean(1)
        assert np.abs(got - want).max() < 5.0  # within the detection noise: never swapped
    # Each track prepared alone: the gap is filled by interpolation, as for one person.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prepared = kp.prepare_raw(tracking.track_keypoints(raw, second, 1), image_size=(W, H))
    assert prepared.pixels.shape == (30, 17, 2) and prepared.filled[17:20].all()
    assert any("(person 1): filled 51 missing joint positions" in str(w.message) for w in caught)
    np.testing.assert_allclose(prepared.pixels[18, 0], b[18, [1, 4]].mean(0), atol=5.0)


def test_gap_longer_than_max_gap_splits_the_track_and_short_tracks_sort_last(tmp_path):
    t = 24
    a, b = _crossing(t)
    recs = _records({0: a, 1: b}, t, {1: set(range(8, 14)), 0: set(range(18, 24))})
    raw = kp.read_keypoints(_write(tmp_path / "gap.json", recs))
    long_gap = tracking.track_people(raw, max_gap=3)
    assert [(len(tr), tr.first, tr.last) for tr in long_gap] == [(18, 0, 17), (10, 14, 23), (8, 0, 7)]
    bridged = tracking.track_people(raw, max_gap=6)
    assert sorted((len(tr), tr.first, tr.last) for tr in bridged) == [(18, 0, 17), (18, 0, 23)]


def test_gate_keeps_a_far_detection_out_of_a_track(tmp_path):
    # One person, who vanishes; someone else appears far away in the next frame: a new track.
    a = _walker(10, 200, 300, 400, 1.0, 0)
    b = _walker(10, 800, 850, 300, 1.0, 1)
    recs = _records({0: a, 1: b}, 10, {0: set(range(5, 10)), 1: set(range(0, 5))})
    raw = kp.read_keypoints(_write(tmp_path / "far.json", recs))
    tracks = tracking.track_people(raw)
    assert sorted((tr.first, tr.last) for tr in tracks) == [(0, 4), (5, 9)]
    oks = tracking.keypoint_similarity(
        a[:1], np.ones((1, 17), bool), a[:1] + np.array([200.0, 0]), np.ones((1, 17), bool), np.full(17, 0.08)
    )
    assert oks.shape == (1, 1) and oks[0, 0] < 0.01


def test_readers_keep_every_person(tmp_path):
    t = 4
    a, b = (p[:t] for p in _crossing(30))
    coco_a, coco_b = coco17_from_h36m(a), coco17_from_h36m(b)
    # COCO results: two records per image; OpenPose: two people per file.
    results = []
    for f in range(t):
        for coco, s in ((coco_a, 0.9), (coco_b, 0.6)):
            flat = np.concatenate([coco[f], np.full((17, 1), s)], 1).ravel().tolist()
            results.append({"image_id": f, "keypoints": flat, "score": s})
    cr = kp.read_keypoints(_write(tmp_path / "coco.json", results))
    folder = tmp_path / "op"
    folder.mkdir()
    names = kp.LAYOUTS["body25"]
    for f in range(t):
        people = []
        for coco in (coco_b, coco_a):
            pts = np.zeros((25, 3))
            for i, n in enumerate(names):
                if n in kp.LAYOUTS["coco17"]:
                    pts[i] = [*coco[f, kp.LAYOUTS["coco17"].index(n)], 0.8]
            people.append({"pose_keypoints_2d": pts.ravel().tolist()})
        _write(folder / f"v_{f:012d}_keypoints.json", {"people": people})
    op = kp.read_keypoints(folder)
    for raw in (cr, op):
        assert [len(p) for p in raw.people] == [2] * t
        tracks = tracking.track_people(raw)
        assert len(tracks) == 2 and all(len(tr) == t for tr in tracks)
        pelvis = sorted(float(kp.to_h36m(tracking.track_keypoints(raw, tr))[0][0, 0, 0]) for tr in tracks)
        np.testing.assert_allclose(pelvis, sorted([a[0, 0, 0], b[0, 0, 0]]), atol=1e-6)
    # The most confident person per frame is what one-person reading keeps (unchanged).
    np.testing.assert_allclose(cr.keypoints, coco_a, atol=1e-9)
    # npz formats hold one person: one track of the detected frames.
    npz = tmp_path / "one.npz"
    np.savez(npz, keypoints=coco_a, image_size=[W, H])
    single = kp.read_keypoints(npz)
    assert single.people is None and [len(tr) for tr in tracking.track_people(single)] == [t]


def test_spread_and_bad_arguments():
    out = tracking.spread(np.ones((2, 3)), 1, 4)
    assert out.dtype == np.float64 and np.isnan(out[[0, 3]]).all() and (out[1:3] == 1).all()
    assert tracking.spread(np.ones(2, bool), 2, 4, False).tolist() == [False, False, True, True]
    raw = kp.RawKeypoints(np.zeros((2, 17, 2)), np.ones((2, 17)), "coco17", np.arange(2), None, "x", "npz")
    with pytest.raises(ValueError, match="expected max_gap >= 0"):
        tracking.track_people(raw, max_gap=-1)


@pytest.mark.slow
def test_predict3d_people_all_writes_tracks_and_a_bvh_per_person(tmp_path):
    import subprocess
    import sys

    from test_predict import _fake_run, _mirror_poses

    from chiral_jax.predict import bvh
    from chiral_jax.predict.simulate import mirror_records

    run = _fake_run(tmp_path / "runs")
    t = 20
    a, b = _crossing(t)
    recs = _records({0: a, 1: b}, t, {1: {0, 1, 2}})
    det = _write(tmp_path / "two.json", recs)
    mirrored = _write(tmp_path / "mirrored.json", mirror_records(recs, W))
    root = Path(__file__).resolve().parents[1]
    cmd = [
        sys.executable, str(root / "experiments" / "predict3d.py"), "--checkpoint", str(run), "--keypoints",
        str(det), "--image_size", f"{W},{H}", "--out", str(tmp_path / "p.npz"), "--people", "all", "--bvh",
        str(tmp_path / "anim.bvh"), "--fps", "50", "--render", str(tmp_path / "r.png"), "--frame", "10",
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "person 1: frames 3..19 (17 frames lifted)" in done.stdout
    saved = np.load(tmp_path / "p.npz")
    tracks, frames = saved["tracks_3d"], saved["track_frames"]
    assert tracks.shape == (2, t, 17, 3) and frames.shape == (2, t) and frames.dtype == bool
    assert frames[0].all() and frames[1].tolist() == [False] * 3 + [True] * 17
    assert np.isfinite(tracks[frames]).all() and np.isnan(tracks[1, :3]).all()
    np.testing.assert_array_equal(saved["poses_3d"], tracks[0])
    assert saved["tracks_2d"].shape == (2, t, 17, 2)
    assert (tmp_path / "r.png").stat().st_size > 1000
    for k, name in enumerate(("anim.bvh", "anim_1.bvh")):
        parsed = bvh.read_bvh(tmp_path / name)
        assert len(parsed.names) == 23 and parsed.num_frames == frames[k].sum()
        assert parsed.frame_time == pytest.approx(0.02) and parsed.motion.shape[1] == 72
        back = bvh.read_bvh_poses(tmp_path / name)
        want = tracks[k][frames[k]].astype(np.float64)
        want = bvh.normalize_bones(want - want[:, :1], bvh.median_bone_lengths(want))
        assert np.linalg.norm(back - want, axis=-1).max() < 1e-3  # within 1 mm
    # The mirrored video: the same tracks, each mirrored (the fake run is a chiral lifter).
    out_m = str(tmp_path / "m.npz")
    cmd_m = [*cmd[:5], str(mirrored), "--image_size", f"{W},{H}", "--out", out_m, "--people", "all"]
    done = subprocess.run(cmd_m, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    back = np.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(back["track_frames"], frames)
    for k in range(2):
        np.testing.assert_allclose(
            back["tracks_3d"][k][frames[k]], _mirror_poses(tracks[k][frames[k]], 3), atol=2e-5
        )
