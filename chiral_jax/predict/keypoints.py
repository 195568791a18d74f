"""2D detector outputs -> the H36M-17 keypoints a lifter reads.

Readers (``read_keypoints(path, fmt)``), each giving :class:`RawKeypoints` in the file's own layout
(pixels, per-joint scores, one row per frame; frames the detector skipped are rows of score 0):

================  ==========================================================================
``coco17``        mmpose inferencer JSON (``[{"frame_id", "instances": [{"keypoints": [[x, y] x
                  17], "keypoint_scores": [17]}]}]``, or ``{"instance_info": [...]}``); the COCO
                  results format (``[{"image_id", "keypoints": [x, y, v] x 17 flat, "score"}]``);
                  an npz with ``keypoints`` (T, 17, 2|3) and ``image_size`` (W, H)
``openpose``      a folder of OpenPose JSON files, one per frame (``people[].pose_keypoints_2d``,
                  BODY_25 or COCO-18, told apart by the joint count), or one such file
``h36m``          VideoPose3D's 2D npz (``positions_2d`` = {subject: {action: [(T, 17, 2) per
                  camera]}}, optional ``metadata``), or an npz with ``keypoints`` (T, 17, 2|3) in
                  the H36M-17 order
================  ==========================================================================

:func:`to_h36m` maps COCO-17 / COCO-18 / BODY_25 to H36M-17 by the one table :data:`H36M_FROM`;
:func:`fill_gaps` interpolates missing frames and low-score joints (with a warning);
:func:`prepare` runs all of it and VideoPose3D's screen normalisation.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from chiral_jax import skeletons
from chiral_jax.data.cameras import normalize_screen_coordinates

__all__ = [
    "FORMATS",
    "H36M_FROM",
    "LAYOUTS",
    "OUTSIDE_MARGIN",
    "KeypointError",
    "PreparedKeypoints",
    "RawKeypoints",
    "check_inside_image",
    "detect_format",
    "fill_gaps",
    "input_hash",
    "prepare",
    "prepare_raw",
    "read_keypoints",
    "to_h36m",
]

FORMATS = ("auto", "coco17", "openpose", "h36m")

# Named points of each detector layout (index in the file's joint order).
_COCO17_NAMES = (
    "nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow",
    "l_wrist", "r_wrist", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle",
)  # fmt: skip
_OPENPOSE18_NAMES = skeletons.OPENPOSE18.joint_names  # nose, neck, r_shoulder, ... l_ear
_BODY25_NAMES = (
    "nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist", "mid_hip",
    "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear",
    "l_big_toe", "l_small_toe", "l_heel", "r_big_toe", "r_small_toe", "r_heel",
)  # fmt: skip

LAYOUTS: dict[str, tuple[str, ...]] = {
    "coco17": _COCO17_NAMES,
    "openpose18": _OPENPOSE18_NAMES,
    "body25": _BODY25_NAMES,
    "h36m": skeletons.H36M.joint_names,
}
"""Joint names of every input layout, in file order."""

H36M_FROM: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("hip", "mean", ("l_hip", "r_hip")),
    ("r_hip", "copy", ("r_hip",)),
    ("r_knee", "copy", ("r_knee",)),
    ("r_foot", "copy", ("r_ankle",)),
    ("l_hip", "copy", ("l_hip",)),
    ("l_knee", "copy", ("l_knee",)),
    ("l_foot", "copy", ("l_ankle",)),
    ("spine", "mean", ("hip", "thorax")),  # of the two H36M joints above and below it
    ("thorax", "mean", ("l_shoulder", "r_shoulder")),
    ("neck_nose", "copy", ("nose",)),
    ("head", "mean_of_found", ("l_eye", "r_eye", "l_ear", "r_ear")),
    ("l_shoulder", "copy", ("l_shoulder",)),
    ("l_elbow", "copy", ("l_elbow",)),
    ("l_wrist", "copy", ("l_wrist",)),
    ("r_shoulder", "copy", ("r_shoulder",)),
    ("r_elbow", "copy", ("r_elbow",)),
    ("r_wrist", "copy", ("r_wrist",)),
)
"""The COCO / OpenPose -> H36M-17 table, in H36M order: ``(h36m joint, rule, source names)``.

