"""The forecasting task's data: the samples of both splits of a dataset in the Penn Action
protocol (:mod:`chiral_jax.data.forecasting`), with the options its recipe tunes (clips, a held-out
validation part of the training recordings, reversed videos, extra strides, a training fraction)."""

from __future__ import annotations

import dataclasses
from typing import Any

import ml_collections
import numpy as np

from chiral_jax.data.builders import load_splits
from chiral_jax.data.forecasting import forecast_samples, reversed_video, videos_from_sequences

__all__ = [
    "FORECAST_DATASETS",
    "ForecastData",
    "clip_videos",
    "forecast_batch",
    "load_forecast_data",
    "split_validation",
    "training_samples",
    "video_group",
]

Batch = dict[str, np.ndarray]
FORECAST_DATASETS = ("synthetic", "cmu_mocap", "penn_action")


@dataclasses.dataclass(frozen=True)
class ForecastData:
    """Forecasting samples of both splits (see :func:`~chiral_jax.data.forecasting.forecast_samples`:
    ``poses`` (S, observed + future, J, 2), ``visible`` (S, observed + future, J)); ``test`` holds
    the validation samples when ``evaluated_on == "validation"``."""

    name: str
    train: dict[str, np.ndarray]
    test: dict[str, np.ndarray]
    observed: int
    future: int
    videos: dict[str, int]
    evaluated_on: str = "test"


def load_forecast_data(data: ml_collections.ConfigDict) -> ForecastData:
    """Samples of ``data.name``: Penn Action's videos, or the built-in / CMU sequences seen in the
    Penn Action layout (one video per camera view). ``data.clip_frames`` (0: off) cuts videos
    into clips first (:func:`clip_videos`); ``data.val_fraction`` (0: off) holds out a fixed random
    fraction of the training videos (:func:`split_validation`), which then replace the test split:
    tuning never sees the test videos; ``data.train_reverse`` and ``data.train_stride_factors``
    augment the training samples (:func:`training_samples`); ``data.train_fraction`` keeps a fixed
    random fraction (seed 0) of the training samples."""
    name = data.name
    if name not in FORECAST_DATASETS:
        raise ValueError(f"data.name must be synthetic, cmu_mocap or penn_action, got {name!r}")
    if data.observed not in (1, 2):
        raise ValueError(f"data.observed must be 1 (the pose) or 2 (with its velocity), got {data.observed}")
    splits = load_splits(
        name,
        manual_dir=data.get("manual_dir") or None,
        data_dir=data.get("data_dir") or None,
        synthetic=dict(data.get("synthetic", {})),
        manual_dir_key="--config.data.manual_dir",
    )
    if name != "penn_action":
        splits = {k: videos_from_sequences(v) for k, v in splits.items()}
    if data.get("clip_frames", 0):
        splits = {k: clip_videos(v, data.clip_frames) for k, v in splits.items()}
    if data.get("val_fraction", 0.0):
        train_videos, val_videos = split_validation(splits["train"], data.val_fraction)
        splits = {"train": train_videos, "validation": val_videos}
    evaluated = "validation" if "validation" in splits else "test"
    actions = tuple(dict.fromkeys(v.action for v in splits["train"] + splits[evaluated]))
    kw = dict(observed=data.observed, future=data.future, actions=actions)
    test = forecast_samples(splits[evaluated], **kw)
    train = training_samples(splits["train"], data, kw)
    if not 0.0 < data.train_fraction <= 1.0:
        raise ValueError(f"data.train_fraction must be in (0, 1], got {data.train_fraction}")
    if data.train_fraction < 1.0:
        n = len(train["poses"])
        keep = np.sort(np.random.default_rng(0).permutation(n)[: max(1, round(n * data.train_fraction))])
        train = {k: v[keep] for k, v in train.items()}
    if not len(train["poses"]) or not len(test["poses"]):
        raise ValueError(
            f"{name}: no samples (train {len(train['poses'])}, {evaluated} {len(test['poses'])})"
        )
    counts = {k: len(v) for k, v in splits.items()}
    return ForecastData(name, train, test, data.observed, data.future, counts, evaluated)


def training_samples(videos: list[Any], data: ml_collections.ConfigDict, kw: dict[str, Any]) -> Batch:
    """The training samples, augmented by ``data.train_reverse`` (the videos also played backwards)
    and ``data.train_stride_factors`` (samples also at these multiples of the protocol's stride)."""
    if data.get("train_reverse", False):
        videos = list(videos) + [reversed_video(v) for v in videos]
    factors = tuple(data.get("train_stride_factors", (1.0,)))
    if not factors:
        raise ValueError("data.train_stride_factors must hold at least one factor, got ()")
    parts = [forecast_samples(videos, stride_factor=f, **kw) for f in factors]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def video_group(video_id: str) -> str:
    """The recording a video comes from: clips (``"#start"``) and camera views (the last ``/`` part
    of a sequence key ``subject/take/camera``) of one take share it; a Penn Action id is its own."""
    base = video_id.split("#", 1)[0].removesuffix("~rev")
    return base.rsplit("/", 1)[0] if "/" in base else base


def split_validation(videos: list[Any], fraction: float, seed: int = 0) -> tuple[list[Any], list[Any]]:
    """Holds out ``fraction`` of the recordings of ``videos`` (a fixed random draw, ``seed``): every
    clip and camera view of a held-out take goes to validation, so no motion is in both parts.

    Returns:
      (train videos, validation videos), each in the input order.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"data.val_fraction must be 0 (off) or in (0, 1), got {fraction}")
    groups = sorted({video_group(v.video_id) for v in videos})
    if len(groups) < 2:
        raise ValueError(f"data.val_fraction: {len(groups)} recording(s) in the training split, need >= 2")
    n_val = min(len(groups) - 1, max(1, round(fraction * len(groups))))
    held = {groups[i] for i in np.random.default_rng(seed).permutation(len(groups))[:n_val]}
    train = [v for v in videos if video_group(v.video_id) not in held]
    return train, [v for v in videos if video_group(v.video_id) in held]


def clip_videos(videos: list[Any], frames: int) -> list[Any]:
    """Cuts each video into consecutive clips of ``frames`` frames (a last, shorter clip is kept
    when it has at least half as many), each a video of its own: long motion-capture takes then
    give forecasting samples at Penn Action's time scale (the protocol's stride grows with the
    video's length)."""
    if frames < 2:
        raise ValueError(f"data.clip_frames must be 0 (whole videos) or >= 2, got {frames}")
    out = []
    for v in videos:
        for a in range(0, v.num_frames, frames):
            if v.num_frames - a >= max(2, frames // 2):
                sl = slice(a, a + frames)
                out.append(
                    dataclasses.replace(
                        v,
                        video_id=f"{v.video_id}#{a}",
                        keypoints_px=v.keypoints_px[sl],
                        visibility=v.visibility[sl],
                    )
                )
    return out


def forecast_batch(samples: dict[str, np.ndarray], ids: Any, observed: int) -> Batch:
    """A batch of samples: ``observed`` (B, observed, J * 2), ``targets`` (B, future, J * 2),
    ``visible`` (B, future, J)."""
    poses = samples["poses"][ids]
    flat = poses.reshape(*poses.shape[:2], -1)
    return {
        "observed": flat[:, :observed],
        "targets": flat[:, observed:],
        "visible": samples["visible"][ids, observed:],
    }
