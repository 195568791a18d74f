"""Human3.6M from VideoPose3D's npz files or Martinez et al.'s h5 layout (the TFDS builder wraps this).

:func:`load_h36m` reads either layout of the manual dir (:func:`h36m_layout` tells which): the npz
files below (:func:`load_h36m_npz`), or ``S*/MyPoses/3D_positions/*.h5`` + ``cameras.h5``
(:func:`~chiral_jax.data.h36m_h5.load_h36m_h5`, ground-truth 2D projected with the cameras, as
VideoPose3D computes ``data_2d_h36m_gt.npz`` from those same files). Both give the same sequences.

VideoPose3D's files, in one folder (the TFDS manual dir):

* ``data_3d_h36m.npz`` -- ``positions_3d`` = {subject: {action: (T, 32, 3) world metres}}, 50 Hz;
* ``data_2d_h36m_<source>.npz`` -- ``positions_2d`` = {subject: {action: [4 (T, 17, 2) pixel
  arrays]}} in camera order 54138969, 55011271, 58860488, 60457274; sources such as ``gt``,
  ``cpn_ft_h36m_dbb``, ``detectron_ft_h36m``, ``sh_pt_mpii``, ``sh_ft_h36m``.

The 3D poses are reduced from 32 to 17 joints (:data:`~chiral_jax.skeletons.H36M32_TO_17`), moved to
each camera's frame with the published calibration (package data ``cameras_h36m.json``,
``X_cam = R (X - T)``) and made root-relative; 2D and 3D are trimmed to the shorter length.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from chiral_jax.data.cameras import H36M_H5_HELP, h36m_cameras
from chiral_jax.data.h36m_h5 import is_h36m_h5_layout, load_h36m_h5
from chiral_jax.data.sequence import PoseSequence
from chiral_jax.data.videopose3d import VIDEOPOSE3D_HELP, sequences_from_npz
from chiral_jax.skeletons import H36M32_TO_17

__all__ = [
    "H36M_FPS",
    "H36M_MANUAL_INSTRUCTIONS",
    "H36M_TEST_SUBJECTS",
    "H36M_TRAIN_SUBJECTS",
    "h36m_files",
    "h36m_layout",
    "load_h36m",
    "load_h36m_npz",
]

H36M_FPS = 50.0
H36M_TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")
H36M_TEST_SUBJECTS = ("S9", "S11")
H36M_MANUAL_INSTRUCTIONS = f"""\
Human3.6M is licensed (http://vision.imar.ro/human3.6m) and can not be downloaded automatically.
Place in the manual dir either VideoPose3D's files:
  data_3d_h36m.npz              (3D poses, 32 joints, world frame)
  data_2d_h36m_<source>.npz     (2D keypoints, e.g. data_2d_h36m_gt.npz, data_2d_h36m_cpn_ft_h36m_dbb.npz)
as produced by {VIDEOPOSE3D_HELP};
or Martinez et al.'s h5 layout (ground-truth 2D only, projected with the cameras):
  S1/MyPoses/3D_positions/<take>.h5, ..., S11/...   (3D poses, 32 joints, world frame, mm)
  cameras.h5
from {H36M_H5_HELP}.
"""


def h36m_files(manual_dir: str | Path, keypoints: str = "gt") -> tuple[Path, Path]:
    """The (3D, 2D) npz paths for a 2D ``keypoints`` source."""
    d = Path(manual_dir)
    return d / "data_3d_h36m.npz", d / f"data_2d_h36m_{keypoints}.npz"


def load_h36m_npz(
    manual_dir: str | Path,
    keypoints: str = "gt",
    *,
    subjects: Sequence[str] | None = None,
) -> dict[str, list[PoseSequence]]:
    """Human3.6M as {"train": S1, S5-S8, "test": S9, S11} lists of :class:`PoseSequence`.

    Args:
      manual_dir: folder holding the npz files.
      keypoints: the 2D source (file ``data_2d_h36m_<keypoints>.npz``).
      subjects: only these subjects (default: every subject in the 3D file).

    Raises:
      MissingDatasetFile / MalformedDatasetFile: naming the path, the expected format and where to get it.
    """
    path_3d, path_2d = h36m_files(manual_dir, keypoints)
    cams = h36m_cameras()
    seqs = sequences_from_npz(
        path_3d,
        path_2d,
        joints_3d=H36M32_TO_17,
        raw_joints=32,
        joints=17,
        cameras=lambda s: cams[s],
        num_cameras=4,
        subjects=subjects,
        fps=H36M_FPS,
    )
    return _split(seqs)


def h36m_layout(manual_dir: str | Path, keypoints: str = "gt") -> str:
    """``"npz"`` when VideoPose3D's 3D file is there (the files of both layouts: npz wins), else ``"h5"``
    for Martinez's layout, else ``"npz"`` (whose reader names the missing files)."""
    path_3d, _ = h36m_files(manual_dir, keypoints)
    if not path_3d.is_file() and is_h36m_h5_layout(manual_dir):
        return "h5"
    return "npz"


def _split(seqs: list[PoseSequence]) -> dict[str, list[PoseSequence]]:
    return {
        "train": [s for s in seqs if s.subject not in H36M_TEST_SUBJECTS],
        "test": [s for s in seqs if s.subject in H36M_TEST_SUBJECTS],
    }


def load_h36m(
    manual_dir: str | Path,
    keypoints: str = "gt",
    *,
    subjects: Sequence[str] | None = None,
) -> dict[str, list[PoseSequence]]:
    """Human3.6M from either layout (:func:`h36m_layout`) as {"train": S1, S5-S8, "test": S9, S11}.

    Raises:
      ValueError: a 2D source other than ``gt`` with the h5 layout (it has no detections).
      MissingDatasetFile / MalformedDatasetFile: as :func:`load_h36m_npz` or
        :func:`~chiral_jax.data.h36m_h5.load_h36m_h5`.
    """
    if h36m_layout(manual_dir, keypoints) == "npz":
        return load_h36m_npz(manual_dir, keypoints, subjects=subjects)
    if keypoints != "gt":
        raise ValueError(
            f"h36m: {manual_dir} holds Martinez et al.'s h5 layout, which has ground-truth 2D only "
            f"(keypoints 'gt'), not {keypoints!r}; for 2D detections use VideoPose3D's npz files "
            f"(data_3d_h36m.npz + data_2d_h36m_{keypoints}.npz)"
        )
    return _split(load_h36m_h5(manual_dir, subjects=subjects))