``copy``: the source point. ``mean``: the mean of all sources, missing if any is (score = their
minimum). ``mean_of_found``: the mean of the sources above the score threshold (score = their
maximum), missing if none is. ``spine`` averages the H36M ``hip`` and ``thorax`` just computed.
Every detector layout names the 17 COCO points (OpenPose's ``neck``, ``mid_hip`` and feet points
are not used, so BODY_25, COCO-18 and COCO-17 give the same H36M joints).
"""


class KeypointError(ValueError):
    """A keypoint file that cannot be read as the expected format (the message names the file)."""


@dataclasses.dataclass
class RawKeypoints:
    """One person's 2D keypoints as a file holds them.

    Attributes:
      keypoints: (T, J, 2) float64 pixels (rows of missing frames are 0).
      scores: (T, J) float64 confidences (0: missing).
      layout: a key of :data:`LAYOUTS`.
      frame_ids: (T,) int frame numbers (consecutive; skipped frames included with score 0).
      image_size: (W, H) pixels, or None when the file does not say.
      source: the file or folder read; fmt: the format it was read as (``mmpose json``, ...).
      people: every person detected, per frame (one list per row of ``frame_ids``) of
        ``(xy (J, 2), scores (J,), confidence)``; ``keypoints`` / ``scores`` hold the most confident
        of each frame. Filled by the JSON readers (mmpose, COCO results, OpenPose); None for the
        npz formats, which hold one person (:mod:`chiral_jax.predict.tracking` links them into tracks).
    """

    keypoints: np.ndarray
    scores: np.ndarray
    layout: str
    frame_ids: np.ndarray
    image_size: tuple[int, int] | None
    source: str
    fmt: str
    people: list[list[tuple[np.ndarray, np.ndarray, float]]] | None = None


@dataclasses.dataclass
class PreparedKeypoints:
    """H36M-17 keypoints ready for a lifter.

    Attributes:
      pixels: (T, 17, 2) float32 pixels after gap filling (what is drawn).
      normalized: (T, 17, 2) float32 VideoPose3D screen coordinates (the lifter's input).
      scores: (T, 17) float32 confidences of the mapped joints (0 where filled).
      filled: (T, 17) bool, the joints interpolated.
      frame_ids, image_size, source, fmt, layout: as in :class:`RawKeypoints`.
    """

    pixels: np.ndarray
    normalized: np.ndarray
    scores: np.ndarray
    filled: np.ndarray
    frame_ids: np.ndarray
    image_size: tuple[int, int]
    source: str
    fmt: str
    layout: str


# ---------------------------------------------------------------------------------- readers


def _error(path: Path | str, expected: str, problem: str) -> KeypointError:
    return KeypointError(f"{path}: {problem}; expected {expected}")


_MMPOSE = (
    'mmpose inferencer JSON: [{"frame_id": t, "instances": [{"keypoints": [[x, y] x 17], '
    '"keypoint_scores": [17]}]}]'
)
_COCO_RESULTS = 'COCO results JSON: [{"image_id": t, "keypoints": [x, y, v] x 17 flattened, "score": s}]'
_OPENPOSE = 'OpenPose JSON: {"people": [{"pose_keypoints_2d": [x, y, c] x 25 (BODY_25) or x 18 (COCO-18)}]}'
_NPZ = "an npz with 'keypoints' (T, 17, 2|3) in pixels and 'image_size' (W, H)"
_VP3D = "VideoPose3D's 2D npz: 'positions_2d' = {subject: {action: [(T, 17, 2) pixels per camera]}}"


def detect_format(path: str | Path) -> str:
    """The ``--format`` family of a file or folder (``coco17``, ``openpose`` or ``h36m``)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"--keypoints {path}: no such file or folder")
    if path.is_dir():
        if not sorted(path.glob("*.json")):
            raise _error(
                path, "a folder of OpenPose JSON files (one per frame)", "no .json files in the folder"
            )
        return "openpose"
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=True) as z:
            keys = set(z.files)
            if "positions_2d" in keys:
                return "h36m"
            if "keypoints" in keys:
                j = z["keypoints"].shape[1] if z["keypoints"].ndim == 3 else -1
                return {17: "coco17", 18: "openpose", 25: "openpose"}.get(j, "coco17")
        raise _error(path, f"{_NPZ}, or {_VP3D}", f"npz keys {sorted(keys)}")
    if path.suffix == ".json":
        kind = _json_kind(path, _load_json(path))
        return "openpose" if kind == "openpose" else "coco17"
    raise KeypointError(
        f"{path}: unknown keypoint format (suffix {path.suffix!r}); expected a .json (mmpose, COCO "
        "results, OpenPose), a .npz (keypoints + image_size, or VideoPose3D's positions_2d) or a "
        "folder of OpenPose .json files"
    )


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise _error(path, "a JSON file", f"not valid JSON ({err})") from None


