"""2D -> 3D pose lifting: chiral VideoPose3D nets against their dense baseline, as a
:class:`~chiral_jax.runner.Task`.

``train_and_evaluate(config, workdir)`` is what ``experiments/lift3d.py`` runs: the runner trains
the comparison (chiral at equal width / equal parameters, per hidden-spec choice; the dense
baseline with mirror augmentation and, with ``model.baseline_without_augment``, without; flip
averaging) and seeds on windows of the training sequences (the TFDS build of ``data.name``, fed
through grain), and this task evaluates the dilated model on whole test sequences (MPJPE, P-MPJPE,
N-MPJPE, MPJVE, per action and per subject x action). ``run_sweep`` is the limited-data study (one
comparison per training subset). ``model.trajectory=True`` adds VideoPose3D's trajectory model
beside each pose net (:mod:`chiral_jax.tasks.lifting_trajectory`).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
from flax import nnx

from chiral_jax import functional, metrics, runner, skeletons, tying
from chiral_jax.data import MirrorAugment, PoseSequence, PoseWindows
from chiral_jax.data.lifting_data import LIFTING_DATASETS, load_lifting_splits
from chiral_jax.data.training_batches import window_epochs
from chiral_jax.models import ChiralTemporalModel, TemporalModel
from chiral_jax.models.trajectory import ROOT_SPEC, LifterWithTrajectory, with_root, with_root_spec
from chiral_jax.runner import Column, TrainingSetup, Variant, machine_description, num_params
from chiral_jax.runner.inference import predict_sequences as predict
from chiral_jax.spec import ChiralSpec
from chiral_jax.tasks import lifting_trajectory as traj
from chiral_jax.tasks.lifting_reports import parse_sweep_entry, subject_action_markdown, sweep_points
from chiral_jax.train import amsgrad_torch
from chiral_jax.train.schedules import decay_schedule

__all__ = [
    "LIFTING",
    "LIFTING_DATASETS",
    "LIFTING_TRAJECTORY",
    "LiftingData",
    "LiftingTask",
    "Variant",
    "compute_dtype",
    "dilated_apply",
    "evaluate",
    "learning_rate",
    "load_data",
    "machine_description",
    "make_model",
    "mpjpe_loss",
    "num_params",
    "parse_sweep_entry",
    "predict",
    "results_table",
    "run_sweep",
    "subject_action_markdown",
    "subject_action_summary",
    "task_for",
    "train_and_evaluate",
    "variants",
]

Array = jax.Array
SWEEP_METRICS = (("mpjpe_mm", "MPJPE (mm)"), ("p_mpjpe_mm", "P-MPJPE (mm)"))
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

    def params(kind: str, width: int) -> int:
        v = Variant("", kind, width, activation=model.get("baseline_activation", "relu"))
        build = lambda: make_model(v, skeleton, filter_widths=tuple(model.filter_widths), dropout=0.0)  # noqa: E731
        return num_params(nnx.eval_shape(build))

    grid = runner.comparison_grid(
        model.kind,
        model.width,
        augment=augment,
        equal_params=model.get("equal_params", True),
        params=params,
        multiple=2,
        baseline_without_augment=model.get("baseline_without_augment", False),
        chiral_options=options,
    )
    act = model.get("baseline_activation", "relu")
    return [dataclasses.replace(v, activation=act) if v.kind == "baseline" else v for v in grid]


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
    """The strided training net of a variant (``model(x, strided=False)`` is the evaluation net).

    ``trajectory`` (config ``model.trajectory``): a :class:`LifterWithTrajectory`, the same pose net
    (same parameters and dropout draws as without the head) beside a trajectory net of its shape
    whose output is the root's camera-frame position (:data:`ROOT_SPEC` for a chiral variant),
    drawn from a stream of its own; the output is ``(..., (J + 1) * 3)``.

    ``init``: ``"torch"`` (PyTorch's ``Conv1d`` default, VideoPose3D's) or ``"lecun"`` (Flax's);
    config ``model.init`` (:func:`chiral_jax.tying.initializers`).

    ``dtype``: compute dtype (e.g. ``jnp.bfloat16``; None: float32); parameters and batch-norm
    statistics are float32 either way. ``dropout_bits``: how the dropout masks are drawn
    ("byte" | "word" | "packed": :func:`chiral_jax.functional.dropout`; None: the
    ``functional.dropout_mask_bits`` mode where the step is traced, "byte" by default).
    """
    if dropout_bits is not None:
        functional.check_mask_bits(dropout_bits, "train.dropout_bits")
    tying.initializers(init, 1, "model.init")  # names the config key when the scheme is unknown
    kwargs = dict(
        init=init,
        filter_widths=filter_widths,
        dropout=dropout,
        dropout_bits=dropout_bits,
        causal=causal,
        strided=True,
        dtype=dtype,
        activation=variant.activation,
    )
    j = skeleton.num_joints

    def net(out: ChiralSpec, rngs: nnx.Rngs) -> nnx.Module:
        if variant.kind == "baseline":
            return TemporalModel(j * 2, out.size, channels=variant.width, rngs=rngs, **kwargs)
        hidden = ChiralSpec.hidden(variant.width, negated=variant.hidden == "negated")
        return ChiralTemporalModel(skeleton.spec(2), out, channels=hidden, rngs=rngs, **kwargs)

    pose = net(skeleton.spec(3), nnx.Rngs(seed))
    if not trajectory:
        return pose
    return LifterWithTrajectory(pose, net(ROOT_SPEC, nnx.Rngs(jax.random.fold_in(jax.random.key(seed), 1))))


def compute_dtype(name: str) -> Any:
    """``train.dtype`` -> the models' compute dtype: "float32" -> None (float32 throughout),
    "bfloat16" -> ``jnp.bfloat16`` (float32 parameters and batch-norm statistics)."""
    dtypes = {"float32": None, "bfloat16": jnp.bfloat16}
    if name not in dtypes:
        raise ValueError(f"train.dtype must be float32 or bfloat16, got {name!r}")
    return dtypes[name]


def dilated_apply(
    model: nnx.Module, skeleton: skeletons.Skeleton, *, flip_average: bool = False
) -> tuple[Callable[[Any, Array], Array], Any]:
    """``(apply, state)``: ``apply(state, x)`` runs the eval-mode dilated net of ``model`` on
    ``x`` (B, T + R - 1, J * 2) -> (B, T, J * 3) ((J + 1) * 3 with a trajectory head); with
    ``flip_average`` it returns the test-time augmentation ``0.5 * (F(x) + T_out F(T_in x))`` (the
    mirrored input's root with x negated back). Puts ``model`` in eval mode."""
    model.eval()
    graphdef, state = nnx.split(model)
    spec_in, spec_out = skeleton.spec(2), skeleton.spec(3)
    if isinstance(model, LifterWithTrajectory):
        spec_out = with_root_spec(spec_out)

    def apply(state: Any, x: Array) -> Array:
        net = lambda x: nnx.merge(graphdef, state, copy=True)(x, strided=False)  # noqa: E731
        return runner.flip_average(net, spec_in, spec_out)(x) if flip_average else net(x)

    return apply, state


def evaluate(
    model: nnx.Module,
    test: Sequence[PoseSequence],
    skeleton: skeletons.Skeleton,
    *,
    receptive_field: int,
    flip_average: bool = False,
    causal: bool = False,
    chunk: int = 64,
    windowed_apply: Callable[[Array], Array] | None = None,
    batch_size: int = 64,
    trajectory: bool = False,
) -> dict[str, Any]:
    """Protocol metrics of the dilated net on whole test sequences (in millimetres).

    ``trajectory``: the net also outputs the root's position (:class:`LifterWithTrajectory`); adds
    ``trajectory_mm`` and ``mpjpe_abs_mm`` (:func:`chiral_jax.tasks.lifting_trajectory.trajectory_metrics`).

    ``flip_average``: test-time augmentation, the average of ``F(x)`` and ``T_out F(T_in x)``.
    ``windowed_apply``: another net's ``(B, chunk + R - 1, Cin) -> (B, chunk, Cout)`` in place of
    the dilated ``model`` (e.g. a transformer run on every window; it does its own flip averaging).
    """
    if windowed_apply is None:
        apply, state = dilated_apply(model, skeleton, flip_average=flip_average)
        windowed_apply = lambda x: apply(state, x)  # noqa: E731
    windows = PoseWindows.from_sequences(
        test, receptive_field=receptive_field, causal=causal, flatten=True, with_intrinsics=False
    )
    preds, fps = predict(windowed_apply, windows, chunk=chunk, batch_size=batch_size)
    j = skeleton.num_joints
    extra: dict[str, float] = {}
    if trajectory:
        preds, extra = traj.trajectory_metrics(preds, test, j)
    per_seq = [(p.reshape(-1, j, 3), s.pose_3d) for p, s in zip(preds, test, strict=True)]
    return {**metrics.lifting_metrics(per_seq, test), "eval_frames_per_second": fps, **extra}


def subject_action_summary(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and standard deviation over seeds of the runs' ``per_subject_action`` (and their flip
    averages' as ``"<name> + TTA"`` rows): :func:`~chiral_jax.runner.summarize_breakdown`."""
    return runner.summarize_breakdown(runs, "per_subject_action")


def mpjpe_loss(num_joints: int) -> Callable[[nnx.Module, dict[str, Array]], tuple[Array, dict[str, Array]]]:
    """The training loss of the strided net: MPJPE (metres) of ``batch["targets"]``; also in mm."""

    def loss_fn(model: nnx.Module, batch: dict[str, Array]) -> tuple[Array, dict[str, Array]]:
        pred = model(batch["inputs"], strided=True)
        shape = (*pred.shape[:-1], num_joints, 3)
        err = jnp.mean(jnp.linalg.norm(pred.reshape(shape) - batch["targets"].reshape(shape), axis=-1))
        return err, {"mpjpe_mm": 1000 * err}

    return loss_fn


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
        return {
            "name": data.name,
            "train_frames": sum(len(s.pose_3d) for s in data.train),
            "test_frames": sum(len(s.pose_3d) for s in data.test),
        }

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
        sk = sk_out = data.skeleton
        loss = mpjpe_loss(sk.num_joints)
        if config.model.get("trajectory", False):  # targets [pose, root position]: (J + 1, 3) per frame
            sk_out, loss = with_root(sk), traj.trajectory_loss(sk.num_joints)
            windows = PoseWindows(
                [s.pose_2d for s in data.train],
                traj.trajectory_targets(data.train),
                receptive_field=math.prod(widths),
                causal=config.model.causal,
                flatten=True,
            )
        else:
            windows = PoseWindows.from_sequences(
                data.train,
                receptive_field=math.prod(widths),
                causal=config.model.causal,
                flatten=True,
                with_intrinsics=False,
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
    """The limited-data study: one comparison per ``config.sweep`` entry (training subjects and
    fraction, :func:`~chiral_jax.tasks.lifting_reports.parse_sweep_entry`) in
    ``workdir/<subjects>_<fraction>``; writes ``sweep.json``, ``sweep.md`` and ``sweep.png``
    (:func:`~chiral_jax.runner.sweep`: MPJPE and P-MPJPE against training frames, one line per model)."""
    os.makedirs(workdir, exist_ok=True)
    points = sweep_points(config.sweep)
    return runner.sweep(
        task_for(config), config, workdir, points, x_key="train_frames", metrics=SWEEP_METRICS
    )


def sweep_table(sweep: dict[str, Any]) -> str:
    """``sweep.md`` of a limited-data study."""
    return runner.sweep_table(sweep, SWEEP_METRICS)
