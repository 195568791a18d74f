"""VideoPose3D's trajectory model: a second temporal net for the root's camera-frame position.

Pavllo et al.'s semi-supervised code trains, beside the pose net, a temporal net of the same shape
whose output is one 3D point, the root joint's position in the camera frame, from the same 2D
window. :class:`LifterWithTrajectory` holds both nets as separate submodules (``pose`` and
``trajectory``; neither reads the other's parameters) and concatenates their outputs:

    (batch, frames, J * 2) -> (batch, frames', (J + 1) * 3) = [root-relative pose, root position]

so that the combined output is a pose of ``J + 1`` "joints" whose extra joint is the root's
position. Its mirror spec is :func:`with_root_spec` of the pose spec: the extra joint is a center
whose x is negated (a mirrored image shows a person at ``-X``). With a chiral trajectory net built
on :data:`ROOT_SPEC` the whole module is exactly equivariant.

Batch-norm statistics: the root's depth is an absolute output (about 5 m), which a lag of the
running means shifts directly. VideoPose3D's momentum decay (PyTorch's 0.1 -> 0.001) makes the
running statistics an average over the last ~1,000 steps of still-moving weights; on the synthetic
set that put every evaluated root ~0.4 m too near (the same windows scored with batch statistics:
~0.1 m). So the trajectory net's batch norms keep a fixed momentum (``trajectory_bn_momentum``,
default :data:`TRAJECTORY_BN_MOMENTUM`, Flax's convention) whatever the trainer schedules; the
momentum only enters the running statistics, so no parameter of either net changes, and the pose
net keeps the trainer's schedule.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from chiral_jax.nn.norm import BatchNormMomentum
from chiral_jax.skeletons import Skeleton
from chiral_jax.spec import ChiralSpec

__all__ = [
    "ROOT_SPEC",
    "TRAJECTORY_BN_MOMENTUM",
    "TRAJECTORY_JOINT",
    "LifterWithTrajectory",
    "with_root",
    "with_root_spec",
]

Array = jax.Array

ROOT_SPEC = ChiralSpec(left=(), right=(), center=(0,), dim=3, negated=(0,))
"""The trajectory net's output: one camera-frame point, x negated by the mirror."""

TRAJECTORY_BN_MOMENTUM = 0.9
"""The trajectory net's batch-norm momentum (Flax's convention: PyTorch's 0.1, an average over the
last ~10 steps), held while training whatever the trainer schedules (module docstring)."""

TRAJECTORY_JOINT = "trajectory"
"""Name of the extra joint of :func:`with_root` (the root's camera-frame position)."""


def with_root_spec(spec: ChiralSpec) -> ChiralSpec:
    """``spec`` with one more joint, a center (index ``spec.num_joints``) with the same negated
    coordinates: the spec of ``[pose, root position]`` (``(..., (J + 1) * dim)``)."""
    return ChiralSpec(spec.left, spec.right, (*spec.center, spec.num_joints), spec.dim, spec.negated)


def with_root(skeleton: Skeleton) -> Skeleton:
    """The skeleton of ``[pose, root position]`` targets: ``skeleton`` plus a center joint named
    :data:`TRAJECTORY_JOINT` (no parent), so that ``with_root(sk).spec(3)`` mirrors both parts
    (e.g. in :class:`~chiral_jax.data.augment.MirrorAugment`)."""
    j = skeleton.num_joints
    return Skeleton(
        name=f"{skeleton.name}+{TRAJECTORY_JOINT}",
        joint_names=(*skeleton.joint_names, TRAJECTORY_JOINT),
        parents=None,
        left=skeleton.left,
        right=skeleton.right,
        center=(*skeleton.center, j),
    )


class LifterWithTrajectory(nnx.Module):
    """A pose net and a trajectory net on the same 2D input, outputs concatenated.

    Args:
      pose: the lifter, ``(B, T, J * 2) -> (B, T', J * 3)`` (e.g. a ``ChiralTemporalModel``).
      trajectory: a net of the same receptive field, ``(B, T, J * 2) -> (B, T', 3)``.
      trajectory_bn_momentum: the trajectory net's batch-norm momentum on every call (Flax's
        convention), overriding a trainer's schedule; None: the schedule's.

    Both take ``strided=`` (training vs dilated evaluation, as the temporal nets).
    """

    def __init__(
        self,
        pose: nnx.Module,
        trajectory: nnx.Module,
        *,
        trajectory_bn_momentum: float | None = TRAJECTORY_BN_MOMENTUM,
    ):
        rf_pose = getattr(pose, "receptive_field", None)
        rf_traj = getattr(trajectory, "receptive_field", None)
        if rf_pose != rf_traj:
            raise ValueError(
                f"LifterWithTrajectory: the nets must see the same window, got receptive fields "
                f"{rf_pose} (pose) and {rf_traj} (trajectory)"
            )
        self.pose, self.trajectory = pose, trajectory
        self.trajectory_bn_momentum = trajectory_bn_momentum

    @property
    def receptive_field(self) -> int:
        return self.pose.receptive_field

    def __call__(self, x: Array, *, strided: bool | None = None) -> Array:
        """(B, T, J * 2) -> (B, T', (J + 1) * 3): the pose net's channels, then the root's x, y, z."""
        pose = self.pose(x, strided=strided)
        if self.trajectory_bn_momentum is not None:  # after the trainer set its schedule (traceable)
            momenta = nnx.state(self.trajectory, BatchNormMomentum)
            fixed = jax.tree.map(lambda v: jnp.full_like(v, self.trajectory_bn_momentum), momenta)
            nnx.update(self.trajectory, fixed)
        root = self.trajectory(x, strided=strided)
        if root.shape[-1] != 3:
            raise ValueError(f"LifterWithTrajectory: trajectory net: {root.shape[-1]} channels, want 3")
        return jnp.concatenate([pose, root.astype(pose.dtype)], axis=-1)
