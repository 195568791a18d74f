"""Labelled skeleton clips for action recognition, and their preprocessing (pure numpy).

:class:`ActionClip` is the record every action dataset's reader returns (Kinetics-skeleton, NW-UCLA,
the synthetic actions; Penn Action videos convert with :func:`clip_from_penn_action`): a
``(people, frames, joints, channels)`` float32 array, the label index and name, and the source file.

Preprocessing (:func:`prepare_clips`, :func:`augment_clips`):

* **ST-GCN** (Kinetics): channels (x, y, score) with x, y divided by the frame size in the files;
  per frame the ``max_people`` people with the highest summed joint score are kept (the reader does
  this), coordinates become ``(x - 0.5, y - 0.5)`` and a joint with score 0 (not detected, or an
  absent person) is set to (0, 0, 0); clips are cut or zero-padded at the end to ``frames``.
* **fixed-length resampling** (NW-UCLA, Penn Action; :func:`resample`): linear interpolation over
  normalised time: output frame ``k`` of ``n`` reads time ``k (T - 1) / (n - 1)`` of the input,
  interpolating linearly between its two neighbouring frames (a 1-frame clip is repeated). A score
  / visibility channel takes the minimum of the two neighbours (a joint is kept only where both
  frames saw it) and joints with score 0 are zeroed again.
* **training augmentation** (:func:`augment_clips`): a random ``window`` of consecutive frames
  (ST-GCN's random crop; zero frames pad a shorter clip), then a random small rotation (about the
  viewing axis, +-10 degrees), scale (0.9-1.1) and translation (+-0.1) of the first two channels
  (x, y) of detected joints, one per clip; optionally a mirror with probability 1/2.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from chiral_jax.data.rotate import random_view_angles, rotate_about_vertical
from chiral_jax.spec import ChiralSpec

__all__ = [
    "ActionClip",
    "augment_clips",
    "clip_from_penn_action",
    "normalize_stgcn",
    "pad_or_crop",
    "prepare_clips",
    "resample",
    "top_people",
]


@dataclasses.dataclass(eq=False)
class ActionClip:
    """One labelled skeleton clip.

    Attributes:
      skeleton: (people, frames, joints, channels) float32.
      label: the class index.
      label_name: the class name.
      source: the file it came from (its name is the example key).
    """

    skeleton: np.ndarray
    label: int
    label_name: str
    source: str

    def __post_init__(self) -> None:
        self.skeleton = np.asarray(self.skeleton, np.float32)
        if self.skeleton.ndim != 4:
            raise ValueError(
                f"ActionClip {self.source}: skeleton must be (people, frames, joints, channels), "
                f"got shape {self.skeleton.shape}"
            )

    @property
    def key(self) -> str:
        """A unique example key: the source file's name."""
        return Path(self.source).name

    @property
    def num_frames(self) -> int:
        return int(self.skeleton.shape[1])

    def to_example(self) -> dict[str, Any]:
        """The TFDS example: ``skeleton`` float32 (M, T, J, C), ``label`` int64, ``label_name``,
        ``source`` (str)."""
        return {
            "skeleton": self.skeleton,
            "label": np.int64(self.label),
            "label_name": self.label_name,
            "source": self.source,
        }

    @classmethod
    def from_example(cls, example: dict[str, Any]) -> ActionClip:
        def text(x: Any) -> str:
            x = x.item() if isinstance(x, np.ndarray) else x
            return x.decode() if isinstance(x, bytes) else str(x)

        return cls(
            skeleton=np.asarray(example["skeleton"], np.float32),
            label=int(np.asarray(example["label"])),
            label_name=text(example["label_name"]),
            source=text(example["source"]),
        )


# ---------------------------------------------------------------------------------- preprocessing


