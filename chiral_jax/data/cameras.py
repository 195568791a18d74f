"""Pinhole cameras with the Human3.6M distortion model; world <-> camera <-> pixel transforms.

Conventions (those of ``cameras_h36m.json``, carried here as package data):

* ``X_cam = R @ (X_world - T)``: ``R`` is the world -> camera rotation (rows: the camera's x, y, z
  axes in world coordinates), ``T`` the camera centre in world coordinates, metres.
* Camera axes: x right, y down, z forward (points in front have ``X_cam[2] > 0``).
* Projection with the H36M calibration's distortion: ``x = X/Z, y = Y/Z, r2 = x^2 + y^2``,
  ``radial = 1 + k1 r2 + k2 r2^2 + k3 r2^3``, ``tan = p[0] y + p[1] x``,
  ``x_d = x (radial + tan) + p[1] r2``, ``y_d = y (radial + tan) + p[0] r2``,
  ``u = fx x_d + cx``, ``v = fy y_d + cy`` (``p`` in the order of ``cameras.h5``).
* Normalized screen coordinates (VideoPose3D): ``u / w * 2 - 1``, ``v / w * 2 - h / w``.
* :func:`intrinsics_vector` gives VideoPose3D's 9 normalized intrinsics
  ``[fx/w*2, fy/w*2, cx_n, cy_n, k1, k2, k3, p_a, p_b]`` with ``(p_a, p_b) = (p[1], p[0])``; the
  mirror negates ``cx_n`` and ``p_a`` (see :func:`chiral_jax.data.augment.mirror_intrinsics`).

Martinez et al.'s ``cameras.h5`` (:func:`h36m_cameras_h5`, needs ``h5py``) holds the same calibration
in its own layout: group ``subject<N>/camera<i>`` (i = 1..4) with ``R`` (3, 3) stored transposed
(camera -> world as h5py reads it), ``T`` (3, 1) millimetres, ``f``, ``c`` (2, 1), ``k`` (3, 1),
``p`` (2, 1) and ``Name`` (8, 1) character codes of the camera id; no image sizes.

HumanEva's file (``cameras_humaneva.json``) gives extrinsics as a unit quaternion ``(w, x, y, z)``
(camera -> world) and the camera centre in millimetres; it has no intrinsics (VideoPose3D trains
HumanEva without them), so those cameras have ``focal = center = None``.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import json
from pathlib import Path
from typing import Any

import numpy as np

from chiral_jax import rotations

__all__ = [
    "H36M_CAMERA_IDS",
    "HUMANEVA_CAMERA_IDS",
    "Camera",
    "back_project",
    "camera_to_world",
    "distort",
    "h36m_cameras",
    "h36m_cameras_h5",
    "humaneva_cameras",
    "image_coordinates",
    "intrinsics_vector",
    "look_at_camera",
    "normalize_screen_coordinates",
    "project_normalized",
    "project_to_pixels",
    "quaternion_to_matrix",
    "undistort",
    "virtual_cameras",
    "world_to_camera",
]

H36M_CAMERA_IDS = ("54138969", "55011271", "58860488", "60457274")
# Video sizes (w, h) per camera; not stored in cameras.h5 (the same as cameras_h36m.json's res_w/res_h).
H36M_RESOLUTION = {
    "54138969": (1000, 1002),
    "55011271": (1000, 1000),
    "58860488": (1000, 1000),
    "60457274": (1000, 1002),
}
H5PY_HELP = "reading Human3.6M's h5 files needs h5py: pip install 'chiral_jax[h36m]' (or pip install h5py)"
HUMANEVA_CAMERA_IDS = ("C1", "C2", "C3")

# Human3.6M-like intrinsics for virtual cameras (the mean of the published calibrations, rounded).
H36M_LIKE_FOCAL = (1145.0, 1144.0)
H36M_LIKE_CENTER = (512.0, 515.0)
H36M_LIKE_RES = (1000, 1000)


@dataclasses.dataclass(frozen=True, eq=False)
class Camera:
    """One calibrated camera.

    Attributes:
      id: camera name ("54138969", "C1", "virtual0", ...).
      res_w, res_h: image size in pixels.
      R: (3, 3) world -> camera rotation.
      T: (3,) camera centre in world coordinates, metres.
      focal: (2,) fx, fy in pixels, or None when unknown.
      center: (2,) principal point cx, cy in pixels, or None when unknown.
      k: (3,) radial distortion k1..k3.
      p: (2,) tangential distortion in ``cameras.h5`` order (see the module docstring).
    """

    id: str
    res_w: int
    res_h: int
    R: np.ndarray
    T: np.ndarray
    focal: np.ndarray | None = None
    center: np.ndarray | None = None
    k: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(3))
    p: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(2))

    def __post_init__(self) -> None:
        object.__setattr__(self, "R", np.asarray(self.R, dtype=np.float64).reshape(3, 3))
        object.__setattr__(self, "T", np.asarray(self.T, dtype=np.float64).reshape(3))
        for name, n in (("focal", 2), ("center", 2)):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, np.asarray(v, dtype=np.float64).reshape(n))
        object.__setattr__(self, "k", np.asarray(self.k, dtype=np.float64).reshape(3))
        object.__setattr__(self, "p", np.asarray(self.p, dtype=np.float64).reshape(2))

    @property
    def has_intrinsics(self) -> bool:
        return self.focal is not None and self.center is not None

    def _require_intrinsics(self) -> None:
        if not self.has_intrinsics:
            raise ValueError(f"camera {self.id!r} has no intrinsics (focal/center unknown)")


def quaternion_to_matrix(q: Any) -> np.ndarray:
    """Unit quaternion ``(w, x, y, z)`` -> (3, 3) rotation matrix (active rotation)."""
    return rotations.quaternion_to_matrix(np.asarray(q, dtype=np.float64))


def world_to_camera(x_world: Any, camera: Camera) -> np.ndarray:
    """(..., 3) world points -> (..., 3) camera-frame points, ``R (X - T)``."""
    x = np.asarray(x_world, dtype=np.float64)
    return (x - camera.T) @ camera.R.T


def camera_to_world(x_cam: Any, camera: Camera) -> np.ndarray:
    """Inverse of :func:`world_to_camera`: ``R^T X_cam + T``."""
    x = np.asarray(x_cam, dtype=np.float64)
    return x @ camera.R + camera.T


def distort(xy: np.ndarray, k: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The H36M distortion of normalized image coordinates (..., 2) (``p`` in ``cameras.h5`` order)."""
    x, y = xy[..., 0], xy[..., 1]
    r2 = x * x + y * y
    radial = 1 + k[0] * r2 + k[1] * r2**2 + k[2] * r2**3
    tan = p[0] * y + p[1] * x
    xd = x * (radial + tan) + p[1] * r2
    yd = y * (radial + tan) + p[0] * r2
    return np.stack([xd, yd], axis=-1)


