"""Writers of small dataset files in the real formats, for tests and demos: VideoPose3D's npz
(Human3.6M, HumanEva), Martinez et al.'s Human3.6M h5 layout, Penn Action .mat, Kinetics-skeleton
JSON, NW-UCLA and CMU ASF/AMC.

The real datasets are licensed; these fixtures have the exact structure (pickled dicts in
``np.savez_compressed`` archives) with synthetic content: 3D points near the capture area and, for
Human3.6M, 2D obtained by projecting them with the published cameras (a ``gt``-like source).
"""

from pathlib import Path

__all__ = [
    "H36M_ACTIONS",
    "H36M_H5_ACTIONS",
    "HUMANEVA_ACTIONS",
    "PENN_ACTION_VIDEOS",
    "TINY_SYNTHETIC",
    "body_motion",
    "write_amc",
    "write_asf",
    "write_h36m",
    "write_h36m_cameras_h5",
    "write_h36m_h5",
    "write_humaneva",
    "write_kinetics_skeleton",
    "write_nw_ucla",
    "write_penn_action",
]

import numpy as np

from chiral_jax.data.cameras import Camera, h36m_cameras, project_to_pixels, require_h5py, world_to_camera
from chiral_jax.skeletons import H36M32_TO_17


def body_motion(frames: int, joints: int, seed: int) -> np.ndarray:
    """(frames, joints, 3) float32 world points around (0, 0, 1) m, moving smoothly."""
    rng = np.random.default_rng(seed)
    base = rng.normal(scale=0.3, size=(1, joints, 3)) + np.array([0.0, 0.0, 1.0])
    drift = np.cumsum(rng.normal(scale=0.005, size=(frames, 1, 3)), axis=0)
    return (base + drift).astype(np.float32)


TINY_SYNTHETIC = {
    "seed": 1,
    "num_subjects": 3,
    "num_test_subjects": 1,
    "num_cameras": 1,
    "min_frames": 60,
    "max_frames": 90,
}
"""Options of a tiny synthetic lifting set (3 subjects, one the test subject; one camera; takes of
60-90 frames) for tests and quick benchmark runs: the config's ``data.synthetic``."""

H36M_ACTIONS = {"S1": {"Walking 1": 40, "Directions": 25}, "S9": {"Walking": 30}}


def write_h36m(
    folder: Path, source: str = "gt", extra_2d_frames: int = 3, actions: dict | None = None
) -> dict:
    """data_3d_h36m.npz (32 joints) + data_2d_h36m_<source>.npz (projected, a few frames longer).

    ``actions``: ``{subject: {take: frames}}`` (default :data:`H36M_ACTIONS`), e.g. a set of the
    real one's size for timing runs.
    """
    cams = h36m_cameras()
    pos3, pos2 = {}, {}
    for si, (subject, takes) in enumerate((H36M_ACTIONS if actions is None else actions).items()):
        pos3[subject], pos2[subject] = {}, {}
        for ai, (action, n) in enumerate(takes.items()):
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


H36M_H5_ACTIONS = {
    "S1": {"Walking 1": 40, "Directions": 25},
    "S9": {"Walking": 30},
    "S11": {"Directions": 12},
}
"""Takes of :func:`write_h36m_h5`; S11 ``Directions`` is one the reader leaves out, as VideoPose3D does."""


def write_h36m_cameras_h5(path: Path, cameras: dict[str, tuple[Camera, ...]] | None = None) -> None:
    """A ``cameras.h5`` in Martinez et al.'s layout (``subject<N>/camera<i>``, ``R`` stored transposed,
    ``T`` in mm, ``Name`` as character codes) from {subject: cameras} (default: the package's
    calibration of all seven subjects)."""
    h5py = require_h5py()
    cams = h36m_cameras() if cameras is None else cameras
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        for subject, lst in cams.items():
            for i, cam in enumerate(lst):
                g = f.create_group(f"subject{subject.lstrip('S')}/camera{i + 1}")
                g["R"] = cam.R.T  # camera -> world, as the real file stores it
                g["T"] = (cam.T * 1000.0).reshape(3, 1)
                g["f"] = np.asarray(cam.focal, dtype=np.float64).reshape(2, 1)
                g["c"] = np.asarray(cam.center, dtype=np.float64).reshape(2, 1)
                g["k"] = cam.k.reshape(3, 1)
                g["p"] = cam.p.reshape(2, 1)
                g["Name"] = np.array([float(ord(ch)) for ch in cam.id]).reshape(-1, 1)
        f["3dtest"] = np.zeros((96, 1))  # the real file has this extra array too


