"""Penn Action from its MATLAB label files (pure numpy and scipy; a TFDS builder wraps this).

The dataset's ``labels/`` folder holds one file per video, ``0001.mat`` ... ``2326.mat``, each with
the fields (as :func:`scipy.io.loadmat` reads them):

* ``x``, ``y`` -- (T, 13) joint pixel coordinates, joints in
  :data:`~chiral_jax.skeletons.PENN_ACTION` order (head, then left/right shoulder, elbow, wrist,
  hip, knee, ankle); joints marked invisible may hold arbitrary coordinates;
* ``visibility`` -- (T, 13) 0/1;
* ``bbox`` -- (T, 4) person box ``x1 y1 x2 y2`` per frame (some videos of the release have fewer
  rows than frames: the last row is repeated, see :func:`read_penn_action_video`);
* ``dimensions`` -- ``[H, W, T]`` of the video;
* ``nframes`` -- T;
* ``train`` -- 1 for the training split, -1 for the test split;
* ``action`` -- one of the 15 :data:`ACTIONS`;
* ``pose`` -- the camera view (``"front"``, ``"back"``, ``"left"``, ``"right"``, ...).

:func:`load_penn_action` reads every file into :class:`PennActionVideo` records split by the
dataset's own ``train`` flag (1,258 training and 1,068 test videos in the release).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from chiral_jax.data.errors import MissingDatasetFile, malformed, missing

__all__ = [
    "ACTIONS",
    "PENN_ACTION_EXPECTED",
    "PENN_ACTION_HELP",
    "PENN_ACTION_MANUAL_INSTRUCTIONS",
    "PENN_ACTION_NUM_JOINTS",
    "PennActionVideo",
    "find_labels_dir",
    "load_penn_action",
    "read_penn_action_video",
]

ACTIONS: tuple[str, ...] = (
    "baseball_pitch",
    "baseball_swing",
    "bench_press",
    "bowl",
    "clean_and_jerk",
    "golf_swing",
    "jump_rope",
    "jumping_jacks",
    "pullup",
    "pushup",
    "situp",
    "squat",
    "strum_guitar",
    "tennis_forehand",
    "tennis_serve",
)
"""The 15 action classes, in the order their integer labels use."""

PENN_ACTION_NUM_JOINTS = 13

PENN_ACTION_HELP = (
    "Penn Action dataset, https://dreamdragon.github.io/PennAction/ "
    "(the labels/ folder of Penn_Action.tar.gz)"
)

PENN_ACTION_EXPECTED = (
    "NNNN.mat MATLAB label files (0001.mat ... 2326.mat) with fields x, y (T, 13) pixels, "
    "visibility (T, 13) 0/1, bbox (<=T, 4) x1 y1 x2 y2, dimensions [H W T], nframes T, "
    "train 1/-1, action (one of the 15 action names), pose (the view)"
)

PENN_ACTION_MANUAL_INSTRUCTIONS = f"""\
Penn Action can not be downloaded automatically.
Download Penn_Action.tar.gz from https://dreamdragon.github.io/PennAction/, unpack it and pass as
the manual dir either the Penn_Action/ folder or its labels/ folder, which holds
  {PENN_ACTION_EXPECTED}.
