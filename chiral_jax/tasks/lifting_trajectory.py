"""The lifting task's training targets and losses: root-relative poses with the MPJPE loss
(:func:`training_windows`, :func:`mpjpe_loss`), and the trajectory head's (``model.trajectory=True``)
targets, loss and metrics.

With the head on, :func:`chiral_jax.tasks.lifting.make_model` returns a
:class:`~chiral_jax.models.trajectory.LifterWithTrajectory` (the pose net, unchanged, beside a
trajectory net of the same shape whose output is the root's camera-frame position), trained jointly
as in VideoPose3D's semi-supervised code:

* targets: per frame ``[pose_3d (J, 3), trajectory (1, 3)]`` = ``(J + 1, 3)``, mirrored (baseline
  augmentation) by ``with_root(skeleton).spec(3)``: the root's x is negated with the pose's;
* loss: the pose MPJPE plus the root position error weighted by the inverse depth of the target
  root, ``mean_b(||p_b - t_b|| / t_b.z)`` (VideoPose3D's ``weighted_mpjpe(traj, traj_gt, 1 / z)``):
  a far person's root is as hard to place in metres as a near one's is easy;
* metrics: ``trajectory_mm`` (mean root position error) and ``mpjpe_abs_mm`` (MPJPE of the
  absolute camera-frame pose: the root-relative prediction, its joint 0 moved to 0, plus the
  predicted root, against ``pose_3d + trajectory``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from chiral_jax import metrics, skeletons
from chiral_jax.data.sequence import PoseSequence
from chiral_jax.data.windows import PoseWindows
from chiral_jax.models.trajectory import with_root

__all__ = [
    "TRAJECTORY_COLUMNS",
    "TRAJECTORY_KEYS",
    "absolute_poses",
    "mpjpe_loss",
    "split_outputs",
    "training_windows",
    "trajectory_loss",
    "trajectory_metrics",
    "trajectory_targets",
    "weighted_root_error",
]

Array = jax.Array

TRAJECTORY_KEYS = ("trajectory_mm", "mpjpe_abs_mm")
"""Evaluation metrics the head adds (summary keys and results.md columns)."""

TRAJECTORY_COLUMNS = (("trajectory (mm)", "trajectory_mm"), ("abs. MPJPE (mm)", "mpjpe_abs_mm"))
"""(header, key) of the results.md columns the head adds."""


def trajectory_targets(sequences: Sequence[PoseSequence]) -> list[np.ndarray]:
    """Per sequence ``(T, J + 1, 3)``: the root-relative pose, then the root's camera-frame position."""
    out = []
    for s in sequences:
        traj = np.asarray(s.trajectory, np.float32)
        if traj.shape != (s.num_frames, 3):
            raise ValueError(f"{s.key}: trajectory must be ({s.num_frames}, 3), got {traj.shape}")
        out.append(np.concatenate([np.asarray(s.pose_3d, np.float32), traj[:, None]], axis=1))
    return out


def split_outputs(y: Any, num_joints: int) -> tuple[Any, Any]:
    """``(..., (J + 1) * 3)`` -> pose ``(..., J, 3)`` and root position ``(..., 3)``."""
    if y.shape[-1] != (num_joints + 1) * 3:
        raise ValueError(
            f"expected (..., {(num_joints + 1) * 3}) = {num_joints} joints x 3 + the root's position, "
            f"got {tuple(y.shape)}"
        )
    joints = y.reshape(*y.shape[:-1], num_joints + 1, 3)
    return joints[..., :num_joints, :], joints[..., num_joints, :]


def weighted_root_error(pred: Array, target: Array) -> Array:
    """VideoPose3D's trajectory loss: ``mean(||pred - target|| / target_z)`` over every leading axis.

    Args:
      pred, target: ``(..., 3)`` camera-frame root positions in metres (target depth > 0).
    """
    return jnp.mean(jnp.linalg.norm(pred - target, axis=-1) / target[..., 2])


