"""Checkpoint intervals of ``Trainer.fit``: how many saves, always the last epoch, and resuming from
a save a few epochs back ends like an uninterrupted run."""

import jax
import numpy as np
import pytest
from flax import nnx

from chiral_jax.train import Trainer, amsgrad_torch

EPOCHS = 4


class _Interrupted(RuntimeError):
    pass


def _problem():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3)).astype(np.float32)
    y = (x @ rng.normal(size=(3, 2))).astype(np.float32)

    def loss_fn(model, batch):
        err = jax.numpy.mean(jax.numpy.square(model(batch["x"]) - batch["y"]))
        return err, {}

    def batches(epoch):  # two steps per epoch, shuffled by epoch
        order = np.random.default_rng(epoch).permutation(len(x))
        for i in (0, 4):
            yield {"x": x[order[i : i + 4]], "y": y[order[i : i + 4]]}

    return loss_fn, batches


def _trainer(workdir, **kwargs) -> tuple[Trainer, list[int]]:
    loss_fn, _ = _problem()
    model = nnx.Linear(3, 2, rngs=nnx.Rngs(0))
    trainer = Trainer(
        model, amsgrad_torch(1e-2), loss_fn, workdir=str(workdir), bn_momentum=None, progress=False, **kwargs
    )
    saved: list[int] = []
    save = trainer.checkpointer.save

    def counting_save(epoch, state):
        saved.append(epoch)
        save(epoch, state)

    trainer.checkpointer.save = counting_save
    return trainer, saved


def _params(trainer):
    return np.concatenate([np.ravel(p) for p in jax.tree.leaves(trainer.params())])


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, [1, 2, 3, 4]),  # the default: every epoch
        ({"checkpoint_every_steps": 5}, [3, 4]),  # two steps per epoch; the last epoch always saves
        ({"checkpoint_every_seconds": 1e6}, [4]),  # only the last epoch
        ({"checkpoint_every_seconds": 1e6, "checkpoint_every_steps": 4}, [2, 4]),  # either one
        ({"checkpoint_every_seconds": 0, "checkpoint_every_steps": 0}, [1, 2, 3, 4]),  # 0: not used
    ],
)
def test_saves_counted(tmp_path, kwargs, expected):
    _, batches = _problem()
    trainer, saved = _trainer(tmp_path, **kwargs)
    trainer.fit(batches, epochs=EPOCHS, steps_per_epoch=2)
    assert saved == expected == trainer.saves
    assert trainer.checkpointer.latest_epoch() == EPOCHS


def test_negative_interval_is_refused(tmp_path):
    with pytest.raises(ValueError, match="checkpoint_every_steps must be >= 0"):
        _trainer(tmp_path, checkpoint_every_steps=-1)


def test_killed_between_saves_resumes_from_the_last_save_like_an_uninterrupted_run(tmp_path):
    _, batches = _problem()
    full, _ = _trainer(tmp_path / "full", checkpoint_every_steps=4)
    full.fit(batches, epochs=EPOCHS, steps_per_epoch=2)

    def dies_in_epoch_4(epoch):
        if epoch == 3:
            raise _Interrupted("killed")
        return batches(epoch)

    first, saved = _trainer(tmp_path / "run", checkpoint_every_steps=4)
    with pytest.raises(_Interrupted):
        first.fit(dies_in_epoch_4, epochs=EPOCHS, steps_per_epoch=2)
    assert saved == [2]  # epoch 3 ended 2 steps after the last save: no save
    resumed, saved = _trainer(tmp_path / "run", checkpoint_every_steps=4)
    history = resumed.fit(batches, epochs=EPOCHS, steps_per_epoch=2)
    assert [r["epoch"] for r in history] == [3, 4]  # epoch 3 is redone
    assert saved == [4]
    np.testing.assert_allclose(_params(resumed), _params(full), rtol=1e-6, atol=1e-7)
    assert resumed.num_steps == full.num_steps == 2 * EPOCHS
