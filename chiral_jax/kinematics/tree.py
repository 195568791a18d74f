"""Forward kinematics, twist angles and twist-swing inverse kinematics on any kinematic tree.

Conventions (HybrIK's and SMPL's; ``docs/kinematics.md`` has the maths):

* ``rotations[..., j]`` is joint ``j``'s rotation relative to its parent (the root's is global); it
  rotates the bones from ``j`` to its children. Global rotations chain as ``G_j = G_p @ R_j`` and
  positions as ``x_j = x_p + G_p @ (rest_j - rest_p)``; the root stays at its rest position.
* Each joint's twist is about its bone to ``children[j]`` in the rest pose, ``t_j = rest_c - rest_j``:
  ``R_j = R_swing @ R_twist(phi_j)`` with ``R_twist`` a rotation about ``t_j`` and ``R_swing`` the
  smallest rotation taking ``t_j`` to ``R_j t_j``.
* Inverse kinematics walks the tree parents-first. A joint with one child gets the swing taking its
  rest bone onto the observed bone (in the parent's frame) times the twist it is given; a joint with
  several children (pelvis, thorax) gets the best-fit rotation of all its child bones (Kabsch: the
  SVD of their cross-covariance), as HybrIK solves them; a leaf gets the identity.

``parents`` and ``children`` are static (tuples or numpy arrays); every function is batched over
leading axes and jit / vmap / grad safe (gradients stay finite at zero-length and degenerate bones).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from chiral_jax import rotations as rot
from chiral_jax.skeletons import children_of

__all__ = [
    "chain",
    "children_of",
    "forward_kinematics",
    "global_rotations",
    "inverse_kinematics",
    "mirror_rotations",
    "mirror_twist",
    "rest_offsets",
    "twist_angles",
]

Array = jax.Array
_EPS = 1e-9


def _static(name: str, values: Any, num_joints: int | None = None) -> np.ndarray:
    if isinstance(values, jax.core.Tracer):
        raise TypeError(f"{name} must be static (a tuple or numpy array), got a traced JAX array")
    out = np.asarray(values, dtype=np.int64).reshape(-1)
    if num_joints is not None and out.shape != (num_joints,):
        raise ValueError(f"{name}: expected ({num_joints},) entries, one per joint, got {out.shape}")
    return out


def _order(parents: np.ndarray) -> list[int]:
    """Joints parents-first; raises on a cycle, a bad index or a missing root."""
    j = len(parents)
    if np.any((parents < -1) | (parents >= j)):
        raise ValueError(f"parents: entries must be -1 or a joint index < {j}, got {parents.tolist()}")
    order, placed = [], np.zeros(j, bool)
    frontier = [i for i in range(j) if parents[i] < 0]
    if not frontier:
        raise ValueError(f"parents: no root (-1) in {parents.tolist()}")
    while frontier:
        order.extend(frontier)
        placed[frontier] = True
        frontier = [i for i in range(j) if parents[i] >= 0 and placed[parents[i]] and not placed[i]]
    if not placed.all():
        raise ValueError(f"parents: joints {np.where(~placed)[0].tolist()} are not reachable from a root")
    return order


def _check_children(children: np.ndarray, parents: np.ndarray) -> None:
    for j, c in enumerate(children):
        if c != -1 and (c < 0 or c >= len(parents) or parents[c] != j):
            raise ValueError(f"children[{j}] = {c} is not a child of joint {j} (parents: {parents.tolist()})")


def chain(rotations: Any, offsets: Any, parents: Sequence[int], root: Any = None) -> tuple[Any, Any]:
    """The forward-kinematics recurrence: global rotations and positions from local rotations.

    ``G_j = G_p @ R_j`` and ``x_j = x_p + G_p @ offsets[j]``, parents first; a root keeps its local
    rotation and sits at ``root + offsets[root]``. Every forward kinematics in the package
    (:func:`forward_kinematics`, the synthetic generator, the CMU ASF reader) runs through this one.

    Args:
      rotations: (..., J, 3, 3) local rotations (the root's is global).
      offsets: (J, 3) each joint's rest offset from its parent, in the parent's frame (a root's
        entry: its position relative to ``root``).
      parents: (J,) static parent indices, -1 at the root.
      root: (..., 3) root position (broadcast against the batch); None: the origin.

    Returns:
      ``(glob, pos)``: (..., J, 3, 3) global rotations and (..., J, 3) positions. NumPy inputs give
      NumPy outputs computed with NumPy (float64 data generators stay exact and deterministic); any
      JAX input gives JAX arrays (jit / vmap / grad safe).
    """
    numpy_in = isinstance(rotations, np.ndarray) and isinstance(offsets, np.ndarray)
    xp = np if numpy_in and not isinstance(root, jax.Array) else jnp
    r = xp.asarray(rotations)
    off = xp.asarray(offsets, dtype=r.dtype)
    j = off.shape[0]
    parents = _static("parents", parents, j)
    if r.shape[-3:] != (j, 3, 3) or off.shape != (j, 3):
        raise ValueError(
            f"forward kinematics: expected rotations (..., {j}, 3, 3) and offsets / rest joints ({j}, 3), "
            f"got {r.shape} and {off.shape}"
        )
    batch = r.shape[:-3]
    start = xp.zeros(3, r.dtype) if root is None else xp.asarray(root, dtype=r.dtype)
    glob: list[Any] = [None] * j
    pos: list[Any] = [None] * j
    for i in _order(parents):
        p = parents[i]
        if p < 0:
            glob[i] = r[..., i, :, :]
            pos[i] = xp.broadcast_to(start + xp.broadcast_to(off[i], start.shape), (*batch, 3))
        else:
            glob[i] = glob[p] @ r[..., i, :, :]
            pos[i] = pos[p] + glob[p] @ off[i]
    return xp.stack(glob, axis=-3), xp.stack(pos, axis=-2)


def rest_offsets(rest_joints: Any, parents: Sequence[int]) -> Any:
    """(J, 3) offsets ``rest_j - rest_parent`` of a rest pose (J, 3), ``rest_root`` at roots (so
    :func:`chain` with ``root=None`` puts the roots at their rest positions); NumPy or JAX."""
    xp = np if isinstance(rest_joints, np.ndarray) else jnp
    rest = xp.asarray(rest_joints)
    parents = _static("parents", parents, rest.shape[0])
    return rest - xp.where(xp.asarray(parents >= 0)[:, None], rest[np.maximum(parents, 0)], 0.0)


def forward_kinematics(rotations: Any, rest_joints: Any, parents: Sequence[int]) -> Array:
    """Posed joints (..., J, 3) from local rotations (..., J, 3, 3) and the rest pose (J, 3).

    The root stays at its rest position (add a translation afterwards if needed).
    """
    return _fk_jit(rotations, rest_joints, _key(parents))


@functools.partial(jax.jit, static_argnums=2)
def _fk_jit(rotations: Any, rest_joints: Any, parents: tuple[int, ...]) -> Array:
    r = jnp.asarray(rotations)
    rest = jnp.asarray(rest_joints, dtype=r.dtype)
    if rest.shape != (len(parents), 3):
        raise ValueError(
            f"forward_kinematics: expected rotations (..., {len(parents)}, 3, 3) and rest_joints "
            f"({len(parents)}, 3), got {r.shape} and {rest.shape}"
        )
    return chain(r, rest_offsets(rest, parents), parents)[1]


def _key(values: Any) -> tuple[int, ...]:
    """A static (hashable) form of ``parents`` / ``children``."""
    return tuple(int(v) for v in _static("parents/children", values))


def global_rotations(rotations: Any, parents: Sequence[int]) -> Array:
    """Global rotations (..., J, 3, 3) ``G_j = G_parent @ R_j`` from local ones."""
    r = jnp.asarray(rotations)
    return chain(r, jnp.zeros((r.shape[-3], 3), r.dtype), parents)[0]


def _unit(v: Array) -> tuple[Array, Array]:
    """``(v / |v|, |v| > eps)`` with finite gradients at zero."""
    sq = jnp.sum(v * v, axis=-1, keepdims=True)
    ok = sq > _EPS * _EPS
    n = jnp.sqrt(jnp.where(ok, sq, 1.0))
    return jnp.where(ok, v / n, 0.0), ok[..., 0]


def _twist_of(r: Array, axis: Array) -> Array:
    """(cos, sin) of the twist of ``r`` (..., 3, 3) about the unit ``axis`` (..., 3) (zero: (1, 0))."""
    axis = jnp.broadcast_to(axis, r.shape[:-1])
    moved = jnp.einsum("...ab,...b->...a", r, axis)
    swing = rot.rotation_between(jnp.broadcast_to(axis, moved.shape), moved)
    tw = jnp.swapaxes(swing, -1, -2) @ r
    cos = (tw[..., 0, 0] + tw[..., 1, 1] + tw[..., 2, 2] - 1.0) / 2.0
    w = jnp.stack(
        [tw[..., 2, 1] - tw[..., 1, 2], tw[..., 0, 2] - tw[..., 2, 0], tw[..., 1, 0] - tw[..., 0, 1]], -1
    )
    sin = jnp.einsum("...a,...a->...", w, axis) / 2.0
    cs = jnp.stack([cos, sin], axis=-1)
    # Renormalise (exact twists already are); guarded so that (0, 0) stays finite.
    unit, ok = _unit(cs)
    return jnp.where(ok[..., None], unit, jnp.broadcast_to(jnp.asarray([1.0, 0.0], cs.dtype), cs.shape))


def twist_angles(rotations: Any, rest_joints: Any, parents: Sequence[int], children: Sequence[int]) -> Array:
    """(cos phi, sin phi) (..., J, 2) of each joint's twist about its rest bone to ``children[j]``.

    Joints without a child (``children[j] = -1``) or with a zero-length bone get (1, 0).
    """
    return _twist_jit(rotations, rest_joints, _key(parents), _key(children))


@functools.partial(jax.jit, static_argnums=(2, 3))
def _twist_jit(rotations: Any, rest_joints: Any, parents: Any, children: Any) -> Array:
    r = jnp.asarray(rotations)
    rest = jnp.asarray(rest_joints, dtype=r.dtype)
    j = rest.shape[0]
    parents = _static("parents", parents, j)
    children = _static("children", children, j)
    _check_children(children, parents)
    if r.shape[-3:] != (j, 3, 3):
        raise ValueError(f"twist_angles: expected rotations (..., {j}, 3, 3), got {r.shape}")
    has = children >= 0
    axes, ok = _unit(rest[np.where(has, children, 0)] - rest)  # (J, 3): every joint at once
    ok = ok & jnp.asarray(has)
    cs = _twist_of(r, axes)
    ident = jnp.broadcast_to(jnp.asarray([1.0, 0.0], r.dtype), cs.shape)
    return jnp.where(jnp.broadcast_to(ok[:, None], cs.shape), cs, ident)


def _twist_matrix(axis: Array, cs: Array) -> Array:
    """Rotation about the unit ``axis`` (3,) by the angle of ``cs`` (..., 2) (normalised here)."""
    unit, ok = _unit(cs)
    cos = jnp.where(ok, unit[..., 0], 1.0)[..., None, None]
    sin = jnp.where(ok, unit[..., 1], 0.0)[..., None, None]
    k = jnp.broadcast_to(rot.skew(axis), (*cs.shape[:-1], 3, 3))
    eye = jnp.broadcast_to(jnp.eye(3, dtype=cs.dtype), k.shape)
    return eye + sin * k + (1.0 - cos) * (k @ k)


def _kabsch(p: Array, t: Array) -> Array:
    """The rotation R (..., 3, 3) minimising ``sum_k |R t_k - p_k|^2`` for p (..., K, 3), t (K, 3).

    SVD of the cross-covariance ``H = sum_k p_k t_k^T = U S V^T``; ``R = U diag(1, 1, det) V^T``.
    Where singular values coincide (no unique answer, and the SVD's gradient is infinite) the value
    is kept but its gradient stopped.
    """
    h = jnp.einsum("...ka,kb->...ab", p, t)

    def rotation(u: Array, vt: Array) -> Array:
        d = jnp.sign(jnp.linalg.det(u @ vt))
        d = jnp.where(d == 0, 1.0, d)
        diag = jnp.stack([jnp.ones_like(d), jnp.ones_like(d), d], -1)
        return (u * diag[..., None, :]) @ vt

    u0, s_val, vt0 = jnp.linalg.svd(jax.lax.stop_gradient(h))
    scale = jnp.maximum(s_val[..., :1], 1e-12)
    gaps = jnp.stack([s_val[..., 0] - s_val[..., 1], s_val[..., 1] - s_val[..., 2]], -1)
    degenerate = jnp.any(gaps < 1e-6 * scale, axis=-1) | (s_val[..., 0] < 1e-12)
    well = jnp.broadcast_to(jnp.diag(jnp.asarray([3.0, 2.0, 1.0], h.dtype)), h.shape)
    u, _, vt = jnp.linalg.svd(jnp.where(degenerate[..., None, None], well, h))
    return jnp.where(degenerate[..., None, None], rotation(u0, vt0), rotation(u, vt))


def inverse_kinematics(
    joints: Any, twist: Any, rest_joints: Any, parents: Sequence[int], children: Sequence[int]
) -> Array:
    """Local rotations (..., J, 3, 3) from posed joints (..., J, 3) and twists (..., J, 2).

    Args:
      joints: posed joint positions (any translation; only bone vectors are used).
      twist: (cos phi, sin phi) per joint (see :func:`twist_angles`), normalised here; used at
        joints with exactly one child, ignored elsewhere.
      rest_joints: (J, 3) rest pose whose bones define the swings.
      parents: (J,) parent indices, -1 at the root.
      children: (J,) each joint's twist child (-1 at leaves); a joint with one child must name it.

    Returns:
      rotations with ``forward_kinematics(R, rest_joints, parents) == joints - joints[root] +
      rest_joints[root]`` when the bone lengths of ``joints`` match ``rest_joints`` (exactly on
      single-child joints; best-fit on multi-child ones), and ``R = IK(FK(R), twist_angles(R))``
      on every non-leaf joint.
    """
    return _ik_jit(joints, twist, rest_joints, _key(parents), _key(children))


@functools.partial(jax.jit, static_argnums=(3, 4))
def _ik_jit(joints: Any, twist: Any, rest_joints: Any, parents: Any, children: Any) -> Array:
    x = jnp.asarray(joints)
    rest = jnp.asarray(rest_joints, dtype=x.dtype)
    tw = jnp.asarray(twist, dtype=x.dtype)
    j = rest.shape[0]
    parents = _static("parents", parents, j)
    children = _static("children", children, j)
    _check_children(children, parents)
    if x.shape[-2:] != (j, 3) or tw.shape[-2:] != (j, 2) or rest.shape != (j, 3):
        raise ValueError(
            f"inverse_kinematics: expected joints (..., {j}, 3), twist (..., {j}, 2), rest_joints "
            f"({j}, 3), got {x.shape}, {tw.shape}, {rest.shape}"
        )
    batch = jnp.broadcast_shapes(x.shape[:-2], tw.shape[:-2])
    x = jnp.broadcast_to(x, (*batch, j, 3))
    tw = jnp.broadcast_to(tw, (*batch, j, 2))
    eye = jnp.broadcast_to(jnp.eye(3, dtype=x.dtype), (*batch, 3, 3))
    local: list[Any] = [eye] * j  # leaves keep the identity
    glob: list[Any] = [None] * j
    kids = [[int(c) for c in np.where(parents == i)[0]] for i in range(j)]
    # Joints of one depth depend only on shallower ones: solve each level's single-child joints
    # as one vectorised swing-twist (fewer, larger ops compile faster).
    order = _order(parents)
    depth = np.zeros(j, np.int64)
    for i in order:
        depth[i] = 0 if parents[i] < 0 else depth[parents[i]] + 1
    for level in range(int(depth.max()) + 1):
        members = [i for i in order if depth[i] == level]
        parent_g = {i: eye if parents[i] < 0 else glob[parents[i]] for i in members}
        single = [i for i in members if len(kids[i]) == 1]
        if single:
            src = np.asarray(single)
            dst = np.asarray([kids[i][0] for i in single])
            g_p = jnp.stack([parent_g[i] for i in single], axis=-3)  # (..., n, 3, 3)
            # Observed bones in the parent's frame: G_p^T (x_c - x_i).
            obs = jnp.einsum("...nba,...nb->...na", g_p, x[..., dst, :] - x[..., src, :])
            t = rest[dst] - rest[src]
            axes, _ = _unit(t)
            swing = rot.rotation_between(jnp.broadcast_to(t, obs.shape), obs)
            r = swing @ _twist_matrix(axes, tw[..., src, :])
            g = g_p @ r
            for n, i in enumerate(single):
                local[i], glob[i] = r[..., n, :, :], g[..., n, :, :]
        for i in members:
            if len(kids[i]) > 1:
                g_p = parent_g[i]
                obs = jnp.stack(
                    [jnp.einsum("...ba,...b->...a", g_p, x[..., c, :] - x[..., i, :]) for c in kids[i]],
                    axis=-2,
                )
                local[i] = _kabsch(obs, jnp.stack([rest[c] - rest[i] for c in kids[i]]))
            elif not kids[i]:
                local[i] = eye
            if len(kids[i]) != 1:
                glob[i] = parent_g[i] @ local[i]
    return jnp.stack(local, axis=-3)


# ---------------------------------------------------------------------------------- mirror


def _mirror_matrix(axis: int, dtype: Any) -> Array:
    return jnp.diag(jnp.asarray([-1.0 if k == axis else 1.0 for k in range(3)], dtype))


def mirror_rotations(rotations: Any, permutation: Sequence[int], axis: int = 0) -> Array:
    """The rotations of the mirrored pose: ``R_j -> M R_{pi(j)} M`` with ``M`` the reflection of
    coordinate ``axis`` and ``pi`` the left/right joint permutation (e.g.
    ``skeleton.spec(1).joint_permutation``). Valid when the rest pose is itself mirror-symmetric."""
    r = jnp.asarray(rotations)
    m = _mirror_matrix(axis, r.dtype)
    return jnp.einsum("ab,...bc,cd->...ad", m, r[..., np.asarray(permutation), :, :], m)


def mirror_twist(twist: Any, permutation: Sequence[int]) -> Array:
    """Twists of the mirrored pose: joints permuted, sine negated (the mirror reverses every twist)."""
    t = jnp.asarray(twist)[..., np.asarray(permutation), :]
    return t * jnp.broadcast_to(jnp.asarray([1.0, -1.0], t.dtype), t.shape)
