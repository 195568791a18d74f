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
