"""The shared trainer: PyTorch-form AMSGrad, schedules, data parallelism, resumable checkpoints."""

import json
import os
import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from chiral_jax import skeletons
from chiral_jax.models import ChiralTemporalModel, TemporalModel
from chiral_jax.nn import BatchNorm, BatchNormMomentum, ChiralBatchNorm
from chiral_jax.train import (
    Checkpointer,
    CheckpointError,
    Trainer,
    amsgrad_torch,
    bn_momentum,
    scale_by_amsgrad_torch,
    set_batch_norm_momentum,
)


def _torch_amsgrad_reference(grads, lr=0.1, b1=0.9, b2=0.999, eps=1e-8):
    """torch.optim.Adam(amsgrad=True)'s documented update, by hand, for a scalar parameter."""
    p, m, v, v_max, out = 0.0, 0.0, 0.0, 0.0, []
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        v_max = max(v_max, v)
        denom = np.sqrt(v_max) / np.sqrt(1 - b2**t) + eps
        p = p - lr / (1 - b1**t) * m / denom
        out.append(p)
    return np.array(out)


def test_amsgrad_torch_matches_hand_computed_steps(x64):
    grads = [10.0, 0.1, -0.2, 0.05, 0.3, -1.0]
    tx = amsgrad_torch(0.1)
    params = jnp.zeros((), jnp.float64)
    state = tx.init(params)
    got = []
    for g in grads:
        updates, state = tx.update(jnp.asarray(g, jnp.float64), state, params)
        params = optax.apply_updates(params, updates)
        got.append(float(params))
    np.testing.assert_allclose(got, _torch_amsgrad_reference(grads), rtol=1e-5)
    # optax.amsgrad maxes the bias-corrected moment: after a huge first gradient it differs.
    tx2, p2 = optax.amsgrad(0.1), jnp.zeros((), jnp.float64)
    s2 = tx2.init(p2)
    for g in grads:
        u, s2 = tx2.update(jnp.asarray(g, jnp.float64), s2, p2)
        p2 = optax.apply_updates(p2, u)
    assert abs(float(p2) - got[-1]) > 1e-3


def _torch_amsgrad_directions(grads, b1=0.9, b2=0.999, eps=1e-8):
    """PyTorch's AMSGrad step direction (``(p_old - p_new) / lr``) in numpy, for arrays of any shape:
    the running maximum over the raw second moment, bias corrections applied after it."""
    m = np.zeros_like(grads[0])
    v, v_max, out = m.copy(), m.copy(), []
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        v_max = np.maximum(v_max, v)
        out.append((m / (1 - b1**t)) / (np.sqrt(v_max) / np.sqrt(1 - b2**t) + eps))
    return out


def test_scale_by_amsgrad_torch_matches_a_numpy_reference():
    rng = np.random.default_rng(0)
    # A pytree of two arrays; a large first gradient, then small noisy ones (where optax.amsgrad differs).
    grads = [
        {"w": rng.normal(size=(3, 4)) * (100.0 if t == 0 else 0.1), "b": rng.normal(size=5)} for t in range(8)
    ]
    tx = scale_by_amsgrad_torch()
    params = jax.tree.map(jnp.asarray, grads[0])
    state = tx.init(params)
    expected = {k: _torch_amsgrad_directions([g[k] for g in grads]) for k in ("w", "b")}
    for t, g in enumerate(grads):
        updates, state = tx.update(jax.tree.map(jnp.asarray, g), state, params)
        for k in ("w", "b"):
            # rtol: the bias corrections are float32 (1 - 0.999 carries a relative error of ~1e-5).
            np.testing.assert_allclose(np.asarray(updates[k]), expected[k][t], rtol=3e-5, atol=1e-12)
    assert int(state.count) == len(grads)


def test_schedules():
    # The lr decay of VideoPose3D's recipe is optax's continuous exponential decay.
    lr = optax.exponential_decay(init_value=1e-3, transition_steps=100, decay_rate=0.95)
    np.testing.assert_allclose(float(lr(0)), 1e-3)
    np.testing.assert_allclose(float(lr(100)), 0.95e-3, rtol=1e-6)
    np.testing.assert_allclose(float(lr(50)), 1e-3 * 0.95**0.5, rtol=1e-6)
    assert bn_momentum(0.0) == pytest.approx(0.9)
    assert bn_momentum(1.0) == pytest.approx(0.999)
    assert 0.9 < bn_momentum(0.5) < 0.999


def _problem(seed: int = 0):
    a, b = skeletons.H36M.spec(2), skeletons.H36M.spec(3)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(128, 9, 34)).astype(np.float32)
    y = np.tanh(x[:, 4, :] @ rng.normal(size=(34, 51)).astype(np.float32) * 0.2)[:, None, :]

    def make_model():
        return ChiralTemporalModel(a, b, filter_widths=(3, 3), channels=16, strided=True, rngs=nnx.Rngs(0))

    def loss_fn(model, batch):
        err = jnp.mean(jnp.square(model(batch["inputs"]) - batch["targets"]))
        return err, {"mse": err}

    def batches(epoch):
        order = np.random.default_rng([seed, epoch]).permutation(len(x))
        for i in range(0, len(x), 32):
            idx = order[i : i + 32]
            yield {"inputs": x[idx], "targets": y[idx]}

    return make_model, loss_fn, batches


