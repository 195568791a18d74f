"""Build a TFDS dataset once, reuse the build, read it back (the one data path of every task).

:func:`build` builds once and reuses the build afterwards; for datasets read from a manual folder
it records the folder's file list (names, sizes, modification times) beside the build and rebuilds,
with a warning, when the files changed. :func:`load_splits` is what tasks call: build if needed,
then read the examples back as :class:`~chiral_jax.data.sequence.PoseSequence` lists.
:func:`split_arrays` and :func:`summarize` read a build as numpy and as the CLI's summary. The
builders themselves are in :mod:`chiral_jax.data.builders`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
import sys
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow_datasets as tfds
from absl import logging as absl_logging

from chiral_jax.data.builders import _GENERATED, _OPTIONS, _ActionBuilder, _PoseBuilder, make_builder
from chiral_jax.data.registry import dataset
from chiral_jax.data.sequence import PoseSequence

__all__ = ["build", "load_splits", "read_split", "split_arrays", "summarize"]

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
        synthetic=synthetic if name in _OPTIONS else None,
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
