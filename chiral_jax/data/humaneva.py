"""HumanEva-I from VideoPose3D's npz files (pure numpy; the TFDS builder wraps this).

Files, in one folder (the TFDS manual dir):

* ``data_3d_humaneva15.npz`` -- ``positions_3d`` = {"Train/S1" ...: {"Walking 1 chunk0" ...:
  (T, 15, 3) world metres}}, 60 Hz;
* ``data_2d_humaneva15_<source>.npz`` -- ``positions_2d`` = {subject: {action: [3 (T, 15, 2) pixel
  arrays, cameras C1, C2, C3]}}.

Extrinsics from ``cameras_humaneva.json`` (package data; the subject "Train/S1" uses "S1"'s
calibration). The file has no intrinsics, so ``intrinsics`` are zeros for HumanEva. Train/* subjects
form the train split, Validate/* the test split (the standard protocol's Walk, Jog, Box actions
can be selected with :func:`chiral_jax.data.subsets.by_actions`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from chiral_jax.data.cameras import humaneva_cameras
from chiral_jax.data.sequence import PoseSequence
from chiral_jax.data.videopose3d import VIDEOPOSE3D_HELP, sequences_from_npz

__all__ = [
    "HUMANEVA_FPS",
    "HUMANEVA_MANUAL_INSTRUCTIONS",
    "humaneva_files",
    "load_humaneva_npz",
]

HUMANEVA_FPS = 60.0
HUMANEVA_MANUAL_INSTRUCTIONS = f"""\
HumanEva-I is licensed (http://humaneva.is.tue.mpg.de) and can not be downloaded automatically.
Place in the manual dir:
  data_3d_humaneva15.npz            (3D poses, 15 joints, world frame)
  data_2d_humaneva15_<source>.npz   (2D keypoints, e.g. data_2d_humaneva15_gt.npz)
as produced by {VIDEOPOSE3D_HELP}.
"""


def humaneva_files(manual_dir: str | Path, keypoints: str = "gt") -> tuple[Path, Path]:
    """The (3D, 2D) npz paths for a 2D ``keypoints`` source."""
    d = Path(manual_dir)
    return d / "data_3d_humaneva15.npz", d / f"data_2d_humaneva15_{keypoints}.npz"


def load_humaneva_npz(
    manual_dir: str | Path,
    keypoints: str = "gt",
    *,
    subjects: Sequence[str] | None = None,
) -> dict[str, list[PoseSequence]]:
    """HumanEva-I as {"train": Train/*, "test": Validate/*} lists of :class:`PoseSequence`."""
    path_3d, path_2d = humaneva_files(manual_dir, keypoints)
    cams = humaneva_cameras()

    def cameras(subject: str):
        name = subject.split("/")[-1]
        if name not in cams:
            raise KeyError(f"no HumanEva calibration for subject {subject!r}; have {sorted(cams)}")
        return cams[name]

    seqs = sequences_from_npz(
        path_3d,
        path_2d,
        joints_3d=None,
        raw_joints=15,
        joints=15,
        cameras=cameras,
        num_cameras=3,
        subjects=subjects,
        fps=HUMANEVA_FPS,
    )
    return {
        "train": [s for s in seqs if not s.subject.startswith("Validate/")],
        "test": [s for s in seqs if s.subject.startswith("Validate/")],
    }
