"""Lifting to joints + twists, then twist-swing IK: chiral vs plain temporal lifter.

Command:  python experiments/ik_cmu.py --workdir /tmp/ik_cmu
          (real CMU data: --config.data.name=cmu_mocap --config.data.manual_dir=/path/to/cmu_mocap)
Runtime:  4 min 25 s on the idle 2-core CPU machine (model.init = lecun): 4 runs of 24 epochs x
          141 steps, plus IK evaluation; with init = torch 18 min 9 s at load 11-15 (6 min 8 s of
          CPU time).
Result:   test errors over 2 seeds (synthetic), init = torch: chiral width 128 MPJPE 30.5 +- 0.3
          mm, after IK 24.2 +- 0.9 mm, bone length 12.6 mm, rotation 5.2 +- 0.1 deg, twist 0.7 deg;
          baseline with mirror augmentation 35.0 / 29.7 mm, 13.1 mm, 6.1 deg, 0.7 deg. With init =
          lecun: chiral 32.4 / 26.5 mm, 5.8 deg; baseline 35.2 / 30.0 mm, 6.5 deg; real CMU (1
          seed, --config.num_seeds=1, init = lecun): chiral 110.6 / 96.1 mm, 24.6 deg, 9.3 deg;
          baseline 117.9 / 99.7 mm, 26.4 deg, 9.2 deg (9 min 21 s wall).

The default trains on the built-in synthetic generator, whose joint-angle motions give exact joint
rotations of the H36M-17 tree (no files needed); ``data.name=cmu_mocap`` reads the AMC rotations of
the CMU subject folders you pass as ``data.manual_dir`` (subjects 02 train / 03 test by default).
``model.architecture`` picks the lifter ("temporal"; "transformer": see ``ik_cmu_transformer.py``).
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.num_seeds = 2
    c.progress = True

    c.data = ml_collections.ConfigDict()
    c.data.name = "synthetic"  # synthetic | cmu_mocap
    c.data.manual_dir = ""  # cmu_mocap: the folder of CMU subject folders (02/, 03/, ...)
    c.data.subjects_train = ()  # cmu_mocap: empty = every subject not in subjects_test
    c.data.subjects_test = ()  # cmu_mocap: empty = ("03",)
    c.data.num_cameras = 4
    c.data.max_trials = 0  # cmu_mocap: trials per subject (0: all)
    c.data.synthetic = ml_collections.ConfigDict({"seed": 0})  # the lifting default's set

    c.model = ml_collections.ConfigDict()
    c.model.architecture = "temporal"  # temporal | transformer (its keys: ik_cmu_transformer.py)
    c.model.kind = "both"  # chiral | baseline | both
    c.model.filter_widths = (3, 3, 3)  # 27 frames
    c.model.width = 128
    c.model.dropout = 0.25
    # Weight init: torch (PyTorch's Conv1d default, VideoPose3D's recipe) | lecun (Flax's default).
    c.model.init = "torch"
    c.model.causal = False
    c.model.activation = "relu"
    c.model.negated_activation = "tanh"
    c.model.hidden_specs = ("plain",)
    c.model.equal_params = False
    c.model.baseline_activation = "relu"
    c.model.baseline_without_augment = False

    c.train = ml_collections.ConfigDict()
    c.train.epochs = 24
    c.train.batch_size = 256
    c.train.lr = 1e-3
    c.train.lr_decay = 0.95
    c.train.lr_decay_steps = 1500
    c.train.augment = True  # mirror augmentation (joints and twists) for the baseline
    c.train.twist_weight = 0.1  # metres per unit chord of the (cos, sin) twist error
    return c
