"""TFDS builders (``file_format="array_record"``, read with ``as_data_source``; no TensorFlow needed).

Five datasets (:data:`~chiral_jax.data.registry.DATASETS`), one example per (subject, action, camera)
sequence with the features of :meth:`~chiral_jax.data.sequence.PoseSequence.to_example` (Penn
Action: one per video, :meth:`~chiral_jax.data.penn_action.PennActionVideo.to_example`):

==========  ==================  ===============================================================
name        manual dir          configs
==========  ==================  ===============================================================
h36m        VideoPose3D npz,    the 2D source: ``gt`` (default), ``cpn_ft_h36m_dbb``, ... (any);
            or Martinez h5      ``gt`` only for the h5 layout (2D projected with cameras.h5)
humaneva    VideoPose3D npz     the 2D source: ``gt`` (default), ... (any)
cmu_mocap   CMU ASF/AMC tree    ``default``
penn_action labels/*.mat         ``default`` (one example per video, 2D only)
synthetic   (none)              ``default`` (seed 0, exact 2D), ``noisy`` (2 px noise), or any
                                :class:`~chiral_jax.data.synthetic.SyntheticConfig` options
==========  ==================  ===============================================================

The builders only glue the registry's numpy readers to TFDS: every file is read and validated in
``_split_generators`` before anything is written, and TFDS writes into a temporary
``incomplete.*`` folder that it renames only after a complete build, so a failed build never looks
complete. Examples keep the reader's order (``disable_shuffling``), so a task reading the built set
sees the sequences in the order the reader produced them.

:func:`build` builds once and reuses the build afterwards; for datasets read from a manual folder
it records the folder's file list (names, sizes, modification times) beside the build and rebuilds,
with a warning, when the files changed. :func:`load_splits` is what tasks call: build if needed,
then read the examples back as :class:`~chiral_jax.data.sequence.PoseSequence` lists.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import shutil
import sys
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import tensorflow_datasets as tfds
from absl import logging as absl_logging
from etils import epath

from chiral_jax.data.actions import ActionClip
from chiral_jax.data.registry import DATASETS, ReadOptions, dataset
from chiral_jax.data.sequence import PoseSequence
from chiral_jax.data.synthetic import SyntheticConfig
from chiral_jax.data.synthetic_actions import SyntheticActionsConfig

__all__ = [
    "BUILDERS",
    "CmuMocap",
    "H36m",
    "Humaneva",
    "KeypointsConfig",
    "KineticsSkeleton",
    "NwUcla",
    "PennAction",
    "Synthetic",
    "SyntheticActions",
    "SyntheticBuilderConfig",
    "build",
    "load_splits",
    "make_builder",
    "read_split",
    "split_arrays",
    "summarize",
]

H36M_SOURCES = ("gt", "cpn_ft_h36m_dbb", "detectron_ft_h36m", "sh_pt_mpii", "sh_ft_h36m")


def _features(num_joints: int) -> tfds.features.FeaturesDict:
    f32 = np.float32
    return tfds.features.FeaturesDict(
        {
            "subject": tfds.features.Text(),
            "action": tfds.features.Text(),
            "camera_id": tfds.features.Text(),
            "pose_2d_px": tfds.features.Tensor(shape=(None, num_joints, 2), dtype=f32),
            "pose_2d": tfds.features.Tensor(shape=(None, num_joints, 2), dtype=f32),
            "pose_3d": tfds.features.Tensor(shape=(None, num_joints, 3), dtype=f32),
            "trajectory": tfds.features.Tensor(shape=(None, 3), dtype=f32),
            "intrinsics": tfds.features.Tensor(shape=(9,), dtype=f32),
            "resolution": tfds.features.Tensor(shape=(2,), dtype=np.int32),
            "fps": tfds.features.Tensor(shape=(), dtype=f32),
        }
    )


_DESCRIPTION = """\
2D/3D human pose sequences, one example per (subject, action, camera): pose_2d_px (T, J, 2) pixels,
pose_2d (T, J, 2) normalized screen coordinates (u/w*2-1, v/w*2-h/w), pose_3d (T, J, 3) camera-frame
metres relative to the root joint, trajectory (T, 3) camera-frame root position, intrinsics (9,)
VideoPose3D-normalized [f (2), c (2), k (3), p (2)], resolution (w, h), fps."""


class _PoseBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Shared glue: subclasses define ``_load(manual_dir) -> {split: [PoseSequence]}``."""

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES: ClassVar[dict[str, str]] = {
        "1.0.0": "Initial release.",
        "1.1.0": "Examples in the reader's order (no shuffling at build time).",
    }
    NUM_JOINTS: ClassVar[int] = 17

    # TFDS locates a builder's code through importlib_resources (not installed, and not needed):
    # point it at this file directly (it looks for an optional checksums.tsv beside it).
    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls) -> epath.Path:
        return epath.Path(__file__)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("file_format", "array_record")
        super().__init__(**kwargs)

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=_DESCRIPTION,
            features=_features(self.NUM_JOINTS),
            supervised_keys=("pose_2d", "pose_3d"),
            disable_shuffling=True,
        )

    def _read_options(self) -> ReadOptions:
        return ReadOptions()

    def _load(self, manual_dir: Path | None) -> dict[str, list[PoseSequence]]:
        return dataset(self.name).load(manual_dir, self._read_options())

    def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Any]:
        manual = getattr(dl_manager, "_manual_dir", None)
        data = self._load(Path(manual) if manual else None)  # reads + validates everything first
        return {split: self._generate_examples(seqs) for split, seqs in data.items()}

    def _generate_examples(self, sequences: list[PoseSequence]) -> Iterator[tuple[str, dict[str, Any]]]:
        for s in sequences:
            yield s.key, s.to_example()


