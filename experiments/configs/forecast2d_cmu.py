"""Forecasting on real CMU motion capture (subjects 02 train / 03 test, 4 virtual cameras), the
poses projected to 2D in the Penn Action joint layout.

Command:  python experiments/forecast2d.py --workdir /tmp/forecast2d_cmu \
              --config experiments/configs/forecast2d_cmu.py
Runtime:  (see the README's forecasting section)
Result:   (see the README's forecasting section; WORKDIR/results.md)
"""

from chiral_jax.tasks.configs import load_sibling_config


def get_config():
    c = load_sibling_config(__file__, "forecast2d.py")
    c.data.name = "cmu_mocap"
    c.data.manual_dir = "../shared/data/cmu_mocap"
    c.data.clip_frames = 80  # takes of ~500 frames cut into Penn Action-length clips (see forecast2d.py)
    c.train.epochs = 8  # 21,360 training samples: 83 steps of 256 per epoch
    return c
