"""BVH animation files from lifted poses: inverse kinematics onto an H36M-17 hierarchy, a writer,
and a reader with its own forward kinematics (to check a file or load one back).

**Hierarchy.** The 17 H36M joints under readable names (:data:`BVH_NAMES`: ``hip`` -> ``Hips``,
``l_elbow`` -> ``LeftForeArm``, ...) plus six zero-length connector joints (:data:`CONNECTORS`,
CMU-style: ``RHipJoint``, ``LHipJoint``, ``LowerBack`` under ``Hips``; ``Neck``, ``LeftShoulder``,
``RightShoulder`` under ``Thorax``), one per child of the two joints with several children. A BVH
rotation moves all of a joint's children rigidly, so without them the pelvis and thorax could only
fit their three child bones best (the angle between hips and spine varies in lifted poses); with
them every bone has its own rotation and the file reproduces the poses exactly (after the bone
lengths are set to the sequence's medians). 23 joints in all: the root ``Hips`` with 6 channels
(``Xposition Yposition Zposition`` and the rotations), 22 joints with 3 rotation channels, and an
``End Site`` below each of the 5 leaves (``RightFoot``, ``LeftFoot``, ``HeadTop``, ``LeftHand``,
``RightHand``; display only: half the incoming bone, forward for the feet): 72 channels a frame.

**Axes and units.** BVH axes are Y up with the person facing +Z when they face the camera:
``(x, y, z)_BVH = (x, -y, -z)_camera`` (camera frame: x right, y down, z forward; a proper
rotation, so left stays left). Lengths are centimetres by default (``units="m"``: metres). The
rest pose (all rotations zero) is a T-pose: legs down, spine and head up, arms along +-X (the
person's left is +X), bones of the sequence's median lengths.

**Rotations.** :func:`chiral_jax.kinematics.inverse_kinematics` on the H36M tree (the swing of
each single-child joint, HybrIK's twist-swing; with no ``twist`` given the minimal-twist solution,
else the given (cos, sin) twists in the convention of :func:`~chiral_jax.kinematics.twist_angles`
with this module's rest pose; the pelvis and thorax by best fit, Kabsch), then each connector the
swing from that fit to its child's observed bone. Euler angles in degrees, ``order`` ``"ZXY"`` by
default: channels ``Zrotation Xrotation Yrotation``, the joint's rotation ``R = Rz Rx Ry`` (channels
compose in the order listed, as every BVH reader does), made continuous in time (each frame takes
the equivalent angle triple nearest the previous frame's). Leaves keep zero rotations.

**Root.** With a ``trajectory`` (T, 3) (camera-frame metres) the root moves along it, else it stays
at the origin (the lifted poses are root-relative).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from chiral_jax import rotations as rot
from chiral_jax import skeletons

__all__ = [
    "BVH",
    "BVH_FROM_CAMERA",
    "BVH_NAMES",
    "CONNECTORS",
    "BVHError",
    "Hierarchy",
    "bvh_forward_kinematics",
    "hierarchy",
    "median_bone_lengths",
    "normalize_bones",
    "read_bvh",
    "read_bvh_poses",
    "rest_pose",
    "solve_rotations",
    "write_bvh",
]

_H36M = skeletons.H36M
_PARENTS = np.asarray(_H36M.parents)
_KIDS = [[int(c) for c in np.where(_PARENTS == j)[0]] for j in range(17)]
UNITS = {"cm": 100.0, "m": 1.0}

BVH_FROM_CAMERA = np.diag([1.0, -1.0, -1.0])
"""Camera frame (x right, y down, z forward) -> BVH axes (Y up, facing +Z); its own inverse."""

BVH_NAMES: dict[str, str] = {
    "hip": "Hips", "r_hip": "RightUpLeg", "r_knee": "RightLeg", "r_foot": "RightFoot",
    "l_hip": "LeftUpLeg", "l_knee": "LeftLeg", "l_foot": "LeftFoot", "spine": "Spine",
    "thorax": "Thorax", "neck_nose": "Head", "head": "HeadTop", "l_shoulder": "LeftArm",
    "l_elbow": "LeftForeArm", "l_wrist": "LeftHand", "r_shoulder": "RightArm",
    "r_elbow": "RightForeArm", "r_wrist": "RightHand",
}  # fmt: skip
"""The BVH joint of each H36M-17 joint (at the same position)."""

CONNECTORS: dict[tuple[str, str], str] = {
    ("hip", "r_hip"): "RHipJoint",
    ("hip", "l_hip"): "LHipJoint",
    ("hip", "spine"): "LowerBack",
    ("thorax", "neck_nose"): "Neck",
    ("thorax", "l_shoulder"): "LeftShoulder",
    ("thorax", "r_shoulder"): "RightShoulder",
}
"""Zero-length joints between a multi-child H36M joint and each of its children (see the module doc)."""

# T-pose bone directions (BVH axes) from each H36M joint's parent.
_REST_DIRECTIONS = {
    "r_hip": (-1, 0, 0), "r_knee": (0, -1, 0), "r_foot": (0, -1, 0), "l_hip": (1, 0, 0),
    "l_knee": (0, -1, 0), "l_foot": (0, -1, 0), "spine": (0, 1, 0), "thorax": (0, 1, 0),
    "neck_nose": (0, 1, 0), "head": (0, 1, 0), "l_shoulder": (1, 0, 0), "l_elbow": (1, 0, 0),
    "l_wrist": (1, 0, 0), "r_shoulder": (-1, 0, 0), "r_elbow": (-1, 0, 0), "r_wrist": (-1, 0, 0),
}  # fmt: skip


class BVHError(ValueError):
    """A BVH file that cannot be read (the message names the file, the line and what was expected)."""


@dataclasses.dataclass(frozen=True)
class Hierarchy:
    """The BVH joints, in file (depth-first) order.

    Attributes:
      names: (N,) joint names; parents: (N,) parent index (-1 at the root).
      at: (N,) the H36M-17 joint each sits at (a connector: its parent's joint).
      h36m: (17,) the BVH joint of each H36M joint.
      connector_of: (N,) for a connector its H36M child, else -1.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    at: tuple[int, ...]
    h36m: tuple[int, ...]
    connector_of: tuple[int, ...]

    @property
    def num_joints(self) -> int:
        return len(self.names)

    @property
    def leaves(self) -> tuple[int, ...]:
        return tuple(b for b in range(self.num_joints) if b not in self.parents)


def hierarchy() -> Hierarchy:
    """The H36M-17 BVH hierarchy with its connectors (see the module doc)."""
    names: list[str] = []
    parents: list[int] = []
    at: list[int] = []
    conn: list[int] = []
    h36m = [0] * 17

    def visit(j: int, parent: int) -> None:
        me = len(names)
        names.append(BVH_NAMES[_H36M.joint_names[j]])
        parents.append(parent)
        at.append(j)
        conn.append(-1)
        h36m[j] = me
        for c in _KIDS[j]:
            if len(_KIDS[j]) > 1:
                k = len(names)
                names.append(CONNECTORS[(_H36M.joint_names[j], _H36M.joint_names[c])])
                parents.append(me)
                at.append(j)
                conn.append(c)
                visit(c, k)
            else:
                visit(c, me)

    visit(0, -1)
    return Hierarchy(tuple(names), tuple(parents), tuple(at), tuple(h36m), tuple(conn))


# ---------------------------------------------------------------------------------- bones


def _check_poses(poses: np.ndarray, name: str = "poses") -> np.ndarray:
    x = np.asarray(poses, np.float64)
    if x.ndim != 3 or x.shape[1:] != (17, 3) or len(x) == 0:
        raise ValueError(f"{name}: expected (T >= 1, 17, 3) H36M-17 joints in metres, got {x.shape}")
    if not np.all(np.isfinite(x)):
        t = int(np.argwhere(~np.isfinite(x))[0][0])
        raise ValueError(f"{name}: NaN or infinite joints (first at frame {t}); expected finite poses")
    return x


def median_bone_lengths(poses: np.ndarray) -> np.ndarray:
    """(17,) the median over frames of each joint's distance to its parent (0 at the root)."""
    x = _check_poses(poses)
    lengths = np.zeros(17)
    lengths[1:] = np.median(np.linalg.norm(x[:, 1:] - x[:, _PARENTS[1:]], axis=-1), axis=0)
    short = [_H36M.joint_names[j] for j in range(1, 17) if lengths[j] < 1e-6]
    if short:
        raise ValueError(
            f"poses: bones to {short} have zero median length; expected a body of non-zero bones"
        )
    return lengths


def rest_pose(lengths: np.ndarray) -> np.ndarray:
    """(17, 3) the T-pose (BVH axes, metres) with bones of ``lengths`` (17,), the root at 0."""
    rest = np.zeros((17, 3))
    for j in range(1, 17):
        rest[j] = rest[_PARENTS[j]] + lengths[j] * np.asarray(_REST_DIRECTIONS[_H36M.joint_names[j]], float)
    return rest


def normalize_bones(poses: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The poses (T, 17, 3) with every bone rescaled to ``lengths`` (17,) along its own direction,
    the root kept (what a BVH of the poses reproduces). A zero-length bone takes its parent
    bone's direction (the pelvis's children: up)."""
    x = _check_poses(poses)
    out = np.empty_like(x)
    out[:, 0] = x[:, 0]
    for j in range(1, 17):  # H36M parents come before their children
        p = _PARENTS[j]
        bone = x[:, j] - x[:, p]
        n = np.linalg.norm(bone, axis=-1, keepdims=True)
        if p > 0:
            fallback = out[:, p] - out[:, _PARENTS[p]]
            fallback = fallback / np.maximum(np.linalg.norm(fallback, axis=-1, keepdims=True), 1e-12)
        else:
            fallback = np.broadcast_to([0.0, 1.0, 0.0], bone.shape)
        unit = np.where(n > 1e-9, bone / np.maximum(n, 1e-12), fallback)
        out[:, j] = out[:, p] + lengths[j] * unit
    return out


# ---------------------------------------------------------------------------------- rotations


def _inverse_kinematics(x: np.ndarray, twist: np.ndarray, rest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(local, global) rotations (T, 17, 3, 3) on the H36M tree: the solution of
    :func:`chiral_jax.kinematics.inverse_kinematics` (children ``H36M.twist_children``: one child,
    swing times twist; pelvis and thorax, Kabsch; leaves, identity),
    in numpy float64 (a file needs no jit compilation; a test checks that the two agree)."""
    t = len(x)
    eye = np.broadcast_to(np.eye(3), (t, 3, 3))
    local = np.empty((t, 17, 3, 3))
    glob = np.empty((t, 17, 3, 3))
    for j in range(17):  # parents first
        p = _PARENTS[j]
        g_p = eye if p < 0 else glob[:, p]
        kids = _KIDS[j]
        if len(kids) == 1:
            c = _H36M.twist_children[j]
            bone = rest[c] - rest[j]
            observed = np.einsum("tba,tb->ta", g_p, x[:, c] - x[:, j])
            swing = rot.rotation_between(np.broadcast_to(bone, observed.shape), observed)
            cs = twist[:, j]
            n = np.linalg.norm(cs, axis=-1)
            ok = n > 1e-9
            cos = np.where(ok, cs[:, 0] / np.where(ok, n, 1.0), 1.0)[:, None, None]
            sin = np.where(ok, cs[:, 1] / np.where(ok, n, 1.0), 0.0)[:, None, None]
            k = rot.skew(bone / np.linalg.norm(bone))
            local[:, j] = swing @ (np.eye(3) + sin * k + (1.0 - cos) * (k @ k))
        elif kids:
            observed = np.stack([np.einsum("tba,tb->ta", g_p, x[:, c] - x[:, j]) for c in kids], axis=1)
            bones = np.stack([rest[c] - rest[j] for c in kids])
            u, _, vt = np.linalg.svd(np.einsum("tka,kb->tab", observed, bones))
            d = np.sign(np.linalg.det(u @ vt))
            d = np.where(d == 0, 1.0, d)
            local[:, j] = (u * np.stack([np.ones_like(d), np.ones_like(d), d], -1)[:, None, :]) @ vt
        else:
            local[:, j] = eye
        glob[:, j] = g_p @ local[:, j]
    return local, glob


def solve_rotations(joints: np.ndarray, lengths: np.ndarray, twist: np.ndarray | None = None) -> np.ndarray:
    """Local rotations (T, N, 3, 3) of the :func:`hierarchy` joints for root-relative poses.

    Args:
      joints: (T, 17, 3) poses in BVH axes, bones already of ``lengths`` (:func:`normalize_bones`).
      lengths: (17,) bone lengths of the rest pose (:func:`rest_pose`).
      twist: optional (T, 17, 2) (cos, sin) twists of the H36M joints; None: minimal twist.
    """
    x = np.asarray(joints, np.float64)
    t = len(x)
    rest = rest_pose(lengths)
    if twist is None:
        tw = np.broadcast_to(np.asarray([1.0, 0.0]), (t, 17, 2))
    else:
        tw = np.asarray(twist, np.float64)
        if tw.shape != (t, 17, 2) or not np.all(np.isfinite(tw)):
            raise ValueError(f"twist: expected finite (T={t}, 17, 2) (cos, sin) per joint, got {tw.shape}")
    local17, glob17 = _inverse_kinematics(x, tw, rest)
    h = hierarchy()
    out = np.empty((t, h.num_joints, 3, 3))
    for b in range(h.num_joints):
        c = h.connector_of[b]
        if c >= 0:  # connector at joint j: the swing from the best fit onto the observed bone to c
            j = h.at[b]
            observed = np.einsum("tba,tb->ta", glob17[:, j], x[:, c] - x[:, j])
            out[:, b] = rot.rotation_between(np.broadcast_to(rest[c] - rest[j], observed.shape), observed)
        else:
            j = h.at[b]
            parent = h.parents[b]
            out[:, b] = local17[:, j]
            if parent >= 0 and h.connector_of[parent] >= 0:
                out[:, b] = np.swapaxes(out[:, parent], -1, -2) @ local17[:, j]
    return out


def _continuous(angles: np.ndarray) -> np.ndarray:
    """Euler triples (T, N, 3) (middle angle in [-pi/2, pi/2]) made continuous in time: each frame
    takes, of the two equivalent triples (a, b, c) and (a + pi, pi - b, c + pi) shifted by turns,
    the one nearest the previous frame's."""
    out = angles.copy()
    two_pi = 2 * np.pi
    for t in range(1, len(out)):
        prev = out[t - 1]
        a = angles[t]
        b = np.stack([a[:, 0] + np.pi, np.pi - a[:, 1], a[:, 2] + np.pi], -1)
        cands = np.stack([a, b])  # (2, N, 3)
        cands = cands + two_pi * np.round((prev - cands) / two_pi)
        pick = np.argmin(np.abs(cands - prev).sum(-1), axis=0)  # (N,)
        out[t] = cands[pick, np.arange(len(pick))]
    return out


# ---------------------------------------------------------------------------------- writing


def _fmt(values: Sequence[float], digits: int = 6) -> str:
    return " ".join(f"{v:.{digits}f}" for v in values)


def write_bvh(
    path: str | os.PathLike,
    poses: np.ndarray,
    *,
    fps: float,
    twist: np.ndarray | None = None,
    trajectory: np.ndarray | None = None,
    order: str = "ZXY",
    units: str = "cm",
    lengths: np.ndarray | None = None,
) -> Path:
    """Writes poses as a BVH animation; returns the path.

    Args:
      path: the ``.bvh`` file (its folder is created).
      poses: (T, 17, 3) H36M-17 joints in metres, camera frame (x right, y down, z forward), e.g.
        ``poses_3d`` of ``experiments/predict3d.py``; only bone vectors are used.
      fps: frames per second (``Frame Time`` = 1 / fps).
      twist: optional (T, 17, 2) (cos, sin) twists (see the module doc); None: minimal twist.
      trajectory: optional (T, 3) root positions, camera frame, metres; None: the root at the origin.
      order: the Euler channel order of every joint (``"ZXY"``: ``Zrotation Xrotation Yrotation``).
      units: ``"cm"`` or ``"m"``, the file's length unit.
      lengths: (17,) bone lengths in metres; None: the sequence's medians.
    """
    x_cam = _check_poses(poses)
    if units not in UNITS:
        raise ValueError(f"units {units!r}: expected one of {sorted(UNITS)}")
    try:
        rate = float(fps)
    except (TypeError, ValueError):
        rate = math.nan
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"fps {fps!r}: expected a positive frame rate")
    order = order.upper()
    if len(order) != 3 or set(order) != set("XYZ"):
        raise ValueError(f"order {order!r}: expected the three axes X, Y, Z in some order, e.g. 'ZXY'")
    t = len(x_cam)
    scale = UNITS[units]
    digits = 6 if units == "cm" else 8  # lengths to 1e-8 m
    x = (x_cam - x_cam[:, :1]) @ BVH_FROM_CAMERA.T
    lengths = median_bone_lengths(x) if lengths is None else np.asarray(lengths, np.float64)
    if lengths.shape != (17,):
        raise ValueError(f"lengths: expected (17,) bone lengths in metres, got {lengths.shape}")
    x = normalize_bones(x, lengths)
    local = solve_rotations(x, lengths, twist)
    # The channels Z X Y compose R = Rz Rx Ry, which is rotations' first-letter-first order "YXZ".
    angles = _continuous(rot.matrix_to_euler(local, order[::-1]))[..., ::-1]
    root = np.zeros((t, 3))
    if trajectory is not None:
        traj = np.asarray(trajectory, np.float64)
        if traj.shape != (t, 3) or not np.all(np.isfinite(traj)):
            raise ValueError(
                f"trajectory: expected finite (T={t}, 3) root positions in metres, got {traj.shape}"
            )
        root = traj @ BVH_FROM_CAMERA.T
    h = hierarchy()
    rest = rest_pose(lengths)
    rot_channels = " ".join(f"{a}rotation" for a in order)
    lines = ["HIERARCHY"]

    def emit(b: int, depth: int) -> None:
        pad = "\t" * depth
        kind = "ROOT" if h.parents[b] < 0 else "JOINT"
        if h.parents[b] < 0:
            offset = np.zeros(3)
        elif h.connector_of[b] >= 0:
            offset = np.zeros(3)  # a connector sits on its parent
        else:
            offset = rest[h.at[b]] - rest[h.at[h.parents[b]]]
        lines.append(f"{pad}{kind} {h.names[b]}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}\tOFFSET {_fmt(offset * scale, digits)}")
        pos = "Xposition Yposition Zposition " if h.parents[b] < 0 else ""
        lines.append(f"{pad}\tCHANNELS {6 if pos else 3} {pos}{rot_channels}")
        kids = [c for c in range(h.num_joints) if h.parents[c] == b]
        for c in kids:
            emit(c, depth + 1)
        if not kids:
            j = h.at[b]
            bone = rest[j] - rest[_PARENTS[j]]
            end = 0.5 * bone  # display only; the feet point forward
            if "foot" in _H36M.joint_names[j]:
                end = np.array([0.0, 0.0, 0.3 * np.linalg.norm(bone)])
            lines.extend([f"{pad}\tEnd Site", f"{pad}\t{{", f"{pad}\t\tOFFSET {_fmt(end * scale, digits)}"])
            lines.append(f"{pad}\t}}")
        lines.append(f"{pad}}}")

    emit(0, 0)
    lines += ["MOTION", f"Frames: {t}", f"Frame Time: {1.0 / rate:.8f}"]
    rows = np.degrees(angles).reshape(t, -1)
    lines += [f"{_fmt(p * scale, digits)} {_fmt(r)}" for p, r in zip(root, rows, strict=True)]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------------------------- reading


