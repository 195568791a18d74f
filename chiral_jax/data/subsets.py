"""Deterministic subsets for limited-data studies (e.g. Human3.6M S1 at 0.1 %, 1 %, 5 %, 10 %, 50 %).

:func:`by_fraction` follows VideoPose3D's ``--subset``: from each take it keeps ONE contiguous run of
``round(T * fraction)`` frames (takes where that rounds to 0 are dropped), starting at a
pseudo-random offset. The offset is a function of (seed, subject, action) only, so every camera of
a take keeps the same time span and the subset does not change when other data is added.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence

from chiral_jax.data.sequence import PoseSequence
from chiral_jax.metrics import action_type

__all__ = ["by_actions", "by_fraction", "by_subjects", "downsample"]


def by_subjects(sequences: Iterable[PoseSequence], subjects: Sequence[str]) -> list[PoseSequence]:
    """The sequences of the listed subjects, in their original order."""
    keep = set(subjects)
    return [s for s in sequences if s.subject in keep]


def by_actions(sequences: Iterable[PoseSequence], actions: Sequence[str]) -> list[PoseSequence]:
    """The sequences whose action type (``"Walking 1"`` -> ``"Walking"``) is listed.

    A listed name that is no action type of the pool selects the types it begins, as VideoPose3D's
    ``-a`` does (``"Walk"`` -> HumanEva's ``"Walking"``); a name equal to an action type selects
    that type only (Human3.6M's ``"Walking"`` is not ``"WalkDog"``).
    """
    pool = list(sequences)
    types = {action_type(s.action) for s in pool}
    keep = set()
    for a in actions:
        name = action_type(a)
        keep |= {name} if name in types else {t for t in types if t.startswith(name)}
    return [s for s in pool if action_type(s.action) in keep]


def _offset(seed: int, subject: str, action: str, room: int) -> int:
    if room <= 0:
        return 0
    h = zlib.crc32(f"{seed}/{subject}/{action}".encode())
    return h % (room + 1)


def by_fraction(
    sequences: Iterable[PoseSequence],
    fraction: float,
    *,
    subjects: Sequence[str] | None = None,
    seed: int = 0,
) -> list[PoseSequence]:
    """Keeps ``fraction`` of each take's frames as one contiguous run per take.

    Args:
      sequences: the pool (e.g. the train split).
      fraction: in (0, 1]; 1 keeps everything.
      subjects: optionally restrict to these subjects first.
      seed: changes the runs' offsets.

    Returns:
      Sliced sequences (views of the original arrays); takes whose share rounds to 0 frames are left out.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"by_fraction: fraction must be in (0, 1], got {fraction}")
    pool = list(sequences) if subjects is None else by_subjects(sequences, subjects)
    out = []
    for s in pool:
        n = round(s.num_frames * fraction)
        if n == 0:
            continue
        start = _offset(seed, s.subject, s.action, s.num_frames - n)
        out.append(s.slice(start, start + n))
    return out


def downsample(sequences: Iterable[PoseSequence], factor: int) -> list[PoseSequence]:
    """Every ``factor``-th frame of each sequence (VideoPose3D's ``--downsample``); fps adjusted."""
    if factor < 1:
        raise ValueError(f"downsample: factor must be >= 1, got {factor}")
    out = []
    for s in sequences:
        d = s.slice(0, s.num_frames)
        d.pose_2d_px, d.pose_2d = s.pose_2d_px[::factor], s.pose_2d[::factor]
        d.pose_3d, d.trajectory = s.pose_3d[::factor], s.trajectory[::factor]
        d.fps = s.fps / factor
        out.append(d)
    return out
