"""Device-resident windows give the host path's batches (order, targets, mirror flips), and the
trainer gathers them inside its step."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest

from chiral_jax.data import MirrorAugment, PoseWindows
from chiral_jax.data.device_windows import DeviceWindows, fits_on_device
from chiral_jax.data.pipeline import window_batches
from chiral_jax.skeletons import H36M

J = H36M.num_joints


def _windows(flatten: bool = True, chunk: int = 1) -> PoseWindows:
    rng = np.random.default_rng(0)
    lengths = (23, 9, 31, 4)
    inputs = [rng.standard_normal((n, J, 2)).astype(np.float32) for n in lengths]
    targets = [rng.standard_normal((n, J, 3)).astype(np.float32) for n in lengths]
    return PoseWindows(inputs, targets, receptive_field=9, chunk_length=chunk, flatten=flatten)


@pytest.mark.parametrize(
    ("augment", "flatten", "chunk"), [(False, True, 1), (True, True, 1), (True, False, 3)]
)
def test_device_batches_equal_host_batches(augment, flatten, chunk):
    windows = _windows(flatten, chunk)
    aug = MirrorAugment(0.5) if augment else None
    dev = DeviceWindows(windows, augment=aug)
    kw = dict(seed=3, epoch=2)
    host = list(windows.batches(8, drop_remainder=True, augment=aug, **kw))
    grain = list(window_batches(windows, 8, augment=aug, **kw))
    device = list(dev.batches(8, **kw))
    assert len(device) == len(host) == len(grain) == windows.num_batches(8, drop_remainder=True)
    flips = [b["flip"] for b in dev.index_batches(8, **kw)]
    for h, g, d, f in zip(host, grain, device, flips, strict=True):
        for key in ("inputs", "targets"):
            np.testing.assert_array_equal(np.asarray(d[key]), h[key])
            np.testing.assert_array_equal(np.asarray(d[key]), g[key])
        if augment:
            np.testing.assert_array_equal(f, h["mirrored"])
    if augment:  # the draws did mirror some windows and not others
        assert 0 < np.concatenate(flips).mean() < 1


def test_device_index_batches_split_over_processes():
    """P processes' rows together are the one-process batch (as the grain path splits them)."""
    dev = DeviceWindows(_windows(), augment=MirrorAugment(0.5))
    whole = list(dev.index_batches(8, seed=1, epoch=0))
    parts = [list(dev.index_batches(8, seed=1, epoch=0, process_index=p, process_count=2)) for p in (0, 1)]
    for b, (p0, p1) in zip(whole, zip(*parts, strict=True), strict=True):
        for key in ("ids", "flip"):
            np.testing.assert_array_equal(b[key], np.concatenate([p0[key], p1[key]]))
    with pytest.raises(ValueError, match="does not split over 3 processes"):
        next(dev.index_batches(8, seed=1, epoch=0, process_index=0, process_count=3))


def test_device_windows_fit_and_refuse_other_augmentations():
    windows = _windows()
    assert DeviceWindows.nbytes(windows) == windows._inputs.nbytes + windows._targets.nbytes + 8 * len(
        windows
    )
    assert fits_on_device(windows)  # CPU: no device limit reported
    with pytest.raises(TypeError, match="MirrorAugment"):
        DeviceWindows(windows, augment=lambda b, r: b)


def test_trainer_gathers_device_windows(tmp_path):
    """A Trainer step on index batches computes what the step on the host batch computes."""
    from flax import nnx

    from chiral_jax.models import TemporalModel
    from chiral_jax.tasks.lifting import mpjpe_loss
    from chiral_jax.train import Trainer, amsgrad_torch

    windows = _windows()
    dev = DeviceWindows(windows, augment=MirrorAugment(0.5))

    def trainer(name, device_data=None):
        model = TemporalModel(2 * J, 3 * J, filter_widths=(3, 3), channels=8, dropout=0.0, rngs=nnx.Rngs(0))
        return Trainer(
            model,
            amsgrad_torch(1e-3),
            mpjpe_loss(J),
            workdir=str(tmp_path / name),
            bn_momentum=None,
            progress=False,
            device_data=device_data,
        )

    index = next(dev.index_batches(8, seed=0, epoch=0))
    host = next(iter(window_batches(windows, 8, seed=0, epoch=0, augment=MirrorAugment(0.5))))
    a, b = trainer("host"), trainer("device", dev)
    try:
        la, lb = a.step(host), b.step(index)
        np.testing.assert_allclose(float(lb["loss"]), float(la["loss"]), rtol=1e-6)
        pa, pb = jax.tree.leaves(a.params()), jax.tree.leaves(b.params())
        for x, y in zip(pa, pb, strict=True):
            np.testing.assert_allclose(y, x, rtol=1e-5, atol=1e-6)
    finally:
        a.close()
        b.close()


@pytest.mark.slow
def test_device_batches_on_two_cpu_devices():
    """Replicated arrays and ids split over a simulated 2-device mesh: the same batches."""
    code = textwrap.dedent(
        """
        import jax, numpy as np
        from chiral_jax.data import MirrorAugment, PoseWindows
        from chiral_jax.data.device_windows import DeviceWindows
        from chiral_jax.train import parallel
        assert len(jax.devices()) == 2
        rng = np.random.default_rng(0)
        xs = [rng.standard_normal((n, 17, 2)).astype(np.float32) for n in (20, 30)]
        ys = [rng.standard_normal((n, 17, 3)).astype(np.float32) for n in (20, 30)]
        w = PoseWindows(xs, ys, receptive_field=9, flatten=True)
        aug = MirrorAugment(0.5)
        dev = DeviceWindows(w, augment=aug)
        step = jax.jit(dev.gather)
        host = w.batches(8, seed=0, epoch=0, drop_remainder=True, augment=aug)
        for h, ids in zip(host, dev.index_batches(8, seed=0, epoch=0)):
            d = step(dev.arrays, parallel.shard_batch(ids, dev.mesh))
            assert len(d["inputs"].sharding.device_set) == 2
            np.testing.assert_array_equal(np.asarray(d["inputs"]), h["inputs"])
            np.testing.assert_array_equal(np.asarray(d["targets"]), h["targets"])
        print("ok")
        """
    )
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    root = Path(__file__).parents[1]
    env["PYTHONPATH"] = f"{root}{os.pathsep}{env.get('PYTHONPATH', '')}"
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=root)
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), run.stderr[-3000:]
