"""Training batches of pose windows, on the host (grain) or gathered on the devices.

:func:`window_epochs` is what every windowed task trains from: the windows' batches as a function
of the epoch, through :class:`~chiral_jax.data.device_windows.DeviceWindows` when the windows fit
on the devices (each step then sends indices and flips; the same batches as the host path).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import jax

from chiral_jax.data.augment import MirrorAugment
from chiral_jax.data.device_windows import DeviceWindows, fits_on_device
from chiral_jax.data.pipeline import window_batches
from chiral_jax.data.windows import PoseWindows

__all__ = ["window_epochs"]


def window_epochs(
    windows: PoseWindows,
    batch_size: int,
    *,
    seed: int,
    augment: MirrorAugment | None = None,
    device_resident: bool = False,
) -> tuple[Callable[[int], Iterable[Any]], int, DeviceWindows | None]:
    """``(batches, steps_per_epoch, device_data)``: ``batches(epoch)`` yields one epoch of
    ``batch_size`` windows (last partial batch dropped), shuffled and augmented as a function of
    ``(seed, epoch)``; with ``device_resident`` and windows that fit, ``device_data`` holds them
    on the devices (else None). Raises ValueError when there is not one full batch."""
    steps = windows.num_batches(batch_size, drop_remainder=True)
    if steps == 0:
        raise ValueError(f"{len(windows)} training windows: fewer than one batch of {batch_size}")
    procs = dict(process_index=jax.process_index(), process_count=jax.process_count())
    if device_resident and fits_on_device(windows):
        device_data = DeviceWindows(windows, augment=augment)
        return (
            (lambda epoch: device_data.index_batches(batch_size, seed=seed, epoch=epoch, **procs)),
            steps,
            device_data,
        )

    def batches(epoch: int) -> Iterable[Any]:
        return window_batches(windows, batch_size, seed=seed, epoch=epoch, augment=augment, **procs)

    return batches, steps, None
