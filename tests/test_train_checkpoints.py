"""The shared trainer's checkpoints: damaged ones set aside, asynchronous and blocking saves."""

import os
import re
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from train_problem import flat_params, problem

from chiral_jax.train import (
    Checkpointer,
    CheckpointError,
    Trainer,
    amsgrad_torch,
)

# ---------------------------------------------------------------------- damaged checkpoints


def _damage(step_dir: Path, kind: str = "truncate") -> None:
    """Damages a saved checkpoint as disk errors or a partial copy of a workdir would."""
    data = [f for f in step_dir.rglob("*") if f.is_file() and f.parent.name == "d"]  # OCDBT data files
    assert data, sorted(step_dir.rglob("*"))
    for f in data:
        if kind == "truncate":
            with open(f, "r+b") as fh:
                fh.truncate(10)
        elif kind == "overwrite":
            f.write_bytes(np.random.default_rng(0).bytes(f.stat().st_size))
        elif kind == "delete":
            f.unlink()
        else:
            raise ValueError(kind)


def _tree(i: int) -> dict:
    return {
        "w": jnp.full((16, 8), float(i)),
        "layers": {0: {"b": jnp.arange(5.0) + i}},
        "key": jax.random.key(i),
        "count": jnp.asarray(i, jnp.int32),
    }


def _host(tree):
    unwrap = lambda x: jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x  # noqa: E731
    return [np.asarray(unwrap(x)) for x in jax.tree.leaves(tree)]


