"""Default forecasting config: the built-in synthetic motions seen in the Penn Action layout.

Command:  python experiments/forecast2d.py --workdir /tmp/forecast2d
Runtime:  8 min 12 s on the 2-core CPU machine (x86_64 AMD EPYC, jax 0.10.2), nothing else
          running (12 runs of 8 epochs, 2026-12-08).
Result:   PCK@0.05 averaged over the 16 steps, 3 seeds (%): chiral width 64 67.1 +- 0.2, chiral
          width 94 (the baseline's parameters) 68.0 +- 0.2, baseline without augmentation
          66.3 +- 0.4, with augmentation 67.1 +- 0.1, with augmentation and flip averaging
          67.4 +- 0.1; zero velocity 54.8, constant velocity 44.2 (docs/forecasting.md).

Given the present pose and its initial velocity (2 observed frames), forecast 16 poses; chiral
stacked LSTM (equal width, equal parameters) against the plain baseline without and with mirror
augmentation, each baseline also with test-time flip averaging; 3 seeds. The recipe (measured on
validation splits, docs/forecasting.md): a residual decoder whose read-out starts at zero (the
untrained net forecasts zero velocity), the velocity given to the encoder only, no teacher
forcing (trained free-running, as evaluated), a Welsch loss (a smooth PCK) on the visible joints,
the training videos also played backwards, Adam 2e-3 with cosine decay and gradient clipping, the
chiral LSTM initialized like the baseline's (orthogonal recurrent kernels, no forget bias).
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.num_seeds = 3
    c.progress = True

    c.data = ml_collections.ConfigDict()
    c.data.name = "synthetic"  # synthetic | cmu_mocap | penn_action
    c.data.manual_dir = ""  # penn_action: Penn_Action/ or its labels/ folder; cmu_mocap: subject folders
    c.data.data_dir = ""  # where the TFDS build goes ("": TFDS's default, ~/tensorflow_datasets)
    c.data.observed = 2  # 2: the present pose and its initial velocity (the paper); 1: the pose alone
    c.data.future = 16
    c.data.train_fraction = 1.0  # of the training samples (a fixed random subset, seed 0)
    c.data.clip_frames = 0  # cut videos into clips of this many frames first (0: whole videos)
    # Hold out this fraction of the training recordings (seed 0) and evaluate on them instead of
    # the test split: for tuning (0: off, evaluate on the test split).
    c.data.val_fraction = 0.0
    c.data.train_reverse = True  # also train on the videos played backwards (docs/forecasting.md)
    c.data.train_stride_factors = (1.0,)  # also train on samples at these multiples of the stride
    # Takes of 60-100 frames at 50 Hz: the protocol's stride (T - 1) // 18 is then 3-5 frames
    # (0.06-0.1 s), Penn Action's time scale (videos of ~70 frames at 30 Hz, stride ~3).
    c.data.synthetic = ml_collections.ConfigDict({"seed": 0, "min_frames": 60, "max_frames": 100})

    c.model = ml_collections.ConfigDict()
    c.model.kind = "both"  # chiral | baseline | both
    c.model.cell = "lstm"  # lstm | gru
    c.model.width = 64
    c.model.num_layers = 2
    c.model.dropout = 0.0  # between stacked layers
    c.model.velocity = "encoder"  # initial | frame | encoder: what the velocity input holds (seq2seq.py)
    c.model.recurrent_init = "orthogonal"  # chiral LSTM recurrent kernels: lecun | orthogonal (baseline's)
    c.model.forget_bias = 0.0  # chiral LSTM forget-gate bias at init (0: as the baseline's nnx.LSTMCell)
    c.model.zero_head = True  # zero-initialized read-out: the untrained net forecasts zero velocity
    c.model.normalize = True  # centre and scale the poses inside the model
    c.model.equal_params = True  # also train the chiral net at the baseline's parameter count
    c.model.baseline_without_augment = True  # also the baseline without mirror augmentation

    c.train = ml_collections.ConfigDict()
    c.train.epochs = 8
    c.train.batch_size = 256
    c.train.lr = 2e-3  # Adam (docs/forecasting.md: 1e-3 under-trained every net)
    c.train.weight_decay = 0.0  # decoupled (AdamW) when > 0
    c.train.lr_schedule = "cosine"  # constant | cosine (to 0 over the training)
    c.train.loss = "welsch"  # mse | l1 | dist | welsch (a smooth PCK), over the visible target joints
    c.train.clip_norm = 1.0  # global gradient norm (recurrent nets)
    c.train.teacher_forcing = 0.0  # probability per sample and step of feeding the true pose back
    c.train.augment = True  # a baseline trained with mirror augmentation

    c.eval = ml_collections.ConfigDict()
    c.eval.flip_average = True
    return c