def undistort(xy_d: np.ndarray, k: np.ndarray, p: np.ndarray, iterations: int = 50) -> np.ndarray:
    """Inverse of :func:`distort` by Newton iterations (exact to ~1e-12 for H36M's mild distortion)."""
    xy_d = np.asarray(xy_d, dtype=np.float64)
    xy = xy_d.copy()
    eps = 1e-7
    for _ in range(iterations):
        f = distort(xy, k, p) - xy_d
        # 2x2 Jacobian by central differences, per point.
        ex, ey = np.array([eps, 0.0]), np.array([0.0, eps])
        jx = (distort(xy + ex, k, p) - distort(xy - ex, k, p)) / (2 * eps)
        jy = (distort(xy + ey, k, p) - distort(xy - ey, k, p)) / (2 * eps)
        a, b, c, d = jx[..., 0], jy[..., 0], jx[..., 1], jy[..., 1]
        det = a * d - b * c
        dx = (d * f[..., 0] - b * f[..., 1]) / det
        dy = (-c * f[..., 0] + a * f[..., 1]) / det
        xy = xy - np.stack([dx, dy], axis=-1)
        if np.max(np.abs(f)) < 1e-14:
            break
    return xy


def project_to_pixels(x_cam: Any, camera: Camera, *, apply_distortion: bool = True) -> np.ndarray:
    """(..., 3) camera-frame points -> (..., 2) pixel coordinates."""
    camera._require_intrinsics()
    x = np.asarray(x_cam, dtype=np.float64)
    xy = x[..., :2] / x[..., 2:3]
    if apply_distortion:
        xy = distort(xy, camera.k, camera.p)
    return xy * camera.focal + camera.center


