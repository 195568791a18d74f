"""CMU motion capture (ASF skeleton + AMC motion) as H36M-17 2D/3D pairs: trials found, read,
resampled and seen by virtual cameras.

Data: the CMU Graphics Lab Motion Capture Database, mocap.cs.cmu.edu, created with funding from
NSF EIA-0196217 (free to use, not to resell).

The pieces, each in its own module and all importable from here:

* :mod:`chiral_jax.data.asf_amc`: the ASF/AMC file format (parser, conventions, forward kinematics);
* :mod:`chiral_jax.data.cmu_h36m`: the CMU bones -> H36M-17 joints table and the z-up world;
* :mod:`chiral_jax.data.cmu_rotations`: the IK tables (joint rotations, twist children, rest poses).

Sequences are resampled from 120 Hz to 50 Hz by linear interpolation of joint positions and seen by
H36M-like virtual cameras around each trial's capture area.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from chiral_jax.data.asf_amc import (
    _ASF,
    CMU_FPS,
    CMU_HELP,
    AsfBone,
    AsfSkeleton,
    bone_frames,
    euler_matrix,
    forward_kinematics,
    parse_amc,
    parse_asf,
    rest_motion,
)
from chiral_jax.data.cameras import Camera, virtual_cameras
from chiral_jax.data.cmu_h36m import H36M_FROM_CMU, Z_UP, cmu_to_h36m, to_z_up
from chiral_jax.data.cmu_rotations import (
    H36M_ROTATION_BONES,
    H36M_TWIST_CHILDREN,
    asf_tree,
    frame_indices,
    h36m_rest_pose,
    h36m_rotations,
    load_trial_kinematics,
)
from chiral_jax.data.errors import missing
from chiral_jax.data.sequence import PoseSequence, render

__all__ = [
    "CMU_FPS",
    "CMU_HELP",
    "H36M_FROM_CMU",
    "H36M_ROTATION_BONES",
    "H36M_TWIST_CHILDREN",
    "Z_UP",
    "AsfBone",
    "AsfSkeleton",
    "asf_tree",
    "bone_frames",
    "cmu_cameras",
    "cmu_to_h36m",
    "euler_matrix",
    "find_trials",
    "forward_kinematics",
    "frame_indices",
    "h36m_rest_pose",
    "h36m_rotations",
    "load_cmu_mocap",
    "load_trial",
    "load_trial_kinematics",
    "parse_amc",
    "parse_asf",
    "resample",
    "rest_motion",
    "to_z_up",
]


def resample(x: np.ndarray, fps_in: float, fps_out: float) -> np.ndarray:
    """Linear interpolation along axis 0 from ``fps_in`` to ``fps_out``; keeps the first frame."""
    n = x.shape[0]
    if n == 1 or fps_in == fps_out:
        return x.copy()
    n_out = int(np.floor((n - 1) * fps_out / fps_in + 1e-9)) + 1
    pos = np.arange(n_out) * (fps_in / fps_out)
    i0 = np.minimum(np.floor(pos).astype(np.int64), n - 2)
    w = (pos - i0).reshape(-1, *([1] * (x.ndim - 1)))
    return x[i0] * (1 - w) + x[i0 + 1] * w


def load_trial(asf: str | Path | AsfSkeleton, amc: str | Path, *, fps: float = 50.0) -> np.ndarray:
    """One trial as world-frame (z up, metres) H36M-17 joints (T, 17, 3) at ``fps``."""
    skel = asf if isinstance(asf, AsfSkeleton) else parse_asf(asf)
    joints = cmu_to_h36m(skel, forward_kinematics(skel, parse_amc(amc, skel)))
    return resample(to_z_up(joints), CMU_FPS, fps)


def cmu_cameras(world: np.ndarray, num: int = 4) -> list[Camera]:
    """H36M-like cameras around a trial: centred on its mean root position, far enough that the
    whole trial stays >= 3 m in front of every camera."""
    root_xy = world[:, 0, :2]
    centre = root_xy.mean(axis=0)
    extent = float(np.max(np.linalg.norm(world[..., :2] - centre, axis=-1)))
    radius = max(5.5, extent + 3.0)
    return virtual_cameras(num, radius=radius, height=1.6, target=(centre[0], centre[1], 1.0))


def find_trials(
    root_dir: str | Path, subjects: Sequence[str] | None = None
) -> dict[str, tuple[Path, list[Path]]]:
    """{subject: (asf path, [amc paths])} for the subject folders under ``root_dir``."""
    root = Path(root_dir)
    if not root.is_dir():
        raise missing(root, "a folder of CMU subject folders (NN/NN.asf, NN/NN_MM.amc)", CMU_HELP)
    if subjects is None:
        dirs = sorted(p for p in root.iterdir() if p.is_dir())
    else:
        dirs = [root / s for s in subjects]
    out = {}
    for d in dirs:
        asf = d / f"{d.name}.asf"
        if not asf.is_file():
            if subjects is None:
                continue
            raise missing(asf, f"{asf.name}, " + _ASF, CMU_HELP)
        amcs = sorted(d.glob("*.amc"))
        if amcs:
            out[d.name] = (asf, amcs)
    if not out:
        raise missing(root, "CMU subject folders NN/ with NN.asf and NN_*.amc files", CMU_HELP)
    return out


def load_cmu_mocap(
    root_dir: str | Path,
    *,
    subjects: Sequence[str] | None = None,
    test_subjects: Sequence[str] = ("03",),
    num_cameras: int = 4,
    fps: float = 50.0,
) -> dict[str, list[PoseSequence]]:
    """All trials under ``root_dir`` as 2D/3D pairs: {"train": [...], "test": [...]}.

    One :class:`PoseSequence` per (subject, trial, virtual camera); ``action`` is the trial name
    ("02_01"). Subjects in ``test_subjects`` form the test split, the others the train split.
    """
    out: dict[str, list[PoseSequence]] = {"train": [], "test": []}
    for subject, (asf, amcs) in find_trials(root_dir, subjects).items():
        skel = parse_asf(asf)
        split = "test" if subject in test_subjects else "train"
        for amc in amcs:
            world = load_trial(skel, amc, fps=fps)
            for cam in cmu_cameras(world, num_cameras):
                out[split].append(render(world, cam, subject=subject, action=amc.stem, fps=fps))
    return out
