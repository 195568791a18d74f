"""Human3.6M from Martinez et al.'s h5 layout (3d-pose-baseline's ``h36m.zip``): 3D poses + cameras.

Files, in one folder (the TFDS manual dir):

* ``S<N>/MyPoses/3D_positions/<take>.h5`` -- dataset ``3D_positions``, float (96, T): 32 joints x
  (x, y, z) per frame, world frame, millimetres, 50 Hz (a (T, 96) array is accepted too);
* ``cameras.h5`` -- the calibration (:func:`~chiral_jax.data.cameras.h36m_cameras_h5`).

This is the source VideoPose3D's ``prepare_data_h36m.py --from-archive`` converts to
``data_3d_h36m.npz`` + ``data_2d_h36m_gt.npz``, and the reader follows it step by step, so the
sequences equal those of the npz path with ``keypoints="gt"``: take names are the file stems
(``TakingPhoto`` / ``WalkingDog`` are renamed ``Photo`` / ``WalkDog`` as VideoPose3D does for the
original release's names), S11 ``Directions`` is left out (VideoPose3D discards it: corrupted video),
positions are divided by 1000 (metres), reduced to 17 joints
(:data:`~chiral_jax.skeletons.H36M32_TO_17`), moved into each camera's frame (``X_cam = R (X - T)``)
and projected with VideoPose3D's ``project_to_2d`` (radial ``k`` and tangential ``p`` distortion,
:func:`~chiral_jax.data.cameras.project_normalized`) to give the ground-truth 2D; pixels are then
normalised as on the npz path. The h5 layout has no 2D detections, so only ``keypoints="gt"``.

The release has 30 takes per subject (:data:`H36M_H5_TAKES`); takes absent from the folder are
skipped with one warning naming them (some public snapshots lack a few files).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from chiral_jax.data.cameras import (
    H36M_H5_HELP,
    Camera,
    h36m_cameras_h5,
    image_coordinates,
    intrinsics_vector,
    project_normalized,
    require_h5py,
    world_to_camera,
)
from chiral_jax.data.errors import malformed, missing
from chiral_jax.data.sequence import PoseSequence, from_camera_frame
from chiral_jax.skeletons import H36M32_TO_17

__all__ = [
    "H36M_H5_DISCARDED",
    "H36M_H5_SUBJECTS",
    "H36M_H5_TAKES",
    "canonical_take",
    "ground_truth_2d",
    "is_h36m_h5_layout",
    "load_h36m_h5",
    "read_positions_h5",
]

H36M_H5_SUBJECTS = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")
_POSES = "MyPoses/3D_positions"
_FPS = 50.0

# The 30 takes of each subject in Martinez et al.'s release (file stems), as VideoPose3D's converter
# expects them (it asserts 30 files per subject).
H36M_H5_TAKES: dict[str, tuple[str, ...]] = {
    s: tuple(t.strip() for t in takes.split(","))
    for s, takes in {
        "S1": "Directions, Directions 1, Discussion, Discussion 1, Eating, Eating 2, Greeting, Greeting 1, "
        "Phoning, Phoning 1, Photo, Photo 1, Posing, Posing 1, Purchases, Purchases 1, Sitting 1, "
        "Sitting 2, SittingDown, SittingDown 2, Smoking, Smoking 1, Waiting, Waiting 1, WalkDog, "
        "WalkDog 1, WalkTogether, WalkTogether 1, Walking, Walking 1",
        "S5": "Directions 1, Directions 2, Discussion 2, Discussion 3, Eating, Eating 1, Greeting 1, "
        "Greeting 2, Phoning, Phoning 1, Photo, Photo 2, Posing, Posing 1, Purchases, Purchases 1, "
        "Sitting, Sitting 1, SittingDown, SittingDown 1, Smoking, Smoking 1, Waiting 1, Waiting 2, "
        "WalkDog, WalkDog 1, WalkTogether, WalkTogether 1, Walking, Walking 1",
        "S6": "Directions, Directions 1, Discussion, Discussion 1, Eating 1, Eating 2, Greeting, "
        "Greeting 1, Phoning, Phoning 1, Photo, Photo 1, Posing, Posing 2, Purchases, Purchases 1, "
        "Sitting 1, Sitting 2, SittingDown, SittingDown 1, Smoking, Smoking 1, Waiting, Waiting 3, "
        "WalkDog, WalkDog 1, WalkTogether, WalkTogether 1, Walking, Walking 1",
        "S7": "Directions, Directions 1, Discussion, Discussion 1, Eating, Eating 1, Greeting, Greeting 1, "
        "Phoning, Phoning 2, Photo, Photo 1, Posing, Posing 1, Purchases, Purchases 1, Sitting, "
        "Sitting 1, SittingDown, SittingDown 1, Smoking, Smoking 1, Waiting 1, Waiting 2, WalkDog, "
        "WalkDog 1, WalkTogether, WalkTogether 1, Walking 1, Walking 2",
        "S8": "Directions, Directions 1, Discussion, Discussion 1, Eating, Eating 1, Greeting, Greeting 1, "
        "Phoning, Phoning 1, Photo, Photo 1, Posing, Posing 1, Purchases, Purchases 1, Sitting, "
        "Sitting 1, SittingDown, SittingDown 1, Smoking, Smoking 1, Waiting, Waiting 1, WalkDog, "
        "WalkDog 1, WalkTogether 1, WalkTogether 2, Walking, Walking 1",
        "S9": "Directions, Directions 1, Discussion 1, Discussion 2, Eating, Eating 1, Greeting, Greeting 1, "
        "Phoning, Phoning 1, Photo, Photo 1, Posing, Posing 1, Purchases, Purchases 1, Sitting, "
        "Sitting 1, SittingDown, SittingDown 1, Smoking, Smoking 1, Waiting, Waiting 1, WalkDog, "
        "WalkDog 1, WalkTogether, WalkTogether 1, Walking, Walking 1",
        "S11": "Directions, Directions 1, Discussion 1, Discussion 2, Eating, Eating 1, Greeting, "
        "Greeting 2, Phoning 2, Phoning 3, Photo, Photo 1, Posing, Posing 1, Purchases, Purchases 1, "
        "Sitting, Sitting 1, SittingDown, SittingDown 1, Smoking, Smoking 2, Waiting, Waiting 1, "
        "WalkDog, WalkDog 1, WalkTogether, WalkTogether 1, Walking, Walking 1",
    }.items()
}

H36M_H5_DISCARDED = frozenset({("S11", "Directions")})
"""(subject, take) pairs VideoPose3D leaves out (S11 Directions: its video is corrupted)."""

_ALIASES = (("TakingPhoto", "Photo"), ("WalkingDog", "WalkDog"))

_EXPECTED_3D = (
    "<subject>/MyPoses/3D_positions/<take>.h5: HDF5 dataset '3D_positions', float (96, T) = 32 joints "
    "x (x, y, z) per frame, world frame, millimetres"
)


def canonical_take(take: str) -> str:
    """VideoPose3D's take names: ``"TakingPhoto 1"`` -> ``"Photo 1"``, ``"WalkingDog"`` -> ``"WalkDog"``."""
    for old, new in _ALIASES:
        if take == old or take.startswith(old + " "):
            return new + take[len(old) :]
    return take


