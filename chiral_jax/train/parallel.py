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
