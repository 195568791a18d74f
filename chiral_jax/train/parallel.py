"""Data parallelism with ``jax.jit`` + ``NamedSharding`` (the current form of ``pmap``).

Parameters and optimizer state are replicated; every batch is split along its leading axis over a
1-D ``"data"`` mesh of all devices (all processes' devices when multi-host). XLA inserts the
all-reduces (gradient means, batch-norm statistics over the global batch), so one step on N devices
computes what one device computes on the whole batch.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = [
    "DATA_AXIS",
    "batch_sharding",
    "initialize_multihost",
    "make_data_mesh",
    "replicated",
    "shard_batch",
]

DATA_AXIS = "data"


def initialize_multihost(
    coordinator_address: str | None = None, num_processes: int | None = None, process_id: int | None = None
) -> None:
    """``jax.distributed.initialize`` (arguments from the environment when None, e.g. on SLURM/TPU)."""
    jax.distributed.initialize(
        coordinator_address=coordinator_address, num_processes=num_processes, process_id=process_id
    )


def make_data_mesh(devices: Any = None) -> Mesh:
    """A 1-D mesh ``("data",)`` over ``devices`` (default: every device of every process)."""
    devices = np.asarray(jax.devices() if devices is None else devices)
    return Mesh(devices.reshape(-1), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def batch_sharding(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def shard_batch(batch: Any, mesh: Mesh) -> Any:
    """Places this process's part of a batch (numpy arrays, leading axis = batch) on the mesh.

    Single process: the whole batch, split over local devices. Multi-host: each process passes its
    own rows; the global batch is their concatenation.
    """
    sharding = batch_sharding(mesh)
    n = mesh.devices.size // jax.process_count()

    def place(x: Any) -> jax.Array:
        x = np.asarray(x)
        if x.shape[0] % n:
            raise ValueError(
                f"batch of {x.shape[0]} rows does not split over {n} local devices; use a batch size "
                f"divisible by the device count"
            )
        return jax.make_array_from_process_local_data(sharding, x)

    return jax.tree.map(place, batch)


def _is_key(x: Any) -> bool:
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Places identical host values (every process holds the same tree) replicated on the mesh.

    ``jax.device_put`` does this on one process; across processes the global array is assembled
    from each process's local copy (typed PRNG keys travel as their raw key data).
    """
    sharding = replicated(mesh)
    if jax.process_count() == 1:
        return jax.device_put(tree, sharding)

    def put(x: Any) -> Any:
        if _is_key(x):
            impl = jax.random.key_impl(x)
            return jax.random.wrap_key_data(put(jax.random.key_data(x)), impl=impl)
        host = np.asarray(to_host(x))
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree.map(put, tree)


def to_host(tree: Any) -> Any:
    """Numpy copies of (replicated or process-local) arrays; works on multi-process global arrays."""

    def get(x: Any) -> Any:
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            x = x.addressable_data(0)  # replicated: every local shard holds the whole value
        if _is_key(x):
            return x
        return np.asarray(x)

    return jax.tree.map(get, tree)
