"""Checkpoints with orbax: the last few epochs, written atomically and (by default) asynchronously.

``<directory>/latest/<epoch>`` keeps the ``keep`` most recent saves. Orbax writes each checkpoint
into a temporary folder and renames it to ``<epoch>`` when complete, so an interrupted save never
looks like a checkpoint and never damages an earlier one.

**Asynchronous saves.** :meth:`Checkpointer.save` takes a host copy of the state and returns while
orbax writes it in a background thread, so training goes on during the write. The copy matters: the
trainer's jitted step donates the device buffers of the state it is given, so orbax must never read
those after ``save`` returns. Orbax makes a new save wait for the previous one;
:meth:`Checkpointer.wait` and :meth:`Checkpointer.close` wait for the last one.

**Damaged checkpoints.** A checkpoint can be damaged after it was written (disk errors, a partial
copy of a workdir). :meth:`Checkpointer.restore_latest` tries the newest one; when that cannot be
read it warns, renames it to ``<epoch>.corrupt`` (kept for inspection; orbax ignores that name) and
tries the next newest. When none is intact it raises :class:`CheckpointError` instead of letting
the caller start from scratch: the message names the folder to delete to do that on purpose.

**Part of a checkpoint.** :meth:`Checkpointer.restore_part` reads one entry of a saved dict, e.g.
the model of a training state ``{0: model, 1: optimizer}``, without reading the rest; a checkpoint
whose entry has other arrays raises :class:`CheckpointMismatchError` with both shape lists
(:func:`array_shapes`). It only reads: nothing is set aside.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import re
import sys
import types
import warnings
from collections.abc import Iterator
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

__all__ = ["CheckpointError", "CheckpointMismatchError", "Checkpointer", "array_shapes"]

_STEP = re.compile(r"^(0|[1-9]\d*)$")  # orbax's step folder names (no prefix, no zero padding)
_SET_ASIDE = re.compile(r"^(0|[1-9]\d*)\.corrupt(\.\d+)?$")


class CheckpointError(RuntimeError):
    """The checkpoint folder holds checkpoints but none that can be resumed from."""


class CheckpointMismatchError(CheckpointError):
    """The checkpoint's arrays (names, shapes) differ from the target's.

    Attributes:
      path: the checkpoint folder read; epoch: its epoch.
      saved, wanted: :func:`array_shapes` of the saved part and of the target.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str,
        epoch: int,
        saved: dict[str, tuple[int, ...] | None],
        wanted: dict[str, tuple[int, ...] | None],
    ) -> None:
        super().__init__(message)
        self.path, self.epoch, self.saved, self.wanted = path, epoch, saved, wanted


