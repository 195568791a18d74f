"""2D -> 3D pose lifting: chiral VideoPose3D nets against their dense baseline, as a
:class:`~chiral_jax.runner.Task` (what ``experiments/lift3d.py`` runs).

The runner trains the comparison (chiral at equal width / equal parameters per hidden-spec choice,
the dense baseline with mirror augmentation and, with ``model.baseline_without_augment``, without;
flip averaging) over seeds on windows of the training sequences (the TFDS build of ``data.name``,
through grain); the dilated net is evaluated on whole test sequences (MPJPE, P-MPJPE, N-MPJPE,
MPJVE, per action and per subject x action: :mod:`chiral_jax.tasks.lifting_eval`). ``run_sweep`` is
the limited-data study; ``model.trajectory=True`` adds VideoPose3D's trajectory model
(:mod:`chiral_jax.tasks.lifting_trajectory`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import ml_collections
from flax import nnx

from chiral_jax import functional, runner, skeletons, tying
from chiral_jax.data import MirrorAugment, PoseSequence
from chiral_jax.data.lifting_data import load_lifting_splits
from chiral_jax.data.training_batches import window_epochs
from chiral_jax.models.lifters import temporal_lifter
from chiral_jax.nn.precision import compute_dtype
from chiral_jax.runner import Column, TrainingSetup, Variant, num_params
from chiral_jax.tasks import lifting_reports
from chiral_jax.tasks import lifting_trajectory as traj
from chiral_jax.tasks.lifting_eval import dilated_apply as dilated_apply
from chiral_jax.tasks.lifting_eval import evaluate
from chiral_jax.tasks.lifting_eval import predict as predict
from chiral_jax.tasks.lifting_reports import parse_sweep_entry as parse_sweep_entry
from chiral_jax.tasks.lifting_reports import subject_action_markdown
from chiral_jax.tasks.lifting_reports import sweep_table as sweep_table
from chiral_jax.tasks.lifting_trajectory import mpjpe_loss
from chiral_jax.train import amsgrad_torch
from chiral_jax.train.schedules import decay_schedule

__all__ = [
    "LIFTING",
    "LIFTING_TRAJECTORY",
    "LiftingData",
    "LiftingTask",
    "make_model",
    "mpjpe_loss",
    "results_table",
    "run_sweep",
    "task_for",
    "train_and_evaluate",
    "variants",
]

load_data = load_lifting_splits
learning_rate = decay_schedule  # the VideoPose3D schedule's former name here


def variants(
    model: ml_collections.ConfigDict, augment: bool, skeleton: skeletons.Skeleton = skeletons.H36M
) -> list[Variant]:
    """The comparison of ``model.kind`` (:func:`~chiral_jax.runner.comparison_grid`): per entry of
    ``model.hidden_specs`` (``plain`` with ``model.activation``, ``negated`` with
    ``model.negated_activation``) the chiral net at ``model.width`` and at the baseline's
    parameters; the baseline (``model.baseline_activation``)."""
    options = [
        {"hidden": h, "activation": model.activation if h == "plain" else model.negated_activation}
        for h in model.get("hidden_specs", ("plain",))
    ]

    def params(kind: str, width: int, fw: tuple[int, ...] = tuple(model.filter_widths)) -> int:
        net = lambda: make_model(Variant("", kind, width), skeleton, filter_widths=fw, dropout=0)  # noqa: E731
        return num_params(nnx.eval_shape(net))

    return runner.comparison_grid(
        model.kind,
        model.width,
        augment=augment,
        equal_params=model.get("equal_params", True),
        params=params,
        multiple=2,
        baseline_without_augment=model.get("baseline_without_augment", False),
        chiral_options=options,
        baseline_options={"activation": model.get("baseline_activation", "relu")},
    )


def make_model(
    variant: Variant,
    skeleton: skeletons.Skeleton,
    *,
    filter_widths: Sequence[int],
    dropout: float,
    causal: bool = False,
    seed: int = 0,
    dtype: Any = None,
    dropout_bits: str | None = None,
    init: str = "torch",
    trajectory: bool = False,
) -> nnx.Module:
    """The strided training net of a variant (``model(x, strided=False)`` evaluates):
    :func:`~chiral_jax.models.lifters.temporal_lifter` from ``skeleton.spec(2)`` to
    ``skeleton.spec(3)``, with VideoPose3D's trajectory head when ``trajectory``
    (``model.trajectory``). ``init``: ``"torch"`` (PyTorch's ``Conv1d`` default) or ``"lecun"``
    (``model.init``); ``dtype``: compute dtype (None: float32; parameters and batch-norm statistics
    stay float32); ``dropout_bits``: how dropout masks are drawn (``train.dropout_bits``; None: the
    ``functional.dropout_mask_bits`` context)."""
    if dropout_bits is not None:
        functional.check_mask_bits(dropout_bits, "train.dropout_bits")
    tying.initializers(init, 1, "model.init")  # names the config key when the scheme is unknown
    return temporal_lifter(
        variant.kind,
        variant.width,
        skeleton.spec(2),
        skeleton.spec(3),
        hidden=variant.hidden,
        seed=seed,
        trajectory=trajectory,
        init=init,
        filter_widths=filter_widths,
        dropout=dropout,
        dropout_bits=dropout_bits,
        causal=causal,
        strided=True,
        dtype=dtype,
        activation=variant.activation,
    )


@dataclasses.dataclass(frozen=True)
class LiftingData:
    """What every lifting run reads: the splits and their skeleton."""

    name: str
    train: list[PoseSequence]
    test: list[PoseSequence]
    skeleton: skeletons.Skeleton


class LiftingTask(runner.Task):
    """2D -> 3D lifting with VideoPose3D's temporal conv nets (strided training, dilated testing).

    ``trajectory``: the task of ``model.trajectory=True`` runs (:data:`LIFTING_TRAJECTORY`): its
    summary and results.md also have the trajectory head's metrics (the config builds the model).
    """

    name = "Lifting"
    summary_keys = ("mpjpe_mm", "p_mpjpe_mm", "n_mpjpe_mm", "mpjve_mm", "eval_frames_per_second")
    columns = (
        Column("MPJPE (mm)", "mpjpe_mm"),
        Column("P-MPJPE (mm)", "p_mpjpe_mm"),
        Column("N-MPJPE (mm)", "n_mpjpe_mm"),
        Column("MPJVE (mm)", "mpjve_mm"),
        Column("eval frames/s", "eval_frames_per_second", ".0f"),
    )
    primary_metric = "mpjpe_mm"
    final_metrics = ("train_mpjpe_mm",)
    breakdowns = ("per_subject_action",)

    def __init__(self, trajectory: bool = False) -> None:
        if trajectory:
            self.summary_keys = (*type(self).summary_keys, *traj.TRAJECTORY_KEYS)
            self.columns = (*type(self).columns, *(Column(h, k) for h, k in traj.TRAJECTORY_COLUMNS))
            self.final_metrics = (*type(self).final_metrics, "train_trajectory_mm")

    def load_data(self, config: ml_collections.ConfigDict) -> LiftingData:
        train, test, skeleton = load_data(config.data)
        return LiftingData(config.data.name, train, test, skeleton)

    def describe_data(self, data: LiftingData) -> dict[str, Any]:
        frames = {f"{k}_frames": sum(len(s.pose_3d) for s in getattr(data, k)) for k in ("train", "test")}
        return {"name": data.name, **frames}

    def variants(self, config: ml_collections.ConfigDict, data: LiftingData) -> list[Variant]:
        return variants(config.model, config.train.augment, data.skeleton)

    def describe_variant(self, variant: Variant) -> dict[str, Any]:
        return {**variant.describe(), "channels": variant.width}  # "channels": older records' name

    def model_metadata(
        self, variant: Variant, data: LiftingData, config: ml_collections.ConfigDict
    ) -> dict[str, Any]:
        """``model.json``: the variant, the skeleton, the net's shape and the 2D normalisation
        (what :mod:`chiral_jax.predict` rebuilds the model from)."""
        return {
            "task": "lifting",
            "variant": dataclasses.asdict(variant),
            "skeleton": data.skeleton.name,
            "joint_names": list(data.skeleton.joint_names),
            "filter_widths": list(config.model.filter_widths),
            "receptive_field": math.prod(config.model.filter_widths),
            "dropout": config.model.dropout,
            "causal": config.model.causal,
            "init": config.model.get("init", "torch"),
            "input": "2D keypoints (T, J, 2) in VideoPose3D's normalized screen coordinates "
            "(u / w * 2 - 1, v / w * 2 - h / w)",
            "output": "3D poses (T, J, 3) in metres, camera frame, root-relative (joint 0 at 0)"
            + ("; then the root's camera-frame position (T, 3)" if config.model.get("trajectory") else ""),
            "trajectory": bool(config.model.get("trajectory", False)),
            "dataset": data.name,
            "config": config.to_dict(),
        }

    def setup(
        self, variant: Variant, seed: int, data: LiftingData, config: ml_collections.ConfigDict
    ) -> TrainingSetup:
        widths = tuple(config.model.filter_widths)
        model = make_model(
            variant,
            data.skeleton,
            filter_widths=widths,
            dropout=config.model.dropout,
            causal=config.model.causal,
            seed=seed,
            dtype=compute_dtype(config.train.get("dtype", "float32")),
            dropout_bits=config.train.get("dropout_bits", "byte"),
            init=config.model.get("init", "torch"),
            trajectory=config.model.get("trajectory", False),
        )
        sk = data.skeleton
        trajectory = bool(config.model.get("trajectory", False))
        windows, loss, sk_out = traj.training_windows(
            data.train,
            sk,
            receptive_field=math.prod(widths),
            causal=config.model.causal,
            trajectory=trajectory,
        )
        augment = MirrorAugment(0.5, skeleton_in=sk, skeleton_out=sk_out) if variant.augment else None
        batches, steps, device_data = window_epochs(
            windows,
            config.train.batch_size,
            seed=seed,
            augment=augment,
            device_resident=config.data.get("device_resident", True),
        )
        lr = decay_schedule(config.train, steps)
        return TrainingSetup(
            model,
            amsgrad_torch(lr),
            loss,
            batches,
            steps,
            config.train.epochs,
            device_data=device_data,
        )

    def evaluate(
        self,
        model: nnx.Module,
        variant: Variant,
        data: LiftingData,
        config: ml_collections.ConfigDict,
        *,
        flip_average: bool = False,
    ) -> dict[str, Any]:
        return evaluate(
            model,
            data.test,
            data.skeleton,
            receptive_field=math.prod(config.model.filter_widths),
            causal=config.model.causal,
            trajectory=bool(config.model.get("trajectory", False)),
            flip_average=flip_average,
        )

    def extra_markdown(self, results: dict[str, Any]) -> str:
        actions = results.get("config", {}).get("data", {}).get("actions", ())
        return subject_action_markdown(results.get("summary_by_subject_action", []), actions)

    def title(self, results: dict[str, Any]) -> str:
        d = results["data"]
        return f"Lifting results: {d['name']} ({d['train_frames']} train / {d['test_frames']} test frames)"


LIFTING = LiftingTask()
LIFTING_TRAJECTORY = LiftingTask(trajectory=True)


def task_for(config: ml_collections.ConfigDict | dict[str, Any]) -> LiftingTask:
    """:data:`LIFTING_TRAJECTORY` when ``model.trajectory`` is on, else :data:`LIFTING`."""
    model = config.get("model") or {}
    return LIFTING_TRAJECTORY if model.get("trajectory", False) else LIFTING


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Runs every variant x seed of ``config``; writes results.json / results.md / plots in ``workdir``."""
    return runner.run(task_for(config), config, workdir)


def results_table(results: dict[str, Any]) -> str:
    """The ``results.md`` of a lifting run (with the trajectory columns when the head was on)."""
    return runner.report(task_for(results.get("config", {})), results)


def run_sweep(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """The limited-data study of ``config.sweep`` (:func:`~chiral_jax.tasks.lifting_reports.run_sweep`)."""
    return lifting_reports.run_sweep(task_for(config), config, workdir)
