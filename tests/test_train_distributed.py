"""The shared trainer's data parallelism: several devices and two processes train like one."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

_MULTI_DEVICE_SCRIPT = textwrap.dedent(
    """
    import os, sys, json
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=" + sys.argv[1]
    import jax, numpy as np
    sys.path.insert(0, sys.argv[3])
    from train_problem import problem, flat_params
    from chiral_jax.train import Trainer, amsgrad_torch
    make_model, loss_fn, batches = problem()
    assert len(jax.devices()) == int(sys.argv[1]), jax.devices()
    t = Trainer(make_model(), amsgrad_torch(1e-3), loss_fn, workdir=sys.argv[2], progress=False)
    t.fit(batches, epochs=2, steps_per_epoch=4)
    np.save(os.path.join(sys.argv[2], "params.npy"), flat_params(t))
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
    from train_problem import problem, flat_params
    from chiral_jax.train import Trainer, amsgrad_torch
    assert jax.process_count() == 2 and len(jax.devices()) == 2
    make_model, loss_fn, batches = problem()

    def local_rows(epoch):  # each process feeds its half of every global batch
        for b in batches(epoch):
            n = len(b["inputs"]) // 2
            yield {k: v[pid * n : (pid + 1) * n] for k, v in b.items()}

    t = Trainer(make_model(), amsgrad_torch(1e-3), loss_fn, workdir=workdir, progress=False)
    t.fit(local_rows, epochs=2, steps_per_epoch=4)
    np.save(os.path.join(workdir, f"params{pid}.npy"), flat_params(t))
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
