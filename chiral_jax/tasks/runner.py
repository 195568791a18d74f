"""The experiment runner shared by every task: variants x seeds, resumable runs, summaries, reports.

A task (:class:`Task`) supplies only what is its own: its data, its model variants, how one variant
trains (model, optimizer, loss, batches: a :class:`TrainingSetup`), its evaluation and the columns
of its table. :func:`run` does the rest, the same way for every task:

* ``workdir/<variant>/seed<k>/`` per run: checkpoints (training resumes where it stopped; saved
  at most every ``train.checkpoint_every_seconds`` (default 60) or ``train.checkpoint_every_steps``
  and always after the last epoch), ``metrics.jsonl``, ``learning_curves.png``, ``result.json`` and
  ``model.json`` (what rebuilds the model without the training data: :meth:`Task.model_metadata`,
  e.g. for :mod:`chiral_jax.predict`); a run whose ``result.json`` was
  written under the same config is not repeated;
* ``workdir/results.json``: ``config``, ``data``, ``machine``, ``models`` (one record per variant
  and seed: the variant's description, ``seed``, ``params``, ``train_seconds``, the task's
  ``final_*`` training metrics and its evaluation) and ``summary`` (mean and standard deviation
  over seeds per variant, and per test-time-augmentation row);
* ``workdir/results.md`` (the task's table) and ``workdir/results.png`` (its main metric per row).

While it runs, a line per run on stderr says which run of how many is starting, the time elapsed and
an estimate of what is left (:class:`~chiral_jax.tasks.progress.JobProgress`; silent with
``progress=False``), above the trainer's epoch bars.
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

from chiral_jax.tasks.progress import JobProgress
from chiral_jax.train import Trainer, read_metrics

__all__ = [
    "Column",
    "Task",
    "TrainingSetup",
    "machine_description",
    "num_params",
    "plot_summary",
    "results_table",
    "run",
    "summarize",
    "train_variant",
]

Batch = dict[str, Any]
Record = dict[str, Any]

# Default of ``train.checkpoint_every_seconds`` when a config lacks it: at most one save a minute.
CHECKPOINT_EVERY_SECONDS = 60.0


@dataclasses.dataclass(frozen=True)
class Column:
    """A column of ``results.md``: ``header``, the summary ``key`` and a number ``fmt``."""

    header: str
    key: str
    fmt: str = ".1f"


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
      checkpoints_kept: recent epoch checkpoints kept (e.g. to average the last few).
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


class Task(abc.ABC):
    """What a task supplies to :func:`run`.

    Class attributes:
      name: the task's name (the title of its tables).
      summary_keys: evaluation metrics averaged over seeds (``train_seconds`` is always added).
      columns: the metric columns of ``results.md`` (after model, params and seeds).
      primary_metric: the metric of ``results.png`` (lower or higher, as the task defines).
      final_metrics: training metrics recorded from the last epoch as ``final_<name>``.
    """

    name: str = "task"
    summary_keys: tuple[str, ...] = ()
    columns: tuple[Column, ...] = ()
    primary_metric: str = ""
    final_metrics: tuple[str, ...] = ()

    @abc.abstractmethod
    def load_data(self, config: ml_collections.ConfigDict) -> Any:
        """Everything the variants train and evaluate on (loaded once per :func:`run`)."""

    @abc.abstractmethod
    def describe_data(self, data: Any) -> Record:
        """The ``data`` entry of ``results.json`` (name, sizes)."""

    @abc.abstractmethod
    def variants(self, config: ml_collections.ConfigDict) -> Sequence[Any]:
        """The variants to train; each has a unique ``name`` (its folder) and a ``kind``."""

    @abc.abstractmethod
    def describe_variant(self, variant: Any) -> Record:
        """The leading fields of a run's record (``name``, ``kind``, ...)."""

    @abc.abstractmethod
    def setup(self, variant: Any, seed: int, data: Any, config: ml_collections.ConfigDict) -> TrainingSetup:
        """Model, optimizer, loss and batches of one variant and seed."""

    @abc.abstractmethod
    def evaluate(
        self, model: nnx.Module, variant: Any, data: Any, config: ml_collections.ConfigDict
    ) -> Record:
        """Test metrics of a trained model; a ``"tta"`` entry holds the flip-averaged metrics."""

    def model_metadata(self, variant: Any, data: Any, config: ml_collections.ConfigDict) -> Record | None:
        """What rebuilds a variant's model without the training data (architecture, skeleton, input
        normalisation): written as ``model.json`` beside the run's checkpoints. None (the default):
        no file."""
        return None

    def final_model(self, trainer: Trainer, config: ml_collections.ConfigDict) -> nnx.Module:
        """The model :meth:`evaluate` gets after training: the trained one by default (a task may
        average checkpoints instead)."""
        return trainer.model

    def extra_results(self, data: Any, config: ml_collections.ConfigDict) -> Record:
        """Top-level entries of ``results.json`` besides the trained models (e.g. trivial
        baselines); none by default."""
        return {}

    def extra_summary(self, runs: Sequence[Record]) -> Record:
        """Top-level entries of ``results.json`` computed from the runs' records (e.g. a
        breakdown the generic summary does not average); none by default."""
        return {}

    def extra_markdown(self, results: Record) -> str:
        """Text appended to ``results.md`` (e.g. a per-step table); none by default."""
        return ""

    def title(self, results: Record) -> str:
        return f"{self.name} results"


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
    trainer = Trainer(
        s.model,
        s.optimizer,
        s.loss_fn,
        workdir=workdir,
        bn_momentum=s.bn_momentum,
        # Saves at most this often (and at the end): per-epoch saves dominate small epochs.
        checkpoint_every_seconds=train.get("checkpoint_every_seconds", CHECKPOINT_EVERY_SECONDS),
        checkpoint_every_steps=train.get("checkpoint_every_steps", 0),
        keep=s.checkpoints_kept,
        progress=config.get("progress", True),
        device_data=s.device_data,
    )
    t0 = time.perf_counter()
    trainer.fit(s.batches, epochs=s.epochs, steps_per_epoch=s.steps_per_epoch)
    train_seconds = time.perf_counter() - t0
    model = task.final_model(trainer, config)
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
    record["config_hash"] = fingerprint
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(record, f, indent=1, default=float)
    os.replace(tmp, path)  # atomic: a half-written result is never read back
    return record


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
    """Every variant x seed of ``config``; writes results.json, results.md and results.png."""
    os.makedirs(workdir, exist_ok=True)
    data = task.load_data(config)
    seeds = [config.seed + k for k in range(config.num_seeds)]
    grid = [(variant, seed) for variant in task.variants(config) for seed in seeds]
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
        **task.extra_results(data, config),
        **task.extra_summary(runs),
    }
    with open(os.path.join(workdir, "results.json"), "w") as f:
        json.dump(results, f, indent=1, default=float)
    with open(os.path.join(workdir, "results.md"), "w") as f:
        f.write(results_table(results, task.columns, task.title(results)) + task.extra_markdown(results))
    if task.primary_metric:
        plot_summary(results["summary"], task.primary_metric, os.path.join(workdir, "results.png"))
    return results


