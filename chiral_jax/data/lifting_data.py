"""The lifting tasks' data: train and test pose sequences of a registry dataset (its TFDS build),
filtered by subjects, actions and a training fraction."""

from __future__ import annotations

import ml_collections

from chiral_jax import skeletons
from chiral_jax.data.builders import load_splits
from chiral_jax.data.registry import DATASETS
from chiral_jax.data.sequence import PoseSequence
from chiral_jax.data.subsets import by_actions, by_fraction, by_subjects

__all__ = ["LIFTING_DATASETS", "load_lifting_splits"]

LIFTING_DATASETS = ("synthetic", "cmu_mocap", "h36m", "humaneva")


def load_lifting_splits(
    data: ml_collections.ConfigDict,
) -> tuple[list[PoseSequence], list[PoseSequence], skeletons.Skeleton]:
    """Train and test sequences for ``data.name`` and the skeleton they use.

    The sequences are read from the dataset's TFDS build in ``data.data_dir`` (TFDS's default
    when empty), which is built from the user's files on first use.

    Keys: ``name`` (synthetic | cmu_mocap | h36m | humaneva), ``manual_dir``, ``data_dir``,
    ``keypoints``, ``synthetic`` (generator options), ``subjects_train`` / ``subjects_test``
    (empty: the dataset's standard split), ``train_fraction`` (of each training take's frames,
    deterministic), ``actions`` (optional).
    """
    name = data.name
    if name not in LIFTING_DATASETS:
        raise ValueError(
            f"data.name must be {', '.join(LIFTING_DATASETS[:-1])} or {LIFTING_DATASETS[-1]}, got {name!r}"
        )
    splits = load_splits(
        name,
        manual_dir=data.get("manual_dir") or None,
        data_dir=data.get("data_dir") or None,
        keypoints=data.get("keypoints") or "gt",
        synthetic=dict(data.get("synthetic", {})),
        manual_dir_key="--config.data.manual_dir",
    )
    every = splits["train"] + splits["test"]
    train = by_subjects(every, data.subjects_train) if data.subjects_train else splits["train"]
    test = by_subjects(every, data.subjects_test) if data.subjects_test else splits["test"]
    if data.get("actions"):
        train, test = by_actions(train, data.actions), by_actions(test, data.actions)
    if data.train_fraction < 1.0:
        train = by_fraction(train, data.train_fraction, seed=0)
    if not train or not test:
        raise ValueError(
            f"{name}: empty split after filtering (train {len(train)}, test {len(test)} sequences); "
            f"check data.subjects_train={tuple(data.subjects_train)}, "
            f"data.subjects_test={tuple(data.subjects_test)}, data.train_fraction={data.train_fraction}"
        )
    return train, test, DATASETS[name].skeleton