def is_h36m_h5_layout(manual_dir: str | Path) -> bool:
    """Whether ``manual_dir`` holds (part of) Martinez's layout: ``cameras.h5`` or
    ``S*/MyPoses/3D_positions/*.h5`` (the reader then names whatever of the two is missing)."""
    d = Path(manual_dir)
    return (d / "cameras.h5").is_file() or any(d.glob(f"S*/{_POSES}/*.h5"))


def read_positions_h5(path: str | Path) -> np.ndarray:
    """One take's file -> (T, 32, 3) float64 world positions in metres.

    Raises:
      MissingDatasetFile / MalformedDatasetFile: naming the path, what it holds and what was expected.
    """
    path = Path(path)
    if not path.is_file():
        raise missing(path, _EXPECTED_3D, H36M_H5_HELP)
    h5py = require_h5py()
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise malformed(path, _EXPECTED_3D, H36M_H5_HELP, f"can not read it as HDF5: {e}") from e
    with f:
        if "3D_positions" not in f or not isinstance(f["3D_positions"], h5py.Dataset):
            raise malformed(path, _EXPECTED_3D, H36M_H5_HELP, f"no dataset '3D_positions'; keys: {list(f)}")
        raw = np.asarray(f["3D_positions"])
    if not np.issubdtype(raw.dtype, np.floating) or raw.ndim != 2 or 96 not in raw.shape:
        raise malformed(
            path,
            _EXPECTED_3D,
            H36M_H5_HELP,
            f"'3D_positions' is {raw.dtype} {raw.shape}, expected float (96, T)",
        )
    # Martinez's files are (96, T) (VideoPose3D: reshape(32, 3, -1).transpose(2, 0, 1)); a (T, 96)
    # array is read as frames x coordinates.
    frames = raw.T if raw.shape[0] == 96 else raw
    return frames.reshape(-1, 32, 3).astype(np.float64) / 1000.0


