"""The chiral step's cheaper dropout: bytes from split 32-bit words (equivariance of the nets using
it: the battery)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from chiral_jax import functional as F


@pytest.mark.parametrize("shape", [(64, 128), (3, 7, 5), (10,)])
def test_random_bytes_are_uniform_bytes_of_the_shape(shape):
    b = np.asarray(F._random_bytes(jax.random.key(0), shape))
    assert b.shape == shape and b.dtype == np.uint8
    big = np.asarray(F._random_bytes(jax.random.key(1), (256, 1024)))
    counts = np.bincount(big.ravel(), minlength=256)
    assert counts.min() > 0.8 * counts.mean() and counts.max() < 1.2 * counts.mean()
    # Different keys, different bytes; the same key, the same bytes.
    assert not np.array_equal(big, np.asarray(F._random_bytes(jax.random.key(2), (256, 1024))))
    np.testing.assert_array_equal(big, np.asarray(F._random_bytes(jax.random.key(1), (256, 1024))))


def test_dropout_keeps_its_rate_and_scale():
    x = jnp.ones((512, 256))
    y = np.asarray(F.dropout(x, 0.25, jax.random.key(3)))
    assert abs((y == 0).mean() - 0.25) < 0.01
    np.testing.assert_allclose(np.unique(y[y != 0]), [4 / 3], rtol=1e-6)


def test_default_masks_are_byte_draws_and_word_draws_are_opt_in():
    x, key = jnp.ones((16, 64)), jax.random.key(5)
    keep = np.asarray(jax.random.bits(jax.random.split(key, 1)[0], (16, 64), jnp.uint8) >= 64)
    np.testing.assert_array_equal(np.asarray(F.dropout(x, 0.25, key)) != 0, keep)
    with F.dropout_mask_bits("word"):
        word = np.asarray(F.dropout(x, 0.25, key)) != 0
    assert not np.array_equal(word, keep)
    np.testing.assert_array_equal(np.asarray(F.dropout(x, 0.25, key)) != 0, keep)  # restored
    with pytest.raises(ValueError, match="'byte' or 'word'"):
        F.dropout_mask_bits("bits").__enter__()
