"""A trained lifter rebuilt from its run folder: ``model.json`` + the newest orbax checkpoint.

Every lifting run writes ``WORKDIR/<variant>/seed<k>/model.json`` (the variant, skeleton, filter
widths, input normalisation: :meth:`chiral_jax.tasks.lifting.LiftingTask.model_metadata`) beside
its ``checkpoints/``. :func:`load_lifter` builds the model as an abstract target
(``nnx.eval_shape``, no weights allocated), checks the checkpoint's arrays against it, and restores
only the model's part of the saved ``(model, optimizer)`` state (orbax partial restore). A
checkpoint written by another model or width is refused with both descriptions.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import jax
import numpy as np

from chiral_jax import skeletons

__all__ = [
    "PRETRAINED",
    "Lifter",
    "ModelMismatchError",
    "describe_arrays",
    "find_run",
    "load_lifter",
    "pretrained_dir",
]

PRETRAINED = "pretrained"
"""The ``--checkpoint`` name of the lifter shipped in the package (:func:`pretrained_dir`)."""


def pretrained_dir() -> Path:
    """The packaged lifter's folder (``model.json`` + a model-only checkpoint): a small chiral net
    for COCO-17 detections, trained on free data by ``experiments/configs/lift3d_pretrained.py``."""
    return Path(__file__).resolve().parent / "pretrained"


class ModelMismatchError(ValueError):
    """The checkpoint holds a different model (kind, width, layers) from the one asked for."""


def find_run(checkpoint: str | os.PathLike, variant: str | None = None) -> Path:
    """The run folder (with ``model.json``) that ``--checkpoint`` / ``--variant`` name.

    Accepts ``WORKDIR/<variant>/seed<k>`` (or its ``checkpoints`` folder), ``WORKDIR/<variant>``
    (its lowest seed), or ``WORKDIR`` with ``variant`` (or a WORKDIR holding a single variant).
    ``"pretrained"`` (:data:`PRETRAINED`) is the packaged lifter (:func:`pretrained_dir`; a folder of
    that name in the working directory is ``./pretrained``).
    """
    if str(checkpoint) == PRETRAINED:
        path = pretrained_dir()
        if not (path / "model.json").exists():
            raise FileNotFoundError(
                f"--checkpoint pretrained: the packaged lifter is missing ({path / 'model.json'}); "
                "expected chiral_jax installed with its package data (pip install -e .)"
            )
        if variant is not None:
            _check_variant_name(path, variant)
        return path
    path = Path(checkpoint)
    if not path.exists():
        raise FileNotFoundError(f"--checkpoint {path}: no such folder (expected WORKDIR/<variant>/seed<k>)")
    if path.name == "checkpoints":
        path = path.parent
    if (path / "model.json").exists():
        if variant is not None and path.parent.name != variant:
            _check_variant_name(path, variant)
        return path
    if variant is not None:
        if not (path / variant).is_dir():
            found = _variants(path)
            raise FileNotFoundError(
                f"--variant {variant!r}: no folder {path / variant}; {path} holds "
                + (", ".join(found) if found else "no trained variants (no */seed*/model.json)")
            )
        path = path / variant
    seeds = _seed_dirs(path)
    if seeds:
        return seeds[0]
    found = _variants(path)
    if len(found) == 1:
        return _seed_dirs(path / found[0])[0]
    if found:
        raise ValueError(
            f"--checkpoint {path} holds {len(found)} variants: {', '.join(found)}; pass --variant NAME "
            f"(or --checkpoint {path}/<variant>/seed0)"
        )
    raise FileNotFoundError(
        f"--checkpoint {path}: no model.json here or in <variant>/seed<k>/ below it. Expected the folder "
        "of a training run (WORKDIR/<variant>/seed<k>, written by experiments/lift3d.py); runs trained "
        "before model.json existed can be completed by running the same training command again (it "
        "resumes from the finished checkpoints and writes model.json)"
    )


def _seed_dirs(path: Path) -> list[Path]:
    seeds = [p for p in path.glob("seed*") if (p / "model.json").exists()]
    return sorted(seeds, key=lambda p: int(re.sub(r"\D", "", p.name) or 0))


def _variants(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.is_dir() and _seed_dirs(p)) if path.is_dir() else []


def _check_variant_name(run: Path, variant: str) -> None:
    held = json.loads((run / "model.json").read_text()).get("variant", {}).get("name")
    if held != variant:
        raise ModelMismatchError(
            f"--checkpoint {run} holds variant {held!r}, --variant asked for {variant!r}"
        )


def describe_arrays(shapes: dict[str, tuple[int, ...] | None]) -> str:
    """One line about a lifter's arrays ``{path: shape}``: chiral or dense, hidden width, blocks
    (of the pose net, saying so, when a trajectory net is beside it)."""
    if any(k.startswith("trajectory/") for k in shapes):
        pose = {k.removeprefix("pose/"): s for k, s in shapes.items() if k.startswith("pose/")}
        return describe_arrays(pose) + " with a trajectory net of its shape"
    kind = "chiral" if any(k.endswith("kernel_even") for k in shapes) else "dense"
    blocks = len({k.split("/")[1] for k in shapes if k.startswith("layers_conv/")}) // 2
    width: int | str = "?"
    if kind == "dense" and shapes.get("expand_conv/kernel"):
        width = shapes["expand_conv/kernel"][-1]
    elif kind == "chiral" and shapes.get("expand_conv/kernel_even"):
        # Hidden channels: even + odd outputs of the first layer.
        width = shapes["expand_conv/kernel_even"][-1] + (shapes.get("expand_conv/kernel_odd") or (0,))[-1]
    params = sum(math.prod(s) for k, s in shapes.items() if s is not None and "rngs" not in k)
    return f"a {kind} net of hidden width {width}, {blocks} residual blocks, {params:,} numbers"


def _describe_variant(meta: dict[str, Any]) -> str:
    v = meta.get("variant", {})
    return (
        f"variant {v.get('name')!r} ({v.get('kind')}, width {v.get('width', v.get('channels'))}, "
        "filter widths "
        f"{tuple(meta.get('filter_widths', ()))}, skeleton {meta.get('skeleton')})"
    )


@dataclasses.dataclass
class Lifter:
    """A trained lifting net in eval mode, with what it expects.

    Attributes:
      model: the restored strided-training module (called dilated, in eval mode).
      metadata: ``model.json``.
      skeleton: its joint layout.
      run_dir: the run folder; checkpoint: the restored checkpoint folder; epoch: its epoch.
    """

    model: Any
    metadata: dict[str, Any]
    skeleton: skeletons.Skeleton
    run_dir: Path
    checkpoint: Path
    epoch: int
    _compiled: dict[bool, Any] = dataclasses.field(default_factory=dict, repr=False)

    @property
    def kind(self) -> str:
        return self.metadata["variant"]["kind"]

    @property
    def receptive_field(self) -> int:
        return int(self.metadata["receptive_field"])

    @property
    def causal(self) -> bool:
        return bool(self.metadata.get("causal", False))

    @property
    def has_trajectory(self) -> bool:
        """Whether the model has a trajectory head (``model.trajectory=True`` in training)."""
        return bool(self.metadata.get("trajectory", False))

    def apply_fn(self, *, flip_average: bool = False) -> Any:
        """A jitted ``x (B, T + R - 1, J * 2) -> (B, T, J * 3)`` of the dilated net (``(J + 1) * 3``
        with a trajectory head; see :func:`chiral_jax.tasks.lifting.dilated_apply`)."""
        from chiral_jax.tasks.lifting_eval import dilated_apply

        if flip_average not in self._compiled:  # one jit per setting: repeated calls reuse it
            apply, state = dilated_apply(self.model, self.skeleton, flip_average=flip_average)
            jitted = jax.jit(apply)
            self._compiled[flip_average] = lambda x: jitted(state, x)
        return self._compiled[flip_average]

    def predict(self, keypoints: np.ndarray, *, flip_average: bool = False) -> np.ndarray:
        """Normalized 2D keypoints (T, J, 2) -> root-relative 3D poses (T, J, 3) in metres.

        The sequence is edge-padded by the receptive field (as in training and evaluation) and run
        through the dilated net in one call. ``flip_average``: the test-time augmentation
        ``0.5 * (F(x) + T_out F(T_in x))`` (a chiral net gives the same poses without it).
        """
        return self.predict_with_trajectory(keypoints, flip_average=flip_average)[0]

    def predict_with_trajectory(
        self, keypoints: np.ndarray, *, flip_average: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """As :meth:`predict`, also the root's camera-frame position (T, 3) in metres when the model
        has a trajectory head (None otherwise); ``poses + trajectory[:, None]`` is the camera-frame
        pose. With ``flip_average`` the mirrored input's root, x negated back, is averaged in."""
        from chiral_jax.data.windows import pad_sequence

        x = np.asarray(keypoints, np.float32)
        j = self.skeleton.num_joints
        if x.ndim != 3 or x.shape[1:] != (j, 2):
            raise ValueError(
                f"expected keypoints (T, {j}, 2) in the {self.skeleton.name} layout, got {x.shape}"
            )
        padded = pad_sequence(x.reshape(len(x), j * 2), self.receptive_field, causal=self.causal)
        y = np.asarray(self.apply_fn(flip_average=flip_average)(padded[None]))[0]
        out = y.reshape(len(x), -1, 3)
        poses = out[:, :j]
        trajectory = out[:, j] if self.has_trajectory else None
        # Root-relative (the targets' joint 0 is 0; the net's is near it).
        return poses - poses[:, :1], trajectory


