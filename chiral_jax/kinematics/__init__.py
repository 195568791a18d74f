"""Kinematic trees: forward kinematics, twist angles, twist-swing inverse kinematics (HybrIK) and
body models with linear blend skinning. Pure JAX (no Flax); see ``docs/kinematics.md``.

Rotations live in :mod:`chiral_jax.rotations`.
"""

from chiral_jax.kinematics.body_model import BodyModel, load_body_model, write_synthetic_body_model
from chiral_jax.kinematics.tree import (
    chain,
    children_of,
    forward_kinematics,
    global_rotations,
    inverse_kinematics,
    mirror_rotations,
    mirror_twist,
    rest_offsets,
    twist_angles,
)

__all__ = [
    "BodyModel",
    "chain",
    "children_of",
    "forward_kinematics",
    "global_rotations",
    "inverse_kinematics",
    "load_body_model",
    "mirror_rotations",
    "mirror_twist",
    "rest_offsets",
    "twist_angles",
    "write_synthetic_body_model",
]
