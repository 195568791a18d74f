"""Readers for VideoPose3D's npz files (``data_3d_<name>.npz``, ``data_2d_<name>_<source>.npz``).

Both are ``np.savez_compressed`` archives of pickled dicts: ``positions_3d`` =
{subject: {action: (T, J, 3) world metres}} and ``positions_2d`` = {subject: {action: [one (T, J, 2)
pixel array per camera]}}, plus ``metadata`` in the 2D file. These helpers load and validate them,
raising :class:`~chiral_jax.data.errors.DatasetFileError` subclasses whose message names the path,
the expected content and where to get it.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from chiral_jax.data.cameras import Camera, world_to_camera
from chiral_jax.data.errors import malformed, missing
from chiral_jax.data.sequence import PoseSequence, from_camera_frame

__all__ = ["VIDEOPOSE3D_HELP", "expected_2d", "expected_3d", "read_npz_dict", "sequences_from_npz"]

VIDEOPOSE3D_HELP = (
    "VideoPose3D's data preparation instructions, "
    "https://github.com/facebookresearch/VideoPose3D/blob/main/DATASETS.md "
    "(data/prepare_data_h36m.py and prepare_data_humaneva.py write these files from the licensed "
    "datasets; 2D detections are downloaded from the links there)"
)


def expected_3d(filename: str, joints: int) -> str:
    return (
        f"{filename}: np.savez_compressed archive, key 'positions_3d' = "
        f"{{subject: {{action: float32 (T, {joints}, 3) world metres}}}}"
    )


def expected_2d(filename: str, joints: int, cameras: int) -> str:
    return (
        f"{filename}: np.savez_compressed archive, keys 'positions_2d' = {{subject: {{action: "
        f"[{cameras} float32 (T, {joints}, 2) pixel arrays, one per camera]}}}} and 'metadata'"
    )


def read_npz_dict(path: Path, key: str, expected: str, source: str = VIDEOPOSE3D_HELP) -> dict[str, Any]:
    """``np.load(path, allow_pickle=True)[key].item()``, validated to be a {subject: {action: ...}} dict."""
    if not path.is_file():
        raise missing(path, expected, source)
    try:
        z = np.load(path, allow_pickle=True)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, pickle.UnpicklingError) as e:
        raise malformed(path, expected, source, f"can not read it as npz: {e}") from e
    with z:
        if not hasattr(z, "files") or key not in z.files:
            keys = list(getattr(z, "files", []))
            raise malformed(path, expected, source, f"no key {key!r}; keys: {keys}")
        try:
            value = z[key].item()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, pickle.UnpicklingError) as e:
            raise malformed(path, expected, source, f"can not read {key!r}: {e}") from e
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise malformed(path, expected, source, f"{key!r} is not a {{subject: {{action: ...}}}} dict")
    return value


def _check_array(x: Any, joints: int, dim: int, path: Path, expected: str, where: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 3 or arr.shape[1:] != (joints, dim) or not np.issubdtype(arr.dtype, np.floating):
        raise malformed(
            path,
            expected,
            VIDEOPOSE3D_HELP,
            f"{where} has shape {arr.shape} dtype {arr.dtype}, expected (T, {joints}, {dim}) float",
        )
    return arr


def sequences_from_npz(
    path_3d: Path,
    path_2d: Path,
    *,
    joints_3d: Sequence[int] | None,
    raw_joints: int,
    joints: int,
    cameras: Callable[[str], Sequence[Camera]],
    num_cameras: int,
    subjects: Sequence[str] | None = None,
    fps: float,
) -> list[PoseSequence]:
    """Reads a VideoPose3D 3D + 2D pair into one :class:`PoseSequence` per (subject, action, camera).

    Args:
      path_3d, path_2d: the two npz files.
      joints_3d: indices reducing the raw 3D joints to the 2D layout (None: already equal).
      raw_joints: joints in the 3D file (``len`` of the raw layout); files already holding
        ``joints`` are accepted too.
      joints: joints of the 2D layout.
      cameras: subject -> its cameras, in the 2D file's camera order.
      num_cameras: camera views per action in the 2D file (for messages).
      subjects: keep only these (default: every subject of the 3D file).
      fps: frame rate of the data.

    Sequences whose 2D and 3D lengths differ are trimmed to the shorter; a camera whose 2D entry is
    None or empty is skipped (some detection files lack a view).
    """
    exp3 = expected_3d(path_3d.name, raw_joints)
    exp2 = expected_2d(path_2d.name, joints, num_cameras)
    pos3 = read_npz_dict(path_3d, "positions_3d", exp3)
    pos2 = read_npz_dict(path_2d, "positions_2d", exp2)
    out: list[PoseSequence] = []
    subject_list = list(pos3) if subjects is None else list(subjects)
    for subject in subject_list:
        if subject not in pos3:
            raise malformed(path_3d, exp3, VIDEOPOSE3D_HELP, f"no subject {subject!r}; has {sorted(pos3)}")
        if subject not in pos2:
            raise malformed(path_2d, exp2, VIDEOPOSE3D_HELP, f"no subject {subject!r}; has {sorted(pos2)}")
        cams = cameras(subject)
        for action in sorted(pos3[subject]):
            raw = np.asarray(pos3[subject][action])
            n_raw = raw.shape[1] if raw.ndim == 3 else -1
            world = _check_array(
                raw,
                n_raw if n_raw in (raw_joints, joints) else raw_joints,
                3,
                path_3d,
                exp3,
                f"positions_3d[{subject!r}][{action!r}]",
            )
            if joints_3d is not None and world.shape[1] == raw_joints and raw_joints != joints:
                world = world[:, list(joints_3d)]
            if action not in pos2[subject]:
                raise malformed(path_2d, exp2, VIDEOPOSE3D_HELP, f"no 2D for {subject!r} / {action!r}")
            views = pos2[subject][action]
            if len(views) > len(cams):
                raise malformed(
                    path_2d,
                    exp2,
                    VIDEOPOSE3D_HELP,
                    f"{subject!r} / {action!r} has {len(views)} camera views, {len(cams)} cameras known",
                )
            for ci, view in enumerate(views):
                if view is None or np.size(view) == 0:
                    continue
                where = f"positions_2d[{subject!r}][{action!r}][{ci}]"
                px = _check_array(view, joints, 2, path_2d, exp2, where)
                n = min(len(px), len(world))
                cam = cams[ci]
                x_cam = world_to_camera(world[:n], cam)
                px = px[:n].astype(np.float32)  # normalized from float32 pixels, as stored
                out.append(from_camera_frame(x_cam, px, cam, subject=subject, action=action, fps=fps))
    return out
