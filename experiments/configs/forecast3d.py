"""Default 3D motion forecasting config: the built-in synthetic motions (no files needed).

Command:  python experiments/forecast3d.py --workdir /tmp/forecast3d
Runtime:  7 min 42 s wall (5 min 9 s user CPU) at a load average of 3-7 on the 2-core CPU machine
          (x86_64 AMD EPYC, jax 0.10.2): 8 runs of 40 epochs x 12 steps.
Result:   test MPJPE over the 10 forecast steps (mm), 2 seeds: chiral width 64 22.9 +- 0.1, chiral
          width 96 (the baseline's parameters) 20.8 +- 0.2, baseline 21.6 +- 0.1 (25.3 +- 0.1 with
          flip averaging), baseline with mirror augmentation 22.5 +- 0.2 (21.9 +- 0.0); zero
          velocity 48.5 (docs/results.md, "3D motion forecasting").

Root-relative camera-frame H36M-17 poses at 25 Hz (every 2nd frame of the 50 Hz set): 10 observed
frames (0.4 s), 10 forecast (0.4 s). Chiral 2-layer LSTM seq2seq (equal width, equal parameters)
against the plain one without and with mirror augmentation, each baseline also with test-time flip
averaging; the 2D forecasting recipe (zero-initialized residual read-out, velocity to the encoder
only, free-running training, Adam with cosine decay and clipping); 2 seeds.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.num_seeds = 2
    c.progress = True

    c.data = ml_collections.ConfigDict()
    c.data.name = "synthetic"  # synthetic | cmu_mocap
    c.data.manual_dir = ""  # cmu_mocap: the folder of subject folders (ASF/AMC)
    c.data.data_dir = ""  # where the TFDS build goes ("": TFDS's default, ~/tensorflow_datasets)
    c.data.keypoints = "gt"
    c.data.subjects_train = ()  # empty: the dataset's standard split
    c.data.subjects_test = ()
    c.data.train_fraction = 1.0
    c.data.actions = ()
    c.data.synthetic = ml_collections.ConfigDict({"seed": 0})
    c.data.frame_step = 2  # keep every 2nd frame (50 Hz -> 25 Hz)
    c.data.observed = 10  # frames given
    c.data.future = 10  # frames forecast
    c.data.sample_stride = 5  # a window starts every 5 (subsampled) frames

    c.model = ml_collections.ConfigDict()
    c.model.kind = "both"  # chiral | baseline | both
    c.model.cell = "lstm"  # lstm | gru
    c.model.width = 64  # units per recurrent layer
    c.model.num_layers = 2
    c.model.dropout = 0.0  # between stacked layers
    c.model.velocity = "encoder"  # initial | frame | encoder: what the velocity input holds
    c.model.zero_head = True  # zero-initialized read-out: the untrained net forecasts zero velocity
    c.model.normalize = True  # centre and scale the poses inside the model
    c.model.equal_params = True  # also train the chiral net at the baseline's parameter count
    c.model.baseline_without_augment = True  # also the baseline without mirror augmentation

    c.train = ml_collections.ConfigDict()
    c.train.epochs = 40
    c.train.batch_size = 256
    c.train.lr = 1e-3  # Adam
    c.train.lr_schedule = "cosine"  # constant | cosine (to 0 over the training)
    c.train.clip_norm = 1.0  # global gradient norm
    c.train.teacher_forcing = 0.0  # probability per sample and step of feeding the true pose back
    c.train.augment = True  # a baseline trained with mirror augmentation

    c.eval = ml_collections.ConfigDict()
    c.eval.flip_average = True  # test-time flip averaging of the baselines
    return c
