"""Penn Action actions (15 classes) sized for 2 CPU cores: one seed of every variant in at most 30 minutes.

Command:  python experiments/action.py --workdir /tmp/action_penn \
              --config experiments/configs/action_penn.py \
              --config.data.manual_dir=/path/to/Penn_Action --config.num_seeds=1
Runtime:  an estimate from step timing, not a full run: on a Penn Action-sized stand-in written in the
          release's .mat format (2,326 generated videos of 40-110 frames, 1,258 train / 1,068 test)
          a 2-epoch run of the four variants took 8 min 11 s wall (1 min 31 s CPU) with the build,
          on the 2-core machine shared with other jobs (load ~14): about 60-75 s per variant for
          compilation and evaluation, then 5.2-7.4 s per epoch per variant (26.8 s for the
          four). 40 epochs: about 5 + 39 x 26.8 / 60 = 22-23 minutes on that shared machine, less
          on idle cores.
Result:   not measured: no data here (Penn Action is not on the development machine).

The dataset's own train / test flag (1,258 / 1,068 videos), 13 joints, (x, y, visibility) with
pixels normalised per video by the box of its visible joints, resampled to 64 frames by linear
interpolation over normalised time (docs/actions.md; the same builder as pose forecasting). Half
ST-GCN's widths, batch 16, SGD with Nesterov momentum, lr 0.1 times 0.1 at two thirds and five
sixths of the epochs; the four variants of the default config.
"""

from chiral_jax.tasks.configs import load_sibling_config


def get_config():
    c = load_sibling_config(__file__, "action.py")
    c.data.name = "penn_action"
    c.data.frames = 64
    c.data.train_window = 0  # whole (resampled) videos
    c.model.widths = (32, 32, 32, 32, 64, 64, 64, 128, 128, 128)
    c.train.batch_size = 16
    c.train.epochs = 40
    c.train.lr_steps = (27, 34)
    return c
