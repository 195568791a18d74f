"""Receptive-field windows: edge padding at both ends, batching, shuffling, whole sequences."""

import numpy as np
import pytest

from chiral_jax.data import synthetic
from chiral_jax.data.windows import PoseWindows, pad_sequence


def _seqs(lengths=(7, 3, 12), joints=17):
    """Inputs whose value at frame t of sequence i is 100 * i + t (easy to read windows from)."""
    inputs, targets = [], []
    for i, n in enumerate(lengths):
        t = (100 * i + np.arange(n, dtype=np.float32))[:, None, None]
        inputs.append(np.broadcast_to(t, (n, joints, 2)).copy())
        targets.append(np.broadcast_to(t, (n, joints, 3)).copy())
    return inputs, targets


def test_pad_sequence_edges():
    x = np.arange(4.0)[:, None]
    np.testing.assert_array_equal(pad_sequence(x, 5)[:, 0], [0, 0, 0, 1, 2, 3, 3, 3])
    np.testing.assert_array_equal(pad_sequence(x, 3, causal=True)[:, 0], [0, 0, 0, 1, 2, 3])
    with pytest.raises(ValueError, match="odd"):
        pad_sequence(x, 4)


def test_windows_pad_with_edge_frames_at_both_ends():
    inputs, targets = _seqs()
    w = PoseWindows(inputs, targets, receptive_field=5)
    assert len(w) == 7 + 3 + 12 and w.window_length == 5
    b = w.gather(np.arange(len(w)))
    x = b["inputs"][:, :, 0, 0]
    # First frame of sequence 0: frames -2..2 -> 0, 0, 0, 1, 2.
    np.testing.assert_array_equal(x[0], [0, 0, 0, 1, 2])
    # Last frame of sequence 0 (t = 6 of 7): 4, 5, 6, 6, 6.
    np.testing.assert_array_equal(x[6], [4, 5, 6, 6, 6])
    # Sequence 1 (3 frames) is padded on both sides in one window: 100, 100, 100, 101, 102.
    np.testing.assert_array_equal(x[7], [100, 100, 100, 101, 102])
    np.testing.assert_array_equal(x[9], [100, 101, 102, 102, 102])
    # Windows never mix sequences, and each target is the window's centre frame.
    assert np.all(np.floor(x / 100) == np.floor(x[:, :1] / 100))
    np.testing.assert_array_equal(b["targets"][:, 0, 0, 0], x[:, 2])
    np.testing.assert_array_equal(b["sequence"], np.repeat([0, 1, 2], [7, 3, 12]))


def test_causal_windows_end_at_the_output_frame():
    inputs, targets = _seqs()
    w = PoseWindows(inputs, targets, receptive_field=4, causal=True)
    b = w.gather(np.array([0, 5]))
    np.testing.assert_array_equal(b["inputs"][:, :, 0, 0], [[0, 0, 0, 0], [2, 3, 4, 5]])
    np.testing.assert_array_equal(b["targets"][:, 0, 0, 0], [0, 5])


def test_chunks_cover_every_frame():
    inputs, targets = _seqs()
    w = PoseWindows(inputs, targets, receptive_field=3, chunk_length=4)
    # Sequence 1 (3 frames) is shorter than a chunk and yields no window.
    assert set(w.gather(np.arange(len(w)))["sequence"]) == {0, 2}
    covered = set()
    for i in range(len(w)):
        b = w.gather(np.array([i]))
        assert b["inputs"].shape == (1, 6, 17, 2) and b["targets"].shape == (1, 4, 17, 3)
        np.testing.assert_array_equal(b["inputs"][0, 1:-1, 0, 0], b["targets"][0, :, 0, 0])
        covered |= {(int(b["sequence"][0]), int(v)) for v in b["targets"][0, :, 0, 0] % 100}
    assert covered == {(0, t) for t in range(7)} | {(2, t) for t in range(12)}


def test_batches_shuffle_deterministically_and_visit_each_window_once():
    inputs, targets = _seqs()
    w = PoseWindows(inputs, targets, receptive_field=3, flatten=True)
    a = list(w.batches(4, seed=1))
    b = list(w.batches(4, seed=1))
    c = list(w.batches(4, seed=1, epoch=1))
    assert all(np.array_equal(x["inputs"], y["inputs"]) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x["frame"], y["frame"]) for x, y in zip(a, c, strict=True))
    assert a[0]["inputs"].shape == (4, 3, 34) and a[0]["targets"].shape == (4, 1, 51)
    seen = np.concatenate([x["sequence"] * 1000 + x["frame"] for x in a])
    assert len(seen) == len(w) == len(set(seen.tolist()))
    assert len(list(w.batches(4, drop_remainder=True))) == len(w) // 4 == w.num_batches(4, True)
    ordered = np.concatenate([x["frame"] for x in w.batches(5, shuffle=False)])
    np.testing.assert_array_equal(ordered, np.concatenate([np.arange(n) for n in (7, 3, 12)]))


def test_whole_sequence_mode():
    inputs, targets = _seqs()
    w = PoseWindows(inputs, targets, receptive_field=5)
    out = list(w.sequences())
    assert [o["inputs"].shape[1] for o in out] == [7 + 4, 3 + 4, 12 + 4]
    np.testing.assert_array_equal(out[1]["inputs"][0, :, 0, 0], [100, 100, 100, 101, 102, 102, 102])
    np.testing.assert_array_equal(out[2]["targets"][0, :, 0, 0], 200 + np.arange(12))


def test_from_sequences_on_synthetic():
    seqs = synthetic.load_synthetic(
        "train", num_subjects=2, num_test_subjects=1, min_frames=50, max_frames=60, num_cameras=1
    )
    w = PoseWindows.from_sequences(seqs, receptive_field=27)
    assert len(w) == sum(s.num_frames for s in seqs)
    b = next(w.batches(8, seed=0))
    assert b["inputs"].shape == (8, 27, 17, 2) and b["intrinsics"].shape == (8, 9)
    i, f = b["sequence"][0], b["frame"][0]
    np.testing.assert_array_equal(b["targets"][0, 0], seqs[i].pose_3d[f])
    np.testing.assert_array_equal(b["inputs"][0, 13], seqs[i].pose_2d[f])


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="target frames"):
        PoseWindows([np.zeros((5, 17, 2))], [np.zeros((4, 17, 3))], receptive_field=3)