def ground_truth_2d(x_cam: np.ndarray, camera: Camera) -> np.ndarray:
    """VideoPose3D's ground-truth 2D: camera-frame (T, J, 3) metres -> (T, J, 2) float32 pixels.

    ``project_to_2d`` (distortion included, ``x/z`` clipped to [-1, 1]) on the normalised
    intrinsics, then ``image_coordinates``, as its ``prepare_data_h36m.py`` writes
    ``data_2d_h36m_gt.npz``.
    """
    xy = project_normalized(x_cam, intrinsics_vector(camera))
    return image_coordinates(xy, camera.res_w, camera.res_h).astype(np.float32)


def _missing_takes(root: Path, subjects: Sequence[str]) -> list[str]:
    out = []
    for s in subjects:
        found = {canonical_take(p.stem) for p in (root / s / _POSES).glob("*.h5")}
        out += [f"{s}/{take}" for take in H36M_H5_TAKES.get(s, ()) if take not in found]
    return out


def load_h36m_h5(
    manual_dir: str | Path,
    *,
    subjects: Sequence[str] | None = None,
) -> list[PoseSequence]:
    """One :class:`PoseSequence` per (subject, take, camera), subjects in :data:`H36M_H5_SUBJECTS`
    order (others after them, sorted), takes sorted by name, cameras in ``cameras.h5`` id order.

    Args:
      manual_dir: the folder holding ``cameras.h5`` and the ``S*/`` folders.
      subjects: only these (default: every ``S*`` folder with a ``MyPoses/3D_positions`` folder).

    Warns once (UserWarning) naming the takes of :data:`H36M_H5_TAKES` absent from the folder.

    Raises:
      MissingDatasetFile / MalformedDatasetFile: naming the path, the expected format and where to get it.
      ImportError: without h5py (``pip install 'chiral_jax[h36m]'``).
    """
    root = Path(manual_dir)
    cams = h36m_cameras_h5(root / "cameras.h5")
    found = [p.parent.parent.name for p in sorted(root.glob(f"S*/{_POSES}")) if p.is_dir()]
    order = {s: i for i, s in enumerate(H36M_H5_SUBJECTS)}
    subject_list = (
        sorted(found, key=lambda s: (order.get(s, len(order)), s)) if subjects is None else list(subjects)
    )
    if not subject_list:
        raise missing(root / f"S*/{_POSES}", _EXPECTED_3D, H36M_H5_HELP)
    for s in subject_list:
        if not (root / s / _POSES).is_dir():
            raise missing(root / s / _POSES, _EXPECTED_3D, H36M_H5_HELP)
        if s not in cams:
            raise malformed(
                root / "cameras.h5",
                "cameras.h5 with a group per subject",
                H36M_H5_HELP,
                f"no cameras for {s!r}",
            )
    absent = _missing_takes(root, subject_list if subjects is not None else H36M_H5_SUBJECTS)
    if absent:
        shown = ", ".join(absent[:12]) + (f", ... ({len(absent) - 12} more)" if len(absent) > 12 else "")
        warnings.warn(
            f"Human3.6M h5 layout in {root}: {len(absent)} of the release's 3D files are absent and "
            f"skipped: {shown}",
            stacklevel=2,
        )
    out: list[PoseSequence] = []
    for subject in subject_list:
        takes = {}
        for path in sorted((root / subject / _POSES).glob("*.h5")):
            take = canonical_take(path.stem)
            if (subject, take) not in H36M_H5_DISCARDED:
                takes[take] = path
        for take in sorted(takes):
            world = read_positions_h5(takes[take])[:, list(H36M32_TO_17)]
            for cam in cams[subject]:
                x_cam = world_to_camera(world, cam)
                px = ground_truth_2d(x_cam, cam)
                out.append(from_camera_frame(x_cam, px, cam, subject=subject, action=take, fps=_FPS))
    return out
