"""Checkpointer.restore_part: one entry of a saved dict (the model of a training state), read alone."""

from __future__ import annotations

import numpy as np
import pytest

from chiral_jax.train.checkpoint import Checkpointer, CheckpointError, CheckpointMismatchError, array_shapes


def _state(scale: float) -> dict:
    model = {"dense": {"kernel": np.full((3, 2), scale, np.float32), "bias": np.arange(2, dtype=np.float32)}}
    optimizer = {"mu": np.full((3, 2), -scale, np.float32), "count": np.array(7, np.int32)}
    return {0: model, 1: optimizer}


def _target() -> dict:
    return {"dense": {"kernel": np.zeros((3, 2), np.float32), "bias": np.zeros(2, np.float32)}}


def test_restores_the_entry_of_the_newest_or_a_given_epoch(tmp_path):
    with Checkpointer(str(tmp_path / "ckpt"), async_save=False) as ckpt:
        ckpt.save(1, _state(1.0))
        ckpt.save(2, _state(2.0))
    with Checkpointer(str(tmp_path / "ckpt")) as ckpt:
        epoch, part = ckpt.restore_part(0, _target())
        assert epoch == 2 and set(part) == {"dense"}
        np.testing.assert_array_equal(part["dense"]["kernel"], np.full((3, 2), 2.0))
        np.testing.assert_array_equal(part["dense"]["bias"], [0.0, 1.0])
        epoch, part = ckpt.restore_part(0, _target(), epoch=1)
        assert epoch == 1
        np.testing.assert_array_equal(part["dense"]["kernel"], np.full((3, 2), 1.0))
        _, opt = ckpt.restore_part(1, {"mu": np.zeros((3, 2), np.float32), "count": np.array(0, np.int32)})
        assert int(opt["count"]) == 7


def test_other_arrays_are_refused_with_both_shape_lists(tmp_path):
    with Checkpointer(str(tmp_path / "ckpt"), async_save=False) as ckpt:
        ckpt.save(3, _state(1.0))
    wider = {"dense": {"kernel": np.zeros((3, 4), np.float32), "bias": np.zeros(4, np.float32)}}
    with Checkpointer(str(tmp_path / "ckpt")) as ckpt:
        with pytest.raises(
            CheckpointMismatchError, match=r"entry 0.*dense/kernel \(3, 2\) vs \(3, 4\)"
        ) as err:
            ckpt.restore_part(0, wider)
        assert isinstance(err.value, CheckpointError) and err.value.epoch == 3
        assert err.value.saved == {"dense/bias": (2,), "dense/kernel": (3, 2)}
        assert err.value.wanted == array_shapes(wider) == {"dense/bias": (4,), "dense/kernel": (3, 4)}
        with pytest.raises(CheckpointMismatchError, match="entry 5"):  # no such entry: no saved arrays
            ckpt.restore_part(5, _target())
    assert (tmp_path / "ckpt" / "latest" / "3").is_dir()  # nothing set aside


def test_missing_checkpoints_raise_file_not_found(tmp_path):
    with (
        Checkpointer(str(tmp_path / "empty")) as ckpt,
        pytest.raises(FileNotFoundError, match="no checkpoint"),
    ):
        ckpt.restore_part(0, _target())
    with Checkpointer(str(tmp_path / "ckpt"), async_save=False) as ckpt:
        ckpt.save(1, _state(1.0))
        with pytest.raises(FileNotFoundError, match="epoch 4"):
            ckpt.restore_part(0, _target(), epoch=4)
