"""Mirror (left/right flip) augmentation through the skeleton's chirality specs.

The mirror of a pose is the spec's transform ``T``: swap left and right joints and negate x. For a
2D input in normalized screen coordinates that is the image flipped about its vertical centre line;
for a camera-frame 3D target it is the reflection ``X -> -X``, which is what a camera with mirrored
intrinsics sees: ``project(T_out(X), mirror_intrinsics(c)) == T_in(project(X, c))`` holds exactly
for VideoPose3D's camera model (negate ``cx_n`` and the tangential coefficient ``p_a``).
Every function here is an involution.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from chiral_jax.skeletons import H36M, Skeleton
from chiral_jax.spec import ChiralSpec

__all__ = [
    "MirrorAugment",
    "mirror_batch",
    "mirror_fields",
    "mirror_intrinsics",
    "mirror_pixels",
    "mirror_poses",
]


def mirror_poses(x: Any, skeleton: Skeleton = H36M, dim: int | None = None) -> Any:
    """Applies the skeleton's mirror spec to poses (..., J, D) or flattened (..., J * D).

    Uses ``skeleton.spec(dim).transform`` (x negated, left/right swapped). ``dim`` is inferred
    from a (..., J, D) shape; pass it for flattened input.
    """
    j = skeleton.num_joints
    shape = x.shape
    if dim is None:
        if len(shape) >= 2 and shape[-2] == j:
            dim = int(shape[-1])
        else:
            raise ValueError(
                f"mirror_poses: can not infer coords per joint from shape {tuple(shape)} for "
                f"{skeleton.name} ({j} joints); pass dim"
            )
    spec = skeleton.spec(dim)
    if shape[-1] == j * dim and not (len(shape) >= 2 and shape[-2] == j and shape[-1] == dim):
        return spec.transform(x)
    if shape[-2:] != (j, dim):
        raise ValueError(f"mirror_poses: expected (..., {j}, {dim}) or (..., {j * dim}), got {tuple(shape)}")
    return spec.transform(x.reshape(*shape[:-2], j * dim)).reshape(shape)


def mirror_pixels(px: Any, res_w: Any, skeleton: Skeleton = H36M) -> np.ndarray:
    """Mirror of pixel coordinates (..., J, 2): ``u -> res_w - u`` and left/right swapped.

    ``res_w`` is a scalar or broadcasts against the leading axes (one width per pose).
    """
    px = np.asarray(px)
    w = np.asarray(res_w, dtype=px.dtype)
    w = w[..., None] if w.ndim else w
    centred = px - np.stack([w / 2, np.zeros_like(w)], axis=-1)
    out = mirror_poses(centred, skeleton, 2)
    return out + np.stack([w / 2, np.zeros_like(w)], axis=-1)


def mirror_intrinsics(intrinsics: Any) -> Any:
    """Mirror of VideoPose3D's (..., 9) normalized intrinsics: negate ``cx_n`` (2) and ``p_a`` (7)."""
    signs = np.ones(9, dtype=np.float32)
    signs[[2, 7]] = -1
    return intrinsics * signs.astype(np.asarray(intrinsics).dtype)


def mirror_batch(
    batch: dict[str, np.ndarray],
    flip: np.ndarray,
    *,
    skeleton_in: Skeleton = H36M,
    skeleton_out: Skeleton = H36M,
    dim_in: int = 2,
    dim_out: int = 3,
) -> dict[str, np.ndarray]:
    """Mirrors the rows of a window batch where ``flip`` (B,) is True.

    ``inputs`` get ``T_in`` (spec of ``skeleton_in`` with ``dim_in`` coords), ``targets`` get
    ``T_out``, ``intrinsics`` (if present) get :func:`mirror_intrinsics`. Adds ``"mirrored"`` (B,).
    """
    specs = {"inputs": skeleton_in.spec(dim_in), "targets": skeleton_out.spec(dim_out)}
    return mirror_fields(batch, flip, specs)


def mirror_fields(
    batch: dict[str, np.ndarray], flip: np.ndarray, specs: Mapping[str, ChiralSpec]
) -> dict[str, np.ndarray]:
    """Mirrors the rows of ``batch`` where ``flip`` (B,) is True: each field named in ``specs``
    by its spec (on flattened ``(..., spec.size)`` features, or ``(..., J, D)`` poses of the spec's
    size), ``intrinsics`` (if present) by :func:`mirror_intrinsics`. Adds ``"mirrored"`` (B,)."""
    flip = np.asarray(flip, dtype=bool)
    out = dict(batch)
    for key, spec in specs.items():
        if key not in batch:
            continue
        x = np.array(batch[key], copy=True)
        if flip.any():
            rows = x[flip]
            flat = rows.reshape(*rows.shape[: rows.ndim - 2], -1) if rows.shape[-1] != spec.size else rows
            if flat.shape[-1] != spec.size:
                raise ValueError(
                    f"mirror_fields: field {key!r} has shape {tuple(x.shape)}; expected (..., {spec.size}) "
                    f"or (..., {spec.num_joints}, {spec.dim}) features for its spec"
                )
            x[flip] = spec.transform(flat).reshape(rows.shape)
        out[key] = x
    if "intrinsics" in batch:
        c = np.array(batch["intrinsics"], copy=True)
        if flip.any():
            c[flip] = mirror_intrinsics(c[flip])
        out["intrinsics"] = c
    out["mirrored"] = flip.copy()
    return out


class MirrorAugment:
    """``augment(batch, rng) -> batch``: mirror each sample with probability ``p``.

    ``MirrorAugment({field: spec, ...}, p=0.5)`` mirrors each named field by its
    :class:`~chiral_jax.spec.ChiralSpec` (one draw per sample, from the first field's length);
    ``MirrorAugment(p, skeleton_in=, skeleton_out=, dim_in=, dim_out=)`` is the window batch's
    ``{"inputs": skeleton_in.spec(dim_in), "targets": skeleton_out.spec(dim_out)}``. Pass an
    instance as ``augment=`` to the batch pipelines (host) or to
    :class:`~chiral_jax.data.device_windows.DeviceWindows` (device).
    """

    def __init__(
        self,
        specs: Mapping[str, ChiralSpec] | float = 0.5,
        p: float | None = None,
        *,
        skeleton_in: Skeleton = H36M,
        skeleton_out: Skeleton = H36M,
        dim_in: int = 2,
        dim_out: int = 3,
    ) -> None:
        if not isinstance(specs, Mapping):
            if p is not None:
                raise ValueError("MirrorAugment: give p once (MirrorAugment(p) or MirrorAugment(specs, p))")
            p, specs = (
                float(specs),
                {"inputs": skeleton_in.spec(dim_in), "targets": skeleton_out.spec(dim_out)},
            )
        p = 0.5 if p is None else float(p)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"MirrorAugment: p must be in [0, 1], got {p}")
        if not specs:
            raise ValueError("MirrorAugment: no field to mirror (specs is empty)")
        self.p, self.specs = p, dict(specs)

    def __call__(self, batch: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
        n = len(batch[next(iter(self.specs))])
        flip = rng.random(n) < self.p
        return mirror_fields(batch, flip, self.specs)
