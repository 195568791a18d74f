"""The runner: every task's comparison, trained, evaluated and reported one way.

A task (:class:`Task`) supplies only what is its own: its data (loaded once and passed to every
hook), its variants (usually :func:`~chiral_jax.runner.variants.comparison_grid`), how one variant
trains (model, optimizer, loss, batches: a :class:`TrainingSetup`), its evaluation and the columns
of its table. :func:`run` does the rest, the same way for every task:

* ``workdir/<variant>/seed<k>/`` per run: checkpoints (training resumes where it stopped; saved
  at most every ``train.checkpoint_every_seconds`` (default 60) or ``train.checkpoint_every_steps``
  and always after the last epoch), ``metrics.jsonl``, ``learning_curves.png``, ``result.json`` and
  ``model.json`` (what rebuilds the model without the training data: :meth:`Task.model_metadata`);
  a run whose ``result.json`` was written under the same config is not repeated;
* test-time flip averaging of every baseline when ``eval.flip_average`` (alias
  ``eval.test_time_augmentation``) is on: the task's evaluation again with ``flip_average=True``,
  stored under the run's ``"tta"`` entry and summarised as a ``"<name> + TTA"`` row;
* the average of the last ``TrainingSetup.average_last`` epoch checkpoints as the evaluated model
  when a task asks for it (``averaged_epochs`` in the record);
* ``workdir/results.json``: ``config``, ``data``, ``machine``, ``models`` (one record per variant
  and seed: the variant's fields, ``seed``, ``params``, ``train_seconds``, the task's ``final_*``
  training metrics and its evaluation), ``summary`` (mean and standard deviation over seeds per
  variant and flip-averaging row) and ``summary_by_<breakdown>`` for each of the task's
  :attr:`Task.breakdowns`;
* ``workdir/results.md`` (what :func:`report` returns and every experiment script prints) and
  ``workdir/results.png`` (the primary metric per row).

:func:`sweep` repeats a comparison over config overrides (e.g. the limited-data study).
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import json
import os
import platform
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import jax
import ml_collections
import numpy as np
import optax
from flax import nnx

from chiral_jax.runner.progress import JobProgress
from chiral_jax.runner.report import Column, plot_summary, results_table
from chiral_jax.runner.summary import summarize, summarize_breakdown
from chiral_jax.runner.variants import Variant
from chiral_jax.runner.vocabulary import canonical_config
from chiral_jax.train import Trainer, average_checkpoints, read_metrics

__all__ = [
    "Task",
    "TrainingSetup",
    "flip_average_enabled",
    "machine_description",
    "num_params",
    "report",
    "run",
    "train_variant",
]

Batch = dict[str, Any]
Record = dict[str, Any]

# Default of ``train.checkpoint_every_seconds`` when a config lacks it: at most one save a minute.
CHECKPOINT_EVERY_SECONDS = 60.0


@dataclasses.dataclass
class TrainingSetup:
    """How one variant and seed trains (what :class:`~chiral_jax.train.Trainer` needs).

    Attributes:
      model: the NNX module to train (in place).
      optimizer: an optax transformation.
      loss_fn: ``(model, batch) -> (scalar loss, dict of scalar metrics)``.
      batches: ``epoch -> iterable of host batches`` (a function of the epoch alone).
      steps_per_epoch: batches per epoch.
      epochs: epochs to train.
      bn_momentum: VideoPose3D's batch-norm momentum decay ``(initial, final)`` or None.
      device_data: device-resident data the jitted step gathers each batch from (``batches`` then
        yields what its ``gather`` reads, e.g. window indices), or None (host batches).
      checkpoints_kept: recent epoch checkpoints kept.
      average_last: evaluate the average of the last this many epoch checkpoints' weights (0: the
        trained model itself).
    """

    model: nnx.Module
    optimizer: optax.GradientTransformation
    loss_fn: Callable[[nnx.Module, Batch], tuple[jax.Array, dict[str, jax.Array]]]
    batches: Callable[[int], Iterable[Batch]]
    steps_per_epoch: int
    epochs: int
    bn_momentum: tuple[float, float] | None = (0.1, 0.001)
    device_data: Any = None
    checkpoints_kept: int = 3
    average_last: int = 0

    def trainer(
        self,
        workdir: str,
        *,
        progress: bool = True,
        checkpoint_every_seconds: float | None = None,
        checkpoint_every_steps: int = 0,
    ) -> Trainer:
        """The :class:`~chiral_jax.train.Trainer` of this setup, checkpointing into ``workdir``."""
        return Trainer(
            self.model,
            self.optimizer,
            self.loss_fn,
            workdir=workdir,
            bn_momentum=self.bn_momentum,
            checkpoint_every_seconds=checkpoint_every_seconds,
            checkpoint_every_steps=checkpoint_every_steps,
            keep=self.checkpoints_kept,
            progress=progress,
            device_data=self.device_data,
        )


class Task(abc.ABC):
    """What a task supplies to :func:`run`.

    Class attributes:
      name: the task's name (the title of its tables).
      summary_keys: evaluation metrics averaged over seeds (``train_seconds`` is always added).
      columns: the metric columns of ``results.md`` (after model, params and seeds).
      primary_metric: the metric of ``results.png``.
      final_metrics: training metrics recorded from the last epoch as ``final_<name>``.
      breakdowns: nested-dict fields of the evaluation (e.g. ``per_subject_action``) summarised over
        seeds into ``results["summary_by_<field without per_>"]``.
    """

    name: str = "task"
    summary_keys: tuple[str, ...] = ()
    columns: tuple[Column, ...] = ()
    primary_metric: str = ""
    final_metrics: tuple[str, ...] = ()
    breakdowns: tuple[str, ...] = ()

    @abc.abstractmethod
    def load_data(self, config: ml_collections.ConfigDict) -> Any:
        """Everything the variants train and evaluate on (loaded once per :func:`run`)."""

    @abc.abstractmethod
    def describe_data(self, data: Any) -> Record:
        """The ``data`` entry of ``results.json`` (name, sizes)."""

    @abc.abstractmethod
    def variants(self, config: ml_collections.ConfigDict, data: Any) -> Sequence[Variant]:
        """The variants to train, each with a unique ``name`` (its folder)."""

    @abc.abstractmethod
    def setup(
        self, variant: Variant, seed: int, data: Any, config: ml_collections.ConfigDict
    ) -> TrainingSetup:
        """Model, optimizer, loss and batches of one variant and seed."""

    @abc.abstractmethod
    def evaluate(
        self,
        model: nnx.Module,
        variant: Variant,
        data: Any,
        config: ml_collections.ConfigDict,
        *,
        flip_average: bool = False,
    ) -> Record:
        """Test metrics of a trained model; with ``flip_average`` those of its test-time flip
        average (:func:`~chiral_jax.runner.inference.eval_function`'s ``flip``)."""

    def describe_variant(self, variant: Variant) -> Record:
        """The leading fields of a run's record: the variant's fields (a task may add the names
        its older records used)."""
        return variant.describe()

    def model_metadata(self, variant: Variant, data: Any, config: ml_collections.ConfigDict) -> Record | None:
        """What rebuilds a variant's model without the training data, written as ``model.json``
        beside the run's checkpoints; None (the default): no file."""
        return None

    def extra_results(self, data: Any, config: ml_collections.ConfigDict) -> Record:
        """Top-level entries of ``results.json`` besides the trained models (e.g. trivial
        baselines); none by default."""
        return {}

    def extra_markdown(self, results: Record) -> str:
        """Text appended to ``results.md`` (e.g. a per-step table); none by default."""
        return ""

    def title(self, results: Record) -> str:
        return f"{self.name} results"


def flip_average_enabled(config: ml_collections.ConfigDict) -> bool:
    """``eval.flip_average`` (``eval.test_time_augmentation`` in older configs)."""
    ev = canonical_config(config).get("eval") or {}
    return bool(ev.get("flip_average", False))


def num_params(model: nnx.Module) -> int:
    """Trainable parameters (every ``nnx.Param`` leaf)."""
    return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(nnx.state(model, nnx.Param)))


