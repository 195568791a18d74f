"""Learning-rate schedules of the experiment configs (optax schedules built from ``train.*`` keys).

* :func:`decay_schedule`: VideoPose3D's exponential decay (``train.lr``, ``lr_decay``,
  ``lr_decay_steps``, ``lr_decay_every``);
* :func:`run_schedule`: constant or cosine to 0 over the run (``train.lr_schedule``);
* :func:`epoch_schedule`: step decay at epochs or warm-up + cosine (``train.schedule``);
* :func:`inverse_sqrt_schedule`: linear warm-up then ``1/sqrt(step)`` (transformers).
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import ml_collections
import optax

__all__ = ["decay_schedule", "epoch_schedule", "inverse_sqrt_schedule", "run_schedule"]


def decay_schedule(train: ml_collections.ConfigDict, steps_per_epoch: int) -> optax.Schedule:
    """The learning-rate schedule of ``train.lr``, ``train.lr_decay`` and ``train.lr_decay_every``.

    ``lr_decay_every``:

    * ``"step"`` (the default, also when the key is absent): smooth decay by ``lr_decay`` per
      ``lr_decay_steps`` steps, ``lr * lr_decay ** (step / lr_decay_steps)`` (VideoPose3D's
      Human3.6M decay, expressed per step);
    * ``"epoch"``: ``lr_decay`` once per epoch of ``steps_per_epoch`` steps, a staircase
      (VideoPose3D's ``-lrd``, e.g. HumanEva-I's x0.996 per epoch);
    * an integer N (or its digits as a string, as a command line gives it): ``lr_decay`` every N
      steps, a staircase.
    """
    every = train.get("lr_decay_every", "step")
    if every in ("step", "", None):
        return optax.exponential_decay(
            train.lr, transition_steps=train.lr_decay_steps, decay_rate=train.lr_decay
        )
    if every == "epoch":
        steps = steps_per_epoch
    else:
        try:
            steps = int(every)
        except (TypeError, ValueError):
            steps = 0
        if steps <= 0 or str(every).strip() != str(steps):
            raise ValueError(
                f"train.lr_decay_every must be 'step', 'epoch' or a positive number of steps, got {every!r}"
            )
    return optax.exponential_decay(
        train.lr, transition_steps=steps, decay_rate=train.lr_decay, staircase=True
    )


def run_schedule(train: ml_collections.ConfigDict, total_steps: int) -> float | optax.Schedule:
    """``train.lr``, constant (``train.lr_schedule = "constant"``, the default) or decayed to 0 over
    ``total_steps`` by a cosine (``"cosine"``)."""
    kind = train.get("lr_schedule", "constant")
    if kind == "constant":
        return train.lr
    if kind == "cosine":
        return optax.cosine_decay_schedule(train.lr, max(total_steps, 1))
    raise ValueError(f"train.lr_schedule must be constant or cosine, got {kind!r}")


def epoch_schedule(train: ml_collections.ConfigDict, steps_per_epoch: int) -> optax.Schedule:
    """``train.schedule``: ``steps`` (``train.lr`` times 0.1 at each epoch of ``train.lr_steps``)
    or ``cosine`` (linear warm-up over ``train.warmup_epochs``, then cosine decay to 0 at the last
    of ``train.epochs``)."""
    sched = str(train.get("schedule", "steps"))
    if sched == "steps":
        boundaries = {int(e) * steps_per_epoch: 0.1 for e in train.lr_steps}
        return optax.piecewise_constant_schedule(train.lr, boundaries)
    if sched == "cosine":
        total = int(train.epochs) * steps_per_epoch
        warmup = min(round(float(train.get("warmup_epochs", 0)) * steps_per_epoch), total - 1)
        return optax.warmup_cosine_decay_schedule(0.0, train.lr, max(warmup, 0), total, 0.0)
    raise ValueError(f"train.schedule must be 'steps' or 'cosine', got {sched!r}")


def inverse_sqrt_schedule(peak: float, warmup_steps: int) -> optax.Schedule:
    """Linear warmup from 0 to ``peak`` over ``warmup_steps``, then ``peak * sqrt(warmup / step)``.

    optax has the warmup (``linear_schedule``) and the joining (``join_schedules``); the
    inverse-square-root piece is one line (optax has no such schedule).
    """
    w = max(int(warmup_steps), 1)
    warmup = optax.linear_schedule(0.0, peak, w)

    def decay(step: Any) -> Any:  # join_schedules passes steps counted from the boundary
        return peak * jnp.sqrt(w / (jnp.asarray(step, jnp.float32) + w))

    return optax.join_schedules([warmup, decay], [w])
