"""Pictures of poses with matplotlib (imported lazily, Agg backend when nothing else is set up).

* :func:`draw_skeleton_2d` / :func:`draw_skeleton_3d`: one pose on a matplotlib axis, left joints
  blue, right red, centre grey (the mirror partition of the skeleton);
* :func:`render_prediction`: 2D keypoints beside the lifted 3D pose, as an animated GIF (pillow),
  an MP4 (when ffmpeg is on the PATH) or a still PNG of one frame.

Camera-frame 3D poses (x right, y down, z forward) are drawn with the camera's up as up.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from chiral_jax import skeletons

__all__ = ["draw_skeleton_2d", "draw_skeleton_3d", "joint_colors", "render_prediction"]

LEFT, RIGHT, CENTER = "tab:blue", "tab:red", "0.4"


def _pyplot() -> Any:
    import matplotlib

    if "matplotlib.pyplot" not in __import__("sys").modules:
        matplotlib.use("Agg")  # headless unless the caller (e.g. a notebook) chose a backend
    import matplotlib.pyplot as plt

    return plt


def joint_colors(skeleton: skeletons.Skeleton) -> list[str]:
    """One colour per joint: left blue, right red, centre grey."""
    colors = [CENTER] * skeleton.num_joints
    for i in skeleton.left:
        colors[i] = LEFT
    for i in skeleton.right:
        colors[i] = RIGHT
    return colors


def _bones(skeleton: skeletons.Skeleton) -> list[tuple[int, int]]:
    if skeleton.parents is None:
        return []
    return [(j, p) for j, p in enumerate(skeleton.parents) if p >= 0]


def draw_skeleton_2d(ax: Any, pose: np.ndarray, skeleton: skeletons.Skeleton, **kw: Any) -> list[Any]:
    """Draws a (J, 2) pose (image coordinates: y down) on ``ax``; returns the artists."""
    colors = joint_colors(skeleton)
    artists = []
    for j, p in _bones(skeleton):
        (line,) = ax.plot(*pose[[j, p]].T, color=colors[j], lw=kw.get("lw", 2))
        artists.append(line)
    artists.append(ax.scatter(pose[:, 0], pose[:, 1], c=colors, s=kw.get("s", 10), zorder=3))
    return artists


def _camera_to_plot(pose: np.ndarray) -> np.ndarray:
    # Camera frame (x right, y down, z forward) -> plot axes (x, depth, up).
    return np.stack([pose[..., 0], pose[..., 2], -pose[..., 1]], axis=-1)


def draw_skeleton_3d(ax: Any, pose: np.ndarray, skeleton: skeletons.Skeleton, **kw: Any) -> list[Any]:
    """Draws a (J, 3) camera-frame pose on a 3D ``ax`` (up is up); returns the artists."""
    colors = joint_colors(skeleton)
    p3 = _camera_to_plot(pose)
    artists = []
    for j, p in _bones(skeleton):
        (line,) = ax.plot(*p3[[j, p]].T, color=colors[j], lw=kw.get("lw", 2))
        artists.append(line)
    return artists


def _limits_2d(keypoints: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    # The person's box over every frame, square, with a margin (y down: limits reversed).
    lo, hi = keypoints.reshape(-1, 2).min(0), keypoints.reshape(-1, 2).max(0)
    center, half = (lo + hi) / 2, 0.6 * float((hi - lo).max()) + 1e-6
    return (center[0] - half, center[0] + half), (center[1] + half, center[1] - half)


def render_prediction(
    keypoints_2d: np.ndarray,
    poses_3d: np.ndarray,
    path: str | os.PathLike,
    *,
    skeleton: skeletons.Skeleton = skeletons.H36M,
    image_size: Sequence[int] | None = None,
    fps: float = 25.0,
    frame: int | None = None,
    stride: int = 1,
    dpi: int = 72,
    title: str = "",
) -> str:
    """Draws the 2D keypoints (T, J, 2, pixels) beside the 3D poses (T, J, 3, metres).

    ``path`` ending in ``.png`` (or ``.jpg``): a still of ``frame`` (default: the middle one).
    ``.gif``: an animation (pillow) of every ``stride``-th frame at ``fps / stride`` frames per
    second. ``.mp4``: the same through ffmpeg; without ffmpeg on the PATH a GIF is written beside
    it instead (with a warning); no suffix: ``.gif`` is added. Returns the path written.
    """
    keypoints_2d, poses_3d = np.asarray(keypoints_2d), np.asarray(poses_3d)
    if keypoints_2d.shape[0] != poses_3d.shape[0] or keypoints_2d.ndim != 3 or poses_3d.ndim != 3:
        raise ValueError(
            f"expected keypoints_2d (T, J, 2) and poses_3d (T, J, 3) of the same T, got "
            f"{keypoints_2d.shape} and {poses_3d.shape}"
        )
    path = os.fspath(path)
    if not os.path.splitext(path)[1]:
        path += ".gif"  # animations are GIFs unless asked otherwise
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".gif", ".mp4", ".png", ".jpg"):
        raise ValueError(f"--render {path}: expected a .gif, .mp4 or .png file name")
    if ext == ".mp4" and shutil.which("ffmpeg") is None:
        path, ext = os.path.splitext(path)[0] + ".gif", ".gif"
        warnings.warn(
            f"ffmpeg is not on the PATH: writing the animation as {path}", UserWarning, stacklevel=2
        )
    plt = _pyplot()
    t_total = len(poses_3d)
    fig = plt.figure(figsize=(7.0, 3.5))
    ax2 = fig.add_subplot(1, 2, 1)
    ax3 = fig.add_subplot(1, 2, 2, projection="3d")
    xlim, ylim = _limits_2d(keypoints_2d)
    p3 = _camera_to_plot(poses_3d)
    radius = min(max(float(np.abs(p3).max()), 0.5), 1.2)  # metres around the root

    def draw(t: int) -> None:
        ax2.clear()
        ax3.clear()
        draw_skeleton_2d(ax2, keypoints_2d[t], skeleton)
        ax2.set_xlim(*xlim)
        ax2.set_ylim(*ylim)
        ax2.set_aspect("equal")
        size = f" of {image_size[0]}x{image_size[1]}" if image_size is not None else ""
        ax2.set_title(f"2D keypoints (pixels{size}), frame {t}", fontsize=8)
        ax2.tick_params(labelsize=6)
        draw_skeleton_3d(ax3, poses_3d[t], skeleton)
        ax3.set_xlim(-radius, radius)
        ax3.set_ylim(-radius, radius)
        ax3.set_zlim(-radius, radius)
        ax3.set_box_aspect((1, 1, 1), zoom=1.35)
        ax3.view_init(elev=15, azim=-70)
        ax3.set_title("3D prediction (m)", fontsize=8)
        ax3.set_xticklabels([])
        ax3.set_yticklabels([])
        ax3.set_zticklabels([])

    try:
        if title:
            fig.suptitle(title, fontsize=8)
        if ext in (".png", ".jpg"):
            t = t_total // 2 if frame is None else frame
            if not 0 <= t < t_total:
                raise ValueError(f"frame {t} is outside the {t_total} frames")
            draw(t)
            fig.tight_layout()
            fig.savefig(path, dpi=dpi)
            return path
        from matplotlib import animation

        frames = list(range(0, t_total, max(int(stride), 1)))
        anim = animation.FuncAnimation(fig, draw, frames=frames, interval=1000 * stride / fps)
        out_fps = max(fps / max(stride, 1), 1)
        writer = animation.PillowWriter(fps=out_fps) if ext == ".gif" else animation.FFMpegWriter(fps=out_fps)
        fig.tight_layout()
        anim.save(path, writer=writer, dpi=dpi)
        return path
    finally:
        plt.close(fig)
