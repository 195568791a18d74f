"""Default lifting config: the built-in synthetic set, chiral vs baseline, a 27-frame net.

Command:  python experiments/lift3d.py --workdir /tmp/lift3d
Runtime:  7 min 32 s at a load average of 2-4.5 on the 2-core CPU machine (x86_64 AMD EPYC, jax
          0.10.2) for 9 runs of 24 epochs (init = torch); 7 min 8 s idle with model.init = lecun.
Result:   test MPJPE over 3 seeds (mm), init = torch: chiral width 128 29.2 +- 1.0, chiral width
          184 (the baseline's parameters, the runner's exact matcher) 27.3 +- 0.8, baseline with
          mirror augmentation 36.1 +- 1.8, the same with test-time flip averaging 31.3 +- 2.2
          (WORKDIR/results.md; docs/results.md). Before the exact matcher the equal-parameter net
          had width 182 (147,357 parameters): 27.2 +- 0.5. init = lecun gave 33.6 +- 0.2, 29.5 +-
          1.5 (width 182), 35.8 +- 1.9, 32.8 +- 0.4.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.num_seeds = 3
    c.progress = True

    c.data = ml_collections.ConfigDict()
    c.data.name = "synthetic"  # synthetic | cmu_mocap | h36m | humaneva
    c.data.manual_dir = ""  # the user's files (h36m, humaneva, cmu_mocap); read on the first build
    c.data.data_dir = ""  # where the TFDS build goes ("": TFDS's default, ~/tensorflow_datasets)
    c.data.keypoints = "gt"  # 2D source for h36m / humaneva: gt, cpn_ft_h36m_dbb, ...
    c.data.subjects_train = ()  # empty: the dataset's standard split
    c.data.subjects_test = ()
    c.data.train_fraction = 1.0
    c.data.actions = ()
    c.data.synthetic = ml_collections.ConfigDict({"seed": 0})
    # Training windows on the devices, each step sends indices (False: host batches through grain;
    # also used when they would take over a quarter of the device's free memory).
    c.data.device_resident = True

    c.model = ml_collections.ConfigDict()
    c.model.kind = "both"  # chiral | baseline | both
    c.model.filter_widths = (3, 3, 3)  # 27 frames
    c.model.width = 128
    c.model.dropout = 0.25
    # Weight init: torch (PyTorch's Conv1d default, VideoPose3D's recipe) | lecun (Flax's default).
    c.model.init = "torch"
    # Chiral dropout: even_odd (masks the even/odd coordinates: exactly equivariant per mask) |
    # channels (plain channel dropout, equivariant in distribution; as PyTorch chirality nets).
    c.model.dropout_basis = "even_odd"
    c.model.causal = False
    # VideoPose3D's trajectory model: a second temporal net of the pose net's shape predicts the root's
    # camera-frame position (loss weighted by 1/depth); adds trajectory_mm and mpjpe_abs_mm.
    c.model.trajectory = False
    c.model.activation = "relu"  # on the negation-free ("plain") hidden spec
    c.model.negated_activation = "tanh"  # on the negated hidden spec (the paper's choice)
    c.model.hidden_specs = ("plain",)  # plain | negated
    c.model.equal_params = True  # also train the chiral net at width x sqrt2
    c.model.baseline_activation = "relu"
    c.model.baseline_without_augment = False

    c.train = ml_collections.ConfigDict()
    c.train.epochs = 24
    c.train.batch_size = 256
    c.train.lr = 1e-3
    c.train.lr_decay = 0.95
    c.train.lr_decay_steps = 1500  # VideoPose3D: x0.95 per Human3.6M epoch (~1500 steps of 1024)
    # "step": smooth, lr_decay per lr_decay_steps; "epoch": lr_decay once per epoch (staircase);
    # "<N>": lr_decay every N steps (staircase).
    c.train.lr_decay_every = "step"
    # Checkpoints: at most one save per this many seconds or steps (0: not used; both 0: every
    # epoch); the last epoch always saves.
    c.train.checkpoint_every_seconds = 60.0
    c.train.checkpoint_every_steps = 0
    c.train.augment = True  # mirror augmentation for the baseline
    c.train.dtype = "float32"  # compute dtype: float32 | bfloat16 (float32 parameters either way)
    # Dropout masks' random bits: byte (one draw per coordinate; the published seeded results) |
    # word (four per 32-bit word) | packed (the fewest bits that express the rate: 16 per word at
    # 0.25). Same distribution; cheaper draws change the masks of a seed (docs/performance.md).
    c.train.dropout_bits = "byte"

    # Limited-data study: "subjects:fraction" entries, each a full run (see lift3d_limited.py).
    c.sweep = ()

    c.eval = ml_collections.ConfigDict()
    c.eval.flip_average = True
    return c