def _flat_params(trainer):
    return np.concatenate([np.ravel(p) for p in jax.tree.leaves(trainer.params())])


@pytest.mark.slow
def test_training_reduces_loss_and_logs(tmp_path):
    make_model, loss_fn, batches = _problem()
    trainer = Trainer(make_model(), amsgrad_torch(3e-3), loss_fn, workdir=str(tmp_path), progress=False)
    history = trainer.fit(batches, epochs=4, steps_per_epoch=4)
    assert history[-1]["train_loss"] < 0.8 * history[0]["train_loss"]
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3, 4]
    assert (tmp_path / "learning_curves.png").stat().st_size > 0


@pytest.mark.slow
def test_interrupted_and_resumed_run_ends_like_an_uninterrupted_one(tmp_path):
    make_model, loss_fn, batches = _problem()
    full = Trainer(make_model(), amsgrad_torch(1e-3), loss_fn, workdir=str(tmp_path / "a"), progress=False)
    full.fit(batches, epochs=3, steps_per_epoch=4)

    first = Trainer(make_model(), amsgrad_torch(1e-3), loss_fn, workdir=str(tmp_path / "b"), progress=False)
    first.fit(batches, epochs=3, steps_per_epoch=4, stop_after_epoch=1)  # "interrupted"
    assert first.checkpointer.latest_epoch() == 1
    resumed = Trainer(make_model(), amsgrad_torch(1e-3), loss_fn, workdir=str(tmp_path / "b"), progress=False)
    history = resumed.fit(batches, epochs=3, steps_per_epoch=4)
    assert [r["epoch"] for r in history] == [2, 3]
    np.testing.assert_allclose(_flat_params(resumed), _flat_params(full), rtol=1e-6, atol=1e-7)
    assert resumed.num_steps == full.num_steps == 12


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
    make_model, loss_fn, batches = _problem()
    trainer = Trainer(make_model(), amsgrad_torch(1e-3), loss_fn, workdir=str(tmp_path), progress=False)
    trainer.checkpointer.save(1, nnx.to_pure_dict(trainer.state))  # as an epoch would, without training
    trainer.close()
    _damage(tmp_path / "checkpoints" / "latest" / "1", "overwrite")
    with pytest.warns(RuntimeWarning), pytest.raises(CheckpointError, match=re.escape(str(tmp_path))):
        trainer.fit(batches, epochs=2, steps_per_epoch=4)
    assert trainer.num_steps == 0


@pytest.mark.slow
def test_damaged_newest_checkpoint_resumes_from_the_previous_epoch_like_an_uninterrupted_run(tmp_path, capfd):
    make_model, loss_fn, batches = _problem()
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
    np.testing.assert_allclose(_flat_params(resumed), _flat_params(full), rtol=1e-6, atol=1e-7)
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
    make_model, loss_fn, batches = _problem()
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


# ---------------------------------------------------------------------- batch-norm momentum


def test_batch_norm_momentum_is_state_from_construction():
    a, b = skeletons.H36M.spec(2), skeletons.H36M.spec(3)
    chiral = ChiralTemporalModel(a, b, filter_widths=(3, 3), channels=16, momentum=0.8, rngs=nnx.Rngs(0))
    dense = TemporalModel(34, 51, filter_widths=(3, 3), channels=16, momentum=0.8, rngs=nnx.Rngs(0))
    for model, kind in ((chiral, ChiralBatchNorm), (dense, BatchNorm)):
        bns = [m for _, m in nnx.iter_graph(model) if isinstance(m, kind)]
        assert len(bns) == 3
        assert all(isinstance(bn.momentum, BatchNormMomentum) for bn in bns)
        momenta = jax.tree.leaves(nnx.state(model, BatchNormMomentum))
        assert len(momenta) == 3 and all(np.asarray(m) == np.float32(0.8) for m in momenta)
        set_batch_norm_momentum(model, 0.5)
        assert all(float(bn.momentum[...]) == 0.5 for bn in bns)
    # Flax's own layer, still computing momentum * running + (1 - momentum) * batch with a Variable.
    bn = BatchNorm(2, momentum=0.25, rngs=nnx.Rngs(0))
    bn(jnp.asarray([[1.0, 2.0], [3.0, 6.0]]))
    np.testing.assert_allclose(np.asarray(bn.mean[...]), 0.75 * np.array([2.0, 4.0]), rtol=1e-6)


