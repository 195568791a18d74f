"""The ASF/AMC motion capture file format (Acclaim skeleton + motion): parser and forward kinematics.

Data: the CMU Graphics Lab Motion Capture Database, mocap.cs.cmu.edu, created with funding from
NSF EIA-0196217 (free to use, not to resell).

ASF/AMC conventions implemented (the Acclaim skeleton format as the CMU files use it):

* ``:units length L`` -- lengths and root translations are in units of ``1/L`` inches, so metres are
  ``value / L * 0.0254`` (``L = 0.45`` in CMU's files); ``angle deg|rad``.
* Each bone has a rest ``direction`` (unit vector, global frame), ``length``, and ``axis ax ay az
  ORDER`` defining its local frame ``C`` (Euler angles composed in ORDER, first letter applied
  first, i.e. ``C = R_Z @ R_Y @ R_X`` for ``XYZ``). An AMC line gives the bone's dof values in its
  ``dof`` order; they compose into ``M`` the same way (first listed applied first).
* Forward kinematics: ``L_b = L_parent @ C_b @ M_b @ C_b^-1`` and
  ``end_b = end_parent + length_b * L_b @ direction_b``; the root's ``L = C_root @ M_root @
  C_root^-1`` with ``C_root`` from ``:root orientation`` in ``axis`` order; the root's position is
  its translation plus ``:root position``.

Forward kinematics runs through :func:`chiral_jax.kinematics.chain`. The data's world is Y up;
:mod:`chiral_jax.data.cmu_h36m` maps it to the H36M-17 layout in this project's z-up world.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from chiral_jax.data.errors import malformed, missing
from chiral_jax.kinematics.tree import chain
from chiral_jax.rotations import euler_to_matrix

__all__ = [
    "CMU_FPS",
    "CMU_HELP",
    "AsfBone",
    "AsfSkeleton",
    "bone_frames",
    "euler_matrix",
    "forward_kinematics",
    "parse_amc",
    "parse_asf",
    "rest_motion",
]

CMU_FPS = 120.0  # the CMU files' frame rate (AMC files do not state one)
CMU_HELP = (
    "the CMU Graphics Lab Motion Capture Database, http://mocap.cs.cmu.edu (subject folders "
    "'NN/' holding 'NN.asf' and 'NN_MM.amc' files, e.g. from the 'allasfamc' archive)"
)
INCH = 0.0254


@dataclasses.dataclass(frozen=True)
class AsfBone:
    """One ``:bonedata`` entry (lengths already in metres, angles in radians).

    Attributes:
      name: bone name.
      direction: (3,) unit rest direction in the global frame.
      length: metres.
      axis: (3,) Euler angles (x, y, z) of the local frame, radians.
      axis_order: composition order of ``axis`` ("XYZ": x applied first).
      dof: channel names in AMC order ("rx", "ry", "rz").
    """

    name: str
    direction: np.ndarray
    length: float
    axis: np.ndarray
    axis_order: str
    dof: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class AsfSkeleton:
    """A parsed ASF file.

    Attributes:
      bones: name -> :class:`AsfBone` (the root is not a bone).
      parents: bone name -> parent name ("root" for the root's children).
      order: bones in a parents-first order.
      root_order: the root's AMC channels ("TX", "TY", "TZ", "RX", "RY", "RZ").
      root_axis: composition order of the root rotation and orientation.
      root_position: (3,) metres. root_orientation: (3,) radians.
      length_scale: metres per ASF length unit. angle_scale: radians per AMC angle unit.
    """

    bones: dict[str, AsfBone]
    parents: dict[str, str]
    order: tuple[str, ...]
    root_order: tuple[str, ...]
    root_axis: str
    root_position: np.ndarray
    root_orientation: np.ndarray
    length_scale: float
    angle_scale: float


def euler_matrix(angles: np.ndarray, order: str) -> np.ndarray:
    """Rotations from Euler angles: (..., len(order)) radians, composed first-letter-first.

    ``angles[..., i]`` is the angle about axis ``order[i]``; the result is
    ``R_{order[-1]} @ ... @ R_{order[0]}`` (column vectors), shape (..., 3, 3).
    """
    return euler_to_matrix(angles, order)


_ASF = "an ASF skeleton file (Acclaim format: :units, :root, :bonedata, :hierarchy)"
_AMC = "an AMC motion file (frame-number lines, each followed by one 'bone v1 v2 ...' line per bone)"


def parse_asf(path: str | Path) -> AsfSkeleton:
    """Reads an ASF skeleton file (see the module docstring for the conventions)."""
    path = Path(path)
    if not path.is_file():
        raise missing(path, _ASF, CMU_HELP)
    sections: dict[str, list[list[str]]] = {}
    current = None
    for raw in path.read_text(errors="replace").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(":"):
            parts = line[1:].split()
            current = parts[0].lower()
            sections.setdefault(current, [])
            if len(parts) > 1:
                sections[current].append(parts[1:])
            continue
        if current is not None:
            sections[current].append(line.split())
    for need in ("units", "root", "bonedata", "hierarchy"):
        if need not in sections:
            raise malformed(path, _ASF, CMU_HELP, f"no ':{need}' section")
    units = {t[0].lower(): t[1] for t in sections["units"] if len(t) >= 2}
    length_unit = float(units.get("length", 1.0))
    length_scale = INCH / length_unit
    angle_scale = np.pi / 180 if units.get("angle", "deg").lower().startswith("deg") else 1.0
    root = {t[0].lower(): t[1:] for t in sections["root"]}
    root_order = tuple(x.upper() for x in root.get("order", ["TX", "TY", "TZ", "RX", "RY", "RZ"]))
    root_axis = root.get("axis", ["XYZ"])[0].upper()
    root_position = np.array([float(v) for v in root.get("position", [0, 0, 0])]) * length_scale
    root_orientation = np.array([float(v) for v in root.get("orientation", [0, 0, 0])]) * angle_scale

    bones: dict[str, AsfBone] = {}
    block: dict[str, list[str]] | None = None
    for toks in sections["bonedata"]:
        key = toks[0].lower()
        if key == "begin":
            block = {}
        elif key == "end":
            if block is None or "name" not in block:
                raise malformed(path, _ASF, CMU_HELP, "a bone block without a name")
            try:
                name = block["name"][0]
                direction = np.array([float(v) for v in block["direction"][:3]])
                length = float(block["length"][0]) * length_scale
                ax = block.get("axis", ["0", "0", "0", "XYZ"])
                axis = np.array([float(v) for v in ax[:3]]) * angle_scale
                axis_order = ax[3].upper() if len(ax) > 3 else "XYZ"
            except (KeyError, ValueError, IndexError) as e:
                raise malformed(path, _ASF, CMU_HELP, f"malformed bone block {block}: {e}") from e
            dof = tuple(d.lower() for d in block.get("dof", []))
            for d in dof:
                if d not in ("rx", "ry", "rz"):
                    raise malformed(path, _ASF, CMU_HELP, f"unsupported dof {d!r} in bone {name}")
            norm = np.linalg.norm(direction)
            unit = direction / (norm if norm > 0 else 1.0)
            bones[name] = AsfBone(name, unit, length, axis, axis_order, dof)
            block = None
        elif block is not None:
            block[key] = toks[1:]
    parents: dict[str, str] = {}
    for toks in sections["hierarchy"]:
        if toks[0].lower() in ("begin", "end"):
            continue
        for child in toks[1:]:
            parents[child] = toks[0]
    order: list[str] = []
    frontier = ["root"]
    while frontier:
        nxt = []
        for p in frontier:
            kids = [c for c, pp in parents.items() if pp == p]
            order.extend(kids)
            nxt.extend(kids)
        frontier = nxt
    unknown = [b for b in order if b not in bones]
    if unknown:
        raise malformed(path, _ASF, CMU_HELP, f"hierarchy names bones without bonedata: {unknown}")
    return AsfSkeleton(
        bones,
        parents,
        tuple(order),
        root_order,
        root_axis,
        root_position,
        root_orientation,
        length_scale,
        angle_scale,
    )


def parse_amc(path: str | Path, skeleton: AsfSkeleton) -> dict[str, np.ndarray]:
    """Reads an AMC motion: {bone name: (F, n_dof) raw values, "root": (F, 6)}, in file units.

    Raises:
      DatasetFileError: missing file, no frames, non-consecutive frame numbers, or a frame whose
        bone lines do not match the skeleton's dofs.
    """
    path = Path(path)
    if not path.is_file():
        raise missing(path, _AMC, CMU_HELP)
    frames: list[dict[str, list[float]]] = []
    numbers: list[int] = []
    for raw in path.read_text(errors="replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith(":"):
            continue
        toks = line.split()
        if len(toks) == 1 and toks[0].isdigit():
            numbers.append(int(toks[0]))
            frames.append({})
            continue
        if not frames:
            raise malformed(path, _AMC, CMU_HELP, f"bone line before the first frame number: {line!r}")
        try:
            frames[-1][toks[0]] = [float(v) for v in toks[1:]]
        except ValueError as e:
            raise malformed(path, _AMC, CMU_HELP, f"frame {numbers[-1]}: {e}") from e
    if not frames:
        raise malformed(path, _AMC, CMU_HELP, "no frames")
    if numbers != list(range(numbers[0], numbers[0] + len(numbers))):
        raise malformed(path, _AMC, CMU_HELP, "frame numbers are not consecutive")
    dims = {"root": len(skeleton.root_order)} | {b.name: len(b.dof) for b in skeleton.bones.values() if b.dof}
    out = {}
    for name, n in dims.items():
        try:
            arr = np.array([f[name] for f in frames], dtype=np.float64)
        except KeyError:
            raise malformed(path, _AMC, CMU_HELP, f"bone {name!r} is missing in some frame") from None
        except ValueError:
            raise malformed(path, _AMC, CMU_HELP, f"bone {name!r} has ragged values") from None
        if arr.shape != (len(frames), n):
            raise malformed(
                path,
                _AMC,
                CMU_HELP,
                f"bone {name!r} has {arr.shape[1]} values per frame, the skeleton says {n}",
            )
        out[name] = arr
    return out


def bone_frames(
    skeleton: AsfSkeleton, motion: dict[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Global bone rotations and bone ends (the data's Y-up frame).

    Returns:
      ``(glob, pos)``: ``glob[b]`` (F, 3, 3) is bone ``b``'s global rotation ``L_b`` (the root's:
      ``"root"``), ``pos[b]`` (F, 3) its end in metres (the root's position: ``"root"``).
    """
    root_vals = motion["root"]
    f = root_vals.shape[0]
    trans = np.zeros((f, 3))
    rot = np.zeros((f, 3))
    rot_order = ""
    for i, ch in enumerate(skeleton.root_order):
        if ch.startswith("T"):
            trans[:, "XYZ".index(ch[1])] = root_vals[:, i] * skeleton.length_scale
        else:
            rot[:, len(rot_order)] = root_vals[:, i] * skeleton.angle_scale
            rot_order += ch[1]
    # The bones as a joint tree for kinematics.chain: joint 0 is the root; bone k has a start joint
    # 2k+1 at its parent's end carrying C M C^-1 (so its global rotation is L_b) and an end joint
    # 2k+2 with the identity (a bone's children then chain from L_b, as ASF's do).
    c_root = euler_matrix(skeleton.root_orientation, skeleton.root_axis)
    m_root = euler_matrix(rot[:, : len(rot_order)], rot_order) if rot_order else np.eye(3)
    end = {"root": 0}
    parents = [-1]
    offsets = [skeleton.root_position]
    local = [np.broadcast_to(c_root @ m_root @ c_root.T, (f, 3, 3))]
    for name in skeleton.order:
        b = skeleton.bones[name]
        c = euler_matrix(b.axis, b.axis_order)
        if b.dof:
            vals = motion[name] * skeleton.angle_scale
            m = euler_matrix(vals, "".join(d[1] for d in b.dof))
        else:
            m = np.eye(3)
        parents += [end[skeleton.parents[name]], len(parents)]
        offsets += [np.zeros(3), b.length * b.direction]
        local += [np.broadcast_to(c @ m @ c.T, (f, 3, 3)), np.broadcast_to(np.eye(3), (f, 3, 3))]
        end[name] = len(parents) - 1
    g, x = chain(np.stack(local, axis=1), np.stack(offsets), parents, trans)
    glob = {"root": g[:, 0]} | {n: g[:, end[n] - 1] for n in skeleton.order}
    pos = {n: x[:, i] for n, i in end.items()}
    return glob, pos


def forward_kinematics(skeleton: AsfSkeleton, motion: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Global positions (metres, the data's Y-up frame): {"root": (F, 3), bone: (F, 3) bone end}."""
    return bone_frames(skeleton, motion)[1]


def rest_motion(skeleton: AsfSkeleton, frames: int = 1) -> dict[str, np.ndarray]:
    """An all-zero motion: the skeleton's rest pose (root at ``:root position``)."""
    dims = {"root": len(skeleton.root_order)} | {b.name: len(b.dof) for b in skeleton.bones.values() if b.dof}
    return {k: np.zeros((frames, n)) for k, n in dims.items()}
