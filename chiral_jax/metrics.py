"""Pose and classification metrics: MPJPE, P-MPJPE, N-MPJPE, MPJVE, PCK, top-k accuracy, IK errors.

The functions take numpy arrays (jax arrays are converted with ``np.asarray``) whose last two axes
are ``(joints, coords)``; leading axes are arbitrary (batch, time, ...). Errors are returned in the
unit of the inputs (metres for this project's targets; multiply by 1000 for the millimetres the
literature reports). They follow VideoPose3D's definitions (``common/loss.py``):

* MPJPE: mean Euclidean distance between predicted and true joints (protocol #1).
* P-MPJPE: MPJPE after a per-pose similarity (rotation, uniform scale, translation) alignment of the
  prediction to the target, found by orthogonal Procrustes; reflections are excluded
  (protocol #2).
* N-MPJPE: MPJPE after the least-squares uniform scale alone (protocol #3).
* MPJVE: MPJPE of the first differences along the time axis (velocity error).

For twist-swing inverse kinematics, :func:`ik_metrics` scores predicted joints and twists after IK
(joint, bone-length, rotation and twist errors) and :func:`ik_by_take` runs it take by take over
a test set.

For 2D pose forecasting (Penn Action, PCK@0.05 per future step), :func:`pck_per_step` computes PCK
per joint, and :func:`pck_tprnn_code` the same number under the joint pairing the released TP-RNN
code uses.

:func:`aggregate_by_action` averages per-frame errors the way the standard Human3.6M protocol does:
frames pooled over every take and camera of an action type ("Directions 1", "Directions" ->
"Directions"), then the mean over action types.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from chiral_jax import kinematics, rotations
from chiral_jax.skeletons import H36M

__all__ = [
    "action_type",
    "aggregate_by_action",
    "average_over_frames",
    "bone_lengths",
    "by_subject_action",
    "ik_by_take",
    "ik_metrics",
    "lifting_metrics",
    "mpjpe",
    "mpjve",
    "n_mpjpe",
    "p_mpjpe",
    "pck",
    "pck_per_step",
    "pck_tprnn_code",
    "per_joint_errors",
    "procrustes_align",
    "top_k_accuracy",
    "twist_angle",
]


def _pair(predicted: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(predicted, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    if p.shape != t.shape:
        raise ValueError(f"predicted and target shapes differ: {p.shape} vs {t.shape}")
    if p.ndim < 2:
        raise ValueError(f"poses must be (..., joints, coords), got shape {p.shape}")
    return p, t


def per_joint_errors(predicted: Any, target: Any) -> np.ndarray:
    """Euclidean distance per joint: (..., J, D) x 2 -> (..., J)."""
    p, t = _pair(predicted, target)
    return np.linalg.norm(p - t, axis=-1)


def mpjpe(predicted: Any, target: Any) -> float:
    """Mean per-joint position error over every joint and leading index: (..., J, D) -> scalar."""
    return float(per_joint_errors(predicted, target).mean())


def procrustes_align(predicted: Any, target: Any) -> np.ndarray:
    """Aligns each pose of ``predicted`` to ``target`` by rotation, uniform scale and translation.

    Per pose (the last two axes, (J, D)), finds ``s, R, t`` minimizing
    ``||s * P @ R + t - X||`` with ``R`` a proper rotation (``det R = +1``: a mirrored copy can not be
    aligned away).

    Args:
      predicted, target: (..., J, D) poses.

    Returns:
      (..., J, D) the aligned prediction.
    """
    p, t = _pair(predicted, target)
    mu_t = t.mean(axis=-2, keepdims=True)
    mu_p = p.mean(axis=-2, keepdims=True)
    x0, y0 = t - mu_t, p - mu_p
    norm_x = np.sqrt(np.sum(x0**2, axis=(-2, -1), keepdims=True))
    norm_y = np.sqrt(np.sum(y0**2, axis=(-2, -1), keepdims=True))
    norm_x = np.where(norm_x > 0, norm_x, 1.0)
    norm_y = np.where(norm_y > 0, norm_y, 1.0)
    x0, y0 = x0 / norm_x, y0 / norm_y
    h = np.swapaxes(x0, -1, -2) @ y0  # (..., D, D)
    u, s, vt = np.linalg.svd(h)
    v = np.swapaxes(vt, -1, -2)
    r = v @ np.swapaxes(u, -1, -2)
    # Exclude reflections: flip the last singular direction where det(R) < 0.
    sign = np.sign(np.linalg.det(r))
    sign = np.where(sign == 0, 1.0, sign)
    v[..., :, -1] *= sign[..., None]
    s[..., -1] *= sign
    r = v @ np.swapaxes(u, -1, -2)
    tr = np.sum(s, axis=-1, keepdims=True)[..., None]  # (..., 1, 1)
    a = tr * norm_x / norm_y
    return a * (p - mu_p) @ r + mu_t


def p_mpjpe(predicted: Any, target: Any) -> float:
    """MPJPE after per-pose rigid alignment with scale (protocol #2): (..., J, D) -> scalar."""
    return mpjpe(procrustes_align(predicted, target), target)


def n_mpjpe(predicted: Any, target: Any) -> float:
    """MPJPE after the per-pose least-squares scale of the prediction (protocol #3)."""
    p, t = _pair(predicted, target)
    num = np.sum(p * t, axis=(-2, -1), keepdims=True)
    den = np.sum(p * p, axis=(-2, -1), keepdims=True)
    scale = num / np.where(den > 0, den, 1.0)
    return mpjpe(scale * p, t)


def mpjve(predicted: Any, target: Any, axis: int = -3) -> float:
    """Mean per-joint velocity error: MPJPE of first differences along the time ``axis``.

    Args:
      predicted, target: (..., T, J, D) pose sequences (time is ``axis``, default the third last).
    """
    p, t = _pair(predicted, target)
    if p.ndim < 3:
        raise ValueError(f"mpjve needs (..., T, J, D) sequences, got shape {p.shape}")
    return mpjpe(np.diff(p, axis=axis), np.diff(t, axis=axis))


def pck(
    predicted: Any,
    target: Any,
    threshold: float,
    *,
    scale: Any = 1.0,
    visible: Any | None = None,
) -> float:
    """Percentage of correct keypoints: fraction of joints with error <= ``threshold * scale``.

    For 2D PCK@alpha (Penn Action: alpha = 0.05, scale = max(bbox height, width) per pose) pass
    ``threshold=alpha`` and ``scale`` of shape (...,) broadcastable against the pose's leading axes;
    for 3D PCK (150 mm) pass ``threshold=0.15`` in metres.

    Args:
      predicted, target: (..., J, D).
      threshold: alpha (relative to ``scale``) or an absolute distance (``scale=1``).
      scale: (...,) per-pose normalizer, or a scalar.
      visible: optional (..., J) mask; invisible joints are left out of the count.

    Returns:
      A fraction in [0, 1].
    """
    err = per_joint_errors(predicted, target)  # (..., J)
    limit = threshold * np.asarray(scale, dtype=np.float64)
    if limit.ndim:
        limit = limit[..., None]
    ok = err <= limit
    if visible is None:
        return float(ok.mean())
    vis = np.broadcast_to(np.asarray(visible).astype(bool), ok.shape)
    n = vis.sum()
    if n == 0:
        raise ValueError("pck: no visible joints")
    return float((ok & vis).sum() / n)


def top_k_accuracy(logits: Any, labels: Any, k: int = 1) -> float:
    """Fraction of rows whose true label is among the ``k`` largest scores.

    Args:
      logits: (N, C) scores.
      labels: (N,) integer class indices.
      k: how many of the best-scoring classes count (1 for top-1, 5 for top-5).
    """
    scores = np.asarray(logits)
    y = np.asarray(labels).astype(np.int64)
    if scores.ndim != 2 or y.shape != scores.shape[:1]:
        raise ValueError(f"top_k_accuracy: logits (N, C) and labels (N,), got {scores.shape}, {y.shape}")
    if not 1 <= k <= scores.shape[1]:
        raise ValueError(f"top_k_accuracy: k must be in 1..{scores.shape[1]}, got {k}")
    # A label counts when fewer than k classes score strictly higher (ties resolve in its favour).
    true_score = np.take_along_axis(scores, y[:, None], axis=1)
    rank = np.sum(scores > true_score, axis=1)
    return float(np.mean(rank < k))


_ACTION_ALIASES = {"TakingPhoto": "Photo", "WalkingDog": "WalkDog"}


def action_type(action: str) -> str:
    """The action type of a take name, as the standard protocol groups them.

    ``"Directions 1"`` -> ``"Directions"``, ``"Walking 1 chunk0"`` -> ``"Walking"``; VideoPose3D's
    aliases ``TakingPhoto`` -> ``Photo`` and ``WalkingDog`` -> ``WalkDog`` are applied.
    """
    name = action.strip().split(" ")[0]
    return _ACTION_ALIASES.get(name, name)


def aggregate_by_action(
    errors: Iterable[Any] | Mapping[str, Any],
    actions: Sequence[str] | None = None,
) -> dict[str, float]:
    """Per-action-type means of per-frame errors, and their unweighted mean ``"average"``.

    Frames of every take and camera of one action type are pooled (frame-weighted mean), as in
    VideoPose3D's evaluation; the reported average is the mean over action types.

    Args:
      errors: per-sequence arrays of per-frame (or per-joint) errors, one per entry of ``actions``;
        or a mapping action name -> such an array (then ``actions`` is omitted).
      actions: take names such as ``"Walking 1"`` (grouped by :func:`action_type`).

    Returns:
      {action type: mean error, ..., "average": mean over action types}.
    """
    if isinstance(errors, Mapping):
        if actions is not None:
            raise ValueError("aggregate_by_action: pass actions only with a sequence of errors")
        actions = list(errors.keys())
        errors = list(errors.values())
    errors = list(errors)
    if actions is None or len(actions) != len(errors):
        raise ValueError("aggregate_by_action: need one action name per error array")
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for err, act in zip(errors, actions, strict=True):
        e = np.asarray(err, dtype=np.float64).reshape(-1)
        key = action_type(act)
        sums[key] = sums.get(key, 0.0) + float(e.sum())
        counts[key] = counts.get(key, 0) + e.size
    out = {k: sums[k] / counts[k] for k in sorted(sums) if counts[k] > 0}
    if not out:
        raise ValueError("aggregate_by_action: no errors given")
    out["average"] = float(np.mean(list(out.values())))
    return out


def _forecast_inputs(
    name: str, pred: Any, target: Any, visible: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    if p.shape != t.shape or p.ndim != 4 or p.shape[-1] != 2:
        raise ValueError(
            f"{name}: pred and target must be (samples, steps, joints, 2) of one shape, got {p.shape} "
            f"and {t.shape}"
        )
    v = np.asarray(visible)
    if v.shape != p.shape[:3]:
        raise ValueError(f"{name}: visible must be (samples, steps, joints) = {p.shape[:3]}, got {v.shape}")
    return p, t, v.astype(bool)


def _percent_per_step(correct: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """100 * (correct & visible) / visible, pooled over samples and joints: (S, steps, J) -> (steps,)."""
    hits = np.sum(correct & visible, axis=(0, 2)).astype(np.float64)
    counted = np.sum(visible, axis=(0, 2)).astype(np.float64)
    out = np.full(hits.shape, np.nan)
    np.divide(100.0 * hits, counted, out=out, where=counted > 0)
    return out


def pck_per_step(
    pred: Any, target: Any, visible: Any, *, alpha: float = 0.05, size: float = 2.0
) -> np.ndarray:
    """PCK per forecast step, in percent, over the visible joints.

    A joint is correct when its Euclidean distance to the target is below ``alpha * size``
    (strictly, as the released TP-RNN code). With coordinates normalised by half the video's box
    length ``L`` (:func:`chiral_jax.data.forecasting.normalize_video`), ``L`` is 2.0, the default
    ``size``: PCK@0.05 counts distances below 0.1. Counts are pooled over samples and joints of each
    step (not averaged per sample).

    Args:
      pred, target: (S, steps, J, 2) poses.
      visible: (S, steps, J) visibility of the target frames; only visible joints count.
      alpha: the PCK threshold relative to ``size``.
      size: the reference length in the poses' units.

    Returns:
      (steps,) float64 percentages; NaN for a step without any visible joint.
    """
    p, t, v = _forecast_inputs("pck_per_step", pred, target, visible)
    dist = np.linalg.norm(p - t, axis=-1)  # (S, steps, J)
    return _percent_per_step(dist < alpha * size, v)


def pck_tprnn_code(
    pred: Any, target: Any, visible: Any, *, alpha: float = 0.05, size: float = 2.0
) -> np.ndarray:
    """:func:`pck_per_step` as the released TP-RNN code computes it (its joint pairing).

    That code stores a pose as ``[x0 .. x12, y0 .. y12]`` (all x, then all y) but its PCK reads the
    vector as interleaved ``(x, y)`` pairs: "joint" ``k`` is ``(v[2k], v[2k+1])`` of the flat vector
    (for 13 joints: ``(x0, x1), (x2, x3), ..., (x12, y0), (y1, y2), ..., (y11, y12)``). This
    function replicates that: each (J, 2) pose is flattened to ``[x_0..x_{J-1}, y_0..y_{J-1}]`` and
    reshaped to (J, 2). As in that code, the visibility mask is applied to these pseudo-joints by
    index (``visible[..., k]`` masks pair ``k``), although pair ``k`` mixes coordinates of other
    joints; the threshold is strict (``< alpha * size``) and counts are pooled over samples and
    pseudo-joints of each step. Use it to compare with numbers produced by that code; use
    :func:`pck_per_step` for the metric as defined.

    Args:
      pred, target: (S, steps, J, 2) poses, ``(x, y)`` per joint.
      visible: (S, steps, J) visibility of the target frames.
      alpha, size: as in :func:`pck_per_step`.

    Returns:
      (steps,) float64 percentages; NaN for a step without any visible joint.
    """
    p, t, v = _forecast_inputs("pck_tprnn_code", pred, target, visible)
    d = p - t
    joints = d.shape[2]
    flat = np.concatenate([d[..., 0], d[..., 1]], axis=-1)  # (S, steps, 2J): x0..x(J-1), y0..y(J-1)
    pairs = flat.reshape(*flat.shape[:-1], joints, 2)  # pseudo-joint k = (flat[2k], flat[2k+1])
    dist = np.linalg.norm(pairs, axis=-1)
    return _percent_per_step(dist < alpha * size, v)


def by_subject_action(
    per_seq: Sequence[tuple[np.ndarray, np.ndarray]], test: Sequence[Any]
) -> dict[str, dict[str, dict[str, float]]]:
    """``{subject: {action type: {"mpjpe_mm", "p_mpjpe_mm", "frames"}}}`` of per-sequence
    ``(predicted, true)`` pairs ((T, J, 3) metres) of the sequences ``test`` (their ``subject`` and
    ``action``), frames of every take, chunk and camera of one
    action type pooled (VideoPose3D's ``--by-subject`` evaluation; the paper's HumanEva table)."""
    sums: dict[tuple[str, str], list[float]] = {}
    for (pred, true), seq in zip(per_seq, test, strict=True):
        key = (seq.subject, action_type(seq.action))
        acc = sums.setdefault(key, [0.0, 0.0, 0])
        acc[0] += float(per_joint_errors(pred, true).mean(axis=-1).sum())
        aligned = procrustes_align(pred, true)
        acc[1] += float(per_joint_errors(aligned, true).mean(axis=-1).sum())
        acc[2] += len(true)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for (subject, action), (e, pe, n) in sorted(sums.items()):
        out.setdefault(subject, {})[action] = {
            "mpjpe_mm": 1000 * e / n,
            "p_mpjpe_mm": 1000 * pe / n,
            "frames": n,
        }
    return out


def lifting_metrics(per_seq: Sequence[tuple[np.ndarray, np.ndarray]], test: Sequence[Any]) -> dict[str, Any]:
    """The lifting protocol's metrics (millimetres) of per-sequence ``(predicted, true)`` pairs
    ((T, J, 3) metres) of the sequences ``test``: ``mpjpe_mm``, ``p_mpjpe_mm``, ``n_mpjpe_mm`` over
    every frame, ``mpjve_mm`` (per sequence, weighted by its velocity count), ``per_action``
    (:func:`aggregate_by_action`) and ``per_subject_action`` (:func:`by_subject_action`)."""
    pred_all = np.concatenate([p for p, _ in per_seq])
    true_all = np.concatenate([t for _, t in per_seq])
    frame_errors = [per_joint_errors(p, t).mean(axis=-1) * 1000 for p, t in per_seq]
    velocity = [mpjve(p, t, axis=0) for p, t in per_seq]
    return {
        "mpjpe_mm": 1000 * mpjpe(pred_all, true_all),
        "p_mpjpe_mm": 1000 * p_mpjpe(pred_all, true_all),
        "n_mpjpe_mm": 1000 * n_mpjpe(pred_all, true_all),
        "mpjve_mm": 1000 * float(np.average(velocity, weights=[len(t) - 1 for _, t in per_seq])),
        "per_action": aggregate_by_action(frame_errors, [s.action for s in test]),
        "per_subject_action": by_subject_action(per_seq, test),
    }


# ---------------------------------------------------------------------------------- IK


def bone_lengths(x: Any, parents: Sequence[int] = H36M.parents) -> np.ndarray:
    """(..., B) lengths of the bones ``(parents[j], j)`` (root excluded) of joints ``x`` (..., J, 3)."""
    x = np.asarray(x)
    bones = [(p, j) for j, p in enumerate(parents) if p >= 0]
    return np.stack([np.linalg.norm(x[..., j, :] - x[..., p, :], axis=-1) for p, j in bones], axis=-1)


def twist_angle(t: Any) -> np.ndarray:
    """(...,) angles (radians) of (cos, sin) twists ``t`` (..., 2)."""
    t = np.asarray(t)
    return np.arctan2(t[..., 1], t[..., 0])


def ik_metrics(
    joints: np.ndarray,
    twist: np.ndarray,
    true_joints: np.ndarray,
    true_twist: np.ndarray,
    true_rotations: np.ndarray,
    rest: np.ndarray,
    parents: Sequence[int] = H36M.parents,
    children: Sequence[int] | None = None,
) -> dict[str, float]:
    """Twist-swing IK of predicted ``joints`` (T, J, 3) and ``twist`` (T, J, 2) against the truth
    (``true_rotations`` (T, J, 3, 3) local, ``rest`` (J, 3) the rest joints).

    ``children``: each joint's twist child (default: ``H36M.twist_children`` for H36M's parents).
    Errors in mm and degrees, summed over frames (divide by the frame count, ``"frames"``;
    :func:`average_over_frames`): ``mpjpe_mm``, ``mpjpe_after_ik_mm`` (forward kinematics of the
    IK rotations), ``bone_length_error_mm`` / ``bone_length_error_after_ik_mm``,
    ``rotation_error_deg`` (geodesic, joints with a twist child) and ``twist_error_deg`` (joints
    with exactly one child, where IK uses the twist).
    """
    parents = tuple(parents)
    if children is None:
        children = H36M.twist_children if parents == H36M.parents else kinematics.children_of(parents)
    inner = np.asarray([j for j in range(len(parents)) if children[j] >= 0])
    tj = np.asarray([j for j in range(len(parents)) if parents.count(j) == 1])
    rots = kinematics.inverse_kinematics(joints, twist, rest, parents, children)
    after = np.asarray(kinematics.forward_kinematics(rots, rest, parents))
    after = after - after[:, :1] + joints[:, :1]  # FK keeps the root at rest; the lifter's is 0 too
    geo = np.asarray(rotations.geodesic_angle(rots[:, inner], true_rotations[:, inner]))
    dphi = twist_angle(twist[:, tj]) - twist_angle(true_twist[:, tj])
    dphi = np.abs((dphi + np.pi) % (2 * np.pi) - np.pi)
    true_len = bone_lengths(true_joints, parents)

    def mm(err: np.ndarray) -> float:
        return 1000 * float(err.mean(-1).sum())

    return {
        "frames": float(len(joints)),
        "mpjpe_mm": mm(np.linalg.norm(joints - true_joints, axis=-1)),
        "mpjpe_after_ik_mm": mm(np.linalg.norm(after - true_joints, axis=-1)),
        "bone_length_error_mm": mm(np.abs(bone_lengths(joints, parents) - true_len)),
        "bone_length_error_after_ik_mm": mm(np.abs(bone_lengths(after, parents) - true_len)),
        "rotation_error_deg": float(np.degrees(geo).mean(-1).sum()),
        "twist_error_deg": float(np.degrees(dphi).mean(-1).sum()),
    }


def average_over_frames(parts: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Per-frame means of frame-summed metrics (each part with its ``"frames"``, e.g. :func:`ik_metrics`)."""
    frames = sum(p["frames"] for p in parts)
    keys = [k for k in parts[0] if k != "frames"]
    return {k: sum(p[k] for p in parts) / frames for k in keys}


def ik_by_take(test: Sequence[Any], preds: Sequence[np.ndarray] | None = None) -> dict[str, float]:
    """:func:`ik_metrics` take by take, averaged over every frame, of the IK records ``test`` (each
    with ``seq`` (``subject``, ``action``, ``pose_3d`` (T, J, 3)), ``twist`` (T, J, 2), ``rotations``
    and ``rest``, e.g. :class:`~chiral_jax.data.ik_data.IkSequence`).

    ``preds``: per sequence (T, J * 5) joint-major ``(x, y, z, cos, sin)`` predictions (their joints
    made root-relative, as the targets); None scores IK of the true joints and twists (the oracle).
    One IK call per take (its camera views share frame count and rest joints).
    """
    groups: dict[tuple[str, str], list[int]] = {}
    for i, s in enumerate(test):
        groups.setdefault((s.seq.subject, s.seq.action), []).append(i)
    parts = []
    for idx in groups.values():
        true_joints = np.concatenate([test[i].seq.pose_3d for i in idx])
        true_twist = np.concatenate([test[i].twist for i in idx])
        if preds is None:
            joints, twist = true_joints, true_twist
        else:
            y = np.concatenate([preds[i] for i in idx]).reshape(*true_joints.shape[:2], 5)
            joints, twist = y[..., :3] - y[:, :1, :3], y[..., 3:]
        true_rot = np.concatenate([test[i].rotations for i in idx])
        parts.append(ik_metrics(joints, twist, true_joints, true_twist, true_rot, test[idx[0]].rest))
    return average_over_frames(parts)
