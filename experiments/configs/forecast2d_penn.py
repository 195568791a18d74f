"""Penn Action sized for 2 CPU cores: one seed of every variant in at most 45 minutes.

Command:  python experiments/forecast2d.py --workdir /tmp/forecast2d_penn \
              --config experiments/configs/forecast2d_penn.py \
              --config.data.manual_dir=/path/to/Penn_Action --config.num_seeds=1
Runtime:  10 min 34 s on the real labels (the TFDS build already done), the 2-core machine with
          nothing else running, one seed of the four variants (2026-12-08).
Result:   real Penn Action test split (1,068 videos, 76,298 samples), one seed, PCK@0.05 avg (%):
          chiral width 128 53.5, width 184 54.1, baseline 54.0 without and with augmentation
          (54.4 with flip averaging); zero velocity 48.8, constant velocity 33.1; every net above
          zero velocity at every step (docs/forecasting.md). TP-RNN code convention: chiral 57.3,
          zero velocity 56.1.

The protocol: one sample per start frame of every video, 18 frames at stride (T - 1) // 18 (2
observed + 16 forecast), coordinates normalised per video by the box of all joints; PCK@0.05 over
the visible joints of each target frame, steps 1-16 and their average (results.md), both correct
and under the released TP-RNN code's convention. No model selection on the test set: a fixed
schedule, tuned on held-out training videos (``--config.data.val_fraction=0.2``).
"""

from chiral_jax.tasks.configs import load_sibling_config


def get_config():
    c = load_sibling_config(__file__, "forecast2d.py")
    c.data.name = "penn_action"
    c.data.manual_dir = ""  # Penn_Action/ (or its labels/ folder): set on the command line
    c.data.train_fraction = 0.5  # of 87,543 samples (one per frame): 171 steps of 256 per epoch
    c.model.width = 128
    c.train.epochs = 4  # 684 steps (docs/forecasting.md: the validation tries)
    return c