def back_project(uv: Any, depth: Any, camera: Camera, *, apply_distortion: bool = True) -> np.ndarray:
    """Inverse of :func:`project_to_pixels` given each point's depth ``Z``: (..., 2), (...) -> (..., 3)."""
    camera._require_intrinsics()
    xy = (np.asarray(uv, dtype=np.float64) - camera.center) / camera.focal
    if apply_distortion:
        xy = undistort(xy, camera.k, camera.p)
    z = np.asarray(depth, dtype=np.float64)[..., None]
    return np.concatenate([xy * z, z], axis=-1)


def normalize_screen_coordinates(uv: Any, w: int, h: int) -> np.ndarray:
    """Pixels (..., 2) -> VideoPose3D's normalized coordinates: x in [-1, 1], aspect kept."""
    uv = np.asarray(uv)
    out = uv / w * 2 - np.array([1, h / w], dtype=np.float64)
    return out.astype(uv.dtype if np.issubdtype(uv.dtype, np.floating) else np.float64)


def image_coordinates(xy: Any, w: int, h: int) -> np.ndarray:
    """Inverse of :func:`normalize_screen_coordinates`."""
    xy = np.asarray(xy)
    out = (xy + np.array([1, h / w], dtype=np.float64)) * w / 2
    return out.astype(xy.dtype if np.issubdtype(xy.dtype, np.floating) else np.float64)


def intrinsics_vector(camera: Camera) -> np.ndarray:
    """VideoPose3D's normalized intrinsics (9,) float32: ``[f/w*2 (2), c_n (2), k (3), p_a, p_b]``.

    Zeros (with ``c_n = 0``) for a camera without intrinsics.
    """
    if not camera.has_intrinsics:
        return np.zeros(9, dtype=np.float32)
    f = camera.focal / camera.res_w * 2
    c = normalize_screen_coordinates(camera.center, camera.res_w, camera.res_h)
    return np.concatenate([f, c, camera.k, camera.p[::-1]]).astype(np.float32)


def camera_from_intrinsics(camera_id: str, intrinsics: Any, res_w: int, res_h: int) -> Camera:
    """Inverse of :func:`intrinsics_vector` for a camera of size ``res_w`` x ``res_h``.

    The extrinsics are not part of the vector: the camera gets ``R = I`` and ``T = 0`` (poses
    stored per camera are already in its frame). An all-zero vector gives a camera without
    intrinsics.
    """
    v = np.asarray(intrinsics, dtype=np.float64).reshape(9)
    kwargs: dict[str, Any] = {}
    if np.any(v):
        kwargs = {
            "focal": v[:2] * res_w / 2,
            "center": image_coordinates(v[2:4], res_w, res_h),
            "k": v[4:7],
            "p": v[7:9][::-1],
        }
    return Camera(str(camera_id), int(res_w), int(res_h), np.eye(3), np.zeros(3), **kwargs)


