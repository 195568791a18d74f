"""Several people in one video: per-frame detections linked into tracks (``--people`` of
``experiments/predict3d.py``).

:func:`track_people` walks the frames in order. Each frame's detections
(:attr:`~chiral_jax.predict.keypoints.RawKeypoints.people`) are assigned to the live tracks by the
Hungarian algorithm (``scipy.optimize.linear_sum_assignment``) on the cost ``1 - OKS`` between a
detection and the track's predicted keypoints: its last detection moved on by the track's recent
velocity (the mean motion of its confident joints), so two people who cross keep their directions
while their boxes overlap. A pair with OKS below ``min_oks`` is never assigned (the gate); a
detection left over starts a track; a track without a detection for more than ``max_gap`` frames
ends. Its missing frames in between are gaps that :func:`~chiral_jax.predict.keypoints.fill_gaps`
interpolates, as for one person (:func:`track_keypoints` gives them score 0).

OKS is COCO's object keypoint similarity: the mean, over the joints scored at least ``min_score`` in
both, of ``exp(-d^2 / (2 s^2 k^2))`` with ``d`` the distance in pixels, ``s^2`` the area of the
track's keypoint box and ``k = 2 sigma`` from COCO's per-keypoint sigmas (by joint name; OpenPose's
extra points: 0.08).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from chiral_jax.predict.keypoints import LAYOUTS, RawKeypoints

__all__ = ["COCO_SIGMAS", "Track", "keypoint_similarity", "spread", "track_keypoints", "track_people"]

COCO_SIGMAS: dict[str, float] = dict(
    zip(
        LAYOUTS["coco17"],
        (0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107,
         0.087, 0.087, 0.089, 0.089),
        strict=True,
    )
)  # fmt: skip
"""COCO's per-keypoint OKS sigmas (the COCO keypoint evaluation's), by joint name."""
_OTHER_SIGMA = 0.08


@dataclasses.dataclass
class Track:
    """One person followed through the video.

    Attributes:
      rows: (n,) increasing frame rows (indices into the ``frame_ids``) with this person's detection.
      keypoints: (n, J, 2) pixels; scores: (n, J); confidence: (n,) each detection's score.
    """

    rows: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray
    confidence: np.ndarray

    @property
    def first(self) -> int:
        return int(self.rows[0])

    @property
    def last(self) -> int:
        return int(self.rows[-1])

    def __len__(self) -> int:
        return len(self.rows)


def _sigmas(layout: str) -> np.ndarray:
    return np.asarray([COCO_SIGMAS.get(n, _OTHER_SIGMA) for n in LAYOUTS[layout]])


def keypoint_similarity(
    a: np.ndarray, a_ok: np.ndarray, b: np.ndarray, b_ok: np.ndarray, sigmas: np.ndarray
) -> np.ndarray:
    """OKS (M, N) between M keypoint sets ``a`` (M, J, 2) and N sets ``b`` (N, J, 2), over the joints
    visible in both (``a_ok`` (M, J), ``b_ok`` (N, J) bool), the scale from each ``a``'s box; 0 where
    no joint is visible in both."""
    area = np.zeros(len(a))
    for m in range(len(a)):
        pts = a[m][a_ok[m]]
        if len(pts):
            w, h = pts.max(0) - pts.min(0)
            area[m] = max(w * h, 1.0)
    d2 = np.sum((a[:, None] - b[None]) ** 2, axis=-1)  # (M, N, J)
    k2 = (2 * sigmas) ** 2
    e = np.exp(-d2 / (2 * np.maximum(area, 1.0)[:, None, None] * k2))
    both = a_ok[:, None] & b_ok[None]
    n = both.sum(-1)
    return np.where(n > 0, (e * both).sum(-1) / np.maximum(n, 1), 0.0)


@dataclasses.dataclass(eq=False)
class _Live:
    rows: list[int]
    keypoints: list[np.ndarray]
    scores: list[np.ndarray]
    confidence: list[float]
    centers: list[np.ndarray]

    def predict(self, row: int, min_score: float) -> tuple[np.ndarray, np.ndarray]:
        kp, ok = self.keypoints[-1], self.scores[-1] >= min_score
        if len(self.rows) > 1:
            velocity = (self.centers[-1] - self.centers[-2]) / (self.rows[-1] - self.rows[-2])
            kp = kp + velocity * (row - self.rows[-1])
        return kp, ok


def track_people(
    raw: RawKeypoints,
    *,
    min_score: float = 0.3,
    min_oks: float = 0.3,
    max_gap: int = 10,
    min_joints: int = 3,
) -> list[Track]:
    """Links the detections of ``raw`` into tracks, longest first (most detections; then earliest).

    Args:
      raw: keypoints read by :func:`~chiral_jax.predict.keypoints.read_keypoints`; without
        ``people`` (npz formats: one person a frame) the frames with a detection form one track.
      min_score: joints scored below it are not compared (nor count as detected).
      min_oks: the gate: a detection joins a track only with at least this OKS to its prediction.
      max_gap: a track survives up to this many frames without a detection.
      min_joints: detections with fewer joints scored ``min_score`` are ignored.
    """
    if max_gap < 0 or not 0.0 <= min_oks <= 1.0 or min_joints < 1:
        raise ValueError(
            f"track_people: max_gap {max_gap}, min_oks {min_oks}, min_joints {min_joints}; expected "
            "max_gap >= 0, 0 <= min_oks <= 1, min_joints >= 1"
        )
    if raw.people is None:
        rows = np.where((raw.scores >= min_score).sum(1) >= min_joints)[0]
        if not len(rows):
            return []
        conf = raw.scores[rows].mean(1)
        return [Track(rows, raw.keypoints[rows], raw.scores[rows], conf)]
    from scipy.optimize import linear_sum_assignment

    sigmas = _sigmas(raw.layout)
    live: list[_Live] = []
    done: list[_Live] = []
    for row, people in enumerate(raw.people):
        ended = [tr for tr in live if row - tr.rows[-1] > max_gap + 1]
        done += ended
        live = [tr for tr in live if tr not in ended]
        dets = [(xy, sc, c) for xy, sc, c in people if (sc >= min_score).sum() >= min_joints]
        if not dets:
            continue
        b = np.stack([d[0] for d in dets])
        b_ok = np.stack([d[1] for d in dets]) >= min_score
        taken: set[int] = set()
        if live:
            pred = [tr.predict(row, min_score) for tr in live]
            a = np.stack([p[0] for p in pred])
            a_ok = np.stack([p[1] for p in pred])
            oks = keypoint_similarity(a, a_ok, b, b_ok, sigmas)
            cost = np.where(oks >= min_oks, 1.0 - oks, 1e6)  # gated pairs: never chosen over a real one
            for i, j in zip(*linear_sum_assignment(cost), strict=True):
                if oks[i, j] >= min_oks:
                    _append(live[i], row, dets[j], b_ok[j])
                    taken.add(int(j))
        for j, det in enumerate(dets):
            if j not in taken:
                tr = _Live([], [], [], [], [])
                _append(tr, row, det, b_ok[j])
                live.append(tr)
    tracks = [
        Track(np.asarray(tr.rows), np.stack(tr.keypoints), np.stack(tr.scores), np.asarray(tr.confidence))
        for tr in done + live
    ]
    return sorted(tracks, key=lambda tr: (-len(tr), tr.first))


def _append(tr: _Live, row: int, det: tuple[np.ndarray, np.ndarray, float], ok: np.ndarray) -> None:
    xy, sc, conf = det
    tr.rows.append(row)
    tr.keypoints.append(np.asarray(xy, np.float64))
    tr.scores.append(np.asarray(sc, np.float64))
    tr.confidence.append(float(conf))
    tr.centers.append(xy[ok].mean(0))


def track_keypoints(raw: RawKeypoints, track: Track, index: int = 0) -> RawKeypoints:
    """One track as :class:`~chiral_jax.predict.keypoints.RawKeypoints` over its span (its first to
    its last detection; frames without one in between have score 0, for the gap filling)."""
    span = np.arange(track.first, track.last + 1)
    xy = np.zeros((len(span), *track.keypoints.shape[1:]))
    scores = np.zeros((len(span), track.scores.shape[1]))
    xy[track.rows - track.first] = track.keypoints
    scores[track.rows - track.first] = track.scores
    return dataclasses.replace(
        raw,
        keypoints=xy,
        scores=scores,
        frame_ids=raw.frame_ids[span],
        source=f"{raw.source} (person {index})",
        people=None,
    )


def spread(values: np.ndarray, first: int, total: int, fill: float | bool = np.nan) -> np.ndarray:
    """``values`` (n, ...) of the frames ``first .. first + n - 1`` placed in an array (total, ...)
    that holds ``fill`` elsewhere."""
    values = np.asarray(values)
    nan = isinstance(fill, float) and np.isnan(fill)
    dtype = np.result_type(values, np.float32) if nan else values.dtype
    out = np.full((total, *values.shape[1:]), fill, dtype=dtype)
    out[first : first + len(values)] = values
    return out
