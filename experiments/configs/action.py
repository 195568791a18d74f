"""Default action-recognition config: the built-in synthetic action clips (no files needed).

Command:  python experiments/action.py --workdir /tmp/action
Runtime:  2 min 53 s on the idle 2-core CPU machine (x86_64, jax 0.10.2): 12 runs of 40 epochs,
          mostly compilation; 3 min 8 s at a load average of 2-5.
Result:   test top-1 (%), 96 clips, 3 seeds: chiral 75.3 +- 8.5, chiral at the baseline's
          parameters (the runner's exact matcher, 77,092) 56.6 +- 7.9, baseline 68.1 +- 5.7 (63.2
          on the mirrored test clips; 66.3 +- 14.0 with flip averaging), baseline with mirror
          augmentation 58.0 +- 10.3 (59.7 +- 10.1 with flip averaging); the chiral logits change by
          0 under the mirror
          (WORKDIR/results.md; README).

Six classes (walking, waving, punching, limping, squatting, turning) seen by 4 virtual cameras;
training clips are all right-handed, half the test clips are mirrored (left-handed): see
``chiral_jax.data.synthetic_actions``. The paper's 10-layer net at a quarter of ST-GCN's widths,
invariance layer after layer 4; chiral at equal width and at the baseline's parameter count, the
baseline without and with mirror augmentation (each with test-time flip averaging); 3 seeds.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.num_seeds = 3
    c.progress = True

    c.data = ml_collections.ConfigDict()
    c.data.name = "synthetic"  # synthetic | nw_ucla | penn_action | kinetics_skeleton
    c.data.manual_dir = ""  # the folder with the dataset's files (not needed for synthetic)
    c.data.data_dir = ""  # where the TFDS build goes ("": TFDS's default, ~/tensorflow_datasets)
    c.data.frames = 64  # clips are cut / zero-padded (or resampled) to this many frames
    c.data.train_window = 48  # training crops a random window of this many frames (0: all)
    c.data.random_move = True  # random small rotation / scale / translation per training clip
    c.data.augment = ml_collections.ConfigDict(  # the moves of data.random_move (augment_clips)
        {
            "rotation_deg": 10.0,  # largest rotation about the viewing axis, in the (x, y) plane
            "scale": (0.9, 1.1),
            "translation": 0.1,
            "coords": 2,  # leading coordinate channels scaled and translated (3 for x, y, z)
            "vertical_rotation": 0.0,  # radians, largest rotation about the vertical axis (3D only)
            "vertical_axis": 1,
            "tilt": 0.0,  # radians, largest rotation about the x axis (camera elevation; 3D only)
        }
    )
    c.data.align_view = False  # nw_ucla: turn each clip's first frame to face the camera (rotate.py)
    c.data.scale = "max_abs"  # nw_ucla: max_abs (divide by the largest coordinate) | none (metres)
    c.data.protocol = "test"  # test | validation (carved from the training split: docs/actions.md)
    c.data.frame_step = 2  # synthetic: keep every 2nd frame (50 Hz -> 25 Hz)
    c.data.synthetic = ml_collections.ConfigDict({"seed": 0})  # SyntheticActionsConfig options

    c.model = ml_collections.ConfigDict()
    c.model.kind = "both"  # chiral | baseline | both
    c.model.width = (16, 16, 16, 16, 32, 32, 32, 64, 64, 64)  # ST-GCN's / 4
    c.model.invariance_layer = 4  # the chiral net's invariance layer follows this many layers
    c.model.invariance_mode = "abs_pairs"  # abs_pairs | abs | square
    c.model.equal_params = True  # also train the chiral net at the baseline's parameter count
    c.model.baseline_without_augment = True  # also the baseline without mirror augmentation
    c.model.architecture = "per_frame"  # per_frame (joints folded in layer 1) | graph (one vector per joint)
    c.model.learn_adjacency = True  # graph: learn a residual adjacency per block
    c.model.bones = False  # graph: also feed each joint's offset from its parent
    c.model.strides = ()  # graph: time stride per block (empty: 2 where the width grows)
    c.model.kernel_size = 9
    c.model.dropout = 0.5
    c.model.motion = False  # also feed each joint's frame-to-frame change (models.motion_features)

    c.train = ml_collections.ConfigDict()
    c.train.epochs = 40
    c.train.batch_size = 32
    c.train.optimizer = "sgd"  # sgd (Nesterov) | adamw
    c.train.schedule = "steps"  # steps (lr_steps) | cosine
    c.train.warmup_epochs = 0.0  # cosine only
    c.train.lr = 0.1
    c.train.lr_steps = (30, 36)  # epochs after which the learning rate is multiplied by 0.1
    c.train.momentum = 0.9  # Nesterov
    c.train.weight_decay = 1e-4
    c.train.augment = True  # a baseline trained with mirror augmentation

    c.eval = ml_collections.ConfigDict()
    c.eval.flip_average = True  # baselines: also average the logits of clip and mirror
    c.eval.batch_size = 256
    return c
