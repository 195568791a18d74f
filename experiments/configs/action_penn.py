"""Penn Action actions (15 classes) sized for 2 CPU cores: one seed of every variant in at most 30 minutes.

Command:  python experiments/action.py --workdir /tmp/action_penn \
              --config experiments/configs/action_penn.py \
              --config.data.manual_dir=/path/to/Penn_Action/labels --config.num_seeds=1
Runtime:  measured: 11 min 0 s wall for the four variants (the TFDS build already done) on the
          2-core x86_64 machine shared with other engineers' jobs, load average 9-14 (2026-12-04;
          train 125 / 152 / 142 / 147 s per variant). Not measured on idle cores.
Result:   test top-1 (%), 1,068 videos, 1 seed: chiral 95.3, chiral at the baseline's parameters
          94.5, baseline 93.9 (90.4 on the mirrored test videos; 92.9 with flip averaging),
          baseline with mirror augmentation 94.7 (94.9 with flip averaging); docs/actions.md.

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
    c.model.width = (32, 32, 32, 32, 64, 64, 64, 128, 128, 128)
    c.train.batch_size = 16
    c.train.epochs = 40
    c.train.lr_steps = (27, 34)
    return c
