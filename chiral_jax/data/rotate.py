"""Rotation of 3D skeletons about the vertical axis: a change of camera azimuth (pure numpy).

A multi-view dataset such as NW-UCLA sees the same actions from cameras at different azimuths, so
a random rotation about the vertical axis through the body is the augmentation that stands in for
an unseen view. With the vertical axis ``v`` and the horizontal axes ``(a, b)`` in cyclic order
(``a = (v + 1) % 3``, ``b = (v + 2) % 3``), :func:`rotate_about_vertical` maps

    ``p_a -> cos(t) p_a - sin(t) p_b``,  ``p_b -> sin(t) p_a + cos(t) p_b``.

The mirror ``x -> -x`` (axis 0, which must be horizontal) conjugates a rotation about the
vertical axis to its inverse: ``M R(t) M = R(-t)``. An angle distribution symmetric about 0 therefore
keeps the augmentation mirror-symmetric: mirrored and plain clips see the same distribution of views.

:func:`facing_angle` gives the rotation that turns a body's left-to-right direction onto the
horizontal axis ``b`` (x for a vertical y): a view normalisation. It commutes with the mirror too:
the mirror swaps left and right and negates x, which negates the angle, so
``R(facing(M X)) M X = M R(facing(X)) X``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["facing_angle", "random_view_angles", "rotate_about_vertical", "vertical_rotation_matrix"]


def vertical_rotation_matrix(angle: float, vertical_axis: int = 1) -> np.ndarray:
    """The 3 x 3 rotation by ``angle`` (radians) about ``vertical_axis`` (0, 1 or 2), as in the
    module docstring (points are rows: ``p @ R.T``)."""
    if vertical_axis not in (0, 1, 2):
        raise ValueError(f"vertical_axis must be 0, 1 or 2, got {vertical_axis!r}")
    a, b = (vertical_axis + 1) % 3, (vertical_axis + 2) % 3
    c, s = np.cos(angle), np.sin(angle)
    r = np.eye(3)
    r[a, a], r[a, b], r[b, a], r[b, b] = c, -s, s, c
    return r


def rotate_about_vertical(points: Any, angle: float, vertical_axis: int = 1) -> np.ndarray:
    """Rotates 3D points ``(..., 3)`` by ``angle`` radians about ``vertical_axis`` through the
    origin (centre the skeleton first); returns float32 ``(..., 3)``."""
    p = np.asarray(points)
    if p.shape[-1:] != (3,):
        raise ValueError(f"rotate_about_vertical: expected points (..., 3), got shape {p.shape}")
    return (p @ vertical_rotation_matrix(angle, vertical_axis).T.astype(np.float32)).astype(np.float32)


def random_view_angles(rng: np.random.Generator, n: int, max_angle: float) -> np.ndarray:
    """``n`` angles uniform in ``[-max_angle, max_angle]`` radians (symmetric: see the module
    docstring)."""
    if max_angle < 0:
        raise ValueError(f"max_angle must be >= 0 radians, got {max_angle}")
    return rng.uniform(-max_angle, max_angle, n)


def facing_angle(
    skeleton: Any,
    left: tuple[int, ...],
    right: tuple[int, ...],
    vertical_axis: int = 1,
    frames: int = 1,
) -> float:
    """The angle (radians) whose :func:`rotate_about_vertical` turns the horizontal part of
    ``sum(right - left)`` (over the joint pairs ``left[i]`` / ``right[i]``, e.g. hips and shoulders,
    averaged over the first ``frames`` frames of ``skeleton`` ``(T, J, 3)``) onto the horizontal axis
    ``(vertical_axis + 2) % 3`` (x for a vertical y). 0 when that direction vanishes."""
    x = np.asarray(skeleton, np.float64)
    if x.ndim != 3 or x.shape[-1] != 3:
        raise ValueError(f"facing_angle: expected a skeleton (T, J, 3), got shape {x.shape}")
    if len(left) != len(right) or not left:
        raise ValueError(f"facing_angle: left {left} and right {right} must pair up (at least one pair)")
    u = (x[: max(1, frames), list(right)] - x[: max(1, frames), list(left)]).sum(axis=(0, 1))
    a, b = (vertical_axis + 1) % 3, (vertical_axis + 2) % 3
    if np.hypot(u[a], u[b]) < 1e-9:
        return 0.0
    return float(np.pi / 2 - np.arctan2(u[b], u[a]))  # rotating by t adds t to the angle in (a, b)
