"""The shared training loop: a sharded jitted step, epochs, checkpoints, logs and plots.

:class:`Trainer` owns a Flax NNX model and its optimizer as one pure state pytree, replicated over
a data mesh (:mod:`chiral_jax.train.parallel`); each batch is split over the devices. Every epoch
it logs metrics as a JSON line (``workdir/metrics.jsonl``), saves a checkpoint
(:class:`~chiral_jax.train.checkpoint.Checkpointer`), and redraws ``workdir/learning_curves.png``.
A new Trainer in the same workdir resumes from the latest checkpoint; with data orders and random
streams that are functions of (seed, epoch), the resumed run ends where an uninterrupted one does.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from tqdm.auto import tqdm

from chiral_jax.train import optim, parallel
from chiral_jax.train.checkpoint import Checkpointer

__all__ = ["BatchNormMomentum", "Trainer", "plot_learning_curves", "set_batch_norm_momentum"]

Batch = dict[str, Any]
LossFn = Callable[[nnx.Module, Batch], tuple[jax.Array, dict[str, jax.Array]]]


class BatchNormMomentum(nnx.Variable):
    """A batch-norm momentum held as state, so changing it does not recompile the step."""


def _batch_norms(model: nnx.Module) -> list[nnx.Module]:
    return [m for _, m in nnx.iter_graph(model) if isinstance(m, nnx.Module) and hasattr(m, "momentum")]


def make_momentum_traced(model: nnx.Module) -> None:
    """Turns every batch norm's float ``momentum`` (Flax's and ours) into a :class:`BatchNormMomentum`."""
    for bn in _batch_norms(model):
        if not isinstance(bn.momentum, BatchNormMomentum):
            bn.momentum = nnx.data(BatchNormMomentum(jnp.asarray(bn.momentum, jnp.float32)))


def set_batch_norm_momentum(model: nnx.Module, momentum: jax.Array | float) -> None:
    for bn in _batch_norms(model):
        bn.momentum[...] = jnp.asarray(momentum, jnp.float32)


class Trainer:
    """Trains ``model`` with ``tx`` on ``loss_fn(model, batch) -> (loss, aux_metrics)``.

    Args:
      model: an NNX module (trained in place: its state is replaced by the trained state on
        :meth:`fit`'s return).
      tx: an optax transformation (e.g. :func:`chiral_jax.train.optim.amsgrad_torch`).
      loss_fn: scalar loss and a dict of scalar metrics, called with the model in train mode.
      workdir: checkpoints, ``metrics.jsonl`` and plots go here.
      mesh: a data mesh (default: all devices).
      bn_momentum: ``(initial, final)`` of VideoPose3D's batch-norm momentum decay in PyTorch's
        convention, or None to leave the momenta as built.
      keep: recent checkpoints kept; best_metric: the eval metric whose best checkpoint is kept.
      progress: show tqdm bars.
    """

    def __init__(
        self,
        model: nnx.Module,
        tx: optax.GradientTransformation,
        loss_fn: LossFn,
        *,
        workdir: str,
        mesh: jax.sharding.Mesh | None = None,
        bn_momentum: tuple[float, float] | None = (0.1, 0.001),
        keep: int = 3,
        best_metric: str | None = None,
        progress: bool = True,
    ):
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.mesh = parallel.make_data_mesh() if mesh is None else mesh
        self.loss_fn, self.bn_momentum, self.progress = loss_fn, bn_momentum, progress
        make_momentum_traced(model)
        optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
        self.graphdef, state = nnx.split((model, optimizer))
        self._model = model
        repl = parallel.replicated(self.mesh)
        self.state = parallel.replicate(state, self.mesh)
        self.checkpointer = Checkpointer(
            os.path.join(workdir, "checkpoints"), keep=keep, best_metric=best_metric
        )
        self._step = jax.jit(
            self._train_step,
            in_shardings=(repl, parallel.batch_sharding(self.mesh), repl),
            out_shardings=(repl, repl),
            donate_argnums=(0,),
        )

    # ------------------------------------------------------------------ pure step

    def _train_step(self, state: Any, batch: Batch, momentum: jax.Array) -> tuple[Any, dict[str, jax.Array]]:
        model, optimizer = nnx.merge(self.graphdef, state)
        model.train()
        set_batch_norm_momentum(model, momentum)
        (loss, aux), grads = nnx.value_and_grad(self.loss_fn, has_aux=True)(model, batch)
        optimizer.update(model, grads)
        return nnx.state((model, optimizer)), {"loss": loss, **aux}

    def step(self, batch: Batch, momentum: float = 0.9) -> dict[str, jax.Array]:
        """One training step on a host batch (split over the mesh); returns device metrics."""
        self.state, metrics = self._step(
            self.state, parallel.shard_batch(batch, self.mesh), jnp.asarray(momentum, jnp.float32)
        )
        return metrics

    # ------------------------------------------------------------------ views

    @property
    def model(self) -> nnx.Module:
        """The model with the current state (a fresh module; put it in eval mode to evaluate)."""
        model, _ = nnx.merge(self.graphdef, self.state)
        return model

    @property
    def num_steps(self) -> int:
        _, optimizer = nnx.merge(self.graphdef, self.state)
        return int(parallel.to_host(optimizer.step[...]))

    def params(self) -> Any:
        """The model's parameters as host numpy arrays."""
        return parallel.to_host(nnx.state(self.model, nnx.Param))

    # ------------------------------------------------------------------ checkpoints

    def restore(self) -> int:
        """Restores the latest checkpoint in the workdir if any; returns the epoch to start from."""
        if self.checkpointer.latest_epoch() is None:
            return 0
        target = nnx.to_pure_dict(self.state)
        epoch, pure = self.checkpointer.restore(target)
        state = self.state
        nnx.replace_by_pure_dict(state, pure)
        self.state = parallel.replicate(state, self.mesh)
        return int(epoch)

    # ------------------------------------------------------------------ loop

    def fit(
        self,
        batches: Callable[[int], Iterable[Batch]],
        *,
        epochs: int,
        steps_per_epoch: int,
        evaluate: Callable[[nnx.Module], dict[str, float]] | None = None,
        stop_after_epoch: int | None = None,
    ) -> list[dict[str, float]]:
        """Trains to ``epochs`` (resuming from the workdir's latest checkpoint).

        Args:
          batches: ``epoch -> iterable of host batches`` (the same for the same epoch).
          steps_per_epoch: batches per epoch (for schedules and progress bars).
          evaluate: ``model (eval mode) -> metrics``, run after every epoch.
          stop_after_epoch: stop early after this epoch (as an interruption would; for tests).

        Returns:
          The metrics logged by this call, one dict per epoch.
        """
        start = self.restore()
        total = max(epochs * steps_per_epoch, 1)
        history = []
        epoch_bar = tqdm(
            range(start, epochs), desc="epochs", disable=not self.progress, initial=start, total=epochs
        )
        for epoch in epoch_bar:
            t0 = time.perf_counter()
            sums: dict[str, jax.Array] = {}
            count = 0
            step0 = epoch * steps_per_epoch
            bar = tqdm(
                batches(epoch),
                total=steps_per_epoch,
                desc=f"epoch {epoch + 1}",
                leave=False,
                disable=not self.progress,
            )
            for batch in bar:
                m = (
                    0.9
                    if self.bn_momentum is None
                    else optim.bn_momentum((step0 + count) / total, *self.bn_momentum)
                )
                metrics = self.step(batch, m)
                sums = metrics if not sums else jax.tree.map(jnp.add, sums, metrics)
                count += 1
            if count == 0:
                raise ValueError(f"epoch {epoch + 1} produced no batches (dataset smaller than one batch?)")
            train_seconds = time.perf_counter() - t0
            record = {"epoch": epoch + 1, "steps": self.num_steps, "train_seconds": train_seconds}
            record.update({f"train_{k}": float(v) / count for k, v in parallel.to_host(sums).items()})
            if evaluate is not None:
                model = self.model
                model.eval()
                record.update(evaluate(model))
            self._log(record)
            self.checkpointer.save(epoch + 1, nnx.to_pure_dict(self.state), record)
            history.append(record)
            epoch_bar.set_postfix({k: f"{v:.4g}" for k, v in record.items() if k != "epoch"})
            if stop_after_epoch is not None and epoch + 1 >= stop_after_epoch:
                break
        self.checkpointer.wait()
        nnx.update(self._model, nnx.state(self.model))
        plot_learning_curves(self.workdir)
        return history

    def _log(self, record: dict[str, float]) -> None:
        with open(os.path.join(self.workdir, "metrics.jsonl"), "a") as f:
            f.write(json.dumps(record) + "\n")


def read_metrics(workdir: str) -> list[dict[str, float]]:
    path = os.path.join(workdir, "metrics.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    # A resumed run re-logs nothing before its start epoch; keep the last record per epoch.
    by_epoch = {r["epoch"]: r for r in rows}
    return [by_epoch[e] for e in sorted(by_epoch)]


def plot_learning_curves(workdir: str, filename: str = "learning_curves.png") -> str | None:
    """Plots every logged metric against the epoch; returns the image path (None if no metrics)."""
    rows = read_metrics(workdir)
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in rows[0] if k not in ("epoch", "steps") and not k.endswith("seconds")]
    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = np.array([r["epoch"] for r in rows])
    for k in keys:
        ax.plot(epochs, [r.get(k, np.nan) for r in rows], marker="o", label=k)
    ax.set_xlabel("epoch")
    ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = os.path.join(workdir, filename)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