def machine_description() -> str:
    """One line: architecture, cores, devices and the JAX version."""
    dev = jax.devices()[0]
    return (
        f"{platform.machine()} {os.cpu_count()} cores, {len(jax.devices())}x {dev.platform}:"
        f"{dev.device_kind}, jax {jax.__version__}"
    )


def _config_hash(config: ml_collections.ConfigDict) -> str:
    # The seed count and the progress bars do not change what one run computes.
    plain = {k: v for k, v in config.to_dict().items() if k not in ("num_seeds", "progress")}
    return hashlib.sha1(json.dumps(plain, sort_keys=True, default=str).encode()).hexdigest()[:12]


def train_variant(
    task: Task, variant: Any, seed: int, data: Any, config: ml_collections.ConfigDict, workdir: str
) -> Record:
    """Trains one variant and seed in ``workdir`` (resuming from its checkpoints) and evaluates it.

    Returns the run's record (also written to ``workdir/result.json``). A record written under the
    same config is returned as it is, without training or evaluating again.
    """
    path = os.path.join(workdir, "result.json")
    fingerprint = _config_hash(config)
    _write_model_metadata(task.model_metadata(variant, data, config), workdir, fingerprint)
    done = _done_record(workdir, fingerprint)
    if done is not None:
        return done
    s = task.setup(variant, seed, data, config)
    train = config.get("train") or {}
    trainer = s.trainer(
        workdir,
        progress=config.get("progress", True),
        # Saves at most this often (and at the end): per-epoch saves dominate small epochs.
        checkpoint_every_seconds=train.get("checkpoint_every_seconds", CHECKPOINT_EVERY_SECONDS),
        checkpoint_every_steps=train.get("checkpoint_every_steps", 0),
    )
    t0 = time.perf_counter()
    trainer.fit(s.batches, epochs=s.epochs, steps_per_epoch=s.steps_per_epoch)
    train_seconds = time.perf_counter() - t0
    model, averaged = trainer.model, None
    if s.average_last:
        model, averaged = _averaged_model(trainer, s.average_last)
    last = read_metrics(workdir)
    record: Record = {
        **task.describe_variant(variant),
        "seed": seed,
        "params": num_params(model),
        "train_seconds": train_seconds,  # wall time of this call: compilation, checkpoints, data included
    }
    for k in task.final_metrics:
        record[f"final_{k}"] = last[-1].get(k) if last else None
    record.update(task.evaluate(model, variant, data, config))
    if averaged is not None:
        record["averaged_epochs"] = averaged
    if variant.kind == "baseline" and flip_average_enabled(config):
        record["tta"] = task.evaluate(model, variant, data, config, flip_average=True)
    record["config_hash"] = fingerprint
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(record, f, indent=1, default=float)
    os.replace(tmp, path)  # atomic: a half-written result is never read back
    return record


