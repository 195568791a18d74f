"""Rotations as 3x3 matrices, and their conversions: the one rotation library of the project.

Conventions:

* A rotation is a proper orthogonal (..., 3, 3) matrix acting on column vectors (``y = R @ x``,
  active rotations); a point set ``(..., N, 3)`` rotates as ``x @ R.T``.
* Axis-angle: (..., 3), the unit axis times the angle in radians (right-hand rule).
* Quaternion: (..., 4) ``(w, x, y, z)``, scalar first; normalised on input.
* 6D: (..., 6), the first two COLUMNS of the matrix (Zhou et al., "On the continuity of rotation
  representations", CVPR 2019), ``[R[:, 0], R[:, 1]]``; Gram-Schmidt maps any 6 numbers back.
* Euler angles: (..., len(order)) radians about the axes of ``order`` (e.g. ``"XYZ"``), composed
  first-letter-first: ``R = R_Z @ R_Y @ R_X`` for ``"XYZ"`` (the Acclaim ASF/AMC convention).

Every function works on numpy arrays (float64 results, as the data readers use) and on JAX arrays
(jit / vmap / grad safe: norms are guarded, so gradients stay finite at the identity and at zero
vectors). The namespace follows the input: numpy in, numpy out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "axis_angle_to_matrix",
    "axis_rotation",
    "euler_to_matrix",
    "geodesic_angle",
    "matrix_to_axis_angle",
    "matrix_to_euler",
    "matrix_to_quaternion",
    "matrix_to_rotation_6d",
    "quaternion_to_matrix",
    "rotation_6d_to_matrix",
    "rotation_between",
    "skew",
]

_EPS = 1e-12


def _xp(*xs: Any) -> Any:
    """numpy when every input is numpy (or a Python scalar / list), else jax.numpy."""
    if all(isinstance(x, np.ndarray | np.generic | float | int | list | tuple) for x in xs):
        return np
    import jax.numpy as jnp

    return jnp


def _asarray(xp: Any, x: Any) -> Any:
    return np.asarray(x, dtype=np.float64) if xp is np else xp.asarray(x)


def _safe_norm(xp: Any, v: Any, axis: int = -1, keepdims: bool = False) -> Any:
    """``|v|`` with a finite gradient at ``v = 0`` (where it returns 0)."""
    sq = xp.sum(v * v, axis=axis, keepdims=keepdims)
    pos = sq > _EPS * _EPS
    return xp.where(pos, xp.sqrt(xp.where(pos, sq, 1.0)), 0.0)


def axis_rotation(axis: int | str, angle: Any) -> Any:
    """Rotations about a coordinate axis: ``angle`` (...,) radians -> (..., 3, 3).

    Args:
      axis: 0/1/2 or "x"/"y"/"z" (case-insensitive).
      angle: radians, any shape.
    """
    k = "xyz".index(axis.lower()) if isinstance(axis, str) else int(axis)
    if k not in (0, 1, 2):
        raise ValueError(f"axis_rotation: axis must be 0, 1, 2 or x, y, z, got {axis!r}")
    xp = _xp(angle)
    a = _asarray(xp, angle)
    c, s = xp.cos(a), xp.sin(a)
    one, zero = xp.ones_like(a), xp.zeros_like(a)
    if k == 0:
        rows = [[one, zero, zero], [zero, c, -s], [zero, s, c]]
    elif k == 1:
        rows = [[c, zero, s], [zero, one, zero], [-s, zero, c]]
    else:
        rows = [[c, -s, zero], [s, c, zero], [zero, zero, one]]
    return xp.stack([xp.stack(r, axis=-1) for r in rows], axis=-2)


def euler_to_matrix(angles: Any, order: str) -> Any:
    """Euler angles (..., len(order)) radians -> (..., 3, 3), composed first-letter-first.

    ``angles[..., i]`` is the angle about axis ``order[i]``; the result is
    ``R_{order[-1]} @ ... @ R_{order[0]}``.
    """
    xp = _xp(angles)
    a = _asarray(xp, angles)
    if a.shape[-1:] != (len(order),):
        raise ValueError(f"euler_to_matrix: expected (..., {len(order)}) angles for {order!r}, got {a.shape}")
    out = xp.broadcast_to(xp.eye(3, dtype=a.dtype), (*a.shape[:-1], 3, 3))
    for i, ax in enumerate(order.upper()):
        if ax not in "XYZ":
            raise ValueError(f"euler_to_matrix: order must use X, Y, Z, got {order!r}")
        out = axis_rotation(ax, a[..., i]) @ out
    return out


def matrix_to_euler(r: Any, order: str) -> Any:
    """(..., 3, 3) rotations -> Euler angles (..., 3) radians: the inverse of :func:`euler_to_matrix`.

    ``order`` is a Tait-Bryan order (three different axes, e.g. ``"YXZ"``, composed first-letter-first:
    ``R = R_Z @ R_X @ R_Y``). The middle angle is in [-pi/2, pi/2], the others in (-pi, pi]; at the
    gimbal lock (middle angle +-pi/2) the last angle is set to 0 (no gradient there: the angles
    are not a smooth function of the rotation at the lock).
    """
    order = order.upper()
    if len(order) != 3 or set(order) - set("XYZ") or len(set(order)) != 3:
        raise ValueError(
            f"matrix_to_euler: expected a Tait-Bryan order of X, Y, Z (e.g. 'ZXY'), got {order!r}"
        )
    xp = _xp(r)
    r = _asarray(xp, r)
    if r.shape[-2:] != (3, 3):
        raise ValueError(f"matrix_to_euler: expected (..., 3, 3) rotations, got {r.shape}")
    i, j, k = ("XYZ".index(a) for a in order)
    s = 1.0 if (j - i) % 3 == 1 else -1.0  # +1 for the cyclic orders XYZ, YZX, ZXY
    # R = R_k(c) R_j(b) R_i(a): the column i of R is R_k R_j e_i, its k entry -s sin(b).
    cos_b = xp.sqrt(r[..., i, i] ** 2 + r[..., j, i] ** 2)
    b = xp.arctan2(-s * r[..., k, i], cos_b)
    lock = cos_b < 1e-9
    a_lock = xp.arctan2(-s * r[..., j, k], r[..., j, j])  # R = R_j(b) R_i(a) when c is set to 0
    a = xp.where(lock, a_lock, xp.arctan2(s * r[..., k, j], r[..., k, k]))
    c = xp.where(lock, 0.0, xp.arctan2(s * r[..., j, i], r[..., i, i]))
    return xp.stack([a, b, c], axis=-1)


def quaternion_to_matrix(q: Any) -> Any:
    """Quaternions (..., 4) ``(w, x, y, z)`` (normalised here) -> (..., 3, 3)."""
    xp = _xp(q)
    q = _asarray(xp, q)
    if q.shape[-1:] != (4,):
        raise ValueError(f"quaternion_to_matrix: expected (..., 4) (w, x, y, z), got {q.shape}")
    q = q / xp.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = (q[..., i] for i in range(4))
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]
    return xp.stack([xp.stack(r, axis=-1) for r in rows], axis=-2)


def matrix_to_quaternion(r: Any) -> Any:
    """(..., 3, 3) rotations -> unit quaternions (..., 4) ``(w, x, y, z)`` with ``w >= 0``.

    Shepperd's method: of the four candidate formulas the best-conditioned one is used per input.
    """
    xp = _xp(r)
    r = _asarray(xp, r)
    m = [[r[..., i, j] for j in range(3)] for i in range(3)]
    tr = m[0][0] + m[1][1] + m[2][2]
    cands = xp.stack(
        [
            xp.stack([1 + tr, m[2][1] - m[1][2], m[0][2] - m[2][0], m[1][0] - m[0][1]], -1),
            xp.stack(
                [m[2][1] - m[1][2], 1 + m[0][0] - m[1][1] - m[2][2], m[0][1] + m[1][0], m[0][2] + m[2][0]], -1
            ),
            xp.stack(
                [m[0][2] - m[2][0], m[0][1] + m[1][0], 1 - m[0][0] + m[1][1] - m[2][2], m[1][2] + m[2][1]], -1
            ),
            xp.stack(
                [m[1][0] - m[0][1], m[0][2] + m[2][0], m[1][2] + m[2][1], 1 - m[0][0] - m[1][1] + m[2][2]], -1
            ),
        ],
        axis=-2,
    )  # (..., 4 candidates, 4): candidate k is 4 q_k q (k = w, x, y, z)
    diag = xp.stack(
        [
            1 + tr,
            1 + m[0][0] - m[1][1] - m[2][2],
            1 - m[0][0] + m[1][1] - m[2][2],
            1 - m[0][0] - m[1][1] + m[2][2],
        ],
        -1,
    )
    best = xp.argmax(diag, axis=-1)
    q = xp.take_along_axis(cands, best[..., None, None], axis=-2)[..., 0, :]
    q = q / xp.maximum(_safe_norm(xp, q, keepdims=True), _EPS)
    return xp.where(q[..., :1] < 0, -q, q)


def skew(v: Any) -> Any:
    """(..., 3) -> (..., 3, 3) cross-product matrices, ``skew(v) @ x = v x x``."""
    xp = _xp(v)
    v = _asarray(xp, v)
    z = xp.zeros_like(v[..., 0])
    x, y, w = v[..., 0], v[..., 1], v[..., 2]
    rows = [[z, -w, y], [w, z, -x], [-y, x, z]]
    return xp.stack([xp.stack(r, axis=-1) for r in rows], axis=-2)


def axis_angle_to_matrix(v: Any) -> Any:
    """Axis-angle (..., 3) -> (..., 3, 3) (Rodrigues; exact and differentiable at zero)."""
    xp = _xp(v)
    v = _asarray(xp, v)
    theta2 = xp.sum(v * v, axis=-1)[..., None, None]
    small = theta2 < 1e-8
    t2 = xp.where(small, 1.0, theta2)
    t = xp.sqrt(t2)
    # sin(t)/t and (1 - cos t)/t^2, with their Taylor series near zero.
    a = xp.where(small, 1.0 - theta2 / 6.0, xp.sin(t) / t)
    b = xp.where(small, 0.5 - theta2 / 24.0, (1.0 - xp.cos(t)) / t2)
    k = skew(v)
    eye = xp.broadcast_to(xp.eye(3, dtype=k.dtype), k.shape)
    return eye + a * k + b * (k @ k)


def matrix_to_axis_angle(r: Any) -> Any:
    """(..., 3, 3) -> axis-angle (..., 3), angle in [0, pi] (through the quaternion)."""
    xp = _xp(r)
    q = matrix_to_quaternion(r)
    s = _safe_norm(xp, q[..., 1:], keepdims=True)
    angle = 2.0 * xp.arctan2(s, q[..., :1])
    # angle / sin(angle / 2) -> 2 as the angle -> 0.
    factor = xp.where(s > 1e-7, angle / xp.where(s > 1e-7, s, 1.0), 2.0)
    return q[..., 1:] * factor


def rotation_6d_to_matrix(d6: Any) -> Any:
    """6D (..., 6) -> (..., 3, 3): Gram-Schmidt of the two columns, the third their cross product."""
    xp = _xp(d6)
    d6 = _asarray(xp, d6)
    if d6.shape[-1:] != (6,):
        raise ValueError(f"rotation_6d_to_matrix: expected (..., 6), got {d6.shape}")
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = a1 / xp.maximum(_safe_norm(xp, a1, keepdims=True), _EPS)
    a2 = a2 - xp.sum(b1 * a2, axis=-1, keepdims=True) * b1
    b2 = a2 / xp.maximum(_safe_norm(xp, a2, keepdims=True), _EPS)
    b3 = xp.cross(b1, b2)
    return xp.stack([b1, b2, b3], axis=-1)


def matrix_to_rotation_6d(r: Any) -> Any:
    """(..., 3, 3) -> 6D (..., 6): the first two columns."""
    xp = _xp(r)
    r = _asarray(xp, r)
    return xp.concatenate([r[..., :, 0], r[..., :, 1]], axis=-1)


def geodesic_angle(r1: Any, r2: Any) -> Any:
    """The angle (radians, (...,)) of ``r1^T r2``: the geodesic distance on SO(3)."""
    xp = _xp(r1, r2)
    r1, r2 = xp.broadcast_arrays(_asarray(xp, r1), _asarray(xp, r2))
    # arctan2(|skew part|, trace part) is accurate at 0 and pi, unlike arccos of the trace.
    d = xp.swapaxes(r1, -1, -2) @ r2
    cos = (d[..., 0, 0] + d[..., 1, 1] + d[..., 2, 2] - 1.0) / 2.0
    w = xp.stack([d[..., 2, 1] - d[..., 1, 2], d[..., 0, 2] - d[..., 2, 0], d[..., 1, 0] - d[..., 0, 1]], -1)
    sin = _safe_norm(xp, w) / 2.0
    return xp.arctan2(sin, cos)


def rotation_between(a: Any, b: Any) -> Any:
    """The smallest rotation (..., 3, 3) taking the direction of ``a`` (..., 3) onto that of ``b``.

    The swing of HybrIK: about the axis ``a x b``. Antiparallel inputs get the half turn about an
    axis perpendicular to ``a``; a zero vector gives the identity. Gradients are finite everywhere.
    """
    xp = _xp(a, b)
    a, b = xp.broadcast_arrays(_asarray(xp, a), _asarray(xp, b))
    na = _safe_norm(xp, a, keepdims=True)
    nb = _safe_norm(xp, b, keepdims=True)
    ua = a / xp.maximum(na, _EPS)
    ub = b / xp.maximum(nb, _EPS)
    degenerate = (na[..., 0] < 1e-9) | (nb[..., 0] < 1e-9)
    c = xp.sum(ua * ub, axis=-1)
    axis = xp.cross(ua, ub)
    # R = I + [v] + [v]^2 / (1 + c): exact for c > -1; replaced near c = -1 by a half turn.
    anti = c < -1.0 + 1e-6
    k = skew(axis)
    eye = xp.broadcast_to(xp.eye(3, dtype=k.dtype), k.shape)
    denom = xp.where(anti, 1.0, 1.0 + c)[..., None, None]
    r = eye + k + (k @ k) / denom
    # Half turn about p = a normalised vector perpendicular to ua: R = 2 p p^T - I.
    ex = xp.broadcast_to(xp.asarray([1.0, 0.0, 0.0], ua.dtype), ua.shape)
    ey = xp.broadcast_to(xp.asarray([0.0, 1.0, 0.0], ua.dtype), ua.shape)
    helper = xp.where(xp.abs(ua[..., :1]) < 0.9, ex, ey)
    p = xp.cross(ua, helper)
    p = p / xp.maximum(_safe_norm(xp, p, keepdims=True), _EPS)
    half = 2.0 * p[..., :, None] * p[..., None, :] - eye
    r = xp.where(anti[..., None, None], half, r)
    return xp.where(degenerate[..., None, None], eye, r)
