"""Penn Action sized for 2 CPU cores: one seed of every variant in at most 45 minutes.

Command:  python experiments/forecast2d.py --workdir /tmp/forecast2d_penn \
              --config experiments/configs/forecast2d_penn.py \
              --config.data.manual_dir=/path/to/Penn_Action --config.num_seeds=1
Runtime:  not run on the real files here (Penn Action is not on the development machine). Sized on a
          Penn Action-sized stand-in written in the release's .mat format (2,326 generated videos
          of 40-110 frames, 1,258 train / 1,068 test): one epoch of the four variants at this width
          took 96 s of training on 2 cores (`--config.train.epochs=1`: 4 min 9 s with the build and
          the evaluation on 80,177 test samples), so this config (half the training samples, 8
          epochs) should take about 25-30 minutes for one seed of every variant.
Result:   none on real data yet.

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
    c.data.train_fraction = 0.5  # of 87,543 samples (one per frame): 171 steps of 256 per epoch
    c.model.hidden = 128
    c.train.epochs = 4  # 684 steps; 548 steps gave 51.5 on validation (docs/forecasting.md)
    return c