def top_people(skeleton: np.ndarray, max_people: int, score_channel: int = 2) -> np.ndarray:
    """Per frame, the ``max_people`` people with the highest summed joint score, best first
    (ST-GCN's Kinetics feeder); missing people are zeros.

    Args:
      skeleton: (people, frames, joints, channels).

    Returns:
      (max_people, frames, joints, channels).
    """
    m, t, j, c = skeleton.shape
    if m < max_people:
        skeleton = np.concatenate([skeleton, np.zeros((max_people - m, t, j, c), skeleton.dtype)])
    order = np.argsort(-skeleton[..., score_channel].sum(-1), axis=0, kind="stable")  # (M, T)
    picked = np.take_along_axis(skeleton, order[:, :, None, None], axis=0)
    return picked[:max_people]


def normalize_stgcn(skeleton: np.ndarray) -> np.ndarray:
    """(x, y, score) in [0, 1] -> (x - 0.5, y - 0.5, score); joints with score 0 -> (0, 0, 0)."""
    out = np.array(skeleton, np.float32, copy=True)
    out[..., :2] -= 0.5
    out[out[..., 2] == 0] = 0.0
    return out


def pad_or_crop(skeleton: np.ndarray, frames: int) -> np.ndarray:
    """The first ``frames`` frames, zero-padded at the end: (M, T, J, C) -> (M, frames, J, C)."""
    m, t, j, c = skeleton.shape
    if t >= frames:
        return skeleton[:, :frames]
    return np.concatenate([skeleton, np.zeros((m, frames - t, j, c), skeleton.dtype)], axis=1)


def resample(skeleton: np.ndarray, frames: int, score_channel: int | None = None) -> np.ndarray:
    """Linear interpolation over normalised time to ``frames`` frames (see the module docstring).

    Args:
      skeleton: (M, T, J, C) with T >= 1.
      score_channel: a channel of 0/score values (minimum of the two neighbours, not interpolated;
        joints where it is 0 are zeroed), or None.
    """
    t = skeleton.shape[1]
    if t < 1:
        raise ValueError(f"resample: a clip needs at least 1 frame, got shape {skeleton.shape}")
    pos = np.linspace(0.0, t - 1.0, frames) if frames > 1 else np.zeros(1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, t - 1)
    w = (pos - lo).astype(np.float32)[None, :, None, None]
    a, b = skeleton[:, lo], skeleton[:, hi]
    out = (1.0 - w) * a + w * b
    if score_channel is not None:
        out[..., score_channel] = np.minimum(a[..., score_channel], b[..., score_channel])
        out[out[..., score_channel] == 0] = 0.0
    return out.astype(np.float32)


def clip_from_penn_action(video: Any, actions: tuple[str, ...]) -> ActionClip:
    """A Penn Action video (:class:`~chiral_jax.data.penn_action.PennActionVideo`) as a 1-person
    clip of (x, y, visibility): pixels normalised per video, ``(p - centre) / (size / 2)`` with the
    centre and the longer side of the box around every visible joint of the video (x and y scaled
    alike, so the mirror stays x -> -x); invisible joints are (0, 0, 0)."""
    kp = np.asarray(video.keypoints_px, np.float32)
    vis = np.asarray(video.visibility, bool)
    pts = kp[vis] if vis.any() else kp.reshape(-1, 2)
    lo, hi = pts.min(0), pts.max(0)
    centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 1e-3)
    xy = (kp - centre) / half
    skel = np.concatenate([xy, vis[..., None].astype(np.float32)], axis=-1)
    skel[~vis] = 0.0
    return ActionClip(skel[None], actions.index(video.action), video.action, f"{video.video_id}.mat")


