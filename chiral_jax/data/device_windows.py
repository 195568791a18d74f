"""Device-resident training windows: the padded sequences live on the devices, a step sends indices.

:class:`~chiral_jax.data.windows.PoseWindows` gathers every batch on the host and copies it to the
device: ``(B, R, J * 2)`` inputs per step, plus a host mirror of the flipped windows when
:class:`~chiral_jax.data.augment.MirrorAugment` is on. At 243-frame windows that host work, not the
net, bounds a fast accelerator. :class:`DeviceWindows` instead places the padded inputs and the
targets on the devices ONCE (replicated over the data mesh) and yields, per step, only

* ``"ids"`` (B,) int32: the window indices of the batch, in the epoch order of the host path
  (:func:`~chiral_jax.data.pipeline.epoch_order`), and
* ``"flip"`` (B,) bool: the mirror draws of :class:`MirrorAugment` (its stream, continued after the
  permutation, one draw per row: the host path's draws, bit for bit);

the jitted step calls :meth:`DeviceWindows.gather` on them: one gather of ``B`` windows from the
device arrays and the mirror ``T_in`` / ``T_out`` (the skeleton specs' transforms: a permutation
and sign flips, exact in any float format) selected per row. The batches equal the host path's
(:meth:`PoseWindows.batches` and :func:`~chiral_jax.data.pipeline.window_batches`) for the same
``(seed, epoch)``, with or without augmentation.

Multi-process: every process holds the whole (replicated) arrays and yields its rows of each
global batch (rows ``[p * B / P, (p + 1) * B / P)``), as the grain path does, so the batches are
those of one process. Data too large to replicate on every device stays on the host path; a
sequence-sharded layout (each process holding its own sequences, ids drawn per process) is
described in ``docs/performance.md`` and not implemented.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from chiral_jax.data.augment import MirrorAugment
from chiral_jax.data.pipeline import _epoch_stream, _stream_at, check_batch_split
from chiral_jax.data.windows import PoseWindows

__all__ = ["DeviceWindows", "device_bytes_free", "fits_on_device"]

IndexBatch = dict[str, np.ndarray]


def device_bytes_free(device: Any = None) -> int | None:
    """Free bytes of ``device`` (default: the first) from its memory stats; None when the backend
    reports none (CPU)."""
    device = jax.devices()[0] if device is None else device
    try:
        stats = device.memory_stats()
    except Exception:  # not implemented on some backends
        return None
    if not stats or "bytes_limit" not in stats:
        return None
    return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))


def fits_on_device(windows: PoseWindows, fraction: float = 0.25, device: Any = None) -> bool:
    """Whether the windows' arrays take at most ``fraction`` of the device's free memory (True
    when the backend reports no limit: on CPU the device memory is the host's)."""
    free = device_bytes_free(device)
    return free is None or DeviceWindows.nbytes(windows) <= fraction * free


class DeviceWindows:
    """The arrays of a :class:`PoseWindows` on the devices, and batches of window indices.

    Args:
      windows: the host windows (any ``chunk_length``, ``flatten``, ``causal``); intrinsics are not
        carried (the lifting loss does not read them).
      augment: a :class:`MirrorAugment` whose draws and specs the device path reproduces, or None.
      mesh: the data mesh the arrays are replicated over (default: every device).

    Attributes:
      arrays: the device pytree a step needs: ``inputs`` (padded frames, J, Din) (or flat),
        ``targets`` (frames, J, Dout) (or flat; absent for inference-only windows), ``in_start`` and
        ``t_start`` (num_windows,) int32, each window's first input / target frame.
    """

    def __init__(
        self, windows: PoseWindows, *, augment: MirrorAugment | None = None, mesh: Any = None
    ) -> None:
        if augment is not None and not isinstance(augment, MirrorAugment):
            raise TypeError(
                f"DeviceWindows: augment must be a MirrorAugment (mirrored on device), got "
                f"{type(augment).__name__}; use the host path for other augmentations"
            )
        from chiral_jax.train import parallel  # lazily: Flax-free data package

        self.windows, self.augment = windows, augment
        self.mesh = parallel.make_data_mesh() if mesh is None else mesh
        self.window_length, self.chunk_length = windows.window_length, windows.chunk_length
        self.flatten = windows.flatten
        in_start = windows._in_offsets[windows._seq] + windows._start
        host = {"inputs": windows._shape(windows._inputs), "in_start": in_start.astype(np.int32)}
        if windows._targets is not None:
            host["targets"] = windows._shape(windows._targets)
            host["t_start"] = (windows._t_offsets[windows._seq] + windows._start).astype(np.int32)
        if max(len(windows._inputs), len(windows)) >= 2**31:
            raise ValueError("DeviceWindows: more than 2**31 frames or windows; use the host path")
        self.arrays = parallel.replicate(host, self.mesh)
        if augment is not None:
            self._spec_in, self._spec_out = augment.specs["inputs"], augment.specs["targets"]

    def with_augment(self, augment: MirrorAugment | None) -> DeviceWindows:
        """The same device arrays (not copied again) with another augmentation."""
        other = copy.copy(self)
        if augment is not None and not isinstance(augment, MirrorAugment):
            raise TypeError(f"DeviceWindows: augment must be a MirrorAugment, got {type(augment).__name__}")
        other.augment = augment
        if augment is not None:
            other._spec_in, other._spec_out = augment.specs["inputs"], augment.specs["targets"]
        return other

    @staticmethod
    def nbytes(windows: PoseWindows) -> int:
        """Device bytes the arrays of ``windows`` take (per device: they are replicated)."""
        n = windows._inputs.nbytes + 8 * len(windows)
        return n + (0 if windows._targets is None else windows._targets.nbytes)

    def __len__(self) -> int:
        return len(self.windows)

    def num_batches(self, batch_size: int, drop_remainder: bool = True) -> int:
        return self.windows.num_batches(batch_size, drop_remainder)

    # ------------------------------------------------------------------ host side: indices

    def index_batches(
        self,
        batch_size: int,
        *,
        seed: int,
        epoch: int,
        shuffle: bool = True,
        drop_remainder: bool = True,
        process_index: int = 0,
        process_count: int = 1,
    ) -> Iterator[IndexBatch]:
        """One epoch of ``{"ids": (rows,) int32, "flip": (rows,) bool}``, this process's rows.

        The order and the flips are those of :func:`~chiral_jax.data.pipeline.window_batches` (and
        of :meth:`PoseWindows.batches`) for the same ``(seed, epoch)``; ``flip`` is all False
        without augmentation. ``batch_size`` is the global batch (all processes).
        """
        check_batch_split(batch_size, process_index, process_count)
        order, state = _epoch_stream(len(self), seed, epoch, shuffle)
        n = len(order)
        num = n // batch_size if drop_remainder else -(-n // batch_size)
        rows = batch_size // process_count
        lo = process_index * rows
        for b in range(num):
            ids = order[b * batch_size : (b + 1) * batch_size][lo : lo + rows]
            if self.augment is None:
                flip = np.zeros(len(ids), bool)
            else:  # MirrorAugment's draws: rng.random(rows) < p, the stream at this batch's first row
                flip = _stream_at(state, b * batch_size + lo).random(len(ids)) < self.augment.p
            yield {"ids": ids.astype(np.int32), "flip": flip}

    # ------------------------------------------------------------------ device side: gather + mirror

    def gather(self, arrays: dict[str, jax.Array], batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
        """The window batch of ``batch["ids"]`` with ``batch["flip"]`` rows mirrored (jit-traceable).

        Args:
          arrays: :attr:`arrays` (passed as an argument of the jitted step, not closed over: a
            closed-over array would be baked into the program as a constant).
          batch: ``{"ids": (B,) int, "flip": (B,) bool}``.

        Returns:
          ``{"inputs": (B, L, ...), "targets": (B, chunk, ...)}`` as the host path gives them.
        """
        ids = batch["ids"]
        g = arrays["in_start"][ids]
        x = arrays["inputs"][g[:, None] + jnp.arange(self.window_length, dtype=g.dtype)[None, :]]
        out = {"inputs": x}
        if "targets" in arrays:
            t = arrays["t_start"][ids]
            out["targets"] = arrays["targets"][
                t[:, None] + jnp.arange(self.chunk_length, dtype=t.dtype)[None, :]
            ]
        if self.augment is not None:
            flip = batch["flip"]
            specs = {"inputs": self._spec_in, "targets": self._spec_out}
            for key, v in out.items():
                mirrored = _mirror(v, specs[key])
                out[key] = jnp.where(flip.reshape(-1, *([1] * (v.ndim - 1))), mirrored, v)
        return out

    def batches(
        self, batch_size: int, *, seed: int, epoch: int, **kwargs: Any
    ) -> Iterator[dict[str, jax.Array]]:
        """Materialized device batches (for tests and benchmarks; training gathers inside its step)."""
        gather = jax.jit(self.gather)
        for b in self.index_batches(batch_size, seed=seed, epoch=epoch, **kwargs):
            yield gather(self.arrays, b)


def _mirror(x: jax.Array, spec: Any) -> jax.Array:
    """``spec.transform`` on flat (..., J * D) or per-joint (..., J, D) poses."""
    if x.shape[-1] == spec.size:
        return spec.transform(x)
    return spec.transform(x.reshape(*x.shape[:-2], -1)).reshape(x.shape)
