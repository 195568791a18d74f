"""Kinetics-skeleton at the paper's scale (ST-GCN's schedule), for a GPU machine.

Command:  python experiments/action.py --workdir /tmp/action_kinetics \
              --config experiments/configs/action_kinetics.py \
              --config.data.manual_dir=/path/to/kinetics-skeleton
Runtime:  not run (no GPU and no Kinetics-skeleton files here). The build holds a split in memory
          (about 30 GB for the 240k training clips, see docs/actions.md). The throughput benchmark's
          ``kinetics`` row (``python benchmarks/action_throughput.py --rows kinetics``) times a
          training step at these widths on a Kinetics window, to size a run on another machine.
Result:   not measured: no data here.

ST-GCN's Kinetics protocol: 300 frames (pad / crop), the 2 best-scoring people per frame, channels
(x - 0.5, y - 0.5, score); training crops a random 150-frame window with a random small rotation /
scale / translation; testing uses all 300 frames. ST-GCN's widths (64 x 4, 128 x 3, 256 x 3), SGD
with Nesterov momentum, lr 0.1 times 0.1 at epochs 20, 30 and 40 of 50, weight decay 1e-4,
batch 256; 400 classes.
"""

from chiral_jax.tasks.configs import load_sibling_config


def get_config():
    c = load_sibling_config(__file__, "action.py")
    c.num_seeds = 3
    c.progress = True
    c.data.name = "kinetics_skeleton"
    c.data.frames = 300
    c.data.train_window = 150
    c.data.frame_step = 1
    c.model.width = (64, 64, 64, 64, 128, 128, 128, 256, 256, 256)
    c.train.epochs = 50
    c.train.lr_steps = (20, 30, 40)
    c.train.batch_size = 256
    return c