def project_normalized(x_cam: Any, intrinsics: Any) -> np.ndarray:
    """VideoPose3D's ``project_to_2d``: camera-frame (..., 3) + (..., 9) intrinsics -> normalized (..., 2).

    ``intrinsics`` broadcasts against the leading axes of ``x_cam`` without its joint axis, i.e.
    pass (..., 9) for points (..., J, 3).
    """
    x = np.asarray(x_cam, dtype=np.float64)
    c = np.asarray(intrinsics, dtype=np.float64)[..., None, :]
    f, ctr, k, pp = c[..., :2], c[..., 2:4], c[..., 4:7], c[..., 7:9]
    xx = np.clip(x[..., :2] / x[..., 2:3], -1, 1)
    r2 = np.sum(xx**2, axis=-1, keepdims=True)
    radial = 1 + np.sum(k * np.concatenate([r2, r2**2, r2**3], axis=-1), axis=-1, keepdims=True)
    tan = np.sum(pp * xx, axis=-1, keepdims=True)
    xxx = xx * (radial + tan) + pp * r2
    return f * xxx + ctr


def look_at_camera(
    position: Any,
    target: Any,
    *,
    camera_id: str = "virtual",
    focal: tuple[float, float] = H36M_LIKE_FOCAL,
    center: tuple[float, float] = H36M_LIKE_CENTER,
    res: tuple[int, int] = H36M_LIKE_RES,
) -> Camera:
    """A distortion-free camera at ``position`` looking at ``target`` (world z up, no roll)."""
    c = np.asarray(position, dtype=np.float64)
    fwd = np.asarray(target, dtype=np.float64) - c
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    if np.linalg.norm(right) < 1e-8:
        raise ValueError("look_at_camera: viewing direction parallel to the world's up axis")
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    r = np.stack([right, down, fwd])  # rows: camera x (right), y (down), z (forward)
    return Camera(camera_id, res[0], res[1], r, c, np.array(focal), np.array(center))


def virtual_cameras(
    num: int = 4,
    *,
    radius: float = 5.0,
    height: float = 1.6,
    target: Any = (0.0, 0.0, 1.0),
    azimuth_offset_deg: float = 45.0,
    **intrinsics: Any,
) -> list[Camera]:
    """``num`` H36M-like cameras evenly spaced on a circle around ``target`` (world z up)."""
    tgt = np.asarray(target, dtype=np.float64)
    cams = []
    for i in range(num):
        a = np.deg2rad(azimuth_offset_deg + 360.0 * i / num)
        pos = tgt + np.array([radius * np.cos(a), radius * np.sin(a), 0.0])
        pos[2] = height
        cams.append(look_at_camera(pos, tgt, camera_id=f"virtual{i}", **intrinsics))
    return cams


def _read_json(path: str | Path | None, name: str) -> dict[str, Any]:
    if path is None:
        text = importlib.resources.files("chiral_jax.data").joinpath(name).read_text()
    else:
        text = Path(path).read_text()
    return json.loads(text)


@functools.cache
def _h36m_cameras_cached(path: str | None) -> dict[str, tuple[Camera, ...]]:
    d = _read_json(path, "cameras_h36m.json")
    out = {}
    for subject, cams in d["subjects"].items():
        out[subject] = tuple(
            Camera(c["id"], c["res_w"], c["res_h"], c["R"], c["T"], c["focal"], c["center"], c["k"], c["p"])
            for c in cams
        )
    return out


def h36m_cameras(path: str | Path | None = None) -> dict[str, tuple[Camera, ...]]:
    """{subject: 4 cameras in :data:`H36M_CAMERA_IDS` order}, from the package's copy by default."""
    return _h36m_cameras_cached(None if path is None else str(path))


@functools.cache
def _humaneva_cameras_cached(path: str | None) -> dict[str, tuple[Camera, ...]]:
    d = _read_json(path, "cameras_humaneva.json")
    out = {}
    for subject, cams in d["extrinsics"].items():
        lst = []
        for c in cams:
            w, h = d["resolution"][c["id"]]
            r_cam_to_world = quaternion_to_matrix(c["orientation"])
            lst.append(Camera(c["id"], w, h, r_cam_to_world.T, np.asarray(c["translation_mm"]) / 1000.0))
        out[subject] = tuple(lst)
    return out


def humaneva_cameras(path: str | Path | None = None) -> dict[str, tuple[Camera, ...]]:
    """{subject ("S1".."S3"): 3 cameras C1..C3}; extrinsics only (no intrinsics in the source)."""
    return _humaneva_cameras_cached(None if path is None else str(path))


