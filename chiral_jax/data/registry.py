"""Every dataset named once: its reader, skeleton, TFDS builder and where its files come from.

The TFDS builders (:mod:`chiral_jax.data.builders`), ``python -m chiral_jax.data`` and every task
look datasets up here, so adding a dataset is one :class:`DatasetEntry` (plus its builder class).
The readers are plain numpy functions ``read(manual_dir, options) -> {"train": [...], "test": [...]}``
of records (:class:`~chiral_jax.data.sequence.PoseSequence` for 2D/3D pose datasets,
:class:`~chiral_jax.data.ik_data.IkSequence` for those with joint rotations,
:class:`~chiral_jax.data.penn_action.PennActionVideo` for Penn Action), each with ``to_example()``,
``from_example()`` and a ``key``; the builders store what they return.

This module imports neither TFDS nor grain.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from chiral_jax import skeletons
from chiral_jax.data.actions import ActionClip
from chiral_jax.data.cmu_mocap import CMU_HELP, load_cmu_mocap
from chiral_jax.data.h36m import H36M_MANUAL_INSTRUCTIONS, load_h36m
from chiral_jax.data.humaneva import HUMANEVA_MANUAL_INSTRUCTIONS, load_humaneva_npz
from chiral_jax.data.ik_data import IkSequence, generate_synthetic_ik, load_cmu_mocap_ik
from chiral_jax.data.kinetics_skeleton import KINETICS_EXPECTED, KINETICS_HELP, load_kinetics_skeleton
from chiral_jax.data.nw_ucla import NW_UCLA_EXPECTED, NW_UCLA_HELP, load_nw_ucla
from chiral_jax.data.penn_action import PENN_ACTION_HELP, PennActionVideo, load_penn_action
from chiral_jax.data.sequence import PoseSequence
from chiral_jax.data.synthetic import SyntheticConfig, generate
from chiral_jax.data.synthetic_actions import generate_actions

__all__ = ["DATASETS", "DatasetEntry", "ReadOptions", "dataset"]

Splits = dict[str, list[Any]]


@dataclasses.dataclass(frozen=True)
class ReadOptions:
    """What a reader may need besides its folder.

    Attributes:
      keypoints: the 2D source of VideoPose3D-format datasets (``gt``, ``cpn_ft_h36m_dbb``, ...).
      synthetic: keyword arguments of :class:`~chiral_jax.data.synthetic.SyntheticConfig` (for
        ``synthetic_actions``: of :class:`~chiral_jax.data.synthetic_actions.SyntheticActionsConfig`;
        for ``cmu_mocap_ik``: of :class:`~chiral_jax.data.ik_data.CmuIkOptions`).
    """

    keypoints: str = "gt"
    synthetic: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class DatasetEntry:
    """One dataset.

    Attributes:
      name: the name used everywhere (config ``data.name``, TFDS builder, CLI).
      description: one line.
      skeleton: the joint layout of its poses.
      read: ``(manual_dir or None, ReadOptions) -> {"train": [...], "test": [...]}``.
      manual_files: what the manual folder must hold (None: generated, needs no files).
      instructions: where to get the files (shown in errors and by the builder).
      uses_keypoints: whether :attr:`ReadOptions.keypoints` selects a 2D source.
      record: the record type the reader returns (``from_example`` reads a built example back).
    """

    name: str
    description: str
    skeleton: skeletons.Skeleton
    read: Callable[[Path | None, ReadOptions], Splits]
    manual_files: str | None = None
    instructions: str = ""
    uses_keypoints: bool = False
    record: type = PoseSequence

    @property
    def needs_manual_dir(self) -> bool:
        return self.manual_files is not None

    def load(self, manual_dir: str | Path | None, options: ReadOptions | None = None) -> Splits:
        """Reads the raw files directly (the builders' implementation; tasks read the built set)."""
        if self.needs_manual_dir and not manual_dir:
            raise ValueError(self.missing_manual_dir_message())
        return self.read(Path(manual_dir) if manual_dir else None, options or ReadOptions())

    def missing_manual_dir_message(self, key: str = "--manual_dir") -> str:
        return (
            f"dataset {self.name!r} reads files you download yourself: set {key} to the folder "
            f"with {self.manual_files}.\n{self.instructions}"
        )


def _penn_action(manual_dir: Path | None, _: ReadOptions) -> Splits:
    return load_penn_action(manual_dir)


def _synthetic(_: Path | None, options: ReadOptions) -> Splits:
    return generate(SyntheticConfig(**dict(options.synthetic)))


def _cmu(manual_dir: Path | None, _: ReadOptions) -> Splits:
    return load_cmu_mocap(manual_dir)


def _synthetic_ik(_: Path | None, options: ReadOptions) -> Splits:
    return generate_synthetic_ik(SyntheticConfig(**dict(options.synthetic)))


def _cmu_ik(manual_dir: Path | None, options: ReadOptions) -> Splits:
    return load_cmu_mocap_ik(manual_dir, **dict(options.synthetic))


def _h36m(manual_dir: Path | None, options: ReadOptions) -> Splits:
    return load_h36m(manual_dir, options.keypoints)


def _humaneva(manual_dir: Path | None, options: ReadOptions) -> Splits:
    return load_humaneva_npz(manual_dir, options.keypoints)


def _synthetic_actions(_: Path | None, options: ReadOptions) -> Splits:
    return generate_actions(dict(options.synthetic))


def _kinetics(manual_dir: Path | None, _: ReadOptions) -> Splits:
    return load_kinetics_skeleton(manual_dir)


def _nw_ucla(manual_dir: Path | None, _: ReadOptions) -> Splits:
    return load_nw_ucla(manual_dir)


DATASETS: dict[str, DatasetEntry] = {
    e.name: e
    for e in (
        DatasetEntry(
            "synthetic",
            "built-in deterministic motions of 8 subjects seen by 4 virtual cameras (H36M-17)",
            skeletons.H36M,
            _synthetic,
        ),
        DatasetEntry(
            "cmu_mocap",
            "CMU motion capture (ASF/AMC) mapped to H36M-17, 4 virtual cameras; test subject 03",
            skeletons.H36M,
            _cmu,
            manual_files="the CMU subject folders (02/, 03/, ...)",
            instructions=f"Get {CMU_HELP}.",
        ),
        DatasetEntry(
            "synthetic_ik",
            "the synthetic set with each sequence's local joint rotations (camera frame) and rest joints",
            skeletons.H36M,
            _synthetic_ik,
            record=IkSequence,
        ),
        DatasetEntry(
            "cmu_mocap_ik",
            "CMU motion capture with the AMC joint rotations (camera frame) and rest joints, H36M-17, "
            "nearest frames at 50 Hz; test subject 03",
            skeletons.H36M,
            _cmu_ik,
            manual_files="the CMU subject folders (02/, 03/, ...)",
            instructions=f"Get {CMU_HELP}.",
            record=IkSequence,
        ),
        DatasetEntry(
            "h36m",
            "Human3.6M from VideoPose3D's npz files or Martinez et al.'s h5 layout (H36M-17), "
            "S1, S5-S8 train / S9, S11 test",
            skeletons.H36M,
            _h36m,
            manual_files="data_3d_h36m.npz and data_2d_h36m_<keypoints>.npz (VideoPose3D), or "
            "S*/MyPoses/3D_positions/*.h5 and cameras.h5 (Martinez et al., keypoints gt)",
            instructions=H36M_MANUAL_INSTRUCTIONS,
            uses_keypoints=True,
        ),
        DatasetEntry(
            "humaneva",
            "HumanEva-I from VideoPose3D's npz files (15 joints), Train/ vs Validate/ subjects",
            skeletons.HUMANEVA15,
            _humaneva,
            manual_files="data_3d_humaneva15.npz and data_2d_humaneva15_<keypoints>.npz",
            instructions=HUMANEVA_MANUAL_INSTRUCTIONS,
            uses_keypoints=True,
        ),
        DatasetEntry(
            "penn_action",
            "Penn Action: 2,326 videos of 15 actions, 13 2D joints with visibility (labels/*.mat)",
            skeletons.PENN_ACTION,
            _penn_action,
            manual_files="the labels/ folder of Penn Action (0001.mat ... 2326.mat) or its parent",
            instructions=f"Get {PENN_ACTION_HELP}.",
            record=PennActionVideo,
        ),
        DatasetEntry(
            "synthetic_actions",
            "built-in labelled clips of the synthetic motions (6 classes, H36M-17, (x, y, 1)), "
            "a clip and its mirror image being the same action",
            skeletons.H36M,
            _synthetic_actions,
            record=ActionClip,
        ),
        DatasetEntry(
            "kinetics_skeleton",
            "Kinetics-skeleton (ST-GCN): OpenPose-18 (x, y, score) of Kinetics-400 clips, 2 people",
            skeletons.OPENPOSE18,
            _kinetics,
            manual_files=KINETICS_EXPECTED,
            instructions=f"Get {KINETICS_HELP}.",
            record=ActionClip,
        ),
        DatasetEntry(
            "nw_ucla",
            "NW-UCLA (CTR-GCN's JSON): Kinect v1 20-joint 3D sequences, 10 actions, cross-view split",
            skeletons.KINECT_V1,
            _nw_ucla,
            manual_files=NW_UCLA_EXPECTED,
            instructions=f"Get {NW_UCLA_HELP}.",
            record=ActionClip,
        ),
    )
}
"""The datasets this library reads, by name."""


def dataset(name: str) -> DatasetEntry:
    """The registry entry of ``name``; a ValueError listing the known names otherwise."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}") from None