def write_h36m_h5(
    folder: Path,
    actions: dict | None = None,
    *,
    cameras: dict[str, tuple[Camera, ...]] | None = None,
    poses: dict[str, dict[str, np.ndarray]] | None = None,
    frames_first: bool = False,
) -> dict[str, dict[str, np.ndarray]]:
    """Martinez et al.'s layout: ``S*/MyPoses/3D_positions/<take>.h5`` (``3D_positions`` float64
    (96, T), world millimetres) and ``cameras.h5`` (:func:`write_h36m_cameras_h5`).

    Args:
      folder: the manual dir to write.
      actions: {subject: {take: frames}} (default :data:`H36M_H5_ACTIONS`), random smooth motion.
      cameras: {subject: cameras} for ``cameras.h5`` (default: the package's calibration).
      poses: {subject: {take: (T, 32, 3) world metres}} written instead of ``actions``.
      frames_first: store (T, 96) instead of the release's (96, T).

    Returns:
      {subject: {take: (T, 32, 3) float64 world metres}}, what the files hold.
    """
    h5py = require_h5py()
    if poses is None:
        poses = {
            subject: {
                take: body_motion(n, 32, seed=20 * si + ai).astype(np.float64)
                for ai, (take, n) in enumerate(takes.items())
            }
            for si, (subject, takes) in enumerate((H36M_H5_ACTIONS if actions is None else actions).items())
        }
    for subject, takes in poses.items():
        d = folder / subject / "MyPoses" / "3D_positions"
        d.mkdir(parents=True, exist_ok=True)
        for take, world in takes.items():
            flat = np.asarray(world, dtype=np.float64).reshape(len(world), 96) * 1000.0
            with h5py.File(d / f"{take}.h5", "w") as f:
                f["3D_positions"] = flat if frames_first else flat.T
    write_h36m_cameras_h5(folder / "cameras.h5", cameras)
    return poses


HUMANEVA_ACTIONS = {
    "Train/S1": {"Walking 1 chunk0": 20, "Box 1 chunk0": 15},
    "Validate/S2": {"Jog 1 chunk0": 12},
}


def write_humaneva(folder: Path, source: str = "gt", actions: dict | None = None) -> dict:
    """data_3d_humaneva15.npz + data_2d_humaneva15_<source>.npz (random 2D; one view missing in
    Validate/S2).

    ``actions``: ``{subject: {take: frames}}`` (default :data:`HUMANEVA_ACTIONS`).
    """
    pos3, pos2 = {}, {}
    for si, (subject, takes) in enumerate((HUMANEVA_ACTIONS if actions is None else actions).items()):
        pos3[subject], pos2[subject] = {}, {}
        for ai, (action, n) in enumerate(takes.items()):
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


# (video_id, action, view, train, frames, bbox rows): both splits, several actions, one video with
# fewer bbox rows than frames (as some videos of the real release have).
PENN_ACTION_VIDEOS: tuple[tuple[str, str, str, bool, int, int], ...] = (
    ("0001", "baseball_pitch", "right", True, 24, 24),
    ("0002", "baseball_pitch", "front", False, 30, 30),
    ("0003", "golf_swing", "left", True, 41, 37),
    ("0004", "jumping_jacks", "front", False, 20, 20),
    ("0005", "tennis_serve", "back", True, 60, 60),
    ("0006", "squat", "front", False, 33, 33),
)

# A standing figure in a 640x480 image, Penn Action joint order (head, l/r shoulder, elbow, wrist,
# hip, knee, ankle); the subject faces the camera, so its left side is on the image's right.
_PENN_BASE_POSE = np.array(
    [
        [320, 100],
        [350, 150],
        [290, 150],
        [365, 210],
        [275, 210],
        [370, 265],
        [270, 265],
        [340, 270],
        [300, 270],
        [345, 350],
        [295, 350],
        [348, 430],
        [292, 430],
    ],
    dtype=np.float64,
)