def _json_kind(path: Path, data: Any) -> str:
    """``mmpose``, ``coco_results`` or ``openpose``."""
    if isinstance(data, dict) and "people" in data:
        return "openpose"
    if isinstance(data, dict) and "instance_info" in data:
        return "mmpose"
    if isinstance(data, list):
        first = next((r for r in data if isinstance(r, dict)), None)
        if first is not None and "instances" in first:
            return "mmpose"
        if first is not None and "keypoints" in first:
            return "coco_results"
        if first is None and data:
            raise _error(path, f"{_MMPOSE}, or {_COCO_RESULTS}", "a list without records")
    raise _error(
        path,
        f"{_MMPOSE}; or {_COCO_RESULTS}; or {_OPENPOSE}",
        "JSON without keypoints" + (" (an empty list: 0 frames)" if data == [] else ""),
    )


def _frames(path: Path, ids: Sequence[int], expected: str) -> np.ndarray:
    if not ids:
        raise _error(path, expected, "0 frames (no detections at all)")
    return np.arange(min(ids), max(ids) + 1)


def _best(people: Sequence[tuple[np.ndarray, np.ndarray, float]]) -> tuple[np.ndarray, np.ndarray] | None:
    """The most confident person ``(xy (J, 2), scores (J,))`` of one frame's ``(xy, scores, score)``."""
    if not people:
        return None
    xy, sc, _ = max(people, key=lambda p: p[2])
    return xy, sc


