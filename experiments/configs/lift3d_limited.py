"""Limited-data study (the paper's Table: S1 0.1% ... S1+S5+S6): chiral vs baseline vs training data.

On Human3.6M (test S9, S11) with the user's VideoPose3D npz files:

Command:  python experiments/lift3d.py --workdir /tmp/lift3d_limited \\
              --config experiments/configs/lift3d_limited.py --config.data.manual_dir /path/to/h36m_npz
Runtime:  not measured here (no Human3.6M on this machine); each entry is a full 27-frame run.
Result:   WORKDIR/sweep.md (table) and WORKDIR/sweep.png (test MPJPE against training frames).

The same sweep runs on the built-in synthetic set (subjects S1..S6 train, S7, S8 test) with
``--config.data.name=synthetic --config.data.manual_dir=''``; see the README for a measured run.
"""

from chiral_jax.tasks.configs import load_sibling_config


def get_config():
    c = load_sibling_config(__file__, "lift3d.py")
    c.data.name = "h36m"
    c.data.keypoints = "cpn_ft_h36m_dbb"
    c.data.subjects_test = ("S9", "S11")
    c.sweep = ("S1:0.001", "S1:0.01", "S1:0.05", "S1:0.1", "S1:0.5", "S1", "S1,S5", "S1,S5,S6")
    c.model.channels = 1024
    c.train.batch_size = 1024
    c.train.epochs = 80
    return c