def prepare_clips(
    clips: list[ActionClip], frames: int, *, method: str = "pad", score_channel: int | None = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Stacks clips to ``(N, people, frames, joints * channels)`` float32 and labels ``(N,)`` int32.

    ``method``: ``"pad"`` (:func:`pad_or_crop`) or ``"resample"`` (:func:`resample`). Clips must
    share people, joints and channels.
    """
    if not clips:
        raise ValueError("prepare_clips: no clips")
    if method not in ("pad", "resample"):
        raise ValueError(f"prepare_clips: method must be 'pad' or 'resample', got {method!r}")
    shape = clips[0].skeleton.shape
    out = np.zeros((len(clips), shape[0], frames, shape[2] * shape[3]), np.float32)
    for i, clip in enumerate(clips):
        s = clip.skeleton
        if s.shape[0] != shape[0] or s.shape[2:] != shape[2:]:
            raise ValueError(
                f"prepare_clips: {clip.source} has shape {s.shape}, the first clip {shape} "
                "(people, joints and channels must agree)"
            )
        s = pad_or_crop(s, frames) if method == "pad" else resample(s, frames, score_channel)
        out[i] = s.reshape(shape[0], frames, -1)
    labels = np.asarray([c.label for c in clips], np.int32)
    return out, labels


def augment_clips(
    clips: np.ndarray,
    rng: np.random.Generator,
    *,
    window: int,
    channels: int,
    spec: ChiralSpec | None = None,
    score_channel: int | None = 2,
    rotation_deg: float = 10.0,
    scale: tuple[float, float] = (0.9, 1.1),
    translation: float = 0.1,
    coords: int = 2,
    vertical_rotation: float = 0.0,
    vertical_axis: int = 1,
    tilt: float = 0.0,
) -> np.ndarray:
    """Training augmentation of a batch ``(B, M, T, J * channels)`` (see the module docstring).

    Draws ONE number per clip from ``rng`` (the pipeline's per-row convention) and derives the
    clip's crop, view rotation, rotation, scale, translation and mirror from it. ``spec``: mirror
    each clip with probability 1/2 by this spec (None: no mirror). ``coords``: the leading channels
    that are coordinates (2: x, y; 3: x, y, z), scaled and translated; ``rotation_deg``: the largest
    rotation in the (x, y) plane (about the viewing axis); ``vertical_rotation``: the largest
    rotation (radians, uniform and symmetric) about the 3D ``vertical_axis`` (needs ``coords`` 3;
    :mod:`chiral_jax.data.rotate`); ``tilt``: the largest rotation (radians, uniform) about the
    x axis (a change of camera elevation; it commutes with the mirror x -> -x). Returns
    ``(B, M, window, J * channels)``.
    """
    b, m, t, f = clips.shape
    if coords not in (2, 3) or coords > channels:
        raise ValueError(f"augment_clips: coords must be 2 or 3 and <= channels ({channels}), got {coords}")
    if (vertical_rotation or tilt) and coords != 3:
        raise ValueError(f"augment_clips: vertical_rotation and tilt need coords=3 (x, y, z), got {coords}")
    seeds = (rng.random(b) * 2**53).astype(np.int64)  # one double per row
    out = np.zeros((b, m, window, f), np.float32)
    for i in range(b):
        r = np.random.default_rng(seeds[i])
        x = clips[i]
        start = int(r.integers(0, t - window + 1)) if t > window else 0
        x = x[:, start : start + window].reshape(m, -1, f // channels, channels).copy()
        keep = np.any(x != 0, axis=-1) if score_channel is None else x[..., score_channel] != 0
        p = x[..., :coords]
        if vertical_rotation:  # drawn only when asked, so the 2D draws stay as they were
            p = rotate_about_vertical(p, float(random_view_angles(r, 1, vertical_rotation)[0]), vertical_axis)
        if tilt:  # about x: the same rotation with x as the axis
            p = rotate_about_vertical(p, float(random_view_angles(r, 1, tilt)[0]), 0)
        th = np.deg2rad(r.uniform(-rotation_deg, rotation_deg))
        rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]], np.float32)
        p[..., :2] = p[..., :2] @ rot.T
        p = p * r.uniform(*scale) + r.uniform(-translation, translation, coords)
        x[..., :coords] = np.where(keep[..., None], p, 0.0)
        x = x.reshape(m, -1, f)
        if spec is not None and r.random() < 0.5:
            x = spec.transform(x)
        out[i, :, : x.shape[1]] = x
    return out
