"""Transformer lifting on real CMU motion capture (subjects 02 train / 03 test, 4 virtual cameras).

Command:  python experiments/transformer_lift.py --workdir /tmp/transformer_lift_cmu \
              --config experiments/configs/transformer_lift_cmu.py --config.data.manual_dir /path/to/cmu_mocap
Runtime:  not measured
Result:   not measured
"""

from chiral_jax.tasks.configs import load_sibling_config


def get_config():
    c = load_sibling_config(__file__, "transformer_lift.py")
    c.data.name = "cmu_mocap"
    c.data.manual_dir = ""  # your CMU subject folders (02/, 03/): set on the command line
    c.data.train_fraction = 1.0
    c.train.epochs = 20
    return c
