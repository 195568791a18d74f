"""Forecasting on real CMU motion capture (subjects 02 train / 03 test, 4 virtual cameras), the
poses projected to 2D in the Penn Action joint layout.

Command:  python experiments/forecast2d.py --workdir /tmp/forecast2d_cmu \
              --config experiments/configs/forecast2d_cmu.py --config.data.manual_dir /path/to/cmu_mocap
Runtime:  12 min 7 s on the 2-core CPU machine while the test suite shared it (12 runs of 8 epochs).
Result:   PCK@0.05 averaged over the 16 steps, 3 seeds (%): chiral width 64 32.2 +- 0.4, width 94
          32.1 +- 0.1; baseline without augmentation 30.7 +- 1.7 (32.1 +- 1.6 with flip averaging),
          with augmentation 31.0 +- 1.9 (31.9 +- 1.9); zero velocity 32.5, constant velocity 29.2.
          One training subject: every net is near zero velocity on subject 03 (README).
"""

from chiral_jax.tasks.configs import load_sibling_config


def get_config():
    c = load_sibling_config(__file__, "forecast2d.py")
    c.data.name = "cmu_mocap"
    c.data.manual_dir = ""  # your CMU subject folders (02/, 03/): set on the command line
    c.data.clip_frames = 80  # takes of ~500 frames cut into Penn Action-length clips (see forecast2d.py)
    c.train.epochs = 8  # 21,360 training samples: 83 steps of 256 per epoch
    return c
