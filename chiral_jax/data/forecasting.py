"""2D pose-forecasting samples from Penn Action, by the published protocol.

The Chirality Nets paper (Table 3) follows the setup of Chiu et al., "Action-Agnostic Human Pose
Forecasting" (TP-RNN, WACV 2019), itself after 3D-PFNet (Chao et al., CVPR 2017):

* **Normalisation, per video** (:func:`normalize_video`): the box of *all* joints over *all* frames
  of the video gives the centre (middle of the box) and the length ``L = max(width, height)``;
  coordinates become ``(px - centre) / (L / 2)``, so every pose lies in ``[-1, 1]`` and the longer
  side of the box spans it exactly. Visibility does not enter (the released code uses every joint,
  invisible ones with their arbitrary coordinates included).
* **Sampling** (:func:`sample_indices`): a sample is ``N = observed + future`` frames taken at the
  stride ``(T - 1) // N`` (1 if that is 0) from a start frame; frames past the end repeat the last
  frame. One sample starts at every frame of every video (87,543 training and 76,298 test samples
  on the full dataset: one per frame).
* **Inputs / targets**: the first ``observed`` frames are given (2: the pose and its initial
  velocity, the paper's default; 1 without it) and the next ``future`` (16) are forecast.
* **Metric**: PCK@0.05 of each future step over the visible joints of the target frame, with the
  threshold ``0.05 * L`` (0.1 in normalised coordinates), see :func:`chiral_jax.metrics.pck_per_step`.

Mirror augmentation needs no special case: the normalisation commutes with ``x -> W - x`` (the box
mirrors with the pose), so negating x of the normalised coordinates and swapping left/right joints
(the skeleton's chirality transform) is the normalised mirrored video.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from chiral_jax.data.penn_action import ACTIONS, PENN_ACTION_NUM_JOINTS, PennActionVideo
from chiral_jax.data.sequence import PoseSequence

__all__ = [
    "H36M_TO_PENN_ACTION",
    "Video2D",
    "forecast_samples",
    "normalize_video",
    "reversed_video",
    "sample_indices",
    "videos_from_sequences",
]

H36M_TO_PENN_ACTION: tuple[int, ...] = (10, 11, 14, 12, 15, 13, 16, 4, 1, 5, 2, 6, 3)
"""Human3.6M-17 joint index of each Penn Action joint (head, l/r shoulder, elbow, wrist, hip,
knee, ankle): the built-in and CMU data seen in the Penn Action layout."""


@dataclasses.dataclass(eq=False)
class Video2D:
    """A 2D keypoint video in the form :func:`forecast_samples` reads (what Penn Action gives).

    Attributes:
      video_id: a unique name.
      action: the action's name.
      keypoints_px: (T, J, 2) pixel coordinates (x, y).
      visibility: (T, J) bool.
    """

    video_id: str
    action: str
    keypoints_px: np.ndarray
    visibility: np.ndarray

    @property
    def num_frames(self) -> int:
        return int(self.keypoints_px.shape[0])


def videos_from_sequences(
    sequences: Sequence[PoseSequence], joints: Sequence[int] = H36M_TO_PENN_ACTION
) -> list[Video2D]:
    """One :class:`Video2D` per camera view of 2D/3D sequences: the pixel keypoints of ``joints``
    (default: Human3.6M-17 to the Penn Action layout), every joint visible; the action is the
    take name without its take number (``"wave_right 0"`` -> ``"wave_right"``)."""
    idx = np.asarray(joints)
    return [
        Video2D(
            video_id=s.key,
            action=s.action.rsplit(" ", 1)[0],
            keypoints_px=np.asarray(s.pose_2d_px[:, idx], np.float32),
            visibility=np.ones((s.num_frames, len(idx)), bool),
        )
        for s in sequences
    ]


def reversed_video(video: Video2D | PennActionVideo | Any) -> Video2D:
    """The video played backwards (id suffixed ``"~rev"``): motion seen in reverse, for
    training-time augmentation."""
    return Video2D(
        video_id=f"{video.video_id}~rev",
        action=video.action,
        keypoints_px=np.ascontiguousarray(np.asarray(video.keypoints_px)[::-1]),
        visibility=np.ascontiguousarray(np.asarray(video.visibility)[::-1]),
    )


_DTYPES: dict[str, type] = {
    "poses": np.float32,
    "visible": np.bool_,
    "video": np.int32,
    "start": np.int32,
    "half_size": np.float32,
    "centre": np.float32,
    "action": np.int32,
}


def normalize_video(keypoints_px: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Normalises a video's poses by the box of all its joints over all its frames.

    Every joint counts, visible or not (as in the released TP-RNN code).

    Args:
      keypoints_px: (T, J, 2) pixel coordinates (x, y).

    Returns:
      coords: (T, J, 2) float32 ``(keypoints_px - centre) / half_size``, within [-1, 1].
      centre: (2,) float32 middle of the joint box (x, y), pixels.
      half_size: ``L / 2`` with ``L = max(box width, box height)`` in pixels; 0.5 when the box is
        a single point (``L = 0``: every coordinate is then 0).
    """
    px = np.asarray(keypoints_px, dtype=np.float64)
    if px.ndim != 3 or px.shape[-1] != 2 or px.shape[0] == 0:
        raise ValueError(f"normalize_video: keypoints must be (T>0, J, 2), got shape {px.shape}")
    lo = px.min(axis=(0, 1))
    hi = px.max(axis=(0, 1))
    centre = lo + (hi - lo) / 2.0
    length = float(np.max(hi - lo))
    if not np.isfinite(length):
        raise ValueError("normalize_video: keypoints hold NaN or infinite values")
    half = length / 2.0 if length > 0 else 0.5
    coords = (px - centre) / half
    return coords.astype(np.float32), centre.astype(np.float32), half


