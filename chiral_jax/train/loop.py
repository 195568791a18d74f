"""The shared training loop: a sharded jitted step, epochs, checkpoints, logs and plots.

:class:`Trainer` owns a Flax NNX model and its optimizer as one pure state pytree, replicated over
a data mesh (:mod:`chiral_jax.train.parallel`); each batch is split over the devices. Every epoch
it logs metrics as a JSON line (``workdir/metrics.jsonl``) and saves a checkpoint
(:class:`~chiral_jax.train.checkpoint.Checkpointer`, asynchronously by default: the next epoch's
steps run while it is written); at the end it redraws ``workdir/learning_curves.png``.
``checkpoint_every_seconds`` / ``checkpoint_every_steps`` thin the saves out (small epochs would
otherwise spend most of their time saving): an epoch end saves only once either interval has
passed since the last save, and the last epoch (or ``stop_after_epoch``) always saves.
A new Trainer in the same workdir resumes from the newest intact checkpoint; with data orders and
random streams that are functions of (seed, epoch), the resumed run ends where an uninterrupted one
does.

Batch-norm momenta are state from construction (:class:`chiral_jax.nn.BatchNormMomentum` in
:class:`chiral_jax.nn.ChiralBatchNorm` and :class:`chiral_jax.nn.BatchNorm`): the step sets them
through the state, so the scheduled momentum is an argument of one compiled step.
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

from chiral_jax.nn.norm import BatchNormMomentum
from chiral_jax.train import optim, parallel
from chiral_jax.train.checkpoint import Checkpointer

__all__ = ["Trainer", "plot_learning_curves", "read_metrics", "set_batch_norm_momentum"]

Batch = dict[str, Any]
LossFn = Callable[[nnx.Module, Batch], tuple[jax.Array, dict[str, jax.Array]]]


def set_batch_norm_momentum(model: nnx.Module, momentum: jax.Array | float) -> None:
    """Sets every :class:`~chiral_jax.nn.BatchNormMomentum` of ``model`` (Flax's convention) in place.

    Works inside ``jax.jit`` with a traced ``momentum`` (a scalar).
    """
    momenta = nnx.state(model, BatchNormMomentum)
    new = jax.tree.map(lambda v: jnp.broadcast_to(jnp.asarray(momentum, v.dtype), v.shape), momenta)
    nnx.update(model, new)


def _check_momenta_are_state(model: nnx.Module) -> None:
    # Flax's own BatchNorm keeps a Python float momentum, which no schedule can reach.
    fixed = [
        "/".join(map(str, path))
        for path, m in nnx.iter_graph(model)
        if isinstance(m, nnx.BatchNorm) and not isinstance(m.momentum, BatchNormMomentum)
    ]
    if fixed:
        raise ValueError(
            f"bn_momentum is scheduled but these batch norms have a fixed float momentum: {fixed[:3]}; "
            "build them as chiral_jax.nn.BatchNorm (momentum held as state) or pass bn_momentum=None"
        )


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
        convention, or None for a constant 0.9 (Flax's convention; :meth:`step` sets the momentum
        it is given). A schedule reaches batch norms that hold their momentum as a
        :class:`~chiral_jax.nn.BatchNormMomentum` (``chiral_jax.nn``'s layers), and only those:
        a model with Flax's own ``nnx.BatchNorm`` is refused unless ``bn_momentum`` is None.
      keep: recent checkpoints kept.
      async_save: write checkpoints in the background while the next epoch trains (False: block on
        every save).
      checkpoint_every_seconds: save at the end of an epoch only when at least this many seconds
        have passed since the last save (or the start of :meth:`fit`); None or 0: no time interval.
      checkpoint_every_steps: likewise, at least this many training steps since the last save.
        With both None or 0 every epoch saves (the default); with both set, either one passing
        saves. The last epoch always saves. A run interrupted between saves resumes from the last
        one and redoes the epochs after it (same result: data and random streams are functions
        of (seed, epoch)).
      progress: show tqdm bars.
      device_data: optional device-resident data (e.g.
        :class:`~chiral_jax.data.device_windows.DeviceWindows`): an object with ``arrays`` (a pytree
        of device arrays, passed to the jitted step as an argument) and ``gather(arrays, batch) ->
        batch``, which the step applies to each host batch (e.g. window indices) before the loss.
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
        async_save: bool = True,
        checkpoint_every_seconds: float | None = None,
        checkpoint_every_steps: int | None = None,
        progress: bool = True,
        device_data: Any = None,
    ):
        for name, value in (
            ("checkpoint_every_seconds", checkpoint_every_seconds),
            ("checkpoint_every_steps", checkpoint_every_steps),
        ):
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0 (0 or None: not used), got {value}")
        self.checkpoint_every_seconds = checkpoint_every_seconds or None
        self.checkpoint_every_steps = checkpoint_every_steps or None
        self.saves: list[int] = []  # epochs saved by fit() (for tests and logs)
        self.workdir = workdir
        self.device_data = device_data
        os.makedirs(workdir, exist_ok=True)
        self.mesh = parallel.make_data_mesh() if mesh is None else mesh
        self.loss_fn, self.bn_momentum, self.progress = loss_fn, bn_momentum, progress
        if bn_momentum is not None:
            _check_momenta_are_state(model)
        optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
        self.graphdef, state = nnx.split((model, optimizer))
        self._model = model
        repl = parallel.replicated(self.mesh)
        self.state = parallel.replicate(state, self.mesh)
        self.checkpointer = Checkpointer(
            os.path.join(workdir, "checkpoints"), keep=keep, async_save=async_save
        )
        self._step = jax.jit(
            self._train_step,
            in_shardings=(repl, parallel.batch_sharding(self.mesh), repl, repl),
            out_shardings=(repl, repl),
            donate_argnums=(0,),
        )

    # ------------------------------------------------------------------ pure step

    def _train_step(
        self, state: Any, batch: Batch, momentum: jax.Array, arrays: Any = None
    ) -> tuple[Any, dict[str, jax.Array]]:
        if self.device_data is not None:
            batch = self.device_data.gather(arrays, batch)
        model, optimizer = nnx.merge(self.graphdef, state)
        model.train()
        set_batch_norm_momentum(model, momentum)
        (loss, aux), grads = nnx.value_and_grad(self.loss_fn, has_aux=True)(model, batch)
        optimizer.update(model, grads)
        return nnx.state((model, optimizer)), {"loss": loss, **aux}

    def step(self, batch: Batch, momentum: float = 0.9) -> dict[str, jax.Array]:
        """One training step on a host batch (split over the mesh); returns device metrics."""
        self.state, metrics = self._step(
            self.state,
            parallel.shard_batch(batch, self.mesh),
            jnp.asarray(momentum, jnp.float32),
            self._arrays,
        )
        return metrics

    def compile_step(self, batch: Batch, momentum: float = 0.9) -> Any:
        """XLA's compiled program of :meth:`step` on ``batch`` (for its cost and memory analysis);
        nothing runs and the state is not donated."""
        args = (
            self.state,
            parallel.shard_batch(batch, self.mesh),
            jnp.asarray(momentum, jnp.float32),
            self._arrays,
        )
        return self._step.lower(*args).compile()

    @property
    def _arrays(self) -> Any:
        return None if self.device_data is None else self.device_data.arrays

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
        """Restores the newest intact checkpoint in the workdir; returns the epoch to start from.

        Returns 0 when the workdir has no checkpoint. Damaged newer checkpoints are renamed to
        ``<epoch>.corrupt`` with a warning; raises
        :class:`~chiral_jax.train.checkpoint.CheckpointError` when none is intact.
        """
        found = self.checkpointer.restore_latest(nnx.to_pure_dict(self.state))
        if found is None:
            return 0
        epoch, pure = found
        state = self.state
        nnx.replace_by_pure_dict(state, pure)
        self.state = parallel.replicate(state, self.mesh)
        return int(epoch)

    def close(self) -> None:
        """Waits for the pending checkpoint write and releases the checkpoint manager."""
        self.checkpointer.close()

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
        """Trains to ``epochs`` (resuming from the workdir's newest intact checkpoint).

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
        last_save_time, last_save_step = time.perf_counter(), start * steps_per_epoch
        epoch_bar = tqdm(
            range(start, epochs), desc="epochs", disable=not self.progress, initial=start, total=epochs
        )
        try:
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
                    raise ValueError(
                        f"epoch {epoch + 1} produced no batches (dataset smaller than one batch?)"
                    )
                host_sums = parallel.to_host(sums)  # waits for the epoch's last step
                train_seconds = time.perf_counter() - t0
                record = {"epoch": epoch + 1, "steps": self.num_steps, "train_seconds": train_seconds}
                record.update({f"train_{k}": float(v) / count for k, v in host_sums.items()})
                if evaluate is not None:
                    model = self.model
                    model.eval()
                    record.update(evaluate(model))
                self._log(record)
                stopping = stop_after_epoch is not None and epoch + 1 >= stop_after_epoch
                step_now = (epoch + 1) * steps_per_epoch
                if (
                    epoch + 1 == epochs
                    or stopping
                    or self._save_due(last_save_time, step_now - last_save_step)
                ):
                    # Asynchronous by default: returns after a host copy; the next epoch trains meanwhile.
                    self.checkpointer.save(epoch + 1, nnx.to_pure_dict(self.state))
                    self.saves.append(epoch + 1)
                    last_save_time, last_save_step = time.perf_counter(), step_now
                history.append(record)
                epoch_bar.set_postfix({k: f"{v:.4g}" for k, v in record.items() if k != "epoch"})
                if stopping:
                    break
        finally:
            # The last checkpoint is on disk when fit returns or raises (an interrupted run keeps it).
            self.checkpointer.close()
        nnx.update(self._model, nnx.state(self.model))
        plot_learning_curves(self.workdir)
        return history

    def _save_due(self, last_save_time: float, steps_since_save: int) -> bool:
        """Whether an epoch end (not the last) saves, given the time and steps since the last save."""
        seconds, steps = self.checkpoint_every_seconds, self.checkpoint_every_steps
        if seconds is None and steps is None:
            return True
        return (seconds is not None and time.perf_counter() - last_save_time >= seconds) or (
            steps is not None and steps_since_save >= steps
        )

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
