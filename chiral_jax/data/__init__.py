"""Pose datasets: numpy readers, TFDS builders, windows, mirror augmentation, subsets.

Raw-format readers return lists of :class:`PoseSequence` (one per subject, action, camera), split
into {"train": [...], "test": [...]}:

* :func:`load_synthetic` -- the embedded deterministic default (no files);
* :func:`load_cmu_mocap` -- CMU ASF/AMC files (our own reader and forward kinematics);
* :func:`load_h36m_npz`, :func:`load_humaneva_npz` -- VideoPose3D's npz files;
* :func:`load_h36m_h5` -- Human3.6M in Martinez et al.'s h5 layout; :func:`load_h36m` reads either.

One data path for every task: the registry (:mod:`chiral_jax.data.registry`) names each dataset
once (reader, skeleton, builder, download instructions); the TFDS builders
(:mod:`chiral_jax.data.builders`) store the readers' sequences as array_record files, built on first
use (or by ``python -m chiral_jax.data NAME --manual_dir DIR``) and read back without TensorFlow by
:func:`~chiral_jax.data.builders.load_splits`; training batches come from grain
(:mod:`chiral_jax.data.pipeline`), one gather of :class:`PoseWindows` per batch, with
:class:`MirrorAugment` flipping windows through the skeleton's chirality specs.

``builders`` and ``pipeline`` (TFDS, grain) are imported on first use: ``import chiral_jax.data``
stays cheap.
"""

import importlib
from typing import Any

from chiral_jax.data.augment import (
    MirrorAugment,
    mirror_batch,
    mirror_intrinsics,
    mirror_pixels,
    mirror_poses,
)
from chiral_jax.data.cameras import (
    Camera,
    camera_to_world,
    h36m_cameras,
    humaneva_cameras,
    image_coordinates,
    intrinsics_vector,
    normalize_screen_coordinates,
    project_normalized,
    project_to_pixels,
    world_to_camera,
)
from chiral_jax.data.cmu_mocap import load_cmu_mocap
from chiral_jax.data.errors import DatasetFileError, MalformedDatasetFile, MissingDatasetFile
from chiral_jax.data.h36m import load_h36m, load_h36m_npz
from chiral_jax.data.h36m_h5 import load_h36m_h5
from chiral_jax.data.humaneva import load_humaneva_npz
from chiral_jax.data.sequence import PoseSequence, count_frames
from chiral_jax.data.subsets import by_actions, by_fraction, by_subjects, downsample
from chiral_jax.data.synthetic import SyntheticConfig, load_synthetic
from chiral_jax.data.windows import PoseWindows

__all__ = [
    "Camera",
    "DatasetFileError",
    "MalformedDatasetFile",
    "MirrorAugment",
    "MissingDatasetFile",
    "PoseSequence",
    "PoseWindows",
    "SyntheticConfig",
    "by_actions",
    "by_fraction",
    "by_subjects",
    "camera_to_world",
    "count_frames",
    "downsample",
    "h36m_cameras",
    "humaneva_cameras",
    "image_coordinates",
    "intrinsics_vector",
    "load_cmu_mocap",
    "load_h36m",
    "load_h36m_h5",
    "load_h36m_npz",
    "load_humaneva_npz",
    "load_synthetic",
    "mirror_batch",
    "mirror_intrinsics",
    "mirror_pixels",
    "mirror_poses",
    "normalize_screen_coordinates",
    "project_normalized",
    "project_to_pixels",
    "world_to_camera",
]


def __getattr__(name: str) -> Any:
    if name in ("builders", "pipeline", "registry"):
        return importlib.import_module(f"chiral_jax.data.{name}")
    raise AttributeError(f"module 'chiral_jax.data' has no attribute {name!r}")
