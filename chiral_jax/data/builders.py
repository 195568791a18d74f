"""TFDS builders (``file_format="array_record"``, read with ``as_data_source``; no TensorFlow needed).

Four datasets, one example per (subject, action, camera) sequence with the features of
:meth:`~chiral_jax.data.sequence.PoseSequence.to_example`:

==========  ==================  ===============================================================
name        manual dir          configs
==========  ==================  ===============================================================
h36m        VideoPose3D npz     the 2D source: ``gt`` (default), ``cpn_ft_h36m_dbb``, ... (any)
humaneva    VideoPose3D npz     the 2D source: ``gt`` (default), ... (any)
cmu_mocap   CMU ASF/AMC tree    ``default``
synthetic   (none)              ``default`` (seed 0, exact 2D), ``noisy`` (seed 0, 2 px noise)
==========  ==================  ===============================================================

The builders only glue the numpy readers to TFDS: every file is read and validated in
``_split_generators`` before anything is written, and TFDS writes into a temporary
``incomplete.*`` folder that it renames only after a complete build, so a failed build never looks
complete. Use :func:`make_builder` (any 2D source, any synthetic seed) and :func:`build`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from chiral_jax.data.cmu_mocap import CMU_HELP, load_cmu_mocap
from chiral_jax.data.h36m import H36M_MANUAL_INSTRUCTIONS, load_h36m_npz
from chiral_jax.data.humaneva import HUMANEVA_MANUAL_INSTRUCTIONS, load_humaneva_npz
from chiral_jax.data.sequence import PoseSequence
from chiral_jax.data.synthetic import SyntheticConfig, generate

__all__ = [
    "BUILDERS",
    "CmuMocap",
    "H36m",
    "Humaneva",
    "KeypointsConfig",
    "Synthetic",
    "SyntheticBuilderConfig",
    "build",
    "make_builder",
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

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES: ClassVar[dict[str, str]] = {"1.0.0": "Initial release."}
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
        )

    def _load(self, manual_dir: Path | None) -> dict[str, list[PoseSequence]]:
        raise NotImplementedError

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
    """Human3.6M (VideoPose3D npz files in the manual dir), 17 joints, 50 Hz."""

    name = "h36m"
    MANUAL_DOWNLOAD_INSTRUCTIONS = H36M_MANUAL_INSTRUCTIONS
    BUILDER_CONFIGS: ClassVar[list[tfds.core.BuilderConfig]] = [
        KeypointsConfig(name=s, description=f"2D keypoints from data_2d_h36m_{s}.npz") for s in H36M_SOURCES
    ]

    def _load(self, manual_dir: Path | None) -> dict[str, list[PoseSequence]]:
        return load_h36m_npz(_need_manual(manual_dir, self.name), self.builder_config.name)


class Humaneva(_PoseBuilder, skip_registration=True):
    """HumanEva-I (VideoPose3D npz files in the manual dir), 15 joints, 60 Hz."""

    name = "humaneva"
    NUM_JOINTS = 15
    MANUAL_DOWNLOAD_INSTRUCTIONS = HUMANEVA_MANUAL_INSTRUCTIONS
    BUILDER_CONFIGS: ClassVar[list[tfds.core.BuilderConfig]] = [
        KeypointsConfig(name=s, description=f"2D keypoints from data_2d_humaneva15_{s}.npz")
        for s in ("gt", "detectron_pt_coco")
    ]

    def _load(self, manual_dir: Path | None) -> dict[str, list[PoseSequence]]:
        return load_humaneva_npz(_need_manual(manual_dir, self.name), self.builder_config.name)


class CmuMocap(_PoseBuilder, skip_registration=True):
    """CMU mocap (ASF/AMC) mapped to H36M-17, 50 Hz, 4 virtual cameras; test split = subject 03."""

    name = "cmu_mocap"
    MANUAL_DOWNLOAD_INSTRUCTIONS = f"Place in the manual dir {CMU_HELP}."

    def _load(self, manual_dir: Path | None) -> dict[str, list[PoseSequence]]:
        return load_cmu_mocap(_need_manual(manual_dir, self.name))


@dataclasses.dataclass(eq=False)
class SyntheticBuilderConfig(tfds.core.BuilderConfig):
    """Parameters of :class:`~chiral_jax.data.synthetic.SyntheticConfig` (seed, noise)."""

    seed: int = 0
    noise_px: float = 0.0


class Synthetic(_PoseBuilder, skip_registration=True):
    """The deterministic synthetic H36M-17 set (:mod:`chiral_jax.data.synthetic`); no files needed."""

    name = "synthetic"
    BUILDER_CONFIGS: ClassVar[list[tfds.core.BuilderConfig]] = [
        SyntheticBuilderConfig(name="default", description="seed 0, exact 2D projections"),
        SyntheticBuilderConfig(name="noisy", description="seed 0, 2 px Gaussian 2D noise", noise_px=2.0),
    ]

    def _load(self, manual_dir: Path | None) -> dict[str, list[PoseSequence]]:
        cfg = self.builder_config
        return generate(SyntheticConfig(seed=cfg.seed, noise_px=cfg.noise_px))


def _need_manual(manual_dir: Path | None, name: str) -> Path:
    if manual_dir is None:
        raise ValueError(f"{name}: this dataset needs --manual_dir (see its MANUAL_DOWNLOAD_INSTRUCTIONS)")
    return manual_dir


BUILDERS: dict[str, type[_PoseBuilder]] = {b.name: b for b in (H36m, Humaneva, CmuMocap, Synthetic)}


def make_builder(
    name: str,
    *,
    data_dir: str | Path | None = None,
    keypoints: str | None = None,
    seed: int | None = None,
    noise_px: float | None = None,
) -> _PoseBuilder:
    """A builder by dataset name, with a config for any 2D source (``keypoints``) or synthetic seed."""
    if name not in BUILDERS:
        raise KeyError(f"unknown dataset {name!r}; known: {sorted(BUILDERS)}")
    cls = BUILDERS[name]
    config: Any = None
    if keypoints is not None:
        if name not in ("h36m", "humaneva"):
            raise ValueError(f"{name}: --keypoints applies to h36m and humaneva only")
        known = {c.name: c for c in cls.BUILDER_CONFIGS}
        config = known.get(keypoints) or KeypointsConfig(
            name=keypoints, description=f"2D keypoints source {keypoints}"
        )
    elif name == "synthetic" and (seed is not None or noise_px is not None):
        s, n = seed or 0, noise_px or 0.0
        config = SyntheticBuilderConfig(name=f"seed{s}_noise{n:g}".replace(".", "p"), seed=s, noise_px=n)
    kwargs: dict[str, Any] = {}
    if data_dir is not None:
        kwargs["data_dir"] = str(data_dir)
    if config is not None:
        kwargs["config"] = config
    return cls(**kwargs)


def build(
    name: str,
    *,
    manual_dir: str | Path | None = None,
    data_dir: str | Path | None = None,
    keypoints: str | None = None,
    seed: int | None = None,
    noise_px: float | None = None,
) -> _PoseBuilder:
    """Builds (or reuses a complete earlier build of) a dataset and returns its builder."""
    builder = make_builder(name, data_dir=data_dir, keypoints=keypoints, seed=seed, noise_px=noise_px)
    dl_config = tfds.download.DownloadConfig(manual_dir=None if manual_dir is None else str(manual_dir))
    builder.download_and_prepare(download_config=dl_config)
    return builder


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
    splits = {}
    for split, source in sorted(sources.items()):
        frames = 0
        for i in range(len(source)):
            frames += int(np.shape(source[i]["pose_2d"])[0])
        splits[split] = {"sequences": len(source), "frames": frames}
    return {
        "name": builder.name,
        "config": builder.builder_config.name if builder.builder_config else None,
        "version": str(builder.version),
        "splits": splits,
        "num_joints": builder.NUM_JOINTS,
        "data_dir": str(builder.data_dir),
        "file_format": "array_record",
    }
