"""Kinetics-skeleton, ST-GCN's release (OpenPose-18 poses of Kinetics-400 clips), pure numpy.

The manual folder holds::

    kinetics_train/<clip id>.json   kinetics_val/<clip id>.json
    kinetics_train_label.json       kinetics_val_label.json       label_name.txt (optional)

A clip file is ``{"data": [{"frame_index": i, "skeleton": [{"pose": [x0, y0, ..., x17, y17],
"score": [s0, ..., s17]}, ...]}, ...], "label": name, "label_index": k}`` with coordinates divided
by the frame size; a label file maps clip id -> ``{"has_skeleton", "label", "label_index"}``.

Rules (as ST-GCN's tools read the release):

* the clips present in the folders are read (the label files may list more); a clip whose label
  file entry says ``has_skeleton: false`` is skipped; a clip missing from its label file is an
  error naming both files;
* ``frame_index`` is the frame's time index (0-based); frames absent from ``data`` and frames with
  an empty ``skeleton`` list are zeros (no people); at most the first 5 people of a frame are read
  and, per frame, the 2 with the highest summed score are kept (:func:`~chiral_jax.data.actions.top_people`);
* errors naming the file: a JSON that does not parse, no ``data`` list, a clip with no person in
  any frame, a pose list whose length is not 36 or a score list whose length is not 18, a
  negative frame index.

Each clip becomes an :class:`~chiral_jax.data.actions.ActionClip` of (2, T, 18, 3) raw
(x, y, score); the ST-GCN normalisation is :func:`~chiral_jax.data.actions.normalize_stgcn`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from chiral_jax.data.actions import ActionClip, top_people
from chiral_jax.data.errors import malformed, missing

__all__ = [
    "KINETICS_EXPECTED",
    "KINETICS_HELP",
    "KINETICS_PEOPLE_IN",
    "KINETICS_PEOPLE_OUT",
    "load_kinetics_skeleton",
    "read_kinetics_clip",
]

KINETICS_HELP = (
    "Kinetics-skeleton from ST-GCN (https://github.com/yysijie/st-gcn, 'kinetics-skeleton' data: "
    "kinetics_train/, kinetics_val/ and the two label files)"
)
KINETICS_EXPECTED = (
    "kinetics_train/ and kinetics_val/ folders of <clip id>.json files ({'data': [{'frame_index', "
    "'skeleton': [{'pose': 36 floats, 'score': 18 floats}]}], 'label', 'label_index'}) and "
    "kinetics_train_label.json / kinetics_val_label.json (clip id -> has_skeleton, label, label_index)"
)
KINETICS_PEOPLE_IN = 5
KINETICS_PEOPLE_OUT = 2
_JOINTS = 18


def read_kinetics_clip(path: str | Path, label_name: str | None = None) -> ActionClip:
    """One clip file -> ActionClip (2, T, 18, 3) (see the module docstring for the rules)."""
    path = Path(path)

    def bad(reason: str) -> Exception:
        return malformed(path, KINETICS_EXPECTED, KINETICS_HELP, reason)

    try:
        info = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise bad(f"not valid JSON: {err}") from None
    frames = info.get("data") if isinstance(info, dict) else None
    if not isinstance(frames, list):
        raise bad("no 'data' list of frames")
    if "label_index" not in info:
        raise bad("no 'label_index'")
    indices = []
    for f in frames:
        if not isinstance(f, dict) or "frame_index" not in f:
            raise bad("a frame without 'frame_index'")
        if int(f["frame_index"]) < 0:
            raise bad(f"negative frame_index {f['frame_index']}")
        indices.append(int(f["frame_index"]))
    num_frames = max(indices) + 1 if indices else 0
    skel = np.zeros((KINETICS_PEOPLE_IN, max(num_frames, 1), _JOINTS, 3), np.float32)
    people = 0
    for f, t in zip(frames, indices, strict=True):
        for m, person in enumerate(f.get("skeleton") or []):
            if m >= KINETICS_PEOPLE_IN:
                break
            pose, score = person.get("pose", []), person.get("score", [])
            if len(pose) != 2 * _JOINTS:
                raise bad(f"frame {t}, person {m}: pose has {len(pose)} values, expected 36 (18 joints x, y)")
            if len(score) != _JOINTS:
                raise bad(f"frame {t}, person {m}: score has {len(score)} values, expected 18")
            skel[m, t, :, 0] = pose[0::2]
            skel[m, t, :, 1] = pose[1::2]
            skel[m, t, :, 2] = score
            people += 1
    if people == 0:
        raise bad("no person in any frame (a clip needs at least one skeleton)")
    label = int(info["label_index"])
    name = label_name or str(info.get("label", label))
    return ActionClip(top_people(skel, KINETICS_PEOPLE_OUT), label, name, str(path))


def _label_names(root: Path) -> list[str] | None:
    path = root / "label_name.txt"
    if not path.exists():
        return None
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def load_kinetics_skeleton(manual_dir: str | Path) -> dict[str, list[ActionClip]]:
    """{"train": [...], "test": [...]} (the ``kinetics_val`` clips are the test split), in file
    name order."""
    root = Path(manual_dir)
    names = _label_names(root)
    out: dict[str, list[ActionClip]] = {}
    for split, part in (("train", "train"), ("test", "val")):
        folder, label_file = root / f"kinetics_{part}", root / f"kinetics_{part}_label.json"
        if not folder.is_dir():
            raise missing(folder, KINETICS_EXPECTED, KINETICS_HELP)
        if not label_file.exists():
            raise missing(label_file, KINETICS_EXPECTED, KINETICS_HELP)
        try:
            labels = json.loads(label_file.read_text())
        except json.JSONDecodeError as err:
            raise malformed(label_file, KINETICS_EXPECTED, KINETICS_HELP, f"not valid JSON: {err}") from None
        clips = []
        for path in sorted(folder.glob("*.json")):
            entry = labels.get(path.stem)
            if entry is None:
                raise malformed(
                    path,
                    KINETICS_EXPECTED,
                    KINETICS_HELP,
                    f"clip {path.stem!r} is not listed in {label_file}",
                )
            if not entry.get("has_skeleton", True):
                continue
            clip = read_kinetics_clip(path)
            if names is not None:
                if not 0 <= clip.label < len(names):
                    raise malformed(
                        path,
                        KINETICS_EXPECTED,
                        KINETICS_HELP,
                        f"label_index {clip.label} is not in 0..{len(names) - 1}",
                    )
                clip.label_name = names[clip.label]
            clips.append(clip)
        out[split] = clips
    return out
