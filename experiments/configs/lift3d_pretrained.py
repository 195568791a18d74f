"""The packaged lifter (``predict3d.py --checkpoint pretrained``): a small chiral net trained on
free data only, CMU motion capture (subject 02) and the whole built-in synthetic set, seen as a
COCO-17 detector would see them (chiral_jax.predict.training: COCO points from the 3D poses,
projected, 2D noise, missing joints filled by interpolation, mapped to H36M-17 as predict3d.py
maps detections); tested on CMU subject 03 seen the same way.

Command:  python -m chiral_jax.predict.training --workdir /tmp/pretrained \
              --config experiments/configs/lift3d_pretrained.py \
              --config.data.manual_dir /path/to/cmu_mocap
Then:     cp -r /tmp/pretrained/export/. chiral_jax/predict/pretrained/
"""

import ml_collections

from chiral_jax.tasks.configs import load_sibling_config


def get_config() -> ml_collections.ConfigDict:
    c = load_sibling_config(__file__, "lift3d.py")
    c.num_seeds = 1
    c.data.name = "cmu_mocap"  # its train split for training, its test subject (03) for the test
    c.data.manual_dir = ""  # your CMU subject folders (02/, 03/): set on the command line
    c.data.extra_train = ("synthetic",)  # every synthetic sequence (all 8 subjects) joins training
    c.data.detector = ml_collections.ConfigDict(
        {
            "noise_px": 5.0,  # 2D noise, pixels: each sequence draws its standard deviation in [0, 5]
            "missing_fraction": 0.1,  # joint positions missing (runs of ~5 frames), then interpolated
            "gap_frames": 5.0,
            "missing_frames": 0.02,  # frames without a detection
            "copies": 2,  # training copies of every sequence, each its own draw
            "min_score": 0.3,
            "seed": 0,
        }
    )
    c.model.kind = "chiral"  # hidden width 128, 27 frames: lift3d.py's defaults
    c.model.equal_params = False
    c.model.trajectory = True
    c.export_trajectory = True  # ship the trajectory head (False: the pose net alone)
    c.train.epochs = 16
    c.train.lr_decay_steps = 400  # x0.95 per 400 steps: x0.32 over the 8,768 steps
    return c
