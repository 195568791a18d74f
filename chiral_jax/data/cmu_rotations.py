"""The CMU IK tables: H36M-17 joint rotations, twist children and rest poses from ASF/AMC trials.

Each H36M-17 joint takes the global rotation of one ASF bone (:data:`H36M_ROTATION_BONES`), turned
into the z-up world (:data:`~chiral_jax.data.cmu_h36m.Z_UP`); twists are about each joint's twist
child (``H36M.twist_children``); the rest pose is the skeleton's all-zero motion.
:func:`load_trial_kinematics` gives a trial's joints, rotations and rest pose, the IK task's targets.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from chiral_jax.data.asf_amc import (
    CMU_FPS,
    AsfSkeleton,
    bone_frames,
    forward_kinematics,
    parse_amc,
    parse_asf,
    rest_motion,
)
from chiral_jax.data.cmu_h36m import Z_UP, cmu_to_h36m, to_z_up
from chiral_jax.skeletons import H36M

__all__ = [
    "H36M_ROTATION_BONES",
    "H36M_TWIST_CHILDREN",
    "asf_tree",
    "frame_indices",
    "h36m_rest_pose",
    "h36m_rotations",
    "load_trial_kinematics",
]

# H36M-17 joint -> the ASF bone whose global rotation is the joint's rotation (the bone from the
# joint towards its twist child; the multi-child hip and thorax take their own segment: the pelvis
# ("root") and the chest ("thorax")). Leaves keep their bone's rotation (positions do not fix it).
H36M_ROTATION_BONES: tuple[str, ...] = (
    "root",
    "rfemur",
    "rtibia",
    "rfoot",
    "lfemur",
    "ltibia",
    "lfoot",
    "thorax",
    "thorax",
    "head",
    "head",
    "lhumerus",
    "lradius",
    "lwrist",
    "rhumerus",
    "rradius",
    "rwrist",
)
# Each H36M-17 joint's twist child (-1: leaf): the pelvis twists about the spine, the thorax about the neck.
H36M_TWIST_CHILDREN: tuple[int, ...] = H36M.twist_children


def h36m_rest_pose(skeleton: AsfSkeleton) -> np.ndarray:
    """(17, 3) rest joints in the H36M-17 layout, z up, metres, the root at the origin."""
    rest = to_z_up(cmu_to_h36m(skeleton, forward_kinematics(skeleton, rest_motion(skeleton)))[0])
    return rest - rest[0]


def h36m_rotations(glob: dict[str, np.ndarray]) -> np.ndarray:
    """Global rotations (F, 17, 3, 3) of the H36M-17 joints in the z-up world, from
    :func:`~chiral_jax.data.asf_amc.bone_frames`' Y-up bone rotations (``Z_UP @ L @ Z_UP^T``, see
    :data:`H36M_ROTATION_BONES`)."""
    g = np.stack([glob[b] for b in H36M_ROTATION_BONES], axis=1)
    return Z_UP @ g @ Z_UP.T


def asf_tree(skeleton: AsfSkeleton) -> tuple[tuple[str, ...], tuple[int, ...], np.ndarray]:
    """The ASF skeleton as a joint tree: names ("root" and each bone's end, parents first),
    parents (-1 at the root) and rest joints (J, 3), z up, metres, root at the origin."""
    names = ("root", *skeleton.order)
    parents = (-1, *(names.index(skeleton.parents[b]) for b in skeleton.order))
    pos = forward_kinematics(skeleton, rest_motion(skeleton))
    rest = to_z_up(np.stack([pos[n][0] for n in names]))
    return names, parents, rest - rest[0]


def frame_indices(num_frames: int, fps_in: float, fps_out: float) -> np.ndarray:
    """Nearest source frame of each output frame when resampling ``fps_in`` -> ``fps_out`` (keeps
    positions and rotations of a frame together, unlike interpolating either)."""
    n_out = int(np.floor((num_frames - 1) * fps_out / fps_in + 1e-9)) + 1
    return np.minimum(np.round(np.arange(n_out) * (fps_in / fps_out)).astype(np.int64), num_frames - 1)


def load_trial_kinematics(
    asf: str | Path | AsfSkeleton, amc: str | Path, *, fps: float = 50.0
) -> dict[str, np.ndarray]:
    """One trial with its rotations, H36M-17 layout, z-up world, metres, at ``fps`` (nearest frames).

    Returns:
      {"joints": (T, 17, 3) world positions, "rotations": (T, 17, 3, 3) global joint rotations
      (rest frame -> world), "rest": (17, 3) the subject's rest joints}. Local rotations are
      ``G_parent^T G_j``; twist targets follow from them with :func:`chiral_jax.kinematics.twist_angles`
      and ``H36M.twist_children`` (:data:`H36M_TWIST_CHILDREN`).
    """
    skel = asf if isinstance(asf, AsfSkeleton) else parse_asf(asf)
    glob, pos = bone_frames(skel, parse_amc(amc, skel))
    idx = frame_indices(pos["root"].shape[0], CMU_FPS, fps)
    joints = to_z_up(cmu_to_h36m(skel, pos))[idx]
    return {"joints": joints, "rotations": h36m_rotations(glob)[idx], "rest": h36m_rest_pose(skel)}
