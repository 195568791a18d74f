"""The shared trainer: PyTorch-form AMSGrad, schedules, data parallelism, resumable checkpoints."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from chiral_jax import skeletons
from chiral_jax.models import ChiralTemporalModel
from chiral_jax.train import Trainer, amsgrad_torch, bn_momentum, exponential_decay_per_step


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


def test_amsgrad_torch_matches_hand_computed_steps():
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


def test_schedules():
    lr = exponential_decay_per_step(1e-3, 0.95, 100)
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


def test_training_reduces_loss_and_logs(tmp_path):
    make_model, loss_fn, batches = _problem()
    trainer = Trainer(make_model(), amsgrad_torch(3e-3), loss_fn, workdir=str(tmp_path), progress=False)
    history = trainer.fit(batches, epochs=4, steps_per_epoch=4)
    assert history[-1]["train_loss"] < 0.8 * history[0]["train_loss"]
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3, 4]
    assert (tmp_path / "learning_curves.png").stat().st_size > 0


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
