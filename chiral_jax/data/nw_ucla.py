"""NW-UCLA Multiview Action 3D, as packaged by CTR-GCN (one JSON per sequence), pure numpy.

The manual folder holds ``all_sqe/aAA_sSS_eEE_vVV.json`` (or the files themselves), each
``{"skeletons": (T, 20, 3) Kinect v1 camera coordinates in metres, "label": 1..10, ...}`` with the
joints in :data:`~chiral_jax.skeletons.KINECT_V1` order. Cross-view protocol: views 1 and 2
train (1,020 sequences), view 3 tests (464). Errors naming the file: a JSON that does not parse,
skeletons that are not (T, 20, 3) with T >= 1, a label outside 1..10, a view outside 1..3.

Records are :class:`~chiral_jax.data.actions.ActionClip` (1, T, 20, 3) in metres as stored; the
task centres each clip on its first frame's spine joint, scales it by its largest absolute
coordinate (:func:`normalize_nw_ucla`) and resamples it to a fixed length
(:func:`~chiral_jax.data.actions.resample`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from chiral_jax.data.actions import ActionClip
from chiral_jax.data.errors import malformed, missing
from chiral_jax.data.rotate import facing_angle, rotate_about_vertical

__all__ = [
    "NW_UCLA_ACTIONS",
    "NW_UCLA_EXPECTED",
    "NW_UCLA_HELP",
    "load_nw_ucla",
    "normalize_nw_ucla",
    "read_nw_ucla_sequence",
    "sequence_view",
]

NW_UCLA_ACTIONS: tuple[str, ...] = (
    "pick up with one hand",
    "pick up with two hands",
    "drop trash",
    "walk around",
    "sit down",
    "stand up",
    "donning",
    "doffing",
    "throw",
    "carry",
)
"""Class names of labels 1..10 (index = label - 1)."""

NW_UCLA_HELP = "NW-UCLA as packaged by CTR-GCN (https://github.com/Uason-Chen/CTR-GCN, all_sqe.zip)"
NW_UCLA_EXPECTED = (
    "all_sqe/aAA_sSS_eEE_vVV.json files with 'skeletons' (T, 20, 3) Kinect v1 coordinates in "
    "metres and 'label' 1..10"
)
_NAME = re.compile(r"a(\d+)_s(\d+)_e(\d+)_v(\d+)$")
TRAIN_VIEWS, TEST_VIEWS = (1, 2), (3,)


def sequence_view(source: str | Path) -> int:
    """The view 1..3 in a sequence file's name ``aAA_sSS_eEE_vVV.json``."""
    match = _NAME.match(Path(source).stem)
    if match is None:
        raise ValueError(f"NW-UCLA: {source!r} is not named aAA_sSS_eEE_vVV.json (the view is in the name)")
    return int(match.group(4))


def read_nw_ucla_sequence(path: str | Path) -> tuple[ActionClip, int]:
    """One sequence file -> (ActionClip (1, T, 20, 3), its view 1..3)."""
    path = Path(path)

    def bad(reason: str) -> Exception:
        return malformed(path, NW_UCLA_EXPECTED, NW_UCLA_HELP, reason)

    match = _NAME.match(path.stem)
    if match is None:
        raise bad("the file name is not aAA_sSS_eEE_vVV.json")
    view = int(match.group(4))
    if view not in TRAIN_VIEWS + TEST_VIEWS:
        raise bad(f"view {view} is not 1, 2 or 3")
    try:
        info = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise bad(f"not valid JSON: {err}") from None
    if not isinstance(info, dict) or "skeletons" not in info or "label" not in info:
        raise bad("no 'skeletons' or no 'label' field")
    try:
        skel = np.asarray(info["skeletons"], np.float32)
    except (ValueError, TypeError):
        raise bad("'skeletons' is not a (T, 20, 3) array (ragged lists)") from None
    if skel.ndim != 3 or skel.shape[1:] != (20, 3) or skel.shape[0] < 1:
        raise bad(f"'skeletons' has shape {skel.shape}, expected (T, 20, 3) with T >= 1")
    label = int(info["label"])
    if not 1 <= label <= len(NW_UCLA_ACTIONS):
        raise bad(f"label {label} is not in 1..10")
    return ActionClip(skel[None], label - 1, NW_UCLA_ACTIONS[label - 1], str(path)), view


def load_nw_ucla(manual_dir: str | Path) -> dict[str, list[ActionClip]]:
    """{"train": views 1 and 2, "test": view 3}, in file name order."""
    root = Path(manual_dir)
    folder = root / "all_sqe" if (root / "all_sqe").is_dir() else root
    files = sorted(folder.glob("a*_s*_e*_v*.json"))
    if not files:
        raise missing(folder / "all_sqe", NW_UCLA_EXPECTED, NW_UCLA_HELP)
    out: dict[str, list[ActionClip]] = {"train": [], "test": []}
    for path in files:
        clip, view = read_nw_ucla_sequence(path)
        out["train" if view in TRAIN_VIEWS else "test"].append(clip)
    return out


VERTICAL_AXIS = 1
"""CTR-GCN's packaging stores Kinect camera coordinates with y up (the head above the feet on every
clip), x horizontal (the mirror's axis) and z the depth."""
FACING_PAIRS = ((12, 4), (16, 8))
"""Left / right joints whose difference gives the body's left-to-right direction: (l_hip, l_shoulder)
and (r_hip, r_shoulder) of :data:`~chiral_jax.skeletons.KINECT_V1`."""


def normalize_nw_ucla(skeleton: np.ndarray, *, scale: str = "max_abs", align: bool = False) -> np.ndarray:
    """(M, T, 20, 3) metres -> centred on the first frame's spine joint (index 1); with ``align``
    rotated about the vertical axis so that the first frame's hips and shoulders run along x (the
    body faces the camera: :func:`~chiral_jax.data.rotate.facing_angle`, of the first person);
    ``scale`` ``max_abs`` divides by the clip's largest absolute coordinate, ``none`` keeps metres.
    Each step commutes with the mirror x -> -x."""
    if scale not in ("max_abs", "none"):
        raise ValueError(f"normalize_nw_ucla: scale must be 'max_abs' or 'none', got {scale!r}")
    x = skeleton - skeleton[:, :1, 1:2]
    if align:
        left, right = (FACING_PAIRS[0][0], FACING_PAIRS[0][1]), (FACING_PAIRS[1][0], FACING_PAIRS[1][1])
        x = rotate_about_vertical(x, facing_angle(x[0], left, right, VERTICAL_AXIS), VERTICAL_AXIS)
    if scale == "none":
        return x.astype(np.float32)
    size = float(np.max(np.abs(x)))
    return (x / size if size > 0 else x).astype(np.float32)
