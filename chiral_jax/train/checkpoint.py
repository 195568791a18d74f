"""Checkpoints with orbax: the last few epochs and the best one, written atomically.

``workdir/checkpoints/latest/<step>`` keeps the ``keep`` most recent saves; ``workdir/checkpoints/best``
keeps the one with the lowest ``best_metric``. Orbax writes each checkpoint into a temporary
directory and renames it when complete, so an interrupted save never looks like a checkpoint and
never damages an earlier one.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

__all__ = ["Checkpointer"]


class Checkpointer:
    """Saves and restores a pytree (the training state) plus an integer ``epoch``.

    Args:
      directory: where to write (created if needed).
      keep: how many recent checkpoints to keep.
      best_metric: metric name (lower is better) whose best checkpoint is kept separately, or None.
    """

    def __init__(self, directory: str, *, keep: int = 3, best_metric: str | None = None):
        self.directory = os.path.abspath(directory)
        self.best_metric = best_metric
        self._latest = ocp.CheckpointManager(
            os.path.join(self.directory, "latest"), options=ocp.CheckpointManagerOptions(max_to_keep=keep)
        )
        self._best = None
        if best_metric is not None:
            self._best = ocp.CheckpointManager(
                os.path.join(self.directory, "best"),
                options=ocp.CheckpointManagerOptions(
                    max_to_keep=1,
                    best_fn=lambda m: float(m[best_metric]),
                    best_mode="min",
                    keep_checkpoints_without_metrics=False,
                ),
            )

    def latest_epoch(self) -> int | None:
        return self._latest.latest_step()

    def save(self, epoch: int, state: Any, metrics: dict[str, float] | None = None) -> None:
        """Saves ``state`` as ``epoch`` (blocking until written: a crash after return loses nothing)."""
        args = ocp.args.StandardSave(state)
        self._latest.save(epoch, args=args)
        if self._best is not None and metrics is not None and self.best_metric in metrics:
            clean = {k: float(v) for k, v in metrics.items() if isinstance(v, int | float | np.floating)}
            self._best.save(epoch, args=ocp.args.StandardSave(state), metrics=clean)
        self.wait()

    def restore(self, target: Any, epoch: int | None = None, *, best: bool = False) -> tuple[int, Any]:
        """Restores into the structure, dtypes and shardings of ``target`` (e.g. a fresh state).

        Returns ``(epoch, state)``; raises FileNotFoundError when there is nothing to restore.
        """
        manager = self._best if best else self._latest
        if manager is None:
            raise ValueError("Checkpointer: no best checkpoints are kept (best_metric=None)")
        epoch = (manager.best_step() if best else manager.latest_step()) if epoch is None else epoch
        if epoch is None:
            raise FileNotFoundError(f"no checkpoint in {manager.directory}")
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
        return epoch, manager.restore(epoch, args=ocp.args.StandardRestore(abstract))

    def wait(self) -> None:
        self._latest.wait_until_finished()
        if self._best is not None:
            self._best.wait_until_finished()

    def close(self) -> None:
        self._latest.close()
        if self._best is not None:
            self._best.close()