def write_penn_action(
    folder: Path,
    videos: tuple[tuple[str, str, str, bool, int, int], ...] = PENN_ACTION_VIDEOS,
) -> dict[str, dict]:
    """Writes fake Penn Action label files ``folder/labels/NNNN.mat`` in the release's format.

    Each video (``(video_id, action, view, train, frames, bbox_rows)``) gets a deterministic,
    smoothly moving 13-joint figure; about 10% of the joints are marked invisible and hold garbage
    coordinates (zeros or random points in the image); ``bbox`` is the box of the visible joints
    with a margin, cut to ``bbox_rows`` rows.

    Returns:
      {video_id: the dict passed to ``scipy.io.savemat``} (x, y (T, 13) float64, visibility (T, 13)
      uint8, bbox (bbox_rows, 4), dimensions [H W T], nframes, train 1/-1, action, pose).
    """
    import scipy.io

    labels = Path(folder) / "labels"
    labels.mkdir(parents=True, exist_ok=True)
    written: dict[str, dict] = {}
    for i, (video_id, action, view, train, frames, bbox_rows) in enumerate(videos):
        rng = np.random.default_rng(1000 + i)
        height, width = (480, 640) if i % 2 == 0 else (360, 480)
        t = np.arange(frames)[:, None, None]
        phase = rng.uniform(0, 2 * np.pi, size=(1, 13, 1))
        swing = 25.0 * np.sin(2 * np.pi * t / rng.uniform(12, 30) + phase)
        scale = 0.6 if i % 2 else 1.0
        pose = scale * _PENN_BASE_POSE[None] + swing + rng.normal(scale=2.0, size=(frames, 13, 2))
        pose += np.cumsum(rng.normal(scale=1.5, size=(frames, 1, 2)), axis=0)
        visible = rng.uniform(size=(frames, 13)) > 0.1
        hidden = np.argwhere(~visible)
        for k, (f, j) in enumerate(hidden):
            pose[f, j] = 0.0 if k % 2 else rng.uniform([0, 0], [width, height])
        pose = np.round(pose, 2)
        bbox = np.zeros((frames, 4))
        for f in range(frames):
            pts = pose[f, visible[f]] if visible[f].any() else pose[f]
            bbox[f] = [*(pts.min(0) - 10), *(pts.max(0) + 10)]
        mat = {
            "x": pose[..., 0],
            "y": pose[..., 1],
            "visibility": visible.astype(np.uint8),
            "bbox": np.round(bbox[:bbox_rows], 2),
            "dimensions": np.array([height, width, frames], dtype=np.float64),
            "nframes": frames,
            "train": 1 if train else -1,
            "action": action,
            "pose": view,
        }
        scipy.io.savemat(str(labels / f"{video_id}.mat"), mat)
        written[video_id] = mat
    return written


