"""Receptive-field windows for temporal models, batched without materializing every window.

For a target frame ``t`` of a sequence, a temporal model with receptive field ``R`` (odd) reads the
2D inputs of frames ``t - pad .. t + pad`` (``pad = (R - 1) // 2``; causal models read
``t - R + 1 .. t``). Frames outside the sequence repeat its first or last frame (edge padding,
VideoPose3D's convention).

:class:`PoseWindows` keeps each sequence's inputs padded ONCE, concatenated into one array, plus
an index of (sequence, first output frame) pairs; a batch is a single fancy-indexing gather of
``batch_size`` windows. Memory: the padded inputs and the targets (for Human3.6M's ~1.56 M training
frames with 243-frame windows: ~0.2 GB of float32 2D and ~0.3 GB of 3D) and 8 bytes per window of
index. Two modes:

* :meth:`PoseWindows.batches` -- ``chunk_length`` output frames per window (1 for the strided
  training of VideoPose3D), shuffled with a seed, ``(B, chunk + R - 1, J, 2)`` inputs.
* :meth:`PoseWindows.sequences` -- whole sequences for evaluation, ``(1, T + R - 1, J, 2)`` inputs
  and ``(1, T, J, 3)`` targets, one padded sequence at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from chiral_jax.data.sequence import PoseSequence

__all__ = ["Batch", "PoseWindows", "pad_sequence"]

Batch = dict[str, np.ndarray]
"""A batch: "inputs" (B, L, J, 2) (or (B, L, J*2) flattened), "targets" (B, C, J, 3) (or flat),
"intrinsics" (B, 9) when cameras were given, "sequence" (B,) and "frame" (B,) int32 (the first output
frame of each window)."""


def pad_sequence(x: np.ndarray, receptive_field: int, *, causal: bool = False) -> np.ndarray:
    """Edge-pads a sequence (T, ...) along time for a receptive field: (T + R - 1, ...)."""
    left, right = _pads(receptive_field, causal)
    return np.pad(x, [(left, right)] + [(0, 0)] * (x.ndim - 1), mode="edge")


def _pads(receptive_field: int, causal: bool) -> tuple[int, int]:
    if receptive_field < 1:
        raise ValueError(f"receptive_field must be >= 1, got {receptive_field}")
    if causal:
        return receptive_field - 1, 0
    if receptive_field % 2 == 0:
        raise ValueError(f"a centred receptive field must be odd, got {receptive_field}")
    pad = (receptive_field - 1) // 2
    return pad, pad


class PoseWindows:
    """Windows of 2D inputs (and 3D targets) over a list of sequences.

    Args:
      inputs: per-sequence (T_i, J, Din) arrays (2D poses).
      targets: per-sequence (T_i, J, Dout) arrays (3D poses), or None (inference only).
      receptive_field: frames of input per output frame (odd unless ``causal``).
      chunk_length: output frames per window in :meth:`batches` (1: one output frame per window).
        Windows start every ``chunk_length`` frames; a sequence's last window is moved back to end
        at its last frame; sequences shorter than ``chunk_length`` give no window.
      intrinsics: optional per-sequence (9,) camera intrinsics, returned per window.
      causal: windows end at their output frame instead of being centred on it.
      flatten: return poses as (..., J * D) channels (joint-major) instead of (..., J, D).
      dtype: the dtype inputs and targets are stored and returned in.
    """

    def __init__(
        self,
        inputs: Sequence[np.ndarray],
        targets: Sequence[np.ndarray] | None = None,
        *,
        receptive_field: int,
        chunk_length: int = 1,
        intrinsics: Sequence[np.ndarray] | None = None,
        causal: bool = False,
        flatten: bool = False,
        dtype: Any = np.float32,
    ) -> None:
        if len(inputs) == 0:
            raise ValueError("PoseWindows: no sequences")
        if targets is not None and len(targets) != len(inputs):
            raise ValueError(f"PoseWindows: {len(inputs)} input sequences but {len(targets)} targets")
        if chunk_length < 1:
            raise ValueError(f"chunk_length must be >= 1, got {chunk_length}")
        self.receptive_field = int(receptive_field)
        self.chunk_length = int(chunk_length)
        self.causal = causal
        self.flatten = flatten
        self._pad_left, self._pad_right = _pads(self.receptive_field, causal)
        self.lengths = np.array([len(x) for x in inputs], dtype=np.int64)
        if targets is not None:
            for i, (x, y) in enumerate(zip(inputs, targets, strict=True)):
                if len(x) != len(y):
                    raise ValueError(
                        f"PoseWindows: sequence {i} has {len(x)} input and {len(y)} target frames"
                    )
        padded_len = self.lengths + self._pad_left + self._pad_right
        self._in_offsets = np.concatenate([[0], np.cumsum(padded_len)[:-1]]).astype(np.int64)
        self._t_offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)
        self._inputs = np.concatenate(
            [pad_sequence(np.asarray(x, dtype=dtype), self.receptive_field, causal=causal) for x in inputs]
        )
        self._targets = (
            None if targets is None else np.concatenate([np.asarray(y, dtype=dtype) for y in targets])
        )
        self._intrinsics = (
            None if intrinsics is None else np.stack([np.asarray(c, dtype=np.float32) for c in intrinsics])
        )
        if self._intrinsics is not None and len(self._intrinsics) != len(inputs):
            raise ValueError("PoseWindows: one intrinsics vector per sequence is needed")
        seq_idx, starts = [], []
        c = self.chunk_length
        for i, n in enumerate(self.lengths):
            if n < c:
                continue
            s = np.arange(0, n, c, dtype=np.int64)
            s = np.minimum(s, n - c)
            seq_idx.append(np.full(len(s), i, dtype=np.int32))
            starts.append(s.astype(np.int32))
        self._seq = np.concatenate(seq_idx) if seq_idx else np.zeros(0, np.int32)
        self._start = np.concatenate(starts) if starts else np.zeros(0, np.int32)

    @classmethod
    def from_sequences(
        cls,
        sequences: Sequence[PoseSequence],
        *,
        receptive_field: int,
        input_field: str = "pose_2d",
        target_field: str | None = "pose_3d",
        with_intrinsics: bool = True,
        **kwargs: Any,
    ) -> PoseWindows:
        """Windows over :class:`PoseSequence` objects (normalized 2D in, root-relative 3D out)."""
        return cls(
            [getattr(s, input_field) for s in sequences],
            None if target_field is None else [getattr(s, target_field) for s in sequences],
            receptive_field=receptive_field,
            intrinsics=[s.intrinsics for s in sequences] if with_intrinsics else None,
            **kwargs,
        )

    # ------------------------------------------------------------------ facts

    def __len__(self) -> int:
        """Number of windows in :meth:`batches` mode."""
        return int(self._seq.size)

    @property
    def num_sequences(self) -> int:
        return int(self.lengths.size)

    @property
    def num_frames(self) -> int:
        return int(self.lengths.sum())

    @property
    def window_length(self) -> int:
        """Input frames per window: ``chunk_length + receptive_field - 1``."""
        return self.chunk_length + self.receptive_field - 1

    def num_batches(self, batch_size: int, drop_remainder: bool = False) -> int:
        n = len(self)
        return n // batch_size if drop_remainder else -(-n // batch_size)

    # ------------------------------------------------------------------ gathering

    def _shape(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(*x.shape[:-2], -1) if self.flatten else x

    def gather(self, window_ids: np.ndarray) -> Batch:
        """The batch of the given window indices (0 <= id < len(self))."""
        ids = np.asarray(window_ids, dtype=np.int64)
        seq = self._seq[ids]
        start = self._start[ids].astype(np.int64)
        g = self._in_offsets[seq] + start
        x = self._inputs[g[:, None] + np.arange(self.window_length)]
        out: Batch = {
            "inputs": self._shape(x),
            "sequence": seq.astype(np.int32),
            "frame": start.astype(np.int32),
        }
        if self._targets is not None:
            gt = self._t_offsets[seq] + start
            out["targets"] = self._shape(self._targets[gt[:, None] + np.arange(self.chunk_length)])
        if self._intrinsics is not None:
            out["intrinsics"] = self._intrinsics[seq]
        return out

    def batches(
        self,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        epoch: int = 0,
        drop_remainder: bool = False,
        augment: Callable[[Batch, np.random.Generator], Batch] | None = None,
    ) -> Iterator[Batch]:
        """Yields batches of windows, one epoch.

        Args:
          batch_size: windows per batch.
          shuffle: visit windows in a random order drawn from ``(seed, epoch)``.
          seed, epoch: the order (and the augmentation draws) are a function of these alone.
          drop_remainder: skip the last, smaller batch.
          augment: optional ``fn(batch, rng) -> batch``, e.g.
            :class:`~chiral_jax.data.augment.MirrorAugment`.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        rng = np.random.default_rng([seed, epoch])
        order = rng.permutation(len(self)) if shuffle else np.arange(len(self))
        stop = len(order) - (len(order) % batch_size if drop_remainder else 0)
        for b in range(0, stop, batch_size):
            batch = self.gather(order[b : b + batch_size])
            if augment is not None:
                batch = augment(batch, rng)
            yield batch

    def sequences(self) -> Iterator[Batch]:
        """Yields whole sequences, one at a time: inputs (1, T + R - 1, J, Din), targets (1, T, J, Dout)."""
        for i in range(self.num_sequences):
            n = int(self.lengths[i])
            a = self._in_offsets[i]
            x = self._inputs[a : a + n + self._pad_left + self._pad_right]
            out: Batch = {
                "inputs": self._shape(x)[None],
                "sequence": np.array([i], np.int32),
                "frame": np.array([0], np.int32),
            }
            if self._targets is not None:
                t = self._t_offsets[i]
                out["targets"] = self._shape(self._targets[t : t + n])[None]
            if self._intrinsics is not None:
                out["intrinsics"] = self._intrinsics[i : i + 1]
            yield out
