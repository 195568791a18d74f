"""Named joint layouts: names, kinematic parents and their left/right/center partition.

Each skeleton gives the :class:`~chiral_jax.spec.ChiralSpec` of its poses through
``skeleton.spec(dim, negated=(0,))`` (x, coordinate 0, is what a mirror negates in image and camera
space alike). Tables: ``docs/datasets.md`` section 8; SMPL's follows its published joint order.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import numpy as np

from chiral_jax.spec import ChiralSpec

__all__ = [
    "H36M",
    "H36M32",
    "H36M32_TO_17",
    "HUMANEVA15",
    "KINECT_V1",
    "OPENPOSE18",
    "PENN_ACTION",
    "SKELETONS",
    "SMPL24",
    "Skeleton",
    "children_of",
    "get",
    "graph_partitions",
]


def children_of(
    parents: Sequence[int], preferred: dict[int, int] | None = None, center: Sequence[int] = ()
) -> tuple[int, ...]:
    """The ``children`` array: each joint's (twist) child, -1 at leaves.

    A joint with several children gets ``preferred[j]`` if given, else its lowest-index child among
    ``center`` (e.g. ``skeleton.center``: the pelvis twists about the spine, the thorax about the
    neck, which keeps twists mirror-consistent), else its lowest-index child.
    """
    parents = np.asarray(parents, dtype=np.int64).reshape(-1)  # static: a traced array raises here
    preferred = preferred or {}
    out = []
    for j in range(len(parents)):
        kids = [int(c) for c in np.where(parents == j)[0]]
        mid = [c for c in kids if c in set(center)]
        out.append(preferred.get(j, (mid or kids)[0]) if kids else -1)
    return tuple(out)


def graph_partitions(parents: Sequence[int], permutation: Sequence[int] | None = None) -> np.ndarray:
    """ST-GCN's three spatial partitions of a kinematic tree, ``(3, J, J)`` float32.

    Row ``i`` of each reads into joint ``i``: ``[0]`` the joint itself, ``[1]`` its parent (the
    centripetal neighbour), ``[2]`` the mean of its children (the centrifugal ones; zero rows at
    leaves). With ``permutation`` (the mirror's joint permutation) the partitions are checked to
    commute with it, which holds when the tree is mirror-symmetric (a left joint's parent is the
    mirror of its right partner's parent).
    """
    parents = np.asarray(parents, np.int64).reshape(-1)
    j = len(parents)
    out = np.zeros((3, j, j), np.float32)
    out[0] = np.eye(j, dtype=np.float32)
    for i, p in enumerate(parents):
        if not -1 <= p < j or p == i:
            raise ValueError(
                f"graph_partitions: joint {i} has parent {p}; expected -1 or another of 0..{j - 1}"
            )
        if p >= 0:
            out[1, i, p] = 1.0
            out[2, p, i] = 1.0
    kids = out[2].sum(axis=1, keepdims=True)
    out[2] = np.divide(out[2], kids, out=np.zeros_like(out[2]), where=kids > 0)
    if permutation is not None:
        perm = np.asarray(permutation, np.int64)
        if perm.shape != (j,) or not np.array_equal(out[:, perm][:, :, perm], out):
            raise ValueError(
                f"graph_partitions: the tree of parents {tuple(parents)} is not mirror-symmetric under "
                f"the joint permutation {tuple(perm)} (a joint's parent must mirror to its partner's parent)"
            )
    return out


@dataclasses.dataclass(frozen=True)
class Skeleton:
    """A joint layout.

    Attributes:
      name: short identifier (``"h36m"``, ``"smpl24"``, ...).
      joint_names: one name per joint, in the dataset's order.
      parents: kinematic parent of each joint (-1 for a root), or None when the data has no tree.
      left, right, center: the mirror partition; ``left[i]`` mirrors ``right[i]``.

    Derived: :attr:`twist_children` (each joint's twist child, from ``parents`` and ``center``).
    """

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...] | None
    left: tuple[int, ...]
    right: tuple[int, ...]
    center: tuple[int, ...]

    def __post_init__(self) -> None:
        n = len(self.joint_names)
        if self.parents is not None and len(self.parents) != n:
            raise ValueError(f"{self.name}: {len(self.parents)} parents for {n} joints")
        # Validates the partition (covers every joint once, left/right of equal length).
        self.spec(1)

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @functools.cached_property
    def twist_children(self) -> tuple[int, ...] | None:
        """(J,) each joint's twist child, -1 at leaves (None without a tree): ``children_of(parents,
        center=center)``, so a multi-child joint twists about its central child (the H36M pelvis
        about the spine, the thorax about the neck), which keeps twists mirror-consistent. The
        ``children`` of :func:`chiral_jax.kinematics.twist_angles` / ``inverse_kinematics``."""
        return None if self.parents is None else children_of(self.parents, center=self.center)

    def spec(self, dim: int, negated: tuple[int, ...] = (0,)) -> ChiralSpec:
        """The spec of poses ``(..., num_joints * dim)`` whose coordinates ``negated`` flip."""
        return ChiralSpec(self.left, self.right, self.center, dim, tuple(negated))

    def index(self, joint_name: str) -> int:
        try:
            return self.joint_names.index(joint_name)
        except ValueError:
            raise KeyError(f"{self.name} has no joint {joint_name!r}; joints: {self.joint_names}") from None


def _range(a: int, b: int) -> tuple[int, ...]:
    return tuple(range(a, b + 1))


H36M = Skeleton(
    name="h36m",
    joint_names=(
        "hip",
        "r_hip",
        "r_knee",
        "r_foot",
        "l_hip",
        "l_knee",
        "l_foot",
        "spine",
        "thorax",
        "neck_nose",
        "head",
        "l_shoulder",
        "l_elbow",
        "l_wrist",
        "r_shoulder",
        "r_elbow",
        "r_wrist",
    ),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    left=(4, 5, 6, 11, 12, 13),
    right=(1, 2, 3, 14, 15, 16),
    center=(0, 7, 8, 9, 10),
)
"""Human3.6M, 17 joints (the VideoPose3D layout)."""

H36M32_TO_17 = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
"""Joints of :data:`H36M32` kept for :data:`H36M` (shoulders re-parented to the thorax)."""


def _h36m32_names() -> tuple[str, ...]:
    # Only the 17 joints VideoPose3D keeps have agreed names; the others are numbered.
    names = [f"joint{i}" for i in range(32)]
    for raw, name in zip(H36M32_TO_17, H36M.joint_names, strict=True):
        names[raw] = name
    return tuple(names)


H36M32 = Skeleton(
    name="h36m32",
    joint_names=_h36m32_names(),
    parents=(
        -1,
        0,
        1,
        2,
        3,
        4,
        0,
        6,
        7,
        8,
        9,
        0,
        11,
        12,
        13,
        14,
        12,
        16,
        17,
        18,
        19,
        20,
        19,
        22,
        12,
        24,
        25,
        26,
        27,
        28,
        27,
        30,
    ),
    left=_range(6, 10) + _range(16, 23),
    right=_range(1, 5) + _range(24, 31),
    center=(0, 11, 12, 13, 14, 15),
)
"""Raw Human3.6M motion capture, 32 joints (``data_3d_h36m.npz``)."""

HUMANEVA15 = Skeleton(
    name="humaneva15",
    joint_names=(
        "pelvis",
        "thorax",
        "l_shoulder",
        "l_elbow",
        "l_wrist",
        "r_shoulder",
        "r_elbow",
        "r_wrist",
        "l_hip",
        "l_knee",
        "l_ankle",
        "r_hip",
        "r_knee",
        "r_ankle",
        "head",
    ),
    parents=(-1, 0, 1, 2, 3, 1, 5, 6, 0, 8, 9, 0, 11, 12, 1),
    left=(2, 3, 4, 8, 9, 10),
    right=(5, 6, 7, 11, 12, 13),
    center=(0, 1, 14),
)
"""HumanEva-I, 15 joints."""

PENN_ACTION = Skeleton(
    name="penn_action",
    joint_names=(
        "head",
        "l_shoulder",
        "r_shoulder",
        "l_elbow",
        "r_elbow",
        "l_wrist",
        "r_wrist",
        "l_hip",
        "r_hip",
        "l_knee",
        "r_knee",
        "l_ankle",
        "r_ankle",
    ),
    parents=None,
    left=(1, 3, 5, 7, 9, 11),
    right=(2, 4, 6, 8, 10, 12),
    center=(0,),
)
"""Penn Action, 13 joints (the data has no kinematic tree)."""

OPENPOSE18 = Skeleton(
    name="openpose18",
    joint_names=(
        "nose",
        "neck",
        "r_shoulder",
        "r_elbow",
        "r_wrist",
        "l_shoulder",
        "l_elbow",
        "l_wrist",
        "r_hip",
        "r_knee",
        "r_ankle",
        "l_hip",
        "l_knee",
        "l_ankle",
        "r_eye",
        "l_eye",
        "r_ear",
        "l_ear",
    ),
    parents=(1, -1, 1, 2, 3, 1, 5, 6, 1, 8, 9, 1, 11, 12, 0, 0, 14, 15),
    left=(5, 6, 7, 11, 12, 13, 15, 17),
    right=(2, 3, 4, 8, 9, 10, 14, 16),
    center=(0, 1),
)
"""OpenPose COCO-18 (the Kinetics-skeleton layout of ST-GCN)."""

SMPL24 = Skeleton(
    name="smpl24",
    joint_names=(
        "pelvis",
        "l_hip",
        "r_hip",
        "spine1",
        "l_knee",
        "r_knee",
        "spine2",
        "l_ankle",
        "r_ankle",
        "spine3",
        "l_foot",
        "r_foot",
        "neck",
        "l_collar",
        "r_collar",
        "head",
        "l_shoulder",
        "r_shoulder",
        "l_elbow",
        "r_elbow",
        "l_wrist",
        "r_wrist",
        "l_hand",
        "r_hand",
    ),
    parents=(-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21),
    left=(1, 4, 7, 10, 13, 16, 18, 20, 22),
    right=(2, 5, 8, 11, 14, 17, 19, 21, 23),
    center=(0, 3, 6, 9, 12, 15),
)
"""SMPL body model, 24 joints in its published order."""

KINECT_V1 = Skeleton(
    name="kinect_v1",
    joint_names=(
        "hip_center",
        "spine",
        "shoulder_center",
        "head",
        "l_shoulder",
        "l_elbow",
        "l_wrist",
        "l_hand",
        "r_shoulder",
        "r_elbow",
        "r_wrist",
        "r_hand",
        "l_hip",
        "l_knee",
        "l_ankle",
        "l_foot",
        "r_hip",
        "r_knee",
        "r_ankle",
        "r_foot",
    ),
    parents=(-1, 0, 1, 2, 2, 4, 5, 6, 2, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18),
    left=(4, 5, 6, 7, 12, 13, 14, 15),
    right=(8, 9, 10, 11, 16, 17, 18, 19),
    center=(0, 1, 2, 3),
)
"""Microsoft Kinect v1, 20 joints (NW-UCLA; the dataset's 1-based joint j is index j - 1 here)."""

SKELETONS: dict[str, Skeleton] = {
    s.name: s for s in (H36M, H36M32, HUMANEVA15, PENN_ACTION, OPENPOSE18, SMPL24, KINECT_V1)
}


def get(name: str) -> Skeleton:
    """Looks a skeleton up by name (``"h36m"``, ``"humaneva15"``, ...)."""
    try:
        return SKELETONS[name]
    except KeyError:
        raise KeyError(f"unknown skeleton {name!r}; known: {sorted(SKELETONS)}") from None
