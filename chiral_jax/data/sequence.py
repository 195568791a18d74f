"""The numpy form every loader produces: one :class:`PoseSequence` per (subject, action, camera).

The raw-format readers (:mod:`~chiral_jax.data.h36m`, :mod:`~chiral_jax.data.humaneva`,
:mod:`~chiral_jax.data.cmu_mocap`, :mod:`~chiral_jax.data.synthetic`) return lists of these; the
TFDS builders store them as examples; the window pipeline reads their arrays.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from chiral_jax.data.cameras import (
    Camera,
    camera_from_intrinsics,
    intrinsics_vector,
    normalize_screen_coordinates,
    project_to_pixels,
    world_to_camera,
)

__all__ = ["PoseSequence", "count_frames", "from_camera_frame", "render", "stack_fields"]


@dataclasses.dataclass(eq=False)
class PoseSequence:
    """One 2D/3D pose sequence seen by one camera.

    Attributes:
      subject: subject name ("S1", "Train/S1", "02", ...).
      action: take name ("Walking 1", "wave_right 0", ...).
      camera: the camera (its ``id``, resolution, intrinsics, extrinsics).
      pose_2d_px: (T, J, 2) float32 image coordinates in pixels.
      pose_2d: (T, J, 2) float32 normalized screen coordinates (u/w*2-1, v/w*2-h/w).
      pose_3d: (T, J, 3) float32 camera-frame positions in metres, root-relative (joint 0 = 0).
      trajectory: (T, 3) float32 camera-frame root position in metres (``pose_3d + trajectory``
        is the absolute camera-frame pose).
      fps: frame rate in Hz.
    """

    subject: str
    action: str
    camera: Camera
    pose_2d_px: np.ndarray
    pose_2d: np.ndarray
    pose_3d: np.ndarray
    trajectory: np.ndarray
    fps: float = 50.0

    def __post_init__(self) -> None:
        t = self.pose_2d.shape[0]
        for name in ("pose_2d_px", "pose_2d", "pose_3d", "trajectory"):
            if getattr(self, name).shape[0] != t:
                raise ValueError(
                    f"PoseSequence {self.subject}/{self.action}/{self.camera.id}: {name} has "
                    f"{getattr(self, name).shape[0]} frames, pose_2d has {t}"
                )

    @property
    def num_frames(self) -> int:
        return int(self.pose_2d.shape[0])

    @property
    def num_joints(self) -> int:
        return int(self.pose_2d.shape[1])

    @property
    def intrinsics(self) -> np.ndarray:
        """(9,) VideoPose3D-normalized intrinsics (see :func:`~chiral_jax.data.cameras.intrinsics_vector`)."""
        return intrinsics_vector(self.camera)

    @property
    def key(self) -> str:
        return f"{self.subject}/{self.action}/{self.camera.id}"

    def to_example(self) -> dict[str, Any]:
        """The TFDS example (numpy arrays and strings) of this sequence."""
        return {
            "subject": self.subject,
            "action": self.action,
            "camera_id": self.camera.id,
            "pose_2d_px": self.pose_2d_px.astype(np.float32),
            "pose_2d": self.pose_2d.astype(np.float32),
            "pose_3d": self.pose_3d.astype(np.float32),
            "trajectory": self.trajectory.astype(np.float32),
            "intrinsics": self.intrinsics,
            "resolution": np.array([self.camera.res_w, self.camera.res_h], dtype=np.int32),
            "fps": np.float32(self.fps),
        }

    @classmethod
    def from_example(cls, example: dict[str, Any]) -> PoseSequence:
        """The sequence stored as a TFDS example (inverse of :meth:`to_example`).

        The camera keeps its id, resolution and intrinsics; its extrinsics are not stored (the
        poses are already in its frame), so it has ``R = I``, ``T = 0``.
        """

        def text(x: Any) -> str:
            return x.decode() if isinstance(x, bytes) else str(x)

        w, h = (int(v) for v in np.asarray(example["resolution"]))
        camera = camera_from_intrinsics(text(example["camera_id"]), example["intrinsics"], w, h)
        return cls(
            subject=text(example["subject"]),
            action=text(example["action"]),
            camera=camera,
            **{
                k: np.asarray(example[k], np.float32)
                for k in ("pose_2d_px", "pose_2d", "pose_3d", "trajectory")
            },
            fps=float(np.asarray(example["fps"])),
        )

    def slice(self, start: int, stop: int) -> PoseSequence:
        """Frames ``[start, stop)`` as a new sequence (arrays are views)."""
        return dataclasses.replace(
            self,
            pose_2d_px=self.pose_2d_px[start:stop],
            pose_2d=self.pose_2d[start:stop],
            pose_3d=self.pose_3d[start:stop],
            trajectory=self.trajectory[start:stop],
        )


def render(
    world: np.ndarray,
    camera: Camera,
    *,
    subject: str,
    action: str,
    fps: float = 50.0,
    noise_px: float = 0.0,
    rng: np.random.Generator | None = None,
) -> PoseSequence:
    """Sees a world-frame pose sequence (T, J, 3) with ``camera``: 2D pixels, normalized 2D, 3D.

    ``noise_px`` adds Gaussian noise of that standard deviation (pixels) to the 2D detections,
    drawn from ``rng`` (required when ``noise_px > 0``); the 3D targets stay exact.
    """
    cam3d = world_to_camera(world, camera)
    if np.any(cam3d[..., 2] <= 0.05):
        raise ValueError(f"render: points behind or at camera {camera.id} for {subject}/{action}")
    px = project_to_pixels(cam3d, camera)
    if noise_px > 0:
        if rng is None:
            raise ValueError("render: noise_px > 0 needs an rng")
        px = px + rng.normal(scale=noise_px, size=px.shape)
    return from_camera_frame(cam3d, px, camera, subject=subject, action=action, fps=fps)


def from_camera_frame(
    cam3d: np.ndarray, px: np.ndarray, camera: Camera, *, subject: str, action: str, fps: float
) -> PoseSequence:
    """The sequence of camera-frame 3D poses ``cam3d`` (T, J, 3), metres, and their 2D pixels
    ``px`` (T, J, 2): root-relative 3D targets, the root's trajectory, normalized screen 2D
    (computed from ``px`` in its own dtype, then stored as float32)."""
    root = cam3d[:, :1]
    return PoseSequence(
        subject=subject,
        action=action,
        camera=camera,
        pose_2d_px=px.astype(np.float32),
        pose_2d=normalize_screen_coordinates(px, camera.res_w, camera.res_h).astype(np.float32),
        pose_3d=(cam3d - root).astype(np.float32),
        trajectory=root[:, 0].astype(np.float32),
        fps=fps,
    )


def count_frames(sequences: Iterable[PoseSequence]) -> int:
    """Total number of frames (camera views counted separately)."""
    return int(sum(s.num_frames for s in sequences))


def stack_fields(sequences: Sequence[PoseSequence], field: str) -> list[np.ndarray]:
    """The per-sequence arrays of one field, e.g. ``stack_fields(train, "pose_2d")``."""
    return [getattr(s, field) for s in sequences]
