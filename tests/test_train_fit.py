"""The shared trainer's fit loop: training, resuming an interrupted run, batch-norm momentum."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from train_problem import flat_params, problem

from chiral_jax import skeletons
from chiral_jax.models import ChiralTemporalModel, TemporalModel
from chiral_jax.nn import BatchNorm, BatchNormMomentum, ChiralBatchNorm
from chiral_jax.train import (
    Trainer,
    amsgrad_torch,
    set_batch_norm_momentum,
)


@pytest.mark.slow
def test_training_reduces_loss_and_logs(tmp_path):
    make_model, loss_fn, batches = problem()
    trainer = Trainer(make_model(), amsgrad_torch(3e-3), loss_fn, workdir=str(tmp_path), progress=False)
    history = trainer.fit(batches, epochs=4, steps_per_epoch=4)
    assert history[-1]["train_loss"] < 0.8 * history[0]["train_loss"]
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3, 4]
    assert (tmp_path / "learning_curves.png").stat().st_size > 0


@pytest.mark.slow
def test_interrupted_and_resumed_run_ends_like_an_uninterrupted_one(tmp_path):
    make_model, loss_fn, batches = problem()
    full = Trainer(make_model(), amsgrad_torch(1e-3), loss_fn, workdir=str(tmp_path / "a"), progress=False)
    full.fit(batches, epochs=3, steps_per_epoch=4)

    first = Trainer(make_model(), amsgrad_torch(1e-3), loss_fn, workdir=str(tmp_path / "b"), progress=False)
    first.fit(batches, epochs=3, steps_per_epoch=4, stop_after_epoch=1)  # "interrupted"
    assert first.checkpointer.latest_epoch() == 1
    resumed = Trainer(make_model(), amsgrad_torch(1e-3), loss_fn, workdir=str(tmp_path / "b"), progress=False)
    history = resumed.fit(batches, epochs=3, steps_per_epoch=4)
    assert [r["epoch"] for r in history] == [2, 3]
    np.testing.assert_allclose(flat_params(resumed), flat_params(full), rtol=1e-6, atol=1e-7)
    assert resumed.num_steps == full.num_steps == 12


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