def _averaged_model(trainer: Trainer, last: int) -> tuple[nnx.Module, list[int]]:
    """The model with the average of the last ``last`` epoch checkpoints' weights, and their epochs."""
    state = trainer.state
    epochs, mean = average_checkpoints(trainer.checkpointer, nnx.to_pure_dict(state), last)
    nnx.replace_by_pure_dict(state, mean)
    model, _ = nnx.merge(trainer.graphdef, state)
    return model, epochs


def _done_record(workdir: str, fingerprint: str) -> Record | None:
    """The run's ``result.json`` when it was written under the config of ``fingerprint``."""
    path = os.path.join(workdir, "result.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        try:
            done = json.load(f)
        except json.JSONDecodeError:
            return None
    return done if done.get("config_hash") == fingerprint else None


def _write_model_metadata(metadata: Record | None, workdir: str, fingerprint: str) -> None:
    """``workdir/model.json`` (atomically, by process 0), with the config hash of the run."""
    if metadata is None or jax.process_index() != 0:
        return
    os.makedirs(workdir, exist_ok=True)
    tmp = os.path.join(workdir, "model.json.tmp")
    with open(tmp, "w") as f:
        json.dump({**metadata, "config_hash": fingerprint}, f, indent=1, default=str)
    os.replace(tmp, os.path.join(workdir, "model.json"))


def run(task: Task, config: ml_collections.ConfigDict, workdir: str) -> Record:
    """Every variant x seed of ``config``; writes results.json, results.md and results.png.

    ``config``'s older key spellings are read as their current keys
    (:func:`~chiral_jax.runner.vocabulary.canonical_config`)."""
    config = canonical_config(config)
    os.makedirs(workdir, exist_ok=True)
    data = task.load_data(config)
    seeds = [config.seed + k for k in range(config.num_seeds)]
    variants = list(task.variants(config, data))
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise ValueError(f"{task.name}: variant names must be unique (each is a run folder), got {names}")
    grid = [(variant, seed) for variant in variants for seed in seeds]
    progress = JobProgress(len(grid), enabled=bool(config.get("progress", True)) and jax.process_index() == 0)
    runs = []
    for variant, seed in grid:
        run_dir = os.path.join(workdir, variant.name, f"seed{seed}")
        cached = _done_record(run_dir, _config_hash(config)) is not None
        progress.start(variant.name, seed, cached=cached)
        runs.append(train_variant(task, variant, seed, data, config, run_dir))
        progress.done(trained=not cached)
    progress.close()
    results: Record = {
        "config": config.to_dict(),
        "data": task.describe_data(data),
        "machine": machine_description(),
        "models": runs,
        "summary": summarize(runs, (*task.summary_keys, "train_seconds")),
        **{f"summary_by_{f.removeprefix('per_')}": summarize_breakdown(runs, f) for f in task.breakdowns},
        **task.extra_results(data, config),
    }
    with open(os.path.join(workdir, "results.json"), "w") as f:
        json.dump(results, f, indent=1, default=float)
    with open(os.path.join(workdir, "results.md"), "w") as f:
        f.write(report(task, results))
    if task.primary_metric:
        plot_summary(results["summary"], task.primary_metric, os.path.join(workdir, "results.png"))
    return results


def report(task: Task, results: Record) -> str:
    """``results.md``: the summary table and the task's own tables."""
    return results_table(results, task.columns, task.title(results)) + task.extra_markdown(results)
