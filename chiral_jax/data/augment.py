"""Mirror (left/right flip) augmentation through the skeleton's chirality specs.

The mirror of a pose is the spec's transform ``T``: swap left and right joints and negate x. For a
2D input in normalized screen coordinates that is the image flipped about its vertical centre line;
for a camera-frame 3D target it is the reflection ``X -> -X``, which is what a camera with mirrored
intrinsics sees: ``project(T_out(X), mirror_intrinsics(c)) == T_in(project(X, c))`` holds exactly
for VideoPose3D's camera model (negate ``cx_n`` and the tangential coefficient ``p_a``).
Every function here is an involution.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chiral_jax.skeletons import H36M, Skeleton

__all__ = [
    "MirrorAugment",
    "mirror_batch",
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
    flip = np.asarray(flip, dtype=bool)
    out = dict(batch)
    fields = {"inputs": (skeleton_in, dim_in), "targets": (skeleton_out, dim_out)}
    for key, (sk, d) in fields.items():
        if key in batch:
            x = np.array(batch[key], copy=True)
            if flip.any():
                x[flip] = mirror_poses(x[flip], sk, d)
            out[key] = x
    if "intrinsics" in batch:
        c = np.array(batch["intrinsics"], copy=True)
        if flip.any():
            c[flip] = mirror_intrinsics(c[flip])
        out["intrinsics"] = c
    out["mirrored"] = flip.copy()
    return out


class MirrorAugment:
    """``augment(batch, rng) -> batch``: mirror each window with probability ``p``.

    Pass an instance as ``augment=`` to :meth:`~chiral_jax.data.windows.PoseWindows.batches`.
    """

    def __init__(
        self,
        p: float = 0.5,
        *,
        skeleton_in: Skeleton = H36M,
        skeleton_out: Skeleton = H36M,
        dim_in: int = 2,
        dim_out: int = 3,
    ) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"MirrorAugment: p must be in [0, 1], got {p}")
        self.p = p
        self.skeleton_in, self.skeleton_out = skeleton_in, skeleton_out
        self.dim_in, self.dim_out = dim_in, dim_out

    def __call__(self, batch: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
        n = len(batch["inputs"])
        flip = rng.random(n) < self.p
        return mirror_batch(
            batch,
            flip,
            skeleton_in=self.skeleton_in,
            skeleton_out=self.skeleton_out,
            dim_in=self.dim_in,
            dim_out=self.dim_out,
        )