def _walker(frames: int, joints: int, seed: int, dims: int) -> np.ndarray:
    """(frames, joints, dims) float64 smooth random motion around 0 (amplitude ~0.1)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(scale=0.1, size=(1, joints, dims))
    t = np.arange(frames)[:, None, None]
    return base + 0.05 * np.sin(2 * np.pi * t / rng.uniform(10, 30) + rng.uniform(0, 6.3, (1, joints, dims)))


KINETICS_CLIPS = {
    "train": (("clipA", 0, 12, (1, 2)), ("clipB", 1, 9, (2,)), ("clipC", 2, 7, (3,))),
    "val": (("clipD", 0, 10, (1,)), ("clipE", 2, 6, (2, 1))),
}
"""Per split: (clip id, label index, frames, people per frame pattern)."""


def write_kinetics_skeleton(folder: Path, *, label_names: tuple[str, ...] = ("run", "jump", "wave")) -> dict:
    """ST-GCN's Kinetics-skeleton layout with synthetic OpenPose-18 clips (see
    :mod:`chiral_jax.data.kinetics_skeleton`): ``kinetics_{train,val}/<id>.json``, the two label
    files (each also lists a clip that is not in the folder and one without skeleton, which is in
    the folder) and ``label_name.txt``. Frame 3 of every clip has no people; some joints have
    score 0. Returns {split: {clip id: clip dict}}."""
    import json

    folder = Path(folder)
    written: dict[str, dict] = {}
    for split, clips in KINETICS_CLIPS.items():
        (folder / f"kinetics_{split}").mkdir(parents=True, exist_ok=True)
        labels = {"missing_clip": {"has_skeleton": True, "label": label_names[0], "label_index": 0}}
        written[split] = {}
        for k, (cid, label, frames, pattern) in enumerate(clips):
            people = [_walker(frames, 18, 100 * k + p + len(split), 2) + 0.5 for p in range(3)]
            data = []
            for t in range(frames):
                n = 0 if t == 3 else pattern[t % len(pattern)]
                skels = []
                for p in range(n):
                    score = np.round(np.random.default_rng(t + 31 * p + k).uniform(0.2, 1.0, 18), 3)
                    score[(t + p) % 18] = 0.0
                    skels.append(
                        {"pose": np.round(people[p][t], 3).reshape(-1).tolist(), "score": score.tolist()}
                    )
                data.append({"frame_index": t, "skeleton": skels})
            clip = {"data": data, "label": label_names[label], "label_index": label}
            (folder / f"kinetics_{split}" / f"{cid}.json").write_text(json.dumps(clip))
            labels[cid] = {"has_skeleton": True, "label": label_names[label], "label_index": label}
            written[split][cid] = clip
        skipped = {"data": [], "label": label_names[0], "label_index": 0}
        (folder / f"kinetics_{split}" / "no_skeleton.json").write_text(json.dumps(skipped))
        labels["no_skeleton"] = {"has_skeleton": False, "label": label_names[0], "label_index": 0}
        (folder / f"kinetics_{split}_label.json").write_text(json.dumps(labels))
    (folder / "label_name.txt").write_text("\n".join(label_names) + "\n")
    return written


NW_UCLA_SEQUENCES = (
    ("a01_s01_e00_v01", 1, 9),
    ("a02_s02_e01_v02", 2, 1),  # one frame: resampling repeats it
    ("a03_s01_e02_v01", 3, 14),
    ("a01_s03_e00_v03", 1, 11),
    ("a06_s02_e01_v03", 6, 5),
)
"""(file stem, label 1..10, frames)."""


def write_nw_ucla(folder: Path) -> dict[str, np.ndarray]:
    """CTR-GCN's NW-UCLA layout: ``folder/all_sqe/<stem>.json`` with ``skeletons`` (T, 20, 3)
    (metres, around 2.5 m in front of the camera) and ``label``. Returns {stem: skeletons}."""
    import json

    root = Path(folder) / "all_sqe"
    root.mkdir(parents=True, exist_ok=True)
    out = {}
    for k, (stem, label, frames) in enumerate(NW_UCLA_SEQUENCES):
        skel = _walker(frames, 20, 7 + k, 3) * 5 + np.array([0.0, 0.0, 2.5])
        skel = np.round(skel, 4)
        (root / f"{stem}.json").write_text(
            json.dumps({"skeletons": skel.tolist(), "label": label, "file_name": stem})
        )
        out[stem] = skel
    return out


# CMU-style bones: name, parent, direction, length, axis, dof (left side; the right side mirrors x).
_ASF_LEFT = [
    ("lhipjoint", "root", (0.6, -0.7, 0.25), 2.5, (0, 0, 0), ()),
    ("lfemur", "lhipjoint", (0.34202, -0.939693, 0), 7.5, (0, 0, 20), ("rx", "ry", "rz")),
    ("ltibia", "lfemur", (0.34202, -0.939693, 0), 7.2, (0, 0, 20), ("rx",)),
    ("lfoot", "ltibia", (0.09, -0.24, 0.97), 2.2, (-90, 0, 20), ("rx", "rz")),
    ("ltoes", "lfoot", (0, 0, 1), 1.1, (-90, 0, 20), ("rx",)),
    ("lclavicle", "thorax", (0.97, 0.25, -0.05), 3.6, (0, 0, 0), ("ry", "rz")),
    ("lhumerus", "lclavicle", (1, 0, 0), 4.9, (180, -30, -90), ("rx", "ry", "rz")),
    ("lradius", "lhumerus", (1, 0, 0), 3.4, (180, -30, -90), ("rx",)),
    ("lwrist", "lradius", (1, 0, 0), 1.7, (0, 90, 90), ("ry",)),
]
_ASF_CENTER = [
    ("lowerback", "root", (0, 1, 0), 2.0, (0, 0, 0), ("rx", "ry", "rz")),
    ("upperback", "lowerback", (0, 1, 0), 2.0, (0, 0, 0), ("rx", "ry", "rz")),
    ("thorax", "upperback", (0, 1, 0), 2.0, (0, 0, 0), ("rx", "ry", "rz")),
    ("lowerneck", "thorax", (0, 1, 0.1), 1.6, (0, 0, 0), ("rx", "ry", "rz")),
    ("upperneck", "lowerneck", (0, 1, -0.06), 1.6, (0, 0, 0), ("rx", "ry", "rz")),
    ("head", "upperneck", (0, 1, -0.03), 1.6, (0, 0, 0), ("rx", "ry", "rz")),
]


def _asf_bones() -> list[tuple]:
    out = list(_ASF_CENTER)
    for name, parent, d, length, axis, dof in _ASF_LEFT:
        out.append((name, parent, d, length, axis, dof))
        rp = parent if parent in ("root", "thorax") else "r" + parent[1:]
        out.append(("r" + name[1:], rp, (-d[0], d[1], d[2]), length, (axis[0], -axis[1], -axis[2]), dof))
    return out


def write_asf(path: Path) -> None:
    """A CMU-style ASF skeleton file: 24 bones (6 on the spine, 9 per side, the sides mirror images
    in x), ``:units length 0.45`` as CMU writes it (a length unit of 0.0254 / 0.45 m), degrees, CRLF
    line ends."""
    lines = [
        "# fixture",
        ":version 1.10",
        ":name VICON",
        ":units",
        "  mass 1.0",
        "  length 0.45",
        "  angle deg",
        ":root",
        "   order TX TY TZ RX RY RZ",
        "   axis XYZ",
        "   position 0 0 0",
        "   orientation 0 0 0",
        ":bonedata",
    ]
    for i, (name, _, d, length, axis, dof) in enumerate(_asf_bones()):
        lines += [
            "  begin",
            f"     id {i + 1}",
            f"     name {name}",
            f"     direction {d[0]} {d[1]} {d[2]}",
            f"     length {length}",
            f"     axis {axis[0]} {axis[1]} {axis[2]}  XYZ",
        ]
        if dof:
            limits = "\n           ".join(["(-180.0 180.0)"] * len(dof))
            lines += ["    dof " + " ".join(dof), "    limits " + limits]
        lines.append("  end")
    children: dict[str, list[str]] = {}
    for name, parent, *_ in _asf_bones():
        children.setdefault(parent, []).append(name)
    lines += [":hierarchy", "  begin"] + [f"    {p} {' '.join(c)}" for p, c in children.items()] + ["  end"]
    path.write_text("\r\n".join(lines) + "\r\n")


def write_amc(path: Path, frames: int, seed: int = 0, zero: bool = False) -> dict[str, np.ndarray]:
    """An AMC motion file for :func:`write_asf`'s skeleton: ``frames`` frames of random root
    translation and rotation and random joint angles (all zeros with ``zero``); returns the written
    values, ``{bone: (frames, dof)}`` (root: tx ty tz rx ry rz)."""
    rng = np.random.default_rng(seed)
    values = {
        "root": np.concatenate(
            [rng.normal(size=(frames, 3)) * 5 + [0, 17, 0], rng.uniform(-30, 30, size=(frames, 3))], axis=1
        )
    }
    for name, _, _, _, _, dof in _asf_bones():
        if dof:
            values[name] = rng.uniform(-40, 40, size=(frames, len(dof)))
    if zero:
        values = {k: np.zeros_like(v) for k, v in values.items()}
    lines = ["#!OML:ASF fixture", ":FULLY-SPECIFIED", ":DEGREES"]
    for f in range(frames):
        lines.append(str(f + 1))
        lines += [k + " " + " ".join(f"{x:.6f}" for x in v[f]) for k, v in values.items()]
    path.write_text("\r\n".join(lines) + "\r\n")
    return values