def require_h5py() -> Any:
    """The ``h5py`` module, or an ImportError naming the extra that installs it."""
    try:
        import h5py
    except ImportError as e:
        raise ImportError(H5PY_HELP) from e
    return h5py


H36M_CAMERAS_H5_EXPECTED = (
    "cameras.h5 (Martinez et al.'s 3d-pose-baseline layout): groups subject<N>/camera<1..4> with "
    "datasets R (3, 3), T (3, 1) mm, f (2, 1), c (2, 1), k (3, 1), p (2, 1), Name (8, 1)"
)
H36M_H5_HELP = (
    "Martinez et al.'s preprocessed Human3.6M (https://github.com/una-dinosauria/3d-pose-baseline, "
    "h36m.zip: S*/MyPoses/3D_positions/*.h5 and cameras.h5), from the licensed Human3.6M release "
    "(http://vision.imar.ro/human3.6m)"
)


def h36m_cameras_h5(path: str | Path) -> dict[str, tuple[Camera, ...]]:
    """{subject ("S1", ...): its cameras in :data:`H36M_CAMERA_IDS` order} from a ``cameras.h5``.

    ``R`` is transposed on reading (the file stores camera -> world) and ``T`` converted to metres,
    so the result has this module's conventions; image sizes come from :data:`H36M_RESOLUTION`.
    Groups other than ``subject<N>`` (the real file also has a ``3dtest`` array) are ignored.

    Raises:
      MissingDatasetFile / MalformedDatasetFile: naming the path and what was expected there.
    """
    from chiral_jax.data.errors import malformed, missing

    path = Path(path)
    exp, src = H36M_CAMERAS_H5_EXPECTED, H36M_H5_HELP
    if not path.is_file():
        raise missing(path, exp, src)
    h5py = require_h5py()
    out: dict[str, tuple[Camera, ...]] = {}
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise malformed(path, exp, src, f"can not read it as HDF5: {e}") from e
    shapes = {"R": (3, 3), "T": (3, 1), "f": (2, 1), "c": (2, 1), "k": (3, 1), "p": (2, 1), "Name": (8, 1)}
    with f:
        for group in sorted(f):
            if not group.startswith("subject") or not isinstance(f[group], h5py.Group):
                continue
            subject = "S" + group[len("subject") :]
            cams = []
            for cam_name in sorted(f[group]):
                g = f[group][cam_name]
                v = {}
                for key, shape in shapes.items():
                    if key not in g or np.shape(g[key]) != shape:
                        got = np.shape(g[key]) if key in g else "missing"
                        raise malformed(
                            path, exp, src, f"{group}/{cam_name}/{key} is {got}, expected {shape}"
                        )
                    v[key] = np.asarray(g[key], dtype=np.float64)
                cam_id = "".join(chr(int(x)) for x in v["Name"].ravel())
                if cam_id not in H36M_RESOLUTION:
                    raise malformed(
                        path, exp, src, f"{group}/{cam_name} is camera {cam_id!r}; known: {H36M_CAMERA_IDS}"
                    )
                w, h = H36M_RESOLUTION[cam_id]
                cams.append(
                    Camera(
                        cam_id,
                        w,
                        h,
                        v["R"].T,
                        v["T"].ravel() / 1000.0,
                        v["f"].ravel(),
                        v["c"].ravel(),
                        v["k"].ravel(),
                        v["p"].ravel(),
                    )
                )
            ids = sorted(c.id for c in cams)
            if ids != sorted(H36M_CAMERA_IDS):
                raise malformed(
                    path, exp, src, f"{group} has cameras {ids}, expected {list(H36M_CAMERA_IDS)}"
                )
            out[subject] = tuple(sorted(cams, key=lambda c: H36M_CAMERA_IDS.index(c.id)))
    if not out:
        raise malformed(path, exp, src, "no subject<N> groups")
    return out
