"""The toy lifting problem the trainer tests share (imported by them and by their subprocess scripts).

Not a test module (no ``test_`` prefix): pytest puts ``tests/`` on ``sys.path``, and the
multi-device scripts insert it themselves.
"""

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from chiral_jax import skeletons
from chiral_jax.models import ChiralTemporalModel


def problem(seed: int = 0):
    """``(make_model, loss_fn, batches)``: a strided chiral temporal net fitting 128 windows
    (9 frames, H36M 2D) to a fixed random map of their centre frame (H36M 3D), batches of 32."""
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


def flat_params(trainer):
    """Every parameter of the trainer's model, raveled into one vector."""
    return np.concatenate([np.ravel(p) for p in jax.tree.leaves(trainer.params())])