class Checkpointer:
    """Saves and restores a pytree of arrays (the training state) as an integer ``epoch``.

    Args:
      directory: where to write (created if needed); checkpoints go to ``directory/latest``.
      keep: how many recent checkpoints to keep (orbax's ``max_to_keep``).
      async_save: write in the background (:meth:`save` returns after a host copy); False blocks
        every :meth:`save` until the checkpoint is on disk.

    The orbax manager is opened on first use and released by :meth:`close` (reopened if used again).
    """

    def __init__(self, directory: str, *, keep: int = 3, async_save: bool = True):
        self.directory = os.path.abspath(directory)
        self.latest_dir = os.path.join(self.directory, "latest")
        self.keep, self.async_save = keep, async_save
        self._manager: ocp.CheckpointManager | None = None

    def _open(self) -> ocp.CheckpointManager:
        if self._manager is None:
            self._manager = ocp.CheckpointManager(
                self.latest_dir,
                options=ocp.CheckpointManagerOptions(max_to_keep=self.keep),
                # Named so that item_metadata() can read a step this manager has not written.
                item_handlers=ocp.StandardCheckpointHandler(),
            )
        return self._manager

    def latest_epoch(self) -> int | None:
        """The newest checkpoint orbax lists (None if none); not checked for damage."""
        return self._open().latest_step()

    def save(self, epoch: int, state: Any) -> None:
        """Saves ``state`` as ``epoch``.

        Asynchronous: returns once the previous save has finished and a host copy of ``state`` is
        taken; the checkpoint appears (atomically) when the write ends (:meth:`wait`). Blocking:
        returns when the checkpoint is on disk.
        """
        manager = self._open()
        manager.save(epoch, args=ocp.args.StandardSave(_host_copy(state) if self.async_save else state))
        if not self.async_save:
            manager.wait_until_finished()

    def restore(self, target: Any, epoch: int | None = None) -> tuple[int, Any]:
        """Restores into the structure, dtypes and shardings of ``target`` (e.g. a fresh state).

        ``epoch=None``: :meth:`restore_latest`, raising FileNotFoundError when there is no
        checkpoint. Returns ``(epoch, state)``.
        """
        if epoch is None:
            found = self.restore_latest(target)
            if found is None:
                raise FileNotFoundError(f"no checkpoint in {self.latest_dir}")
            return found
        manager = self._open()
        manager.wait_until_finished()
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
        return epoch, manager.restore(epoch, args=ocp.args.StandardRestore(abstract))

    def restore_latest(self, target: Any) -> tuple[int, Any] | None:
        """Restores the newest intact checkpoint into the structure, dtypes and shardings of ``target``.

        Newer checkpoints that cannot be restored, and step folders orbax does not list as finished
        checkpoints, are renamed to ``<epoch>.corrupt`` with a warning. Returns ``(epoch, state)``,
        or None when the folder holds no checkpoint at all (a fresh run).

        Raises:
          CheckpointError: the folder holds only damaged checkpoints (this call's or set aside
            earlier), or the newest readable one was written for a different state structure.
        """
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
        manager = self._open()
        manager.wait_until_finished()
        manager.reload()  # the folder may have changed since the manager listed it
        while True:
            self._set_aside_unlisted(manager)
            epoch = manager.latest_step()
            if epoch is None:
                damaged = self._set_aside_names()
                if damaged:
                    raise CheckpointError(
                        f"no intact checkpoint in {self.latest_dir} (damaged ones set aside: "
                        f"{', '.join(damaged)}). To start training from scratch, delete "
                        f"{self.directory} or use a new --workdir."
                    )
                return None
            try:
                with _failed_read_echoes_quieted():
                    self._check_fits(manager, epoch, abstract)
                    return epoch, manager.restore(epoch, args=ocp.args.StandardRestore(abstract))
            except CheckpointError:
                raise
            except Exception as err:
                self._set_aside(str(epoch), _first_line(err))
                manager.reload()

    def restore_part(self, key: Any, target: Any, epoch: int | None = None) -> tuple[int, Any]:
        """Restores ``state[key]`` of a saved dict ``state`` (e.g. key 0, the model of the trainer's
        ``{0: model, 1: optimizer}``) into the structure and dtypes of ``target``, reading none of
        the other entries. ``epoch=None``: the newest checkpoint. Returns ``(epoch, part)``.

        Raises:
          FileNotFoundError: no checkpoint (or no such epoch) in the folder.
          CheckpointMismatchError: the saved entry's arrays are not ``target``'s (its ``saved`` and
            ``wanted`` attributes list both; an absent entry has no saved arrays).
        """
        manager = self._open()
        manager.wait_until_finished()
        manager.reload()
        if epoch is None:
            epoch = manager.latest_step()
            if epoch is None:
                raise FileNotFoundError(f"no checkpoint in {self.latest_dir}")
        elif epoch not in manager.all_steps():
            raise FileNotFoundError(f"no checkpoint of epoch {epoch} in {self.latest_dir}")
        path = os.path.join(self.latest_dir, str(epoch))
        metadata = manager.item_metadata(epoch)
        tree = getattr(metadata, "tree", metadata) or {}
        saved_part = tree.get(str(key), tree.get(key)) if isinstance(tree, dict) else None
        saved, wanted = array_shapes(saved_part or {}), array_shapes(target)
        if saved != wanted:
            keys = sorted(set(saved) | set(wanted))
            changed = [
                f"{k} {saved.get(k)} vs {wanted.get(k)}" for k in keys if saved.get(k) != wanted.get(k)
            ]
            raise CheckpointMismatchError(
                f"checkpoint {path}, entry {key!r}: arrays differ from the target's (saved vs asked: "
                f"{'; '.join(changed[:4])}{' ...' if len(changed) > 4 else ''})",
                path=path,
                epoch=int(epoch),
                saved=saved,
                wanted=wanted,
            )
        abstract = {key: jax.tree.map(ocp.utils.to_shape_dtype_struct, target)}
        # The manager's item is StandardCheckpointHandler's "default" folder; the partial restore
        # of PyTreeCheckpointHandler reads only the entries named in the target.
        restored = ocp.PyTreeCheckpointer().restore(
            os.path.join(path, "default"),
            args=ocp.args.PyTreeRestore(
                item=abstract,
                restore_args=ocp.checkpoint_utils.construct_restore_args(abstract),
                partial_restore=True,
            ),
        )
        return int(epoch), restored.get(key, restored.get(str(key)))

    def wait(self) -> None:
        """Blocks until the pending asynchronous save (if any) is on disk."""
        if self._manager is not None:
            self._manager.wait_until_finished()

    def close(self) -> None:
        """Waits for the pending save and releases orbax's manager (threads, event loop)."""
        if self._manager is not None:
            manager, self._manager = self._manager, None
            manager.close()

    def __enter__(self) -> Checkpointer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ damage handling

    def _check_fits(self, manager: ocp.CheckpointManager, epoch: int, abstract: Any) -> None:
        """Raises CheckpointError when the checkpoint's arrays (names, shapes) differ from ``abstract``'s:
        a different model or optimizer, which setting checkpoints aside would not fix. Unreadable
        metadata is damage: the error propagates to the caller's damage handling."""
        metadata = manager.item_metadata(epoch)
        tree = getattr(metadata, "tree", metadata)
        if not tree:
            raise ValueError(f"checkpoint {epoch} has no readable metadata")
        saved, wanted = array_shapes(tree), array_shapes(abstract)
        if saved == wanted:
            return
        missing = sorted(set(wanted) - set(saved))
        extra = sorted(set(saved) - set(wanted))
        changed = sorted(k for k in set(saved) & set(wanted) if saved[k] != wanted[k])
        details = "; ".join(
            f"{what}: {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}"
            for what, names in (
                ("missing", missing),
                ("unexpected", extra),
                ("other shapes", [f"{k} {saved[k]} vs {wanted[k]}" for k in changed]),
            )
            if names
        )
        raise CheckpointError(
            f"checkpoint {os.path.join(self.latest_dir, str(epoch))} was written for a different model "
            f"or optimizer ({details}). Resume with the configuration that wrote it, or to start from "
            f"scratch delete {self.directory} or use a new --workdir."
        )

    def _set_aside_unlisted(self, manager: ocp.CheckpointManager) -> None:
        """Sets aside step folders orbax does not list (e.g. uncommitted on a bucket): a later save
        of the same epoch would collide with them."""
        if not os.path.isdir(self.latest_dir):
            return
        listed = set(manager.all_steps())
        unlisted = [n for n in sorted(os.listdir(self.latest_dir)) if _STEP.match(n) and int(n) not in listed]
        for name in unlisted:
            self._set_aside(name, "orbax does not list it as a finished checkpoint")
        if unlisted:
            manager.reload()

    def _set_aside(self, name: str, reason: str) -> None:
        """Renames ``latest/<name>`` to ``<name>.corrupt`` (``.corrupt.<i>`` if taken) and warns."""
        src = os.path.join(self.latest_dir, name)
        _sync(f"chiral_jax.checkpoint.set_aside.before.{name}")
        dst, i = f"{src}.corrupt", 1
        while os.path.exists(dst):
            dst, i = f"{src}.corrupt.{i}", i + 1
        if jax.process_index() == 0:  # one process renames; the others wait at the barrier
            os.rename(src, dst)
        _sync(f"chiral_jax.checkpoint.set_aside.after.{name}")
        warnings.warn(
            f"checkpoint {src} cannot be restored ({reason}); moved it to {dst} and trying the next "
            f"newest checkpoint",
            RuntimeWarning,
            stacklevel=3,
        )

    def _set_aside_names(self) -> list[str]:
        if not os.path.isdir(self.latest_dir):
            return []
        return sorted(n for n in os.listdir(self.latest_dir) if _SET_ASIDE.match(n))


