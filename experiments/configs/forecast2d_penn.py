"""Penn Action sized for 2 CPU cores: one seed of every variant in at most 45 minutes.

Command:  python experiments/forecast2d.py --workdir /tmp/forecast2d_penn \
              --config experiments/configs/forecast2d_penn.py \
              --config.data.manual_dir=/path/to/Penn_Action --config.num_seeds=1
Runtime:  not run here (Penn Action is licensed for research and not on the development machine);
          sized from the measured speed on the built-in data: 87,543 training samples, 1/4 of them
          per run (train_fraction 0.25, 85 steps of 256), 6 epochs, hidden 128 -> about 8 minutes
          per variant on 2 cores, 4 variants.
Result:   none yet (see above).

The protocol: one sample per start frame of every video, 18 frames at stride (T - 1) // 18 (2
observed + 16 forecast), coordinates normalised per video by the box of all joints; PCK@0.05 over
the visible joints of each target frame, steps 1-16 and their average (results.md), both correct
and under the released TP-RNN code's convention. No model selection on the test set: a fixed
schedule.
"""

from chiral_jax.tasks.configs import load_sibling_config


def get_config():
    c = load_sibling_config(__file__, "forecast2d.py")
    c.data.name = "penn_action"
    c.data.manual_dir = ""  # Penn_Action/ (or its labels/ folder): set on the command line
    c.data.train_fraction = 0.25
    c.model.hidden = 128
    c.train.epochs = 6
    return c
