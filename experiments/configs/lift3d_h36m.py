"""Human3.6M, the paper's main setting: 243-frame nets, CPN detections (or any 2D source), 80 epochs.

Needs the user's VideoPose3D files in the manual dir: data_3d_h36m.npz and
data_2d_h36m_<keypoints>.npz (see VideoPose3D's DATASETS.md).

Command:  python experiments/lift3d.py --workdir /tmp/lift3d_h36m \\
              --config experiments/configs/lift3d_h36m.py --config.data.manual_dir /path/to/h36m_npz
Runtime:  not measured here (Human3.6M is not on this machine); a GPU is needed for 80 epochs.
Result:   WORKDIR/results.md. Published reference (VideoPose3D, CPN, 243 frames): 46.8 mm MPJPE.
"""

from chiral_jax.tasks.configs import load_sibling_config


def get_config():
    c = load_sibling_config(__file__, "lift3d.py")
    c.data.name = "h36m"
    c.data.keypoints = "cpn_ft_h36m_dbb"
    c.data.subjects_train = ("S1", "S5", "S6", "S7", "S8")
    c.data.subjects_test = ("S9", "S11")
    c.model.filter_widths = (3, 3, 3, 3, 3)
    c.model.width = 1024
    c.train.batch_size = 1024
    c.train.epochs = 80
    c.num_seeds = 3
    return c
