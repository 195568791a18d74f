"""Forecasting on real CMU motion capture (subjects 02 train / 03 test, 4 virtual cameras), the
poses projected to 2D in the Penn Action joint layout.

Command:  python experiments/forecast2d.py --workdir /tmp/forecast2d_cmu \
              --config experiments/configs/forecast2d_cmu.py --config.data.manual_dir /path/to/cmu_mocap
Runtime:  13 min 37 s on the 2-core CPU machine, nothing else running (12 runs of 8 epochs,
          2026-12-08).
Result:   PCK@0.05 averaged over the 16 steps, 3 seeds (%): chiral width 64 39.7 +- 0.2, width 94
          39.2 +- 0.3; baseline without augmentation 39.4 +- 0.3 (40.2 +- 0.4 with flip
          averaging), with augmentation 40.6 +- 0.1 (40.9 +- 0.1); zero velocity 32.5, constant
          velocity 29.2 (docs/forecasting.md).
"""

from chiral_jax.tasks.configs import load_sibling_config


def get_config():
    c = load_sibling_config(__file__, "forecast2d.py")
    c.data.name = "cmu_mocap"
    c.data.manual_dir = ""  # your CMU subject folders (02/, 03/): set on the command line
    c.data.clip_frames = 80  # takes of ~500 frames cut into Penn Action-length clips (see forecast2d.py)
    c.train.epochs = 8  # 21,360 training samples: 83 steps of 256 per epoch
    return c