Only the labels are read (no video frames).
"""


@dataclasses.dataclass(eq=False)
class PennActionVideo:
    """The labels of one Penn Action video.

    Attributes:
      video_id: the file stem, ``"0001"`` ... ``"2326"``.
      action: one of :data:`ACTIONS`.
      view: the camera view (the file's ``pose`` field), e.g. ``"front"``.
      train: True for the dataset's training split (``train == 1``), False for its test split.
      keypoints_px: (T, 13, 2) float32 pixel coordinates (x, y); arbitrary where not visible.
      visibility: (T, 13) bool.
      bbox: (T, 4) float32 person boxes ``x1 y1 x2 y2`` (padded as :func:`read_penn_action_video`
        describes).
      image_size: (W, H) of the video in pixels.
      num_frames: T.
    """

    video_id: str
    action: str
    view: str
    train: bool
    keypoints_px: np.ndarray
    visibility: np.ndarray
    bbox: np.ndarray
    image_size: tuple[int, int]
    num_frames: int

    def __post_init__(self) -> None:
        t, j = self.num_frames, PENN_ACTION_NUM_JOINTS
        expected = {"keypoints_px": (t, j, 2), "visibility": (t, j), "bbox": (t, 4)}
        for name, shape in expected.items():
            got = np.shape(getattr(self, name))
            if got != shape:
                raise ValueError(f"PennActionVideo {self.video_id}: {name} has shape {got}, expected {shape}")
        if self.action not in ACTIONS:
            raise ValueError(f"PennActionVideo {self.video_id}: unknown action {self.action!r}")

    @property
    def key(self) -> str:
        """A unique example key: the video id."""
        return self.video_id

    @property
    def action_index(self) -> int:
        """The integer label of :attr:`action` (its index in :data:`ACTIONS`)."""
        return ACTIONS.index(self.action)

    def to_example(self) -> dict[str, Any]:
        """The TFDS example of this video: a dict of numpy arrays and strings.

        Keys and dtypes (T = ``num_frames``):

        * ``video_id``: str, e.g. ``"0001"``;
        * ``action``: str, one of :data:`ACTIONS` (a ``ClassLabel(names=ACTIONS)`` feature accepts it);
        * ``view``: str;
        * ``train``: bool scalar;
        * ``keypoints_px``: float32 (T, 13, 2), pixels (x, y);
        * ``visibility``: bool (T, 13);
        * ``bbox``: float32 (T, 4), ``x1 y1 x2 y2``;
        * ``image_size``: int32 (2,), ``(W, H)``;
        * ``num_frames``: int32 scalar.
        """
        return {
            "video_id": self.video_id,
            "action": self.action,
            "view": self.view,
            "train": bool(self.train),
            "keypoints_px": np.asarray(self.keypoints_px, np.float32),
            "visibility": np.asarray(self.visibility, bool),
            "bbox": np.asarray(self.bbox, np.float32),
            "image_size": np.asarray(self.image_size, np.int32),
            "num_frames": np.int32(self.num_frames),
        }

    @classmethod
    def from_example(cls, example: dict[str, Any]) -> PennActionVideo:
        """The video stored as a TFDS example (inverse of :meth:`to_example`).

        Strings may come back as bytes, and ``action`` as its integer label (a decoded
        ``ClassLabel``).
        """

        def text(x: Any) -> str:
            x = x.item() if isinstance(x, np.ndarray) else x
            return x.decode() if isinstance(x, bytes) else str(x)

        action = example["action"]
        action = action.item() if isinstance(action, np.ndarray) else action
        if isinstance(action, (int, np.integer)):
            action = ACTIONS[int(action)]
        w, h = (int(v) for v in np.asarray(example["image_size"]))
        return cls(
            video_id=text(example["video_id"]),
            action=text(action),
            view=text(example["view"]),
            train=bool(np.asarray(example["train"])),
            keypoints_px=np.asarray(example["keypoints_px"], np.float32),
            visibility=np.asarray(example["visibility"]).astype(bool),
            bbox=np.asarray(example["bbox"], np.float32),
            image_size=(w, h),
            num_frames=int(np.asarray(example["num_frames"])),
        )


def find_labels_dir(manual_dir: str | Path) -> Path:
    """The folder holding the ``.mat`` files: ``manual_dir/labels`` if present, else ``manual_dir``.

    Raises:
      MissingDatasetFile: the folder is not there, or holds no ``.mat`` file.
    """
    d = Path(manual_dir)
    if (d / "labels").is_dir():
        d = d / "labels"
    expected = (
        f"the Penn Action labels/ folder (this folder or its labels/ subfolder) of {PENN_ACTION_EXPECTED}"
    )
    if not d.is_dir():
        raise missing(d, expected, PENN_ACTION_HELP)
    if not any(d.glob("*.mat")):
        raise MissingDatasetFile(d, expected, PENN_ACTION_HELP, "no .mat label files in the folder")
    return d


def _unwrap(v: Any) -> Any:
    """Unwraps MATLAB cell / object wrappers of size 1."""
    while isinstance(v, np.ndarray) and v.dtype == object and v.size == 1:
        v = v.item()
    return v


def read_penn_action_video(path: str | Path) -> PennActionVideo:
    """Reads and validates one Penn Action label file.

    ``bbox`` may have fewer rows than frames (as some videos of the release do): it is padded to T
    rows by repeating its last row (NaN rows if it has none). More rows than frames are an error.

    Raises:
      MalformedDatasetFile: unreadable file, missing field, wrong shape or value; the message names
        the file, the field, what was expected and what the file holds.
    """
    path = Path(path)
    if not path.is_file():
        raise missing(path, PENN_ACTION_EXPECTED, PENN_ACTION_HELP)
    import scipy.io

    try:
        mat = scipy.io.loadmat(str(path), squeeze_me=True)
    except Exception as e:
        raise malformed(
            path, PENN_ACTION_EXPECTED, PENN_ACTION_HELP, f"can not read it as a .mat file: {e}"
        ) from e

    def bad(reason: str) -> Exception:
        return malformed(path, PENN_ACTION_EXPECTED, PENN_ACTION_HELP, reason)

    fields = ("x", "y", "visibility", "bbox", "dimensions", "nframes", "train", "action", "pose")
    absent = [f for f in fields if f not in mat]
    if absent:
        present = sorted(k for k in mat if not k.startswith("__"))
        raise bad(f"missing field(s) {absent}; the file has {present}")

    def text(name: str) -> str:
        v = _unwrap(mat[name])
        if isinstance(v, bytes):
            return v.decode()
        if isinstance(v, str):
            return v
        arr = np.asarray(v)
        if arr.dtype.kind in "US" and arr.size <= 1:
            return "" if arr.size == 0 else str(arr.item())
        raise bad(f"field {name!r} is {type(v).__name__} {arr.dtype} {arr.shape}, expected a string")

    def number(name: str) -> float:
        arr = np.asarray(_unwrap(mat[name]))
        if arr.size != 1 or arr.dtype.kind not in "biuf":
            raise bad(f"field {name!r} has shape {arr.shape} dtype {arr.dtype}, expected one number")
        return float(arr.item())

    nframes = number("nframes")
    if not np.isfinite(nframes) or nframes != int(nframes) or nframes < 1:
        raise bad(f"field 'nframes' is {nframes}, expected a positive integer")
    t = int(nframes)

    def table(name: str, cols: int, rows: int | None) -> np.ndarray:
        """A (rows, cols) numeric array; ``rows=None``: any number of rows up to T."""
        arr = np.asarray(_unwrap(mat[name]))
        if arr.dtype.kind not in "biuf":
            raise bad(f"field {name!r} has dtype {arr.dtype}, expected numbers")
        if arr.size == 0:
            arr = arr.reshape(0, cols)
        elif arr.ndim < 2 and arr.size == cols:  # squeeze_me drops the row axis of a single row
            arr = arr.reshape(1, cols)
        ok = (
            arr.ndim == 2
            and arr.shape[1] == cols
            and (arr.shape[0] == rows if rows is not None else arr.shape[0] <= t)
        )
        if not ok:
            want = f"({t}, {cols})" if rows is not None else f"(<={t}, {cols})"
            raise bad(f"field {name!r} has shape {arr.shape}, expected {want} (nframes = {t})")
        return arr

    x = table("x", PENN_ACTION_NUM_JOINTS, t)
    y = table("y", PENN_ACTION_NUM_JOINTS, t)
    vis = table("visibility", PENN_ACTION_NUM_JOINTS, t)
    if not np.all((vis == 0) | (vis == 1)):
        raise bad(f"field 'visibility' holds values {np.unique(vis)[:8].tolist()}, expected 0/1")
    bbox = table("bbox", 4, None).astype(np.float32)
    if len(bbox) < t:
        fill = bbox[-1:] if len(bbox) else np.full((1, 4), np.nan, np.float32)
        bbox = np.concatenate([bbox, np.repeat(fill, t - len(bbox), axis=0)])

    dims = np.asarray(_unwrap(mat["dimensions"]))
    if dims.size < 2 or dims.dtype.kind not in "biuf":
        raise bad(f"field 'dimensions' has shape {dims.shape} dtype {dims.dtype}, expected [H W T]")
    h, w = (int(v) for v in dims.ravel()[:2])

    train = number("train")
    if train not in (1.0, -1.0):
        raise bad(f"field 'train' is {train:g}, expected 1 (train) or -1 (test)")
    action = text("action").strip()
    if action not in ACTIONS:
        raise bad(f"field 'action' is {action!r}, expected one of {list(ACTIONS)}")

    return PennActionVideo(
        video_id=path.stem,
        action=action,
        view=text("pose").strip(),
        train=train == 1.0,
        keypoints_px=np.stack([x, y], axis=-1).astype(np.float32),
        visibility=vis != 0,
        bbox=bbox,
        image_size=(w, h),
        num_frames=t,
    )


def _video_order(path: Path) -> tuple[int, str]:
    return (int(path.stem) if path.stem.isdigit() else 10**9, path.stem)


def load_penn_action(manual_dir: str | Path) -> dict[str, list[PennActionVideo]]:
    """Penn Action as {"train": [...], "test": [...]} lists of :class:`PennActionVideo`.

    Args:
      manual_dir: the ``labels/`` folder of the dataset, or a folder containing it.

    Returns:
      The videos of each split (by the files' own ``train`` flag), sorted by video id.

    Raises:
      MissingDatasetFile / MalformedDatasetFile: naming the path, the expected format and where to
        get the dataset.
    """
    labels = find_labels_dir(manual_dir)
    out: dict[str, list[PennActionVideo]] = {"train": [], "test": []}
    for path in sorted(labels.glob("*.mat"), key=_video_order):
        video = read_penn_action_video(path)
        out["train" if video.train else "test"].append(video)
    return out
