"""Writers of small files in VideoPose3D's npz format (Human3.6M, HumanEva), for tests and demos.

The real datasets are licensed; these fixtures have the exact structure (pickled dicts in
``np.savez_compressed`` archives) with synthetic content: 3D points near the capture area and, for
Human3.6M, 2D obtained by projecting them with the published cameras (a ``gt``-like source).
"""

from pathlib import Path

__all__ = ["H36M_ACTIONS", "HUMANEVA_ACTIONS", "body_motion", "write_h36m", "write_humaneva"]

import numpy as np

from chiral_jax.data.cameras import h36m_cameras, project_to_pixels, world_to_camera
from chiral_jax.skeletons import H36M32_TO_17


def body_motion(frames: int, joints: int, seed: int) -> np.ndarray:
    """(frames, joints, 3) float32 world points around (0, 0, 1) m, moving smoothly."""
    rng = np.random.default_rng(seed)
    base = rng.normal(scale=0.3, size=(1, joints, 3)) + np.array([0.0, 0.0, 1.0])
    drift = np.cumsum(rng.normal(scale=0.005, size=(frames, 1, 3)), axis=0)
    return (base + drift).astype(np.float32)


H36M_ACTIONS = {"S1": {"Walking 1": 40, "Directions": 25}, "S9": {"Walking": 30}}


def write_h36m(folder: Path, source: str = "gt", extra_2d_frames: int = 3) -> dict:
    """data_3d_h36m.npz (32 joints) + data_2d_h36m_<source>.npz (projected, a few frames longer)."""
    cams = h36m_cameras()
    pos3, pos2 = {}, {}
    for si, (subject, actions) in enumerate(H36M_ACTIONS.items()):
        pos3[subject], pos2[subject] = {}, {}
        for ai, (action, n) in enumerate(actions.items()):
            world = body_motion(n + extra_2d_frames, 32, seed=10 * si + ai)
            pos3[subject][action] = world[:n]
            views = []
            for cam in cams[subject]:
                x_cam = world_to_camera(world[:, list(H36M32_TO_17)], cam)
                views.append(project_to_pixels(x_cam, cam).astype(np.float32))
            pos2[subject][action] = views
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / "data_3d_h36m.npz", positions_3d=pos3)
    meta = {
        "layout_name": "h36m",
        "num_joints": 17,
        "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]],
    }
    np.savez_compressed(folder / f"data_2d_h36m_{source}.npz", positions_2d=pos2, metadata=meta)
    return pos3


HUMANEVA_ACTIONS = {
    "Train/S1": {"Walking 1 chunk0": 20, "Box 1 chunk0": 15},
    "Validate/S2": {"Jog 1 chunk0": 12},
}


def write_humaneva(folder: Path, source: str = "gt") -> dict:
    """data_3d_humaneva15.npz + data_2d_humaneva15_<source>.npz (random 2D; one view missing in Validate)."""
    pos3, pos2 = {}, {}
    for si, (subject, actions) in enumerate(HUMANEVA_ACTIONS.items()):
        pos3[subject], pos2[subject] = {}, {}
        for ai, (action, n) in enumerate(actions.items()):
            pos3[subject][action] = body_motion(n, 15, seed=100 + 10 * si + ai)
            rng = np.random.default_rng(si * 7 + ai)
            views = [rng.uniform(0, 480, size=(n + 2, 15, 2)).astype(np.float32) for _ in range(3)]
            if subject == "Validate/S2":
                views[2] = None  # a missing view, as in some detection files
            pos2[subject][action] = views
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / "data_3d_humaneva15.npz", positions_3d=pos3)
    np.savez_compressed(
        folder / f"data_2d_humaneva15_{source}.npz",
        positions_2d=pos2,
        metadata={"layout_name": "humaneva15", "num_joints": 15},
    )
    return pos3