@dataclasses.dataclass(eq=False)
class KeypointsConfig(tfds.core.BuilderConfig):
    """The 2D source of a VideoPose3D-format dataset; its name is the file suffix."""


class H36m(_PoseBuilder, skip_registration=True):
    """Human3.6M (VideoPose3D npz or Martinez et al.'s h5 layout in the manual dir), 17 joints, 50 Hz."""

    name = "h36m"
    MANUAL_DOWNLOAD_INSTRUCTIONS = DATASETS["h36m"].instructions
    BUILDER_CONFIGS: ClassVar[list[tfds.core.BuilderConfig]] = [
        KeypointsConfig(name=s, description=f"2D keypoints from data_2d_h36m_{s}.npz") for s in H36M_SOURCES
    ]

    def _read_options(self) -> ReadOptions:
        return ReadOptions(keypoints=self.builder_config.name)


class Humaneva(_PoseBuilder, skip_registration=True):
    """HumanEva-I (VideoPose3D npz files in the manual dir), 15 joints, 60 Hz."""

    name = "humaneva"
    NUM_JOINTS = 15
    MANUAL_DOWNLOAD_INSTRUCTIONS = DATASETS["humaneva"].instructions
    BUILDER_CONFIGS: ClassVar[list[tfds.core.BuilderConfig]] = [
        KeypointsConfig(name=s, description=f"2D keypoints from data_2d_humaneva15_{s}.npz")
        for s in ("gt", "detectron_pt_coco")
    ]

    def _read_options(self) -> ReadOptions:
        return ReadOptions(keypoints=self.builder_config.name)


class CmuMocap(_PoseBuilder, skip_registration=True):
    """CMU mocap (ASF/AMC) mapped to H36M-17, 50 Hz, 4 virtual cameras; test split = subject 03."""

    name = "cmu_mocap"
    MANUAL_DOWNLOAD_INSTRUCTIONS = DATASETS["cmu_mocap"].instructions