def _assemble(
    path: Path, per_frame: dict[int, list[tuple[np.ndarray, np.ndarray, float]]], joints: int, expected: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    frame_ids = _frames(path, [f for f, p in per_frame.items() if p], expected)
    xy = np.zeros((len(frame_ids), joints, 2))
    scores = np.zeros((len(frame_ids), joints))
    for i, f in enumerate(frame_ids):
        best = _best(per_frame.get(int(f), []))
        if best is not None:
            xy[i], scores[i] = best
    return xy, scores, frame_ids


def _people(
    per_frame: dict[int, list[tuple[np.ndarray, np.ndarray, float]]], frame_ids: np.ndarray
) -> list[list[tuple[np.ndarray, np.ndarray, float]]]:
    """Every frame's detections, in the order of ``frame_ids`` (:attr:`RawKeypoints.people`)."""
    return [list(per_frame.get(int(f), [])) for f in frame_ids]


def _person(
    path: Path, where: str, xy: Any, scores: Any, joints: Sequence[int], expected: str
) -> tuple[np.ndarray, np.ndarray]:
    xy = np.asarray(xy, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[0] not in joints or xy.shape[1] != 2 or scores.shape != xy.shape[:1]:
        raise _error(path, expected, f"{where}: keypoints of shape {xy.shape} with {scores.shape} scores")
    if not np.all(np.isfinite(xy)) or not np.all(np.isfinite(scores)):
        raise _error(path, expected + " (finite numbers)", f"{where}: NaN or infinite values")
    return xy, scores


def _read_mmpose(path: Path, data: Any) -> RawKeypoints:
    records = data["instance_info"] if isinstance(data, dict) else data
    per_frame: dict[int, list] = {}
    for n, rec in enumerate(records):
        fid = int(rec.get("frame_id", n))
        people = per_frame.setdefault(fid, [])
        for k, inst in enumerate(rec.get("instances") or []):
            where = f"frame_id {fid}, instance {k}"
            if "keypoints" not in inst:
                raise _error(path, _MMPOSE, f"{where} has no 'keypoints'")
            kp = np.asarray(inst["keypoints"], dtype=np.float64)
            sc = inst.get("keypoint_scores", np.ones(len(kp)))
            xy, sc = _person(path, where, kp[..., :2] if kp.ndim == 2 else kp, sc, (17,), _MMPOSE)
            people.append((xy, sc, float(np.mean(sc))))
    xy, scores, ids = _assemble(path, per_frame, 17, _MMPOSE)
    return RawKeypoints(xy, scores, "coco17", ids, None, str(path), "mmpose json", _people(per_frame, ids))


def _read_coco_results(path: Path, data: list[dict[str, Any]]) -> RawKeypoints:
    per_frame: dict[int, list] = {}
    raw_ids = [r.get("image_id") for r in data]
    if any(i is None for i in raw_ids):
        raise _error(path, _COCO_RESULTS, "a record without 'image_id'")
    numeric = all(isinstance(i, int) or (isinstance(i, str) and i.isdigit()) for i in raw_ids)
    order = {i: n for n, i in enumerate(sorted(set(map(str, raw_ids))))}  # string ids: sorted order
    for n, rec in enumerate(data):
        fid = int(rec["image_id"]) if numeric else order[str(rec["image_id"])]
        flat = np.asarray(rec.get("keypoints", []), dtype=np.float64)
        if flat.size != 51:
            raise _error(
                path, _COCO_RESULTS, f"record {n} (image_id {rec['image_id']}): {flat.size} keypoint numbers"
            )
        kp = flat.reshape(17, 3)
        xy, sc = _person(path, f"record {n}", kp[:, :2], kp[:, 2], (17,), _COCO_RESULTS)
        per_frame.setdefault(fid, []).append((xy, sc, float(rec.get("score", np.mean(sc)))))
    xy, scores, ids = _assemble(path, per_frame, 17, _COCO_RESULTS)
    people = _people(per_frame, ids)
    return RawKeypoints(xy, scores, "coco17", ids, None, str(path), "coco results json", people)


def _openpose_people(path: Path, data: Any, where: str) -> list[tuple[np.ndarray, np.ndarray, float]]:
    if not isinstance(data, dict) or "people" not in data:
        raise _error(path, _OPENPOSE, f"{where}: JSON without 'people'")
    people = []
    for k, person in enumerate(data["people"]):
        flat = np.asarray(person.get("pose_keypoints_2d", []), dtype=np.float64)
        if flat.size not in (54, 75):
            raise _error(path, _OPENPOSE, f"{where}, person {k}: {flat.size} numbers in pose_keypoints_2d")
        kp = flat.reshape(-1, 3)
        xy, sc = _person(path, f"{where}, person {k}", kp[:, :2], kp[:, 2], (18, 25), _OPENPOSE)
        people.append((xy, sc, float(np.mean(sc))))
    return people


def _read_openpose(path: Path) -> RawKeypoints:
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    numbers = [re.findall(r"\d+", f.stem) for f in files]
    by_number = all(numbers) and len({int(n[-1]) for n in numbers}) == len(files)
    per_frame: dict[int, list] = {}
    joints = set()
    for n, (f, nums) in enumerate(zip(files, numbers, strict=True)):
        fid = int(nums[-1]) if by_number else n
        people = _openpose_people(f, _load_json(f), f.name)
        joints |= {len(p[0]) for p in people}
        per_frame[fid] = people
    if len(joints) > 1:
        raise _error(path, _OPENPOSE + " (one layout for every frame)", f"both {sorted(joints)}-joint people")
    j = joints.pop() if joints else 25
    xy, scores, ids = _assemble(path, per_frame, j, _OPENPOSE)
    layout = "body25" if j == 25 else "openpose18"
    name = f"openpose {'BODY_25' if j == 25 else 'COCO-18'}"
    return RawKeypoints(xy, scores, layout, ids, None, str(path), name, _people(per_frame, ids))


def _read_npz(path: Path, fmt: str, explicit: bool) -> RawKeypoints:
    with np.load(path, allow_pickle=True) as z:
        contents = {k: z[k] for k in z.files}
    if "positions_2d" in contents:
        return _read_videopose3d(path, contents, fmt if explicit else None)
    if "keypoints" not in contents:
        raise _error(path, f"{_NPZ}, or {_VP3D}", f"npz keys {sorted(contents)}")
    kp = np.asarray(contents["keypoints"], dtype=np.float64)
    joints = {"coco17": (17,), "h36m": (17,), "openpose": (18, 25)}[fmt]
    if kp.ndim != 3 or kp.shape[1] not in joints or kp.shape[2] not in (2, 3):
        raise _error(path, _NPZ.replace("17", "/".join(map(str, joints))), f"'keypoints' of shape {kp.shape}")
    if len(kp) == 0:
        raise _error(path, _NPZ, "0 frames")
    if not np.all(np.isfinite(kp)):
        t, j = np.argwhere(~np.isfinite(kp))[0][:2]
        raise _error(
            path, _NPZ + " with finite numbers", f"NaN or infinite keypoints (first at frame {t}, joint {j})"
        )
    scores = kp[..., 2] if kp.shape[2] == 3 else np.ones(kp.shape[:2])
    size = contents.get("image_size")
    image_size = None if size is None else _image_size(np.asarray(size).ravel().tolist(), path)
    layout = {"coco17": "coco17", "h36m": "h36m"}.get(fmt) or (
        "body25" if kp.shape[1] == 25 else "openpose18"
    )
    return RawKeypoints(
        kp[..., :2], scores, layout, np.arange(len(kp)), image_size, str(path), "keypoints npz"
    )


def _read_videopose3d(path: Path, contents: dict[str, Any], fmt: str | None) -> RawKeypoints:
    pos = contents["positions_2d"].item() if contents["positions_2d"].dtype == object else None
    if not isinstance(pos, dict) or not pos:
        raise _error(path, _VP3D, "'positions_2d' is not a non-empty dict")
    subject = sorted(pos)[0]
    action = sorted(pos[subject])[0]
    views = pos[subject][action]
    if isinstance(views, np.ndarray) and views.dtype != object:
        views = [views]
    if len(pos) > 1 or len(pos[subject]) > 1 or len(views) > 1:
        warnings.warn(
            f"{path} holds several sequences; lifting the first: {subject!r} / {action!r} / camera 0",
            UserWarning,
            stacklevel=3,
        )
    kp = np.asarray(views[0], dtype=np.float64)
    meta = contents.get("metadata")
    meta = meta.item() if meta is not None and meta.dtype == object else {}
    if fmt == "openpose":
        raise _error(path, "OpenPose JSON files for --format openpose", "a VideoPose3D 2D npz (17 joints)")
    # VideoPose3D's own-video npz says layout_name "coco"; its Human3.6M files are H36M-17.
    coco = str(meta.get("layout_name", "h36m")).lower() == "coco"
    layout = fmt or ("coco17" if coco else "h36m")
    if kp.ndim != 3 or kp.shape[1] != 17 or kp.shape[2] not in (2, 3):
        raise _error(path, _VP3D, f"positions_2d[{subject!r}][{action!r}][0] of shape {kp.shape}")
    if len(kp) == 0:
        raise _error(path, _VP3D, f"positions_2d[{subject!r}][{action!r}][0] has 0 frames")
    if not np.all(np.isfinite(kp)):
        raise _error(
            path, _VP3D + " with finite numbers", f"NaN or infinite values in {subject!r} / {action!r}"
        )
    video = (meta.get("video_metadata") or {}).get(subject) or {}
    image_size = (int(video["w"]), int(video["h"])) if "w" in video and "h" in video else None
    scores = kp[..., 2] if kp.shape[2] == 3 else np.ones(kp.shape[:2])
    return RawKeypoints(
        kp[..., :2], scores, layout, np.arange(len(kp)), image_size, str(path), "videopose3d npz"
    )


def read_keypoints(path: str | Path, fmt: str = "auto") -> RawKeypoints:
    """Reads a keypoint file or folder (see the module doc) as ``fmt`` (``auto``: detected)."""
    if fmt not in FORMATS:
        raise KeypointError(f"--format {fmt!r}: unknown format; expected one of {', '.join(FORMATS)}")
    path = Path(path)
    found = detect_format(path)
    if path.suffix == ".npz":  # an npz's layout is what --format says (auto: its joint count / metadata)
        return _read_npz(path, fmt if fmt != "auto" else found, explicit=fmt != "auto")
    if fmt != "auto" and fmt != found:
        raise KeypointError(
            f"{path}: --format {fmt} asked, but the file reads as {found} (try --format auto)"
        )
    fmt = found
    if fmt == "openpose":
        return _read_openpose(path)
    data = _load_json(path)
    kind = _json_kind(path, data)
    return _read_mmpose(path, data) if kind == "mmpose" else _read_coco_results(path, data)


def _image_size(value: Any, source: Path | str) -> tuple[int, int]:
    try:
        w, h = (round(float(v)) for v in value)
    except (TypeError, ValueError):
        raise KeypointError(f"{source}: image size {value!r}; expected two numbers W,H in pixels") from None
    if w <= 0 or h <= 0:
        raise KeypointError(f"{source}: image size {w}x{h}; expected positive W,H in pixels")
    return w, h


# ---------------------------------------------------------------------------------- mapping, gaps


def to_h36m(raw: RawKeypoints, min_score: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """``(xy (T, 17, 2), scores (T, 17))`` in the H36M-17 order by :data:`H36M_FROM` (H36M input
    is returned as it is). Joints whose sources score below ``min_score`` get score 0."""
    if raw.layout == "h36m":
        return raw.keypoints.copy(), np.where(raw.scores >= min_score, raw.scores, 0.0)
    names = LAYOUTS[raw.layout]
    points = {
        n: (raw.keypoints[:, i], np.where(raw.scores[:, i] >= min_score, raw.scores[:, i], 0.0))
        for i, n in enumerate(names)
    }
    t = len(raw.keypoints)
    out_xy = np.zeros((t, 17, 2))
    out_sc = np.zeros((t, 17))
    order = sorted(range(17), key=lambda j: H36M_FROM[j][0] == "spine")  # spine needs hip and thorax
    for j in order:
        name, rule, sources = H36M_FROM[j]
        xys = np.stack([points[s][0] for s in sources], axis=1)  # (T, S, 2)
        scs = np.stack([points[s][1] for s in sources], axis=1)  # (T, S)
        if rule == "mean_of_found":
            found = scs > 0
            n = found.sum(axis=1, keepdims=True)
            xy = (xys * found[..., None]).sum(axis=1) / np.maximum(n, 1)
            sc = scs.max(axis=1)
        else:
            xy, sc = xys.mean(axis=1), scs.min(axis=1)
        out_xy[:, j], out_sc[:, j] = xy, sc
        points[name] = (xy, sc)  # spine reads the H36M hip and thorax
    return out_xy, out_sc


def fill_gaps(
    xy: np.ndarray, scores: np.ndarray, *, source: str = "keypoints", joint_names: Sequence[str] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """Linearly interpolates, per joint, the frames where its score is 0 (before the first and after
    the last detection: the nearest one); warns with the counts. Returns ``(xy, filled mask)``.

    Raises KeypointError when a joint is never detected.
    """
    missing = scores <= 0
    if not missing.any():
        return xy, missing
    t = np.arange(len(xy))
    out = xy.copy()
    for j in range(xy.shape[1]):
        ok = ~missing[:, j]
        if not ok.any():
            name = joint_names[j] if j < len(joint_names) else str(j)
            raise KeypointError(
                f"{source}: joint {name!r} is never detected (in {len(xy)} frames); expected each "
                "joint above the score threshold in at least one frame (lower --min_score?)"
            )
        if ok.all():
            continue
        for c in range(xy.shape[2]):
            out[:, j, c] = np.interp(t, t[ok], xy[ok, j, c])
    frames = missing.all(axis=1).sum()
    warnings.warn(
        f"{source}: filled {int(missing.sum())} missing joint positions by interpolation "
        f"({int(frames)} of {len(xy)} frames with no detection, {int(missing.any(axis=1).sum())} frames "
        "with some joint missing or below the score threshold)",
        UserWarning,
        stacklevel=2,
    )
    return out, missing


# Keypoints may lie this far outside the image (a fraction of its width / height) before
# :func:`check_inside_image` calls the image size wrong: detectors place the joints of a person cut
# by the frame edge a little outside it, a wrong size puts them far outside (or all in a corner).
OUTSIDE_MARGIN = 0.25


def check_inside_image(
    raw: RawKeypoints,
    size: tuple[int, int],
    *,
    min_score: float = 0.3,
    margin: float = OUTSIDE_MARGIN,
    given_by: str = "--image_size",
    allow_outside: bool = False,
) -> None:
    """Raises KeypointError when the detected keypoints (score >= ``min_score``) reach beyond
    ``margin`` of the ``size`` (W, H) image (a wrong ``--image_size`` skews the screen
    normalisation and the 3D poses); with ``allow_outside`` it warns instead."""
    ok = raw.scores >= min_score
    if not ok.any():
        return
    xy = raw.keypoints[ok]
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    w, h = size
    if np.all(lo >= -margin * np.array([w, h])) and np.all(hi <= (1 + margin) * np.array([w, h])):
        return
    message = (
        f"{raw.source}: keypoints span x {lo[0]:.0f}..{hi[0]:.0f}, y {lo[1]:.0f}..{hi[1]:.0f} px, beyond "
        f"the {w}x{h} image given by {given_by} (margin {margin:.0%}); expected the video's own width "
        "and height (pass --allow_outside_image to lift them anyway)"
    )
    if not allow_outside:
        raise KeypointError(message)
    warnings.warn(message.split("; expected")[0] + " (lifted anyway: --allow_outside_image)", UserWarning, 2)


def prepare(
    path: str | Path,
    fmt: str = "auto",
    *,
    image_size: tuple[int, int] | None = None,
    min_score: float = 0.3,
    allow_outside_image: bool = False,
) -> PreparedKeypoints:
    """Reads ``path``, maps it to H36M-17, fills gaps and normalizes by the image size.

    ``image_size`` (W, H) overrides the file's; it is required for formats that do not store it
    (mmpose / COCO results / OpenPose JSON). Keypoints beyond :data:`OUTSIDE_MARGIN` of the image
    raise KeypointError (:func:`check_inside_image`; ``allow_outside_image``: a warning instead).
    """
    raw = read_keypoints(path, fmt)
    return prepare_raw(
        raw, image_size=image_size, min_score=min_score, allow_outside_image=allow_outside_image
    )


def prepare_raw(
    raw: RawKeypoints,
    *,
    image_size: tuple[int, int] | None = None,
    min_score: float = 0.3,
    allow_outside_image: bool = False,
) -> PreparedKeypoints:
    """:func:`prepare` of keypoints already read (e.g. one track of
    :func:`chiral_jax.predict.tracking.track_keypoints`)."""
    size = image_size if image_size is not None else raw.image_size
    if size is None:
        raise KeypointError(
            f"{raw.source} ({raw.fmt}) does not store the image size; expected --image_size W,H "
            "(the video's width and height in pixels, for the screen normalisation)"
        )
    size = _image_size(size, raw.source)
    given_by = "--image_size" if image_size is not None else f"the file ({raw.fmt})"
    check_inside_image(raw, size, min_score=min_score, given_by=given_by, allow_outside=allow_outside_image)
    xy, scores = to_h36m(raw, min_score)
    xy, filled = fill_gaps(xy, scores, source=raw.source, joint_names=skeletons.H36M.joint_names)
    pixels = xy.astype(np.float32)
    return PreparedKeypoints(
        pixels=pixels,
        normalized=normalize_screen_coordinates(pixels, *size).astype(np.float32),
        scores=np.where(filled, 0.0, scores).astype(np.float32),
        filled=filled,
        frame_ids=raw.frame_ids,
        image_size=size,
        source=raw.source,
        fmt=raw.fmt,
        layout=raw.layout,
    )


def input_hash(path: str | Path) -> str:
    """``sha256:<hex>`` of a file, or of a folder's files (names and bytes, sorted by name)."""
    path = Path(path)
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        if path.is_dir():
            h.update(str(f.relative_to(path)).encode() + b"\0")
        h.update(f.read_bytes())
    return "sha256:" + h.hexdigest()
