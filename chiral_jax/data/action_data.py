"""The action-recognition task's data: the clips of a dataset read through its TFDS build and
preprocessed into one ``(clips, people, frames, joints * channels)`` array per split (rules in
:mod:`chiral_jax.data.actions`), and the validation protocols that tune without the test split."""

from __future__ import annotations

import dataclasses

import ml_collections
import numpy as np

from chiral_jax import skeletons
from chiral_jax.data import actions as A
from chiral_jax.data.builders import load_splits
from chiral_jax.data.nw_ucla import NW_UCLA_ACTIONS, TRAIN_VIEWS, normalize_nw_ucla, sequence_view
from chiral_jax.data.penn_action import ACTIONS as PENN_ACTIONS
from chiral_jax.data.synthetic_actions import SYNTHETIC_ACTIONS
from chiral_jax.spec import ChiralSpec

__all__ = ["ACTION_DATASETS", "PROTOCOLS", "ActionData", "load_action_data"]

ACTION_DATASETS = ("synthetic", "nw_ucla", "penn_action", "kinetics_skeleton")


@dataclasses.dataclass(frozen=True)
class ActionData:
    """Preprocessed clips of both splits.

    Attributes:
      name: ``data.name``.
      spec: the mirror on one frame's ``joints * channels`` features.
      channels: channels per joint (3).
      score_channel: the score / visibility channel (None: 3D coordinates).
      class_names: one per class index.
      train_x, test_x: (N, people, frames, joints * channels) float32.
      train_y, test_y: (N,) int32.
      parents: the skeleton's kinematic tree (None where the layout has none), for graph nets.
    """

    name: str
    spec: ChiralSpec
    channels: int
    score_channel: int | None
    class_names: tuple[str, ...]
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    parents: tuple[int, ...] | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def _class_names(clips: list[A.ActionClip], known: tuple[str, ...] | None) -> tuple[str, ...]:
    if known is not None:
        return known
    names: dict[int, str] = {}
    for c in clips:
        names.setdefault(c.label, c.label_name)
    return tuple(names.get(k, str(k)) for k in range(max(names) + 1))


def load_action_data(data: ml_collections.ConfigDict) -> ActionData:
    """Reads ``data.name`` through its TFDS build and preprocesses it (see the module docstring):

    * ``synthetic``: every ``data.frame_step``-th frame, cut / zero-padded to ``data.frames``;
    * ``kinetics_skeleton``: ST-GCN's normalisation, cut / zero-padded to ``data.frames`` (300);
    * ``nw_ucla``: centred and scaled (:func:`~chiral_jax.data.nw_ucla.normalize_nw_ucla`), resampled
      to ``data.frames`` (52);
    * ``penn_action``: pixels normalised per video, visibility as the score, resampled to
      ``data.frames``.
    """
    name = data.name
    if name not in ACTION_DATASETS:
        raise ValueError(f"data.name must be one of {ACTION_DATASETS}, got {name!r}")
    registry_name = "synthetic_actions" if name == "synthetic" else name
    splits = load_splits(
        registry_name,
        manual_dir=data.get("manual_dir") or None,
        data_dir=data.get("data_dir") or None,
        synthetic=dict(data.get("synthetic", {})),
        manual_dir_key="--config.data.manual_dir",
    )
    frames, score, method = int(data.frames), 2, "pad"
    if name == "synthetic":
        step = int(data.get("frame_step", 1))
        splits = {
            k: [dataclasses.replace(c, skeleton=c.skeleton[:, ::step]) for c in v] for k, v in splits.items()
        }
        skeleton, known = skeletons.H36M, SYNTHETIC_ACTIONS
    elif name == "kinetics_skeleton":
        splits = {
            k: [dataclasses.replace(c, skeleton=A.normalize_stgcn(c.skeleton)) for c in v]
            for k, v in splits.items()
        }
        skeleton, known = skeletons.OPENPOSE18, None
    elif name == "nw_ucla":
        norm = {"scale": str(data.get("scale", "max_abs")), "align": bool(data.get("align_view", False))}
        splits = {
            k: [dataclasses.replace(c, skeleton=normalize_nw_ucla(c.skeleton, **norm)) for c in v]
            for k, v in splits.items()
        }
        skeleton, known, score, method = skeletons.KINECT_V1, NW_UCLA_ACTIONS, None, "resample"
    else:
        splits = {k: [A.clip_from_penn_action(v, PENN_ACTIONS) for v in vids] for k, vids in splits.items()}
        skeleton, known, method = skeletons.PENN_ACTION, PENN_ACTIONS, "resample"
    splits = _protocol_splits(splits, name, str(data.get("protocol", "test")), data)
    if not splits.get("train") or not splits.get("test"):
        raise ValueError(
            f"{name}: no clips (train {len(splits.get('train', []))}, test {len(splits.get('test', []))})"
        )
    names = _class_names(splits["train"] + splits["test"], known)
    train_x, train_y = A.prepare_clips(splits["train"], frames, method=method, score_channel=score)
    test_x, test_y = A.prepare_clips(splits["test"], frames, method=method, score_channel=score)
    spec = skeleton.spec(3)
    return ActionData(name, spec, 3, score, names, train_x, train_y, test_x, test_y, skeleton.parents)


PROTOCOLS = ("test", "validation")


def _protocol_splits(
    splits: dict[str, list[A.ActionClip]], name: str, protocol: str, data: ml_collections.ConfigDict
) -> dict[str, list[A.ActionClip]]:
    """``data.protocol``: ``test`` (the dataset's train / test splits) or ``validation``, carved from
    the training split only, for tuning: NW-UCLA trains on ``data.validation_train_views`` (view 1)
    and validates on ``data.validation_views`` (view 2), so view 3 is never seen; the other
    datasets hold out every clip whose index in a fixed permutation (seed 0) falls in the last
    ``data.validation_fraction`` (0.2) of the training clips."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"data.protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if protocol == "test":
        return splits
    train = splits["train"]
    if name == "nw_ucla":
        fit_views = tuple(int(v) for v in data.get("validation_train_views", (1,)))
        val_views = tuple(int(v) for v in data.get("validation_views", (2,)))
        if set(fit_views + val_views) - set(TRAIN_VIEWS) or set(fit_views) & set(val_views):
            raise ValueError(
                f"nw_ucla validation views must be disjoint subsets of the training views {TRAIN_VIEWS}, got "
                f"train {fit_views}, validation {val_views}"
            )
        views = [sequence_view(c.source) for c in train]
        return {
            "train": [c for c, v in zip(train, views, strict=True) if v in fit_views],
            "test": [c for c, v in zip(train, views, strict=True) if v in val_views],
        }
    fraction = float(data.get("validation_fraction", 0.2))
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"data.validation_fraction must be in (0, 1), got {fraction}")
    order = np.random.default_rng(0).permutation(len(train))
    held = set(order[len(train) - max(1, round(fraction * len(train))) :].tolist())
    return {
        "train": [c for i, c in enumerate(train) if i not in held],
        "test": [c for i, c in enumerate(train) if i in held],
    }