class PennAction(_PoseBuilder, skip_registration=True):
    """Penn Action (the user's ``labels/*.mat``): one example per video, 13 2D joints, visibility."""

    name = "penn_action"
    NUM_JOINTS = 13
    MANUAL_DOWNLOAD_INSTRUCTIONS = DATASETS["penn_action"].instructions

    def _info(self) -> tfds.core.DatasetInfo:
        f32, j = np.float32, self.NUM_JOINTS
        features = tfds.features.FeaturesDict(
            {
                "video_id": tfds.features.Text(),
                "action": tfds.features.Text(),
                "view": tfds.features.Text(),
                "train": tfds.features.Tensor(shape=(), dtype=np.bool_),
                "keypoints_px": tfds.features.Tensor(shape=(None, j, 2), dtype=f32),
                "visibility": tfds.features.Tensor(shape=(None, j), dtype=np.bool_),
                "bbox": tfds.features.Tensor(shape=(None, 4), dtype=f32),
                "image_size": tfds.features.Tensor(shape=(2,), dtype=np.int32),
                "num_frames": tfds.features.Tensor(shape=(), dtype=np.int32),
            }
        )
        return tfds.core.DatasetInfo(
            builder=self,
            description="Penn Action videos: keypoints_px (T, 13, 2) pixels (x, y), visibility (T, 13), "
            "bbox (T, 4) x1 y1 x2 y2, image_size (W, H), action, view, the dataset's train flag.",
            features=features,
            homepage="https://dreamdragon.github.io/PennAction/",
            disable_shuffling=True,
        )


@dataclasses.dataclass(eq=False)
class SyntheticBuilderConfig(tfds.core.BuilderConfig):
    """Keyword arguments of :class:`~chiral_jax.data.synthetic.SyntheticConfig` as sorted pairs."""

    options: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, options: Mapping[str, Any], generator: type = SyntheticConfig) -> SyntheticBuilderConfig:
        """A config named after its options (``default`` for none), so each option set builds once;
        ``generator``: the dataclass whose fields the options are."""
        defaults = {f.name: _plain(f.default) for f in dataclasses.fields(generator)}
        # Options equal to the generator's defaults do not make another dataset.
        items = tuple(
            sorted((k, _plain(v)) for k, v in options.items() if defaults.get(k, _MISSING) != _plain(v))
        )
        if not items:
            return cls(name="default", description="SyntheticConfig() defaults")
        text = json.dumps(items)
        digest = hashlib.sha1(text.encode()).hexdigest()[:10]
        return cls(name=f"custom_{digest}", description=f"SyntheticConfig options {text}", options=items)


class Synthetic(_PoseBuilder, skip_registration=True):
    """The deterministic synthetic H36M-17 set (:mod:`chiral_jax.data.synthetic`); no files needed."""

    name = "synthetic"
    BUILDER_CONFIGS: ClassVar[list[tfds.core.BuilderConfig]] = [
        SyntheticBuilderConfig(name="default", description="seed 0, exact 2D projections"),
        SyntheticBuilderConfig(
            name="noisy", description="seed 0, 2 px Gaussian 2D noise", options=(("noise_px", 2.0),)
        ),
    ]

    def _read_options(self) -> ReadOptions:
        return ReadOptions(synthetic=dict(self.builder_config.options))


class _ActionBuilder(_PoseBuilder, skip_registration=True):
    """One :class:`~chiral_jax.data.actions.ActionClip` per example (``skeleton`` (M, T, J, C))."""

    CHANNELS: ClassVar[int] = 3
    HOMEPAGE: ClassVar[str] = ""

    def _info(self) -> tfds.core.DatasetInfo:
        shape = (None, None, self.NUM_JOINTS, self.CHANNELS)
        return tfds.core.DatasetInfo(
            builder=self,
            description="Labelled skeleton clips: skeleton (people, frames, joints, channels) float32, "
            "label (class index), label_name, source (the file it came from).",
            features=tfds.features.FeaturesDict(
                {
                    # Two unknown dimensions need an encoding: zlib-compressed bytes.
                    "skeleton": tfds.features.Tensor(shape=shape, dtype=np.float32, encoding="zlib"),
                    "label": tfds.features.Tensor(shape=(), dtype=np.int64),
                    "label_name": tfds.features.Text(),
                    "source": tfds.features.Text(),
                }
            ),
            homepage=self.HOMEPAGE or None,
            disable_shuffling=True,
        )

    def _generate_examples(self, clips: list[ActionClip]) -> Iterator[tuple[str, dict[str, Any]]]:
        for c in clips:
            yield c.key, c.to_example()