def _stride(num_frames: int, n: int) -> int:
    return max((num_frames - 1) // n, 1)


def sample_indices(num_frames: int, start: int, n: int) -> np.ndarray:
    """The ``n`` frame indices of the sample of a ``num_frames`` video starting at ``start``.

    The stride is ``(num_frames - 1) // n`` (1 if that is 0); frame ``k`` is
    ``min(start + k * stride, num_frames - 1)``: the last frame repeats past the end.
    (For videos of at most ``n`` frames the released code's stride would be 0, repeating the start
    frame; this rule takes 1.)
    Example: ``num_frames=10, n=3`` has stride 3: start 0 -> 0, 3, 6; start 5 -> 5, 8, 9.

    Returns:
      (n,) int64 frame indices.
    """
    if num_frames < 1 or n < 1 or not 0 <= start < num_frames:
        raise ValueError(
            f"sample_indices: need num_frames >= 1, n >= 1 and 0 <= start < num_frames, "
            f"got num_frames={num_frames}, start={start}, n={n}"
        )
    stride = _stride(num_frames, n)
    return np.minimum(start + stride * np.arange(n), num_frames - 1)


def forecast_samples(
    videos: Sequence[PennActionVideo | Video2D | Any],
    *,
    observed: int = 2,
    future: int = 16,
    actions: Sequence[str] = ACTIONS,
    stride_factor: float = 1.0,
) -> dict[str, np.ndarray]:
    """Every forecasting sample of ``videos``: one per start frame of each video.

    Args:
      videos: Penn Action videos (one split).
      observed: frames given to the model (2: pose and initial velocity; 1: the pose alone).
      future: frames to forecast (16 in the paper).
      actions: the action names whose index is the ``action`` label (an action not listed: -1).
      stride_factor: the protocol's stride times this, rounded (at least 1): other speeds of the
        same motions, for training-time augmentation only (1: the protocol).

    Returns:
      With ``S`` = the total number of frames of ``videos`` and ``N = observed + future``:

      * ``poses``: (S, N, J, 2) float32 normalised coordinates (:func:`normalize_video` per video);
      * ``visible``: (S, N, J) bool, each frame's visibility;
      * ``video``: (S,) int32 index of the sample's video in ``videos``;
      * ``start``: (S,) int32 start frame;
      * ``half_size``: (S,) float32 the video's ``L / 2`` in pixels (``poses * half_size + centre``
        gives back pixels, e.g. for PCK in pixels);
      * ``centre``: (S, 2) float32 the video's box centre in pixels;
      * ``action``: (S,) int32 action label (index in :data:`~chiral_jax.data.penn_action.ACTIONS`).
    """
    if observed < 1 or future < 1:
        raise ValueError(f"forecast_samples: observed and future must be >= 1, got {observed}, {future}")
    if not stride_factor > 0:
        raise ValueError(f"forecast_samples: stride_factor must be > 0, got {stride_factor}")
    n = observed + future
    parts: dict[str, list[np.ndarray]] = {k: [] for k in _DTYPES}
    joints = PENN_ACTION_NUM_JOINTS
    for vi, video in enumerate(videos):
        coords, centre, half = normalize_video(video.keypoints_px)
        t, joints = coords.shape[:2]
        visibility = np.asarray(video.visibility, dtype=bool)
        if visibility.shape != (t, joints):
            raise ValueError(
                f"forecast_samples: video {video.video_id} visibility has shape {visibility.shape}, "
                f"expected {(t, joints)}"
            )
        stride = max(round(_stride(t, n) * stride_factor), 1)
        starts = np.arange(t)
        idx = np.minimum(starts[:, None] + stride * np.arange(n)[None], t - 1)  # (T, N)
        parts["poses"].append(coords[idx])
        parts["visible"].append(visibility[idx])
        parts["video"].append(np.full(t, vi, np.int32))
        parts["start"].append(starts.astype(np.int32))
        parts["half_size"].append(np.full(t, half, np.float32))
        parts["centre"].append(np.broadcast_to(centre, (t, 2)))
        label = actions.index(video.action) if video.action in actions else -1
        parts["action"].append(np.full(t, label, np.int32))
    if not parts["poses"]:
        shapes = {"poses": (0, n, joints, 2), "visible": (0, n, joints), "centre": (0, 2)}
        return {k: np.zeros(shapes.get(k, (0,)), dtype) for k, dtype in _DTYPES.items()}
    return {k: np.concatenate(parts[k]).astype(dtype, copy=False) for k, dtype in _DTYPES.items()}
