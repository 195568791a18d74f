"""Transformer lifting on real CMU motion capture (subjects 02 train / 03 test, 4 virtual cameras).

The default transformer recipe (transformer_lift.py: frame tokens, 9-frame windows, width 64, the
chiral net also at the plain net's parameters) on a quarter of every training take's frames, 16
epochs of ~83 steps, so that 3 seeds of every variant fit a short CPU run.

Command:  python experiments/transformer_lift.py --workdir /tmp/transformer_lift_cmu \
              --config experiments/configs/transformer_lift_cmu.py --config.data.manual_dir /path/to/cmu_mocap
Runtime:  24 min 29 s wall for 3 seeds of the three variants (9 runs, 110-195 s of training
          each) on the 2-core CPU machine while the test suite ran beside it (17 min 31 s user CPU).
Result:   test MPJPE over 3 seeds (mm): chiral width 64 121.9 +- 5.5, chiral width 88 (the plain
          net's parameters) 120.0 +- 9.3, plain width 64 with mirror augmentation 128.7 +- 1.6, the
          same with flip averaging 122.8 +- 2.4 (P-MPJPE 96.2 / 95.4 / 99.8 / 96.6). The temporal
          conv nets of lift3d_cmu.py, on all the training frames for 40 epochs: 101.5-117.2.
"""

from chiral_jax.tasks.configs import load_sibling_config


def get_config():
    c = load_sibling_config(__file__, "transformer_lift.py")
    c.data.name = "cmu_mocap"
    c.data.manual_dir = ""  # your CMU subject folders (02/, 03/): set on the command line
    c.data.train_fraction = 0.25  # of each training take's frames (one contiguous run per take)
    c.train.epochs = 16
    return c
