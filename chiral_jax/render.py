"""Pictures of poses with matplotlib (imported lazily, Agg backend when nothing else is set up).

* :func:`draw_skeleton_2d` / :func:`draw_skeleton_3d`: one pose on a matplotlib axis, left joints
  blue, right red, centre grey (the mirror partition of the skeleton);
* :func:`render_prediction`: 2D keypoints beside the lifted 3D pose, as an animated GIF (pillow),
  an MP4 (when ffmpeg is on the PATH) or a still PNG of one frame; several people: every one in the
  2D panel (numbered) and one 3D panel each.

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
    # The people's box over every frame, square, with a margin (y down: limits reversed).
    lo, hi = np.nanmin(keypoints.reshape(-1, 2), 0), np.nanmax(keypoints.reshape(-1, 2), 0)
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

    Several people: keypoints (P, T, J, 2) and poses (P, T, J, 3), NaN in the frames where a person
    is absent; all of them in the 2D panel (numbered 0 .. P - 1), then one 3D panel each.

    ``path`` ending in ``.png`` (or ``.jpg``): a still of ``frame`` (default: the middle one).
    ``.gif``: an animation (pillow) of every ``stride``-th frame at ``fps / stride`` frames per
    second. ``.mp4``: the same through ffmpeg; without ffmpeg on the PATH a GIF is written beside
    it instead (with a warning); no suffix: ``.gif`` is added. Returns the path written.
    """
    keypoints_2d, poses_3d = np.asarray(keypoints_2d), np.asarray(poses_3d)
    several = keypoints_2d.ndim == 4
    if several:  # (P, T, J, .)
        ok = poses_3d.ndim == 4 and keypoints_2d.shape[:3] == poses_3d.shape[:3] and len(poses_3d) > 0
    else:
        ok = keypoints_2d.shape[0] == poses_3d.shape[0] and keypoints_2d.ndim == 3 and poses_3d.ndim == 3
    if not ok:
        raise ValueError(
            f"expected keypoints_2d (T, J, 2) and poses_3d (T, J, 3) of the same T (several people: "
            f"(P, T, J, 2) and (P, T, J, 3)), got {keypoints_2d.shape} and {poses_3d.shape}"
        )
    kp_people = keypoints_2d if several else keypoints_2d[None]
    pose_people = poses_3d if several else poses_3d[None]
    present = np.isfinite(pose_people).all(axis=(2, 3)) & np.isfinite(kp_people).all(axis=(2, 3))
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
    people, t_total = pose_people.shape[:2]
    fig = plt.figure(figsize=(3.5 * (1 + people), 3.5))
    ax2 = fig.add_subplot(1, 1 + people, 1)
    axes3 = [fig.add_subplot(1, 1 + people, 2 + k, projection="3d") for k in range(people)]
    xlim, ylim = _limits_2d(kp_people[present])
    p3 = _camera_to_plot(pose_people[present])
    radius = min(max(float(np.abs(p3).max()), 0.5), 1.2)  # metres around the root

    def draw(t: int) -> None:
        ax2.clear()
        for k in range(people):
            if present[k, t]:
                draw_skeleton_2d(ax2, kp_people[k, t], skeleton)
                if several:
                    top = kp_people[k, t][np.argmin(kp_people[k, t, :, 1])]
                    ax2.annotate(
                        str(k), top, xytext=(0, 4), textcoords="offset points", fontsize=7, ha="center"
                    )
        ax2.set_xlim(*xlim)
        ax2.set_ylim(*ylim)
        ax2.set_aspect("equal")
        size = f" of {image_size[0]}x{image_size[1]}" if image_size is not None else ""
        ax2.set_title(f"2D keypoints (pixels{size}), frame {t}", fontsize=8)
        ax2.tick_params(labelsize=6)
        for k, ax3 in enumerate(axes3):
            ax3.clear()
            if present[k, t]:
                draw_skeleton_3d(ax3, pose_people[k, t], skeleton)
            ax3.set_xlim(-radius, radius)
            ax3.set_ylim(-radius, radius)
            ax3.set_zlim(-radius, radius)
            ax3.set_box_aspect((1, 1, 1), zoom=1.35)
            ax3.view_init(elev=15, azim=-70)
            ax3.set_title(f"person {k}, 3D (m)" if several else "3D prediction (m)", fontsize=8)
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