def test_trainer_rejects_a_batch_norm_whose_momentum_no_schedule_reaches(tmp_path):
    class Plain(nnx.Module):
        def __init__(self):
            self.bn = nnx.BatchNorm(3, rngs=nnx.Rngs(0))

    with pytest.raises(ValueError, match=r"chiral_jax\.nn\.BatchNorm"):
        Trainer(Plain(), amsgrad_torch(1e-3), lambda m, b: (0.0, {}), workdir=str(tmp_path))
    Trainer(Plain(), amsgrad_torch(1e-3), lambda m, b: (0.0, {}), workdir=str(tmp_path), bn_momentum=None)


def test_changing_batch_norm_momentum_does_not_recompile_the_step(tmp_path):
    a, b = skeletons.H36M.spec(2), skeletons.H36M.spec(3)
    model = ChiralTemporalModel(a, b, filter_widths=(3,), channels=8, strided=True, rngs=nnx.Rngs(0))

    traces = []

    def loss_fn(model, batch):
        traces.append(1)  # runs once per trace of the step: a recompilation would add one
        err = jnp.mean(jnp.square(model(batch["inputs"]) - batch["targets"]))
        return err, {}

    trainer = Trainer(model, amsgrad_torch(1e-3), loss_fn, workdir=str(tmp_path), progress=False)
    rng = np.random.default_rng(0)
    batch = {
        "inputs": rng.normal(size=(4, 3, 34)).astype(np.float32),
        "targets": np.zeros((4, 1, 51), np.float32),
    }
    for momentum in (0.9, 0.5, 0.99):
        trainer.step(batch, momentum)
        momenta = jax.tree.leaves(nnx.state(trainer.model, BatchNormMomentum))
        assert momenta and all(np.asarray(m) == np.float32(momentum) for m in momenta)
    assert len(traces) == 1


_MULTI_DEVICE_SCRIPT = textwrap.dedent(
    """
    import os, sys, json
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=" + sys.argv[1]
    import jax, numpy as np
    sys.path.insert(0, sys.argv[3])
    from test_train import _problem, _flat_params
    from chiral_jax.train import Trainer, amsgrad_torch
    make_model, loss_fn, batches = _problem()
    assert len(jax.devices()) == int(sys.argv[1]), jax.devices()
    t = Trainer(make_model(), amsgrad_torch(1e-3), loss_fn, workdir=sys.argv[2], progress=False)
    t.fit(batches, epochs=2, steps_per_epoch=4)
    np.save(os.path.join(sys.argv[2], "params.npy"), _flat_params(t))
    if len(jax.devices()) > 1:
        from chiral_jax.train import shard_batch
        try:
            shard_batch({"x": np.zeros((len(jax.devices()) + 1, 2))}, t.mesh)
            raise SystemExit("shard_batch accepted a batch that does not split over the devices")
        except ValueError as err:
            assert "does not split" in str(err), err
    """
)


@pytest.mark.slow
def test_four_devices_train_like_one(tmp_path):
    results = {}
    for n in (1, 4):
        workdir = tmp_path / f"dev{n}"
        env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
        proc = subprocess.run(
            [sys.executable, "-c", _MULTI_DEVICE_SCRIPT, str(n), str(workdir), os.path.dirname(__file__)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        results[n] = np.load(workdir / "params.npy")
    np.testing.assert_allclose(results[4], results[1], rtol=1e-4, atol=1e-5)


_TWO_PROCESS_SCRIPT = textwrap.dedent(
    """
    import os, sys
    pid, port, workdir, tests_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    import jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address="127.0.0.1:" + port, num_processes=2, process_id=pid)
    import numpy as np
    sys.path.insert(0, tests_dir)
    from test_train import _problem, _flat_params
    from chiral_jax.train import Trainer, amsgrad_torch
    assert jax.process_count() == 2 and len(jax.devices()) == 2
    make_model, loss_fn, batches = _problem()

    def local_rows(epoch):  # each process feeds its half of every global batch
        for b in batches(epoch):
            n = len(b["inputs"]) // 2
            yield {k: v[pid * n : (pid + 1) * n] for k, v in b.items()}

    t = Trainer(make_model(), amsgrad_torch(1e-3), loss_fn, workdir=workdir, progress=False)
    t.fit(local_rows, epochs=2, steps_per_epoch=4)
    np.save(os.path.join(workdir, f"params{pid}.npy"), _flat_params(t))
    """
)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_on_loopback_train_like_one(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    port, tests_dir = str(_free_port()), os.path.dirname(__file__)
    workdir = tmp_path / "two"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _TWO_PROCESS_SCRIPT, str(pid), port, str(workdir), tests_dir],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        for pid in (0, 1)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    for p, out in zip(procs, outputs, strict=True):
        assert p.returncode == 0, out[-3000:]
    single = tmp_path / "one"
    proc = subprocess.run(
        [sys.executable, "-c", _MULTI_DEVICE_SCRIPT, "1", str(single), tests_dir],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    reference = np.load(single / "params.npy")
    for pid in (0, 1):
        np.testing.assert_allclose(np.load(workdir / f"params{pid}.npy"), reference, rtol=1e-4, atol=1e-5)