def trajectory_loss(
    num_joints: int,
) -> Callable[[nnx.Module, dict[str, Array]], tuple[Array, dict[str, Array]]]:
    """The joint loss of a :class:`~chiral_jax.models.trajectory.LifterWithTrajectory`: pose MPJPE
    (metres) + the 1/depth-weighted root error; logs both parts and the root error in mm."""

    def loss_fn(model: nnx.Module, batch: dict[str, Array]) -> tuple[Array, dict[str, Array]]:
        pose, root = split_outputs(model(batch["inputs"], strided=True), num_joints)
        pose_t, root_t = split_outputs(batch["targets"], num_joints)  # flat (B, chunk, (J + 1) * 3)
        err = jnp.mean(jnp.linalg.norm(pose - pose_t, axis=-1))
        traj = weighted_root_error(root, root_t)
        root_mm = 1000 * jnp.mean(jnp.linalg.norm(root - root_t, axis=-1))
        return err + traj, {"mpjpe_mm": 1000 * err, "trajectory_loss": traj, "trajectory_mm": root_mm}

    return loss_fn


def absolute_poses(pose: np.ndarray, root: np.ndarray) -> np.ndarray:
    """Camera-frame poses ``(T, J, 3)``: the root-relative ``pose`` (its joint 0 moved to 0, as
    :meth:`chiral_jax.predict.Lifter.predict` returns it) plus the root position ``(T, 3)``."""
    return pose - pose[:, :1] + root[:, None]


def trajectory_metrics(
    preds: Sequence[np.ndarray], test: Sequence[PoseSequence], num_joints: int
) -> tuple[list[np.ndarray], dict[str, float]]:
    """Splits per-sequence outputs ``(T_i, (J + 1) * 3)``; returns the pose predictions
    ``(T_i, J * 3)`` and ``{"trajectory_mm", "mpjpe_abs_mm"}`` over every test frame."""
    poses, roots = zip(*(split_outputs(p, num_joints) for p in preds), strict=True)
    root_pred, root_true = np.concatenate(roots), np.concatenate([s.trajectory for s in test])
    abs_pred = np.concatenate([absolute_poses(p, r) for p, r in zip(poses, roots, strict=True)])
    abs_true = np.concatenate([s.pose_3d + s.trajectory[:, None] for s in test])
    out = {
        "trajectory_mm": 1000 * float(np.mean(np.linalg.norm(root_pred - root_true, axis=-1))),
        "mpjpe_abs_mm": 1000 * metrics.mpjpe(abs_pred, abs_true),
    }
    return [p.reshape(len(p), -1) for p in poses], out


def mpjpe_loss(num_joints: int) -> Callable[[nnx.Module, dict[str, Array]], tuple[Array, dict[str, Array]]]:
    """The training loss of the strided net: MPJPE (metres) of ``batch["targets"]``; also in mm."""

    def loss_fn(model: nnx.Module, batch: dict[str, Array]) -> tuple[Array, dict[str, Array]]:
        pred = model(batch["inputs"], strided=True)
        shape = (*pred.shape[:-1], num_joints, 3)
        err = jnp.mean(jnp.linalg.norm(pred.reshape(shape) - batch["targets"].reshape(shape), axis=-1))
        return err, {"mpjpe_mm": 1000 * err}

    return loss_fn


def training_windows(
    train: Sequence[PoseSequence],
    skeleton: skeletons.Skeleton,
    *,
    receptive_field: int,
    causal: bool,
    trajectory: bool,
) -> tuple[PoseWindows, Callable[..., Any], skeletons.Skeleton]:
    """``(windows, loss, target skeleton)`` of the training sequences: 2D windows with the
    root-relative poses and :func:`mpjpe_loss`, or with ``trajectory`` the ``(J + 1, 3)`` targets
    ``[pose, root position]``, :func:`trajectory_loss` and ``with_root(skeleton)`` (whose mirror
    also negates the root's x)."""
    if not trajectory:
        windows = PoseWindows.from_sequences(
            train, receptive_field=receptive_field, causal=causal, flatten=True, with_intrinsics=False
        )
        return windows, mpjpe_loss(skeleton.num_joints), skeleton
    windows = PoseWindows(
        [s.pose_2d for s in train],
        trajectory_targets(train),
        receptive_field=receptive_field,
        causal=causal,
        flatten=True,
    )
    return windows, trajectory_loss(skeleton.num_joints), with_root(skeleton)
