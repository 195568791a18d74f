"""Penn Action at the paper's setting (2-layer LSTM of 1024 units), for a GPU.

Command:  python experiments/forecast2d.py --workdir /tmp/forecast2d_penn_full \
              --config experiments/configs/forecast2d_penn_full.py \
              --config.data.manual_dir=/path/to/Penn_Action
Runtime:  not run here (no GPU and no Penn Action on the development machine).
Result:   none yet.
"""

from chiral_jax.tasks.configs import load_sibling_config


def get_config():
    c = load_sibling_config(__file__, "forecast2d_penn.py")
    c.data.train_fraction = 1.0
    c.model.width = 1024
    c.train.epochs = 20
    c.train.batch_size = 256
    return c