class KineticsSkeleton(_ActionBuilder, skip_registration=True):
    """Kinetics-skeleton (ST-GCN's JSON release in the manual dir): 2 people, OpenPose-18, (x, y, score)."""

    name = "kinetics_skeleton"
    NUM_JOINTS = 18
    MANUAL_DOWNLOAD_INSTRUCTIONS = DATASETS["kinetics_skeleton"].instructions
    HOMEPAGE = "https://github.com/yysijie/st-gcn"


class NwUcla(_ActionBuilder, skip_registration=True):
    """NW-UCLA (CTR-GCN's ``all_sqe`` JSON files in the manual dir): 1 person, Kinect v1, (x, y, z) m."""

    name = "nw_ucla"
    NUM_JOINTS = 20
    MANUAL_DOWNLOAD_INSTRUCTIONS = DATASETS["nw_ucla"].instructions
    HOMEPAGE = "https://wangjiangb.github.io/my_data.html"


class SyntheticActions(_ActionBuilder, skip_registration=True):
    """The built-in labelled action clips (:mod:`chiral_jax.data.synthetic_actions`); no files."""

    name = "synthetic_actions"
    BUILDER_CONFIGS: ClassVar[list[tfds.core.BuilderConfig]] = [
        SyntheticBuilderConfig(name="default", description="SyntheticActionsConfig() defaults"),
    ]

    def _read_options(self) -> ReadOptions:
        return ReadOptions(synthetic=dict(self.builder_config.options))


_GENERATED: dict[str, type] = {"synthetic": SyntheticConfig, "synthetic_actions": SyntheticActionsConfig}
"""Datasets made by the library, and the dataclass their options configure."""

_MISSING = object()


def _plain(v: Any) -> Any:
    """Config values as JSON-able plain types (tuples from ml_collections become lists)."""
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


BUILDERS: dict[str, type[_PoseBuilder]] = {
    b.name: b
    for b in (H36m, Humaneva, CmuMocap, Synthetic, PennAction, KineticsSkeleton, NwUcla, SyntheticActions)
}


def make_builder(
    name: str,
    *,
    data_dir: str | Path | None = None,
    keypoints: str | None = None,
    seed: int | None = None,
    noise_px: float | None = None,
    synthetic: Mapping[str, Any] | None = None,
) -> _PoseBuilder:
    """A builder by dataset name, with a config for any 2D source (``keypoints``) or any synthetic
    options (``synthetic``: :class:`~chiral_jax.data.synthetic.SyntheticConfig` keywords; ``seed``
    and ``noise_px`` are shortcuts for two of them)."""
    entry = dataset(name)
    cls = BUILDERS[entry.name]
    config: Any = None
    if keypoints is not None:
        if not entry.uses_keypoints:
            raise ValueError(
                f"{name}: --keypoints applies to {[e for e in DATASETS if DATASETS[e].uses_keypoints]}"
            )
        known = {c.name: c for c in cls.BUILDER_CONFIGS}
        config = known.get(keypoints) or KeypointsConfig(
            name=keypoints, description=f"2D keypoints source {keypoints}"
        )
    options = dict(synthetic or {})
    if seed is not None:
        options["seed"] = seed
    if noise_px is not None:
        options["noise_px"] = noise_px
    if options:
        if name not in _GENERATED:
            raise ValueError(
                f"{name}: synthetic options ({sorted(options)}) apply to {sorted(_GENERATED)} only"
            )
        config = SyntheticBuilderConfig.of(options, _GENERATED[name])
        # A registered config of the same options (e.g. "default") is that config itself.
        config = {c.name: c for c in cls.BUILDER_CONFIGS}.get(config.name, config)
    kwargs: dict[str, Any] = {}
    if data_dir:
        kwargs["data_dir"] = str(data_dir)
    if config is not None:
        kwargs["config"] = config
    return cls(**kwargs)