def _abstract_model(meta: dict[str, Any], skeleton: skeletons.Skeleton) -> Any:
    from flax import nnx

    from chiral_jax.tasks.lifting import Variant, make_model

    variant = Variant.from_dict(meta["variant"])
    return nnx.eval_shape(
        lambda: make_model(
            variant,
            skeleton,
            filter_widths=tuple(meta["filter_widths"]),
            dropout=float(meta.get("dropout", 0.0)),
            causal=bool(meta.get("causal", False)),
            trajectory=bool(meta.get("trajectory", False)),
        )
    )


def load_lifter(checkpoint: str | os.PathLike, variant: str | None = None) -> Lifter:
    """Rebuilds and restores the lifter of a training run (see :func:`find_run` for the paths).

    Raises:
      FileNotFoundError: no run folder, no checkpoint in it.
      ModelMismatchError: the checkpoint's arrays are not those of the model ``model.json`` asks
        for (another kind or width): the message describes both.
    """
    from flax import nnx

    from chiral_jax.train.checkpoint import Checkpointer, CheckpointMismatchError

    run = find_run(checkpoint, variant)
    meta = json.loads((run / "model.json").read_text())
    if meta.get("task") != "lifting":
        raise ValueError(f"{run / 'model.json'}: a {meta.get('task')!r} model, expected a lifting model")
    skeleton = skeletons.get(meta["skeleton"])
    abstract = _abstract_model(meta, skeleton)
    graphdef, abstract_state = nnx.split(abstract)
    latest = run / "checkpoints" / "latest"
    try:
        # The model's part (entry 0) of the saved (model, optimizer) state; the optimizer is not read.
        with Checkpointer(str(run / "checkpoints")) as ckpt:
            epoch, pure = ckpt.restore_part(0, nnx.to_pure_dict(abstract_state))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{run}: no checkpoint in {latest} (has the run finished an epoch?)"
        ) from None
    except CheckpointMismatchError as err:
        changed = [
            f"{k} {err.saved.get(k)} vs {err.wanted.get(k)}"
            for k in sorted(set(err.saved) | set(err.wanted))
            if err.saved.get(k) != err.wanted.get(k)
        ]
        raise ModelMismatchError(
            f"checkpoint {err.path} holds {describe_arrays(err.saved)}, but {run / 'model.json'} "
            f"asks for {_describe_variant(meta)}: {describe_arrays(err.wanted)} (arrays that differ, "
            f"saved vs asked: {'; '.join(changed[:4])}{' ...' if len(changed) > 4 else ''})"
        ) from None
    state = abstract_state
    nnx.replace_by_pure_dict(state, pure)
    model = nnx.merge(graphdef, state)
    model.eval()
    return Lifter(model, meta, skeleton, run, latest / str(epoch), int(epoch))
