"""HumanEva-I: Walk, Jog, Box; train on Train/S1-S3, test on Validate/S1-S3; P-MPJPE (protocol 2).

Needs data_3d_humaneva15.npz and data_2d_humaneva15_<keypoints>.npz in the manual dir.

Command:  python experiments/lift3d.py --workdir /tmp/lift3d_humaneva \\
              --config experiments/configs/lift3d_humaneva.py --config.data.manual_dir /path/to/humaneva_npz
Runtime:  not measured here (HumanEva-I is not on this machine).
Result:   WORKDIR/results.md (P-MPJPE column and per-action rows).
"""

from chiral_jax.tasks.configs import load_sibling_config


def get_config():
    c = load_sibling_config(__file__, "lift3d.py")
    c.data.name = "humaneva"
    c.data.keypoints = "gt"
    c.data.subjects_train = ("Train/S1", "Train/S2", "Train/S3")
    c.data.subjects_test = ("Validate/S1", "Validate/S2", "Validate/S3")
    c.data.actions = ("Walking", "Jog", "Box")  # action types of "Walking 1 chunk0", ...
    c.model.filter_widths = (3, 3, 3)
    c.model.channels = 1024
    c.train.batch_size = 1024
    c.train.epochs = 80
    c.num_seeds = 3
    return c
