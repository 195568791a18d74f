"""NW-UCLA (cross-view) sized for 2 CPU cores: one seed of every variant in at most 30 minutes.

Command:  python experiments/action.py --workdir /tmp/action_nw_ucla \
              --config experiments/configs/action_nw_ucla.py \
              --config.data.manual_dir=/path/to/NW-UCLA --config.num_seeds=1
Runtime:  an estimate from step timing, not a full run: on an NW-UCLA-sized stand-in written in the
          release's format (1,484 generated sequences of 10-79 frames, 1,020 train / 464 test) a
          2-epoch run of the four variants took 8 min 3 s wall (1 min 25 s CPU) on the 2-core
          machine shared with other jobs (load ~14): about 60 s per variant for the build,
          compilation and evaluation, then 3.3-7.7 s per epoch per variant (18.8 s for the four).
          60 epochs: about 4 + 59 x 18.8 / 60 = 22-23 minutes on that shared machine, less on idle
          cores.
Result:   not measured: no data here (NW-UCLA is not on the development machine).

CTR-GCN's packaging (all_sqe/*.json), views 1-2 train (1,020 sequences), view 3 tests (464); every
sequence centred, scaled and resampled to 52 frames by linear interpolation over normalised time
(docs/actions.md); training adds a random small rotation / scale / translation. Half ST-GCN's widths
(32 x 4, 64 x 3, 128 x 3), batch 16, SGD with Nesterov momentum, lr 0.1 times 0.1 at two thirds and
five sixths of the epochs. Variants: chiral at equal width and at the baseline's parameters, the
baseline without and with mirror augmentation (each also with test-time flip averaging).
"""

from chiral_jax.tasks.configs import load_sibling_config


def get_config():
    c = load_sibling_config(__file__, "action.py")
    c.data.name = "nw_ucla"
    c.data.frames = 52
    c.data.train_window = 0  # whole (resampled) sequences
    c.model.widths = (32, 32, 32, 32, 64, 64, 64, 128, 128, 128)
    c.train.batch_size = 16
    c.train.epochs = 60
    c.train.lr_steps = (40, 50)
    return c