@dataclasses.dataclass(frozen=True)
class BVH:
    """A BVH file as read by :func:`read_bvh` (any hierarchy, not only this module's).

    Attributes:
      names: (N,) joint names in file order; parents: (N,) (-1 at a root).
      offsets: (N, 3) each joint's OFFSET, file units.
      channels: (N,) each joint's channel names, in file order.
      end_sites: {joint index: (3,) OFFSET of its End Site}.
      frame_time: seconds per frame; motion: (F, C) the channel values, C = sum of channel counts.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray
    channels: tuple[tuple[str, ...], ...]
    end_sites: dict[int, np.ndarray]
    frame_time: float
    motion: np.ndarray

    @property
    def num_frames(self) -> int:
        return len(self.motion)

    @property
    def num_channels(self) -> int:
        return sum(len(c) for c in self.channels)


_CHANNELS = {"Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation"}


def read_bvh(path: str | os.PathLike) -> BVH:
    """Parses a BVH file (HIERARCHY with ROOT / JOINT / End Site, OFFSET, CHANNELS; MOTION)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such BVH file")
    lines = path.read_text().splitlines()
    tokens = [(n + 1, w) for n, line in enumerate(lines) for w in line.split()]
    pos = 0

    def fail(expected: str) -> BVHError:
        line, got = tokens[pos] if pos < len(tokens) else (len(lines), "the end of the file")
        return BVHError(f"{path}, line {line}: {got!r}; expected {expected}")

    def take(expected: str | None = None) -> str:
        nonlocal pos
        if pos >= len(tokens) or (expected is not None and tokens[pos][1] != expected):
            raise fail(repr(expected) if expected else "more of the file")
        pos += 1
        return tokens[pos - 1][1]

    def number(what: str) -> float:
        try:
            value = float(tokens[pos][1]) if pos < len(tokens) else None
        except ValueError:
            value = None
        if value is None or not math.isfinite(value):
            raise fail(f"a number ({what})")
        take()
        return value

    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[tuple[str, ...]] = []
    end_sites: dict[int, np.ndarray] = {}

    def joint(parent: int) -> None:
        nonlocal pos
        me = len(names)
        names.append(take())
        parents.append(parent)
        take("{")
        take("OFFSET")
        offsets.append([number("OFFSET x"), number("OFFSET y"), number("OFFSET z")])
        take("CHANNELS")
        count = number("the channel count")
        if count != int(count) or count < 0:
            raise fail("a whole channel count")
        chans = tuple(take() for _ in range(int(count)))
        bad = [c for c in chans if c not in _CHANNELS]
        if bad:
            raise BVHError(f"{path}: joint {names[me]!r} has channels {bad}; expected of {sorted(_CHANNELS)}")
        channels.append(chans)
        while pos < len(tokens) and tokens[pos][1] != "}":
            word = take()
            if word == "JOINT":
                joint(me)
            elif word == "End":
                take("Site")
                take("{")
                take("OFFSET")
                end_sites[me] = np.array([number("OFFSET x"), number("OFFSET y"), number("OFFSET z")])
                take("}")
            else:
                pos -= 1
                raise fail("JOINT, End Site or '}'")
        take("}")

    take("HIERARCHY")
    while pos < len(tokens) and tokens[pos][1] == "ROOT":
        take("ROOT")
        joint(-1)
    if not names:
        raise fail("ROOT")
    take("MOTION")
    take("Frames:")
    frames = number("the frame count")
    take("Frame")
    take("Time:")
    frame_time = number("the frame time")
    if frames != int(frames) or frames < 0 or frame_time <= 0:
        raise BVHError(
            f"{path}: Frames {frames}, Frame Time {frame_time}; expected a count >= 0 and a time > 0"
        )
    width = sum(len(c) for c in channels)
    values = [w for _, w in tokens[pos:]]
    if len(values) != int(frames) * width:
        raise BVHError(
            f"{path}: {len(values)} motion numbers; expected Frames x channels = {int(frames)} x {width}"
        )
    try:
        motion = np.asarray(values, np.float64).reshape(int(frames), width)
    except ValueError:
        raise BVHError(
            f"{path}: a motion value that is not a number; expected {width} numbers a frame"
        ) from None
    return BVH(
        tuple(names), tuple(parents), np.asarray(offsets, np.float64), tuple(channels), end_sites,
        float(frame_time), motion,
    )  # fmt: skip