def summarize(runs: Sequence[Record], keys: Sequence[str]) -> list[Record]:
    """Mean and standard deviation over seeds of ``keys``, per variant and per TTA setting.

    A list-valued metric (e.g. PCK per forecast step) is averaged element by element. A run with a
    ``"tta"`` entry gives a second row ``"<name> + TTA"`` from it (its training time is the plain
    model's).
    """
    rows = []
    for name in dict.fromkeys(r["name"] for r in runs):
        group = [r for r in runs if r["name"] == name]
        for tta in (False, True):
            if tta and "tta" not in group[0]:
                continue
            src = [r["tta"] if tta else r for r in group]
            row: Record = {
                "name": name + (" + TTA" if tta else ""),
                "kind": group[0]["kind"],
                "params": group[0]["params"],
                "seeds": len(group),
            }
            for k in keys:
                vals = [s[k] for s in src if s.get(k) is not None]
                if not vals and tta:
                    vals = [r[k] for r in group if r.get(k) is not None]
                if vals and isinstance(vals[0], list | tuple):
                    row[k] = np.mean(vals, axis=0).tolist()
                    row[k + "_std"] = np.std(vals, axis=0).tolist()
                elif vals:
                    row[k] = float(np.mean(vals))
                    row[k + "_std"] = float(np.std(vals))
            rows.append(row)
    return rows


def _cell(row: Record, column: Column) -> str:
    if column.key not in row:
        return "-"
    value = f"{row[column.key]:{column.fmt}}"
    return f"{value} ± {row[column.key + '_std']:{column.fmt}}" if row["seeds"] > 1 else value


def results_table(results: Record, columns: Sequence[Column], title: str) -> str:
    """``results.md``: a title, the machine and one row per summary entry."""
    cols = (*columns, Column("train s", "train_seconds", ".0f"))
    lines = [
        f"# {title}",
        "",
        f"Machine: {results['machine']}",
        "",
        "| model | params | seeds | " + " | ".join(c.header for c in cols) + " |",
        "|---|---|---|" + "---|" * len(cols),
    ]
    for r in results["summary"]:
        cells = " | ".join(_cell(r, c) for c in cols)
        lines.append(f"| {r['name']} | {r['params']:,} | {r['seeds']} | {cells} |")
    return "\n".join(lines) + "\n"


def plot_summary(rows: Sequence[Record], metric: str, path: str) -> str | None:
    """A horizontal bar per summary row: ``metric`` with its standard deviation over seeds."""
    rows = [r for r in rows if metric in r]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.2))
    y = np.arange(len(rows))
    colors = ["tab:blue" if r["kind"] == "chiral" else "tab:gray" for r in rows]
    ax.barh(
        y,
        [r[metric] for r in rows],
        xerr=[r.get(metric + "_std", 0.0) for r in rows],
        color=colors,
        capsize=3,
    )
    ax.set_yticks(y, [r["name"] for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(metric + " (mean ± std over seeds)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