def _assert_trees_equal(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(_host(a), _host(b), strict=True):
        np.testing.assert_array_equal(x, y)


def _saved(directory: Path, epochs=(1, 2, 3), **kwargs) -> Checkpointer:
    with Checkpointer(str(directory), **kwargs) as ckpt:
        for i in epochs:
            ckpt.save(i, _tree(i))
    return Checkpointer(str(directory), **kwargs)


@pytest.mark.parametrize("damage", ["truncate", "overwrite", "delete", "empty_folder", "stray_file"])
def test_damaged_newest_checkpoint_is_set_aside(tmp_path, capfd, damage):
    ckpt = _saved(tmp_path)
    latest = tmp_path / "latest"
    bad = latest / "4" if damage == "stray_file" else latest / "3"
    if damage == "empty_folder":  # a partial copy: the folder, none of its files
        for f in sorted(bad.rglob("*"), reverse=True):
            f.rmdir() if f.is_dir() else f.unlink()
    elif damage == "stray_file":  # a step name orbax does not take for a checkpoint
        bad.write_text("not a checkpoint")
    else:
        _damage(bad, damage)
    capfd.readouterr()
    with pytest.warns(RuntimeWarning, match=re.escape(str(bad)) + r" cannot be restored \(\w+"):
        epoch, state = ckpt.restore_latest(_tree(0))
    good = 2 if damage != "stray_file" else 3
    assert epoch == good
    _assert_trees_equal(state, _tree(good))
    names = sorted(p.name for p in latest.iterdir())
    assert f"{bad.name}.corrupt" in names and bad.name not in names, names
    # Orbax's interrupted concurrent reads would print "Event loop is closed" tracebacks.
    err = capfd.readouterr().err
    assert "Event loop is closed" not in err and "never retrieved" not in err, err[-2000:]
    # The next save of that epoch does not collide with the damaged one, and a second
    # damaged copy of the same epoch gets its own name.
    ckpt.save(3, _tree(30))
    ckpt.close()
    _damage(latest / "3")
    with pytest.warns(RuntimeWarning, match="corrupt"):
        assert Checkpointer(str(tmp_path)).restore_latest(_tree(0))[0] == 2
    if damage != "stray_file":
        assert {"3.corrupt", "3.corrupt.1"} <= {p.name for p in latest.iterdir()}


def test_no_intact_checkpoint_is_an_error_naming_the_folder(tmp_path):
    ckpt = _saved(tmp_path, epochs=(1, 2))
    for step in ("1", "2"):
        _damage(tmp_path / "latest" / step)
    with pytest.warns(RuntimeWarning), pytest.raises(CheckpointError, match="no intact checkpoint") as err:
        ckpt.restore_latest(_tree(0))
    assert str(tmp_path) in str(err.value) and "--workdir" in str(err.value) and "delete" in str(err.value)
    assert sorted(p.name for p in (tmp_path / "latest").iterdir()) == ["1.corrupt", "2.corrupt"]
    # Set aside, they still stop the next run from silently starting from scratch.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(CheckpointError, match=r"1\.corrupt, 2\.corrupt"):
            Checkpointer(str(tmp_path)).restore_latest(_tree(0))
    assert Checkpointer(str(tmp_path / "fresh")).restore_latest(_tree(0)) is None


def test_checkpoint_of_another_model_is_an_error_not_damage(tmp_path):
    ckpt = _saved(tmp_path, epochs=(1,))
    other = {**_tree(0), "w": jnp.zeros((16, 4))}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(CheckpointError, match=r"different model.*w \(16, 8\) vs \(16, 4\)"):
            ckpt.restore_latest(other)
    assert [p.name for p in (tmp_path / "latest").iterdir()] == ["1"]


def test_fit_with_every_checkpoint_damaged_raises(tmp_path):
    make_model, loss_fn, batches = problem()
    trainer = Trainer(make_model(), amsgrad_torch(1e-3), loss_fn, workdir=str(tmp_path), progress=False)
    trainer.checkpointer.save(1, nnx.to_pure_dict(trainer.state))  # as an epoch would, without training
    trainer.close()
    _damage(tmp_path / "checkpoints" / "latest" / "1", "overwrite")
    with pytest.warns(RuntimeWarning), pytest.raises(CheckpointError, match=re.escape(str(tmp_path))):
        trainer.fit(batches, epochs=2, steps_per_epoch=4)
    assert trainer.num_steps == 0


@pytest.mark.slow
def test_damaged_newest_checkpoint_resumes_from_the_previous_epoch_like_an_uninterrupted_run(tmp_path, capfd):
    make_model, loss_fn, batches = problem()
    full = Trainer(make_model(), amsgrad_torch(1e-3), loss_fn, workdir=str(tmp_path / "a"), progress=False)
    full.fit(batches, epochs=3, steps_per_epoch=4)

    first = Trainer(make_model(), amsgrad_torch(1e-3), loss_fn, workdir=str(tmp_path / "b"), progress=False)
    first.fit(batches, epochs=3, steps_per_epoch=4, stop_after_epoch=2)
    latest = tmp_path / "b" / "checkpoints" / "latest"
    _damage(latest / "2")
    capfd.readouterr()
    resumed = Trainer(make_model(), amsgrad_torch(1e-3), loss_fn, workdir=str(tmp_path / "b"), progress=False)
    with pytest.warns(RuntimeWarning, match=re.escape(str(latest / "2")) + " cannot be restored"):
        history = resumed.fit(batches, epochs=3, steps_per_epoch=4)
    assert [r["epoch"] for r in history] == [2, 3]
    assert {"1", "2", "2.corrupt", "3"} <= {p.name for p in latest.iterdir()}
    np.testing.assert_allclose(flat_params(resumed), flat_params(full), rtol=1e-6, atol=1e-7)
    assert resumed.num_steps == full.num_steps == 12
    assert "Event loop is closed" not in capfd.readouterr().err


# ---------------------------------------------------------------------- asynchronous saves


def test_async_save_keeps_its_own_copy_of_donated_state(tmp_path):
    state = jax.device_put(_tree(7))
    expected = _host(state)
    donate = jax.jit(lambda t: jax.tree.map(lambda x: x, t), donate_argnums=(0,))
    with Checkpointer(str(tmp_path), async_save=True) as ckpt:
        ckpt.save(1, state)
        donate(state)  # what the next train step does to the state's buffers
    restored = Checkpointer(str(tmp_path)).restore(_tree(0))[1]
    for x, y in zip(_host(restored), expected, strict=True):
        np.testing.assert_array_equal(x, y)


def test_async_and_blocking_saves_restore_identical_states(tmp_path):
    restored = {}
    for async_save in (True, False):
        ckpt = _saved(tmp_path / str(async_save), epochs=(1, 2), async_save=async_save)
        restored[async_save] = ckpt.restore_latest(_tree(0))
        assert restored[async_save][0] == 2
    _assert_trees_equal(restored[True][1], restored[False][1])
    _assert_trees_equal(restored[True][1], _tree(2))


@pytest.mark.slow
def test_async_and_blocking_trainers_checkpoint_the_same_state(tmp_path):
    make_model, loss_fn, batches = problem()
    states = {}
    for async_save in (True, False):
        workdir = str(tmp_path / f"async_{async_save}")
        t = Trainer(
            make_model(), amsgrad_torch(1e-3), loss_fn, workdir=workdir, async_save=async_save, progress=False
        )
        t.fit(batches, epochs=2, steps_per_epoch=4)
        epoch, states[async_save] = Checkpointer(os.path.join(workdir, "checkpoints")).restore(
            nnx.to_pure_dict(t.state)
        )
        assert epoch == 2
        _assert_trees_equal(states[async_save], nnx.to_pure_dict(t.state))
    _assert_trees_equal(states[True], states[False])
