"""Pose datasets: numpy readers, TFDS builders, windows, mirror augmentation, subsets.

Raw-format readers return lists of :class:`PoseSequence` (one per subject, action, camera), split
into {"train": [...], "test": [...]}:

* :func:`load_synthetic` -- the embedded deterministic default (no files);
* :func:`load_cmu_mocap` -- CMU ASF/AMC files (our own reader and forward kinematics);
* :func:`load_h36m_npz`, :func:`load_humaneva_npz` -- VideoPose3D's npz files.

The TFDS builders in :mod:`chiral_jax.data.builders` store the same examples as array_record files
(``python -m chiral_jax.data NAME --manual_dir DIR``). :class:`PoseWindows` batches receptive-field
windows; :class:`MirrorAugment` flips them through the skeleton's chirality specs.

The builders import TFDS lazily: ``import chiral_jax.data`` stays cheap.
"""

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
from chiral_jax.data.h36m import load_h36m_npz
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
