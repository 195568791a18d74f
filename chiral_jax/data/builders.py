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

``synthetic_ik`` and ``cmu_mocap_ik`` (the IK task's sets, :mod:`chiral_jax.data.ik_data`) store
the same features plus ``rotations`` (T, J, 3, 3) local joint rotations in the camera frame and
``rest`` (J, 3) the subject's rest joints; their configs are option sets as for ``synthetic``
(``cmu_mocap_ik``: :class:`~chiral_jax.data.ik_data.CmuIkOptions`).

The builders only glue the registry's numpy readers to TFDS: every file is read and validated in
``_split_generators`` before anything is written, and TFDS writes into a temporary
``incomplete.*`` folder that it renames only after a complete build, so a failed build never looks
complete. Examples keep the reader's order (``disable_shuffling``), so a task reading the built set
sees the sequences in the order the reader produced them. :func:`make_builder` picks a builder and
its config by dataset name.

Building once, reusing the build and reading it back (:func:`~chiral_jax.data.build_cache.build`,
:func:`~chiral_jax.data.build_cache.load_splits`, ...) live in :mod:`chiral_jax.data.build_cache`;
those names are importable from here too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from chiral_jax.data.actions import ActionClip
from chiral_jax.data.ik_data import CmuIkOptions, IkSequence
from chiral_jax.data.registry import DATASETS, ReadOptions, dataset
from chiral_jax.data.sequence import PoseSequence
from chiral_jax.data.synthetic import SyntheticConfig
from chiral_jax.data.synthetic_actions import SyntheticActionsConfig

if TYPE_CHECKING:  # at run time, the module __getattr__ below (build_cache imports this module)
    from chiral_jax.data.build_cache import build, load_splits, read_split, split_arrays, summarize

__all__ = [
    "BUILDERS",
    "CmuMocap",
    "CmuMocapIk",
    "H36m",
    "Humaneva",
    "KeypointsConfig",
    "KineticsSkeleton",
    "NwUcla",
    "PennAction",
    "Synthetic",
    "SyntheticActions",
    "SyntheticBuilderConfig",
    "SyntheticIk",
    "build",
    "load_splits",
    "make_builder",
    "read_split",
    "split_arrays",
    "summarize",
]

H36M_SOURCES = ("gt", "cpn_ft_h36m_dbb", "detectron_ft_h36m", "sh_pt_mpii", "sh_ft_h36m")


def _features(num_joints: int, **extra: tfds.features.FeatureConnector) -> tfds.features.FeaturesDict:
    f32 = np.float32
    return tfds.features.FeaturesDict(
        {
            **extra,
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


class _IkBuilder(_PoseBuilder, skip_registration=True):
    """One :class:`~chiral_jax.data.ik_data.IkSequence` per example: the pose features, ``rotations``
    and ``rest``; configs are option sets (:class:`SyntheticBuilderConfig`)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES: ClassVar[dict[str, str]] = {"1.0.0": "Initial release."}

    def _info(self) -> tfds.core.DatasetInfo:
        j, f32 = self.NUM_JOINTS, np.float32
        features = _features(
            j,
            rotations=tfds.features.Tensor(shape=(None, j, 3, 3), dtype=f32),
            rest=tfds.features.Tensor(shape=(j, 3), dtype=f32),
        )
        return tfds.core.DatasetInfo(
            builder=self,
            description=_DESCRIPTION + "\nrotations (T, J, 3, 3) local joint rotations in the camera frame "
            "(the root's: rest frame -> camera), rest (J, 3) the subject's rest joints, root at 0.",
            features=features,
            supervised_keys=("pose_2d", "pose_3d"),
            disable_shuffling=True,
        )

    def _read_options(self) -> ReadOptions:
        return ReadOptions(synthetic=dict(self.builder_config.options))

    def _generate_examples(self, sequences: list[IkSequence]) -> Iterator[tuple[str, dict[str, Any]]]:
        for s in sequences:
            yield s.key, s.to_example()


class SyntheticIk(_IkBuilder, skip_registration=True):
    """The synthetic set with its joint rotations (:func:`~chiral_jax.data.ik_data.generate_synthetic_ik`)."""

    name = "synthetic_ik"
    BUILDER_CONFIGS: ClassVar[list[tfds.core.BuilderConfig]] = [
        SyntheticBuilderConfig(name="default", description="seed 0, exact 2D projections"),
    ]


class CmuMocapIk(_IkBuilder, skip_registration=True):
    """CMU mocap with its AMC joint rotations (:func:`~chiral_jax.data.ik_data.load_cmu_mocap_ik`)."""

    name = "cmu_mocap_ik"
    MANUAL_DOWNLOAD_INSTRUCTIONS = DATASETS["cmu_mocap_ik"].instructions
    BUILDER_CONFIGS: ClassVar[list[tfds.core.BuilderConfig]] = [
        SyntheticBuilderConfig(name="default", description="4 virtual cameras per trial"),
    ]


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


_GENERATED: dict[str, type] = {
    "synthetic": SyntheticConfig,
    "synthetic_actions": SyntheticActionsConfig,
    "synthetic_ik": SyntheticConfig,
}
"""Datasets made by the library, and the dataclass their options configure."""

_OPTIONS: dict[str, type] = {**_GENERATED, "cmu_mocap_ik": CmuIkOptions}
"""Datasets whose builder configs are option sets, and the dataclass of those options."""

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
    for b in (
        H36m,
        Humaneva,
        CmuMocap,
        Synthetic,
        PennAction,
        KineticsSkeleton,
        NwUcla,
        SyntheticActions,
        SyntheticIk,
        CmuMocapIk,
    )
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
    and ``noise_px`` are shortcuts for two of them; for ``cmu_mocap_ik``,
    :class:`~chiral_jax.data.ik_data.CmuIkOptions` keywords)."""
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
        if name not in _OPTIONS:
            raise ValueError(f"{name}: options ({sorted(options)}) apply to {sorted(_OPTIONS)} only")
        config = SyntheticBuilderConfig.of(options, _OPTIONS[name])
        # A registered config of the same options (e.g. "default") is that config itself.
        config = {c.name: c for c in cls.BUILDER_CONFIGS}.get(config.name, config)
    kwargs: dict[str, Any] = {}
    if data_dir:
        kwargs["data_dir"] = str(data_dir)
    if config is not None:
        kwargs["config"] = config
    return cls(**kwargs)


# Re-exported from chiral_jax.data.build_cache, which imports this module: resolved on first use.
_BUILD_CACHE_NAMES = ("build", "load_splits", "read_split", "split_arrays", "summarize")


def __getattr__(name: str) -> Any:
    if name in _BUILD_CACHE_NAMES:
        return getattr(importlib.import_module("chiral_jax.data.build_cache"), name)
    raise AttributeError(f"module 'chiral_jax.data.builders' has no attribute {name!r}")