_SOURCE_FILE = "chiral_jax_source.json"


def _source_fingerprint(manual_dir: str | Path | None) -> dict[str, Any] | None:
    """The manual folder's files (relative path, size, mtime), or None for generated datasets."""
    if not manual_dir:
        return None
    root = Path(manual_dir).resolve()
    files = sorted(
        (str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    digest = hashlib.sha1(json.dumps(files).encode()).hexdigest()
    return {"manual_dir": str(root), "files": len(files), "sha1": digest}


@contextlib.contextmanager
def _quiet_absl() -> Iterator[None]:
    level = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        yield
    finally:
        absl_logging.set_verbosity(level)


def _read_record(record: Path) -> dict[str, Any] | None:
    return json.loads(record.read_text()) if record.exists() else None


def _say_reused(name: str, builder: tfds.core.DatasetBuilder, source: dict[str, Any] | None) -> None:
    """One stderr line when an earlier build of a dataset read from the user's files is reused: which
    folder it was built from (generated datasets say nothing)."""
    if name in _GENERATED:
        return
    made_from = (
        f"built from {source['manual_dir']} ({source['files']} files)" if source else "source unrecorded"
    )
    print(f"{name}: using the earlier build in {builder.data_dir} ({made_from})", file=sys.stderr)


def _is_prepared(builder: tfds.core.DatasetBuilder) -> bool:
    return (Path(builder.data_dir) / "dataset_info.json").exists()


def build(
    name: str,
    *,
    manual_dir: str | Path | None = None,
    data_dir: str | Path | None = None,
    keypoints: str | None = None,
    seed: int | None = None,
    noise_px: float | None = None,
    synthetic: Mapping[str, Any] | None = None,
) -> _PoseBuilder:
    """Builds (or reuses a complete earlier build of) a dataset and returns its builder.

    A build from a manual folder is reused while that folder's files are unchanged; when they
    changed (or another folder is given), the build is replaced with a warning. Without
    ``manual_dir``, an existing build is used as it is.
    """
    with _quiet_absl():  # TFDS warns on every custom config ("Using custom data configuration")
        builder = make_builder(
            name, data_dir=data_dir, keypoints=keypoints, seed=seed, noise_px=noise_px, synthetic=synthetic
        )
    fingerprint = _source_fingerprint(manual_dir)
    record = Path(builder.data_dir) / _SOURCE_FILE
    if _is_prepared(builder) and (fingerprint is None or _read_record(record) == fingerprint):
        _say_reused(name, builder, _read_record(record))
    if _is_prepared(builder) and fingerprint is not None:
        old = _read_record(record)
        if old != fingerprint:
            made_from = old["manual_dir"] if old else "unrecorded files"
            warnings.warn(
                f"{name}: the build in {builder.data_dir} was made from {made_from}; the files in "
                f"{fingerprint['manual_dir']} differ, so it is rebuilt",
                stacklevel=2,
            )
            shutil.rmtree(builder.data_dir)
            builder = make_builder(
                name,
                data_dir=data_dir,
                keypoints=keypoints,
                seed=seed,
                noise_px=noise_px,
                synthetic=synthetic,
            )
    if not _is_prepared(builder):
        dl_config = tfds.download.DownloadConfig(manual_dir=None if manual_dir is None else str(manual_dir))
        print(f"building {name} into {builder.data_dir} (first use)", file=sys.stderr)
        # TFDS reports progress on stdout; keep stdout for the caller's results (and no bars, nor
        # TFDS's two "downloading and preparing" lines: the line above says it).
        tfds.disable_progress_bar()
        with contextlib.redirect_stdout(io.StringIO()):
            builder.download_and_prepare(download_config=dl_config)
        if fingerprint is not None:
            record.write_text(json.dumps(fingerprint))
    return builder


def read_split(builder: tfds.core.DatasetBuilder, split: str) -> list[Any]:
    """A built split as the dataset's records (:class:`PoseSequence`, ...), in the reader's order."""
    record = dataset(builder.name).record
    source = builder.as_data_source()[split]
    return [record.from_example(source[i]) for i in range(len(source))]


def load_splits(
    name: str,
    *,
    manual_dir: str | Path | None = None,
    data_dir: str | Path | None = None,
    keypoints: str | None = None,
    synthetic: Mapping[str, Any] | None = None,
    manual_dir_key: str = "--manual_dir",
) -> dict[str, list[PoseSequence]]:
    """The one data path of every task: build ``name`` into ``data_dir`` on first use (TFDS's
    default data dir when None), then read its splits back from the array_record files.

    ``manual_dir_key`` names the setting in the error raised when a dataset that needs the user's
    files has neither a manual folder nor an earlier build.
    """
    entry = dataset(name)
    if not entry.uses_keypoints:
        keypoints = None
    if not manual_dir and entry.needs_manual_dir:
        builder = make_builder(name, data_dir=data_dir, keypoints=keypoints)
        if not _is_prepared(builder):
            raise ValueError(entry.missing_manual_dir_message(manual_dir_key))
    builder = build(
        name,
        manual_dir=manual_dir or None,
        data_dir=data_dir,
        keypoints=keypoints,
        synthetic=synthetic if name in _GENERATED else None,
    )
    return {split: read_split(builder, split) for split in sorted(builder.info.splits)}


def _text(x: Any) -> str:
    return x.decode() if isinstance(x, bytes) else str(x)


def split_arrays(builder: tfds.core.DatasetBuilder, split: str) -> dict[str, Any]:
    """A built split as numpy: per-sequence lists and stacked per-sequence fields.

    Returns:
      {"pose_2d", "pose_2d_px", "pose_3d", "trajectory": lists of (T_i, ...) arrays;
       "intrinsics": (N, 9); "resolution": (N, 2); "subject", "action", "camera_id": lists of str}.
    """
    source = builder.as_data_source()[split]
    out: dict[str, Any] = {
        k: []
        for k in (
            "pose_2d",
            "pose_2d_px",
            "pose_3d",
            "trajectory",
            "intrinsics",
            "resolution",
            "subject",
            "action",
            "camera_id",
        )
    }
    for i in range(len(source)):
        ex = source[i]
        for k in out:
            v = ex[k]
            out[k].append(_text(v) if k in ("subject", "action", "camera_id") else np.asarray(v))
    out["intrinsics"] = np.stack(out["intrinsics"]) if out["intrinsics"] else np.zeros((0, 9), np.float32)
    out["resolution"] = np.stack(out["resolution"]) if out["resolution"] else np.zeros((0, 2), np.int32)
    return out


def summarize(builder: tfds.core.DatasetBuilder) -> dict[str, Any]:
    """The one-line summary the CLI prints: name, config, per-split sequences and frames, joints."""
    sources = builder.as_data_source()
    field = "keypoints_px" if builder.name == "penn_action" else "pose_2d"
    action = isinstance(builder, _ActionBuilder)  # skeleton (people, frames, joints, channels)
    splits = {}
    for split, source in sorted(sources.items()):
        frames = 0
        for i in range(len(source)):
            frames += (
                int(np.shape(source[i]["skeleton"])[1]) if action else int(np.shape(source[i][field])[0])
            )
        splits[split] = {"sequences": len(source), "frames": frames}
    return {
        "name": builder.name,
        "config": builder.builder_config.name if builder.builder_config else None,
        "version": str(builder.version),
        "splits": splits,
        "num_joints": builder.NUM_JOINTS,
        "skeleton": dataset(builder.name).skeleton.name,
        "data_dir": str(builder.data_dir),
        "file_format": "array_record",
    }
