"""The full comparison on real CMU motion capture (subjects 02 train / 03 test, 4 virtual cameras).

Command:  python experiments/lift3d.py --workdir /tmp/lift3d_cmu --config experiments/configs/lift3d_cmu.py \
              --config.data.manual_dir ../shared/data/cmu_mocap
Runtime:  ~20 min on the 2-core CPU machine (18 runs of 12 epochs).
Result:   README "Lifting results" (CMU mocap), copied from WORKDIR/results.md.
"""

from chiral_jax.tasks.configs import load_sibling_config


def get_config():
    c = load_sibling_config(__file__, "lift3d_compare.py")
    c.data.name = "cmu_mocap"
    c.data.manual_dir = "../shared/data/cmu_mocap"
    c.train.epochs = 40  # 83 steps per epoch: 12 epochs left every net at ~90 mm training error
    return c
