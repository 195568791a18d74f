"""Weight averaging over checkpoints: evaluate the mean of the last K saved states (HybrIK-Transformer's
recipe; a cheap ensemble along the end of the training trajectory)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from chiral_jax.train.checkpoint import Checkpointer

__all__ = ["average_checkpoints", "average_trees"]


def average_trees(trees: Sequence[Any]) -> Any:
    """The elementwise mean of pytrees of one structure (floating leaves, accumulated in float64 on
    the host and cast back); other leaves (integer counters, keys) are taken from the last tree."""
    if not trees:
        raise ValueError("average_trees: no trees to average")

    def mean(*leaves: Any) -> Any:
        last = leaves[-1]
        if not jnp.issubdtype(jnp.asarray(last).dtype, jnp.floating):
            return last
        total = sum(np.asarray(a, np.float64) for a in leaves)
        return jnp.asarray(total / len(leaves), jnp.asarray(last).dtype)

    return jax.tree.map(mean, *trees)


def average_checkpoints(checkpointer: Checkpointer, target: Any, last: int) -> tuple[list[int], Any]:
    """Restores the newest ``last`` checkpoints of ``checkpointer`` into ``target``'s structure and
    returns ``(epochs, their average)`` (fewer epochs when fewer are kept)."""
    if last < 1:
        raise ValueError(f"average_checkpoints: last must be >= 1, got {last}")
    manager = checkpointer._open()
    manager.wait_until_finished()
    manager.reload()
    epochs = sorted(manager.all_steps())[-last:]
    if not epochs:
        raise FileNotFoundError(f"average_checkpoints: no checkpoint in {checkpointer.latest_dir}")
    states = [checkpointer.restore(target, epoch)[1] for epoch in epochs]
    return [int(e) for e in epochs], average_trees(states)
