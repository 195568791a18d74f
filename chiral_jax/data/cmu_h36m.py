"""CMU motion capture to the Human3.6M 17-joint layout in this project's z-up world.

The data's world is Y up (x to the subject's left at rest, z forward). :func:`to_z_up` rotates it
to this project's z-up world by ``(x, y, z) -> (x, -z, y)`` -- a proper rotation, so left stays left.

Mapping to the Human3.6M 17-joint layout (a bone's start is its parent's end):

============  =========================================================
hip           root position
r/l_hip       start of r/lfemur (end of r/lhipjoint)
r/l_knee      start of r/ltibia
r/l_foot      start of r/lfoot (the ankle)
spine         start of thorax (end of upperback; ~0.23 m above the root, as H36M's spine)
thorax        start of lowerneck / clavicles (end of the thorax bone)
neck_nose     start of head (end of upperneck)
head          end of head
r/l_shoulder  start of r/lhumerus (end of the clavicle)
r/l_elbow     start of r/lradius
r/l_wrist     start of r/lwrist
============  =========================================================
"""

from __future__ import annotations

import numpy as np

from chiral_jax.data.asf_amc import AsfSkeleton

__all__ = ["H36M_FROM_CMU", "Z_UP", "cmu_to_h36m", "to_z_up"]

# H36M-17 joint -> (kind, CMU bone): "start" = the bone's parent end, "end" = the bone's end.
H36M_FROM_CMU: tuple[tuple[str, str], ...] = (
    ("root", "root"),
    ("start", "rfemur"),
    ("start", "rtibia"),
    ("start", "rfoot"),
    ("start", "lfemur"),
    ("start", "ltibia"),
    ("start", "lfoot"),
    ("start", "thorax"),
    ("start", "lowerneck"),
    ("start", "head"),
    ("end", "head"),
    ("start", "lhumerus"),
    ("start", "lradius"),
    ("start", "lwrist"),
    ("start", "rhumerus"),
    ("start", "rradius"),
    ("start", "rwrist"),
)


def cmu_to_h36m(skeleton: AsfSkeleton, positions: dict[str, np.ndarray]) -> np.ndarray:
    """FK positions -> (F, 17, 3) in the H36M-17 layout (see the module docstring's table)."""
    cols = []
    for kind, bone in H36M_FROM_CMU:
        if kind == "root":
            cols.append(positions["root"])
        elif kind == "start":
            cols.append(positions[skeleton.parents[bone]])
        else:
            cols.append(positions[bone])
    return np.stack(cols, axis=1)


def to_z_up(x: np.ndarray) -> np.ndarray:
    """The data's Y-up frame -> this project's z-up world: ``(x, y, z) -> (x, -z, y)``."""
    return np.stack([x[..., 0], -x[..., 2], x[..., 1]], axis=-1)


# The rotation taking the data's Y-up frame to the z-up world (to_z_up as a matrix).
Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
