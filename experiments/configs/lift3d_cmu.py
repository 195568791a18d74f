"""The full comparison on real CMU motion capture (subjects 02 train / 03 test, 4 virtual cameras).

Command:  python experiments/lift3d.py --workdir /tmp/lift3d_cmu --config experiments/configs/lift3d_cmu.py \
              --config.data.manual_dir /path/to/cmu_mocap
Runtime:  15 min 56 s on the 2-core CPU machine (18 runs of 40 epochs).
Result:   test MPJPE (mm, 3 seeds): chiral ReLU 101.9 +- 2.6 (width 128) / 101.5 +- 1.0 (182);
          chiral tanh 121.5 +- 9.0 / 121.6 +- 5.2; baseline with augmentation 109.8 +- 6.9
          (103.2 +- 4.4 with flip averaging), without 117.2 +- 6.0 (103.9 +- 5.1). README table.
"""

from chiral_jax.tasks.configs import load_sibling_config


def get_config():
    c = load_sibling_config(__file__, "lift3d_compare.py")
    c.data.name = "cmu_mocap"
    c.data.manual_dir = ""  # your CMU subject folders (02/, 03/): set on the command line
    c.train.epochs = 40  # 83 steps per epoch: 12 epochs left every net at ~90 mm training error
    return c
