"""Training shared by every experiment: optimizers, schedules, data parallelism, checkpoints, the loop."""

from chiral_jax.train.averaging import average_checkpoints, average_trees
from chiral_jax.train.checkpoint import Checkpointer, CheckpointError
from chiral_jax.train.loop import Trainer, plot_learning_curves, read_metrics, set_batch_norm_momentum
from chiral_jax.train.optim import amsgrad_torch, bn_momentum, scale_by_amsgrad_torch
from chiral_jax.train.parallel import initialize_multihost, make_data_mesh, shard_batch
from chiral_jax.train.schedules import decay_schedule, epoch_schedule, inverse_sqrt_schedule, run_schedule

__all__ = [
    "CheckpointError",
    "Checkpointer",
    "Trainer",
    "amsgrad_torch",
    "average_checkpoints",
    "average_trees",
    "bn_momentum",
    "decay_schedule",
    "epoch_schedule",
    "initialize_multihost",
    "inverse_sqrt_schedule",
    "make_data_mesh",
    "plot_learning_curves",
    "read_metrics",
    "run_schedule",
    "scale_by_amsgrad_torch",
    "set_batch_norm_momentum",
    "shard_batch",
]