def _host_copy(tree: Any) -> Any:
    """Copies ``tree``'s arrays to host numpy arrays that no later jitted step can donate.

    Replicated multi-process arrays are copied from this process's shard (orbax writes numpy
    arrays from process 0 only). Typed PRNG keys cannot be numpy arrays, and arrays sharded across
    processes need their sharding: both get a fresh device copy instead (small, and not donated).
    """

    def copy(x: Any) -> Any:
        if not isinstance(x, jax.Array):
            return x
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            return x.copy()
        if not x.is_fully_addressable:
            if not x.sharding.is_fully_replicated:
                return x.copy()
            x = x.addressable_data(0)
        return np.array(x, copy=True)  # np.asarray may alias the device buffer on CPU

    return jax.tree.map(copy, tree)


def _path_name(path: tuple[Any, ...]) -> str:
    # Pure dicts have int keys where orbax's metadata has strings: compare names as strings.
    return "/".join(str(getattr(k, "key", getattr(k, "idx", getattr(k, "name", k)))) for k in path)


def array_shapes(tree: Any) -> dict[str, tuple[int, ...] | None]:
    """``{path: stored shape}`` of a pytree of arrays, abstract arrays or orbax array metadata
    (PRNG keys as their stored key data); paths are ``/``-joined keys (``"0/expand_conv/kernel"``)."""
    out = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        shape = getattr(leaf, "shape", None)
        dtype = getattr(leaf, "dtype", None)
        if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
            shape = jax.eval_shape(jax.random.key_data, jax.ShapeDtypeStruct(shape, dtype)).shape
        out[_path_name(path)] = None if shape is None else tuple(shape)
    return out