def bvh_forward_kinematics(bvh: BVH, *, end_sites: bool = False) -> np.ndarray:
    """World joint positions (F, N, 3) in the file's units and axes (with ``end_sites``: (F, N + E, 3),
    the end sites after the joints, in the order of ``sorted(bvh.end_sites)``).

    Each joint's local transform: translation = OFFSET + its position channels, rotation = the
    product of its rotation channels in the order listed (``Zrotation Xrotation Yrotation``:
    ``Rz @ Rx @ Ry``, degrees); ``G_j = G_parent R_j``, ``x_j = x_parent + G_parent t_j``.
    """
    f = bvh.num_frames
    n = len(bvh.names)
    glob = np.empty((f, n, 3, 3))
    pos = np.empty((f, n, 3))
    col = 0
    for j in range(n):
        r = np.broadcast_to(np.eye(3), (f, 3, 3))
        t = np.broadcast_to(bvh.offsets[j], (f, 3)).copy()
        for name in bvh.channels[j]:
            v = bvh.motion[:, col]
            col += 1
            axis = "XYZ".index(name[0])
            if name.endswith("position"):
                t[:, axis] += v
            else:
                r = r @ rot.axis_rotation(axis, np.radians(v))
        p = bvh.parents[j]
        if p < 0:
            glob[:, j], pos[:, j] = r, t
        else:
            glob[:, j] = glob[:, p] @ r
            pos[:, j] = pos[:, p] + np.einsum("fab,fb->fa", glob[:, p], t)
    if not end_sites:
        return pos
    ends = [pos[:, j] + np.einsum("fab,b->fa", glob[:, j], bvh.end_sites[j]) for j in sorted(bvh.end_sites)]
    return np.concatenate([pos, np.stack(ends, axis=1)], axis=1) if ends else pos


def read_bvh_poses(path: str | os.PathLike, *, units: str = "cm") -> np.ndarray:
    """The H36M-17 joints (F, 17, 3) of a BVH this module wrote: metres, camera frame (the root where
    the file puts it: the origin unless a trajectory was written)."""
    if units not in UNITS:
        raise ValueError(f"units {units!r}: expected one of {sorted(UNITS)}")
    bvh = read_bvh(path)
    missing = [n for n in BVH_NAMES.values() if n not in bvh.names]
    if missing:
        raise BVHError(
            f"{path}: no joints {missing}; expected the H36M-17 hierarchy of chiral_jax.predict.bvh"
        )
    world = bvh_forward_kinematics(bvh)
    idx = [bvh.names.index(BVH_NAMES[n]) for n in _H36M.joint_names]
    return world[:, idx] / UNITS[units] @ BVH_FROM_CAMERA.T
