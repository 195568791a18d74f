"""The training input pipeline: grain datasets of batches gathered from in-memory arrays.

Every task feeds training the same way: its examples live in memory (read once from the TFDS build,
:func:`~chiral_jax.data.builders.load_splits`), and each batch is ONE fancy-indexing gather of
``batch_size`` item ids (``gather(ids) -> batch``, e.g. :meth:`PoseWindows.gather`). The pipeline
is a ``grain.MapDataset`` over batch numbers, so it is

* deterministic: the item order of an epoch is ``default_rng([seed, epoch]).permutation`` (the
  order :meth:`PoseWindows.batches` visits), and the augmentation of a batch draws from that same
  epoch stream, continued after the permutation and advanced to the batch's first row: an
  augmentation that draws one number per row (:class:`~chiral_jax.data.augment.MirrorAugment`)
  gets exactly the draws the host path gives it, whatever batch a read thread prepares first. A
  resumed run sees the batches an uninterrupted one saw;
* sharded per process for multi-host training: every process gathers only its rows of each global
  batch (rows ``[p * B / P, (p + 1) * B / P)``), as :func:`chiral_jax.train.shard_batch` expects,
  and its augmentation draws are those of its rows, so P processes together make the batch one
  process would;
* prefetched: grain's read threads gather the next batches while the device runs the current step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grain
import numpy as np

from chiral_jax.data.windows import PoseWindows

__all__ = ["Batch", "check_batch_split", "epoch_order", "index_batches", "window_batches"]

Batch = dict[str, np.ndarray]
Augment = Callable[[Batch, np.random.Generator], Batch]


def epoch_order(num_items: int, seed: int, epoch: int, shuffle: bool = True) -> np.ndarray:
    """The item order of one epoch: a permutation drawn from ``(seed, epoch)`` (or 0..n-1)."""
    return _epoch_stream(num_items, seed, epoch, shuffle)[0]


def _epoch_stream(num_items: int, seed: int, epoch: int, shuffle: bool) -> tuple[np.ndarray, dict[str, Any]]:
    """The epoch's order and the state of its random stream after drawing it."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(num_items) if shuffle else np.arange(num_items)
    return order, rng.bit_generator.state


def _stream_at(state: dict[str, Any], draws: int) -> np.random.Generator:
    """A generator continuing the stream of ``state`` after ``draws`` 64-bit draws (one per
    ``random()`` double)."""
    bits = np.random.PCG64()
    bits.state = state
    bits.advance(draws)
    return np.random.Generator(bits)


def check_batch_split(batch_size: int, process_index: int, process_count: int) -> None:
    """Raises ValueError unless ``batch_size`` (global) splits evenly over ``process_count``
    processes and ``process_index`` is one of them."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not 0 <= process_index < process_count:
        raise ValueError(f"process_index {process_index} is not in [0, {process_count})")
    if batch_size % process_count:
        raise ValueError(
            f"batch_size {batch_size} does not split over {process_count} processes: use a multiple"
        )


def index_batches(
    gather: Callable[[np.ndarray], Batch],
    num_items: int,
    batch_size: int,
    *,
    seed: int,
    epoch: int,
    shuffle: bool = True,
    drop_remainder: bool = True,
    augment: Augment | None = None,
    fields: tuple[str, ...] | None = None,
    process_index: int = 0,
    process_count: int = 1,
    num_threads: int = 2,
    prefetch: int = 4,
) -> grain.IterDataset:
    """One epoch of batches ``gather(ids)`` as a prefetching grain dataset.

    Args:
      gather: ``(n,) int64 item ids -> batch`` (a dict of arrays with leading axis n).
      num_items: items in the dataset.
      batch_size: the GLOBAL batch size (all processes together).
      seed, epoch: the order and the augmentation draws are functions of these alone.
      shuffle: visit items in the order of :func:`epoch_order` (else 0..n-1).
      drop_remainder: skip the last, smaller batch.
      augment: optional ``fn(batch, rng) -> batch`` (e.g. a
        :class:`~chiral_jax.data.augment.MirrorAugment`), applied to this process's rows; ``rng``
        continues the epoch's stream at the batch's first row (see the module docstring): an
        augmentation should draw one number per row (more would reuse the next rows' draws).
      fields: keep only these keys of each batch (after augmentation); None keeps all.
      process_index, process_count: this process and how many share each batch.
      num_threads, prefetch: grain's read threads and how many batches they prepare ahead.

    Returns:
      A ``grain.IterDataset``; iterating it yields this process's part of each batch.
    """
    check_batch_split(batch_size, process_index, process_count)
    order, state = _epoch_stream(num_items, seed, epoch, shuffle)
    num_batches = num_items // batch_size if drop_remainder else -(-num_items // batch_size)
    if num_batches == 0:
        raise ValueError(f"{num_items} items: fewer than one batch of {batch_size}")
    rows = batch_size // process_count
    lo = process_index * rows

    def make(b: int) -> Batch:
        ids = order[b * batch_size : (b + 1) * batch_size][lo : lo + rows]
        batch = gather(ids)
        if augment is not None:
            batch = augment(batch, _stream_at(state, b * batch_size + lo))
        return batch if fields is None else {k: batch[k] for k in fields if k in batch}

    ds = grain.MapDataset.range(num_batches).map(make)
    return ds.to_iter_dataset(grain.ReadOptions(num_threads=num_threads, prefetch_buffer_size=prefetch))


def window_batches(
    windows: PoseWindows,
    batch_size: int,
    *,
    seed: int,
    epoch: int,
    fields: tuple[str, ...] = ("inputs", "targets"),
    **kwargs: Any,
) -> grain.IterDataset:
    """:func:`index_batches` over the windows of a :class:`PoseWindows`, keeping ``fields``.

    The window order of an epoch is the one :meth:`PoseWindows.batches` uses for the same
    ``(seed, epoch)``, so without augmentation both paths give identical batches.
    """
    return index_batches(
        windows.gather, len(windows), batch_size, seed=seed, epoch=epoch, fields=fields, **kwargs
    )