def _first_line(err: BaseException) -> str:
    """``Type: first line`` of the innermost cause (orbax wraps tensorstore's precise error)."""
    while err.__cause__ is not None:
        err = err.__cause__
    lines = str(err).strip().splitlines()
    line = (lines[0] if lines else "").split(" [tensorstore_spec=")[0]
    return f"{type(err).__name__}: {line[:300]}"


def _sync(name: str) -> None:
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


# ---------------------------------------------------------------------- failed-read echoes


def _is_closed_loop_echo(unraisable: Any) -> bool:
    exc = unraisable.exc_value
    if not (isinstance(exc, RuntimeError) and str(exc) == "Event loop is closed"):
        return False
    tb: types.TracebackType | None = unraisable.exc_traceback
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "call_soon_threadsafe":
            return True
        tb = tb.tb_next
    return False


class _OrbaxReadEchoFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()  # includes the future's repr: its coroutine or tensorstore's error
        return not ("exception was never retrieved" in msg and ("orbax" in msg or "tensorstore" in msg))


_echo_filters_kept = False


@contextlib.contextmanager
def _failed_read_echoes_quieted() -> Iterator[None]:
    """Drops the echoes of a failed restore, which the caller reports once in its warning.

    Orbax reads a checkpoint's arrays concurrently on a private asyncio loop and closes that loop
    as soon as one read fails. Tensorstore then completes the other reads and posts them to the
    closed loop, which raises ``RuntimeError('Event loop is closed')`` in tensorstore's threads
    (reported through ``sys.unraisablehook``: dozens of tracebacks, some before the error reaches
    us), and asyncio logs "... exception was never retrieved" for the sibling reads that failed
    too. The filters match only those two messages; they are removed after a successful restore
    and kept for the rest of the process after a failed one (the echoes can come late).
    """
    global _echo_filters_kept
    if _echo_filters_kept:
        yield
        return
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if not _is_closed_loop_echo(unraisable):
            previous(unraisable)

    log_filter = _OrbaxReadEchoFilter()
    sys.unraisablehook = hook
    logging.getLogger("asyncio").addFilter(log_filter)
    try:
        yield
    except BaseException:
        _echo_filters_kept = True
        gc.collect()  # collect the abandoned read tasks now, while the filters are in place
        raise
    else:
        logging.getLogger("asyncio").removeFilter(log_filter)
        if sys.unraisablehook is hook:  # unless someone installed theirs meanwhile
            sys.unraisablehook = previous
