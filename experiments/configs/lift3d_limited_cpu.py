"""Limited-data study, CPU-sized: lift3d_limited.py on S1 1%, 5% and 10% at width 256, one seed.

Every other setting is lift3d_limited.py's (Human3.6M, test S9 and S11, batch 64, 27-frame net,
lr decayed once per epoch, chiral once vs the baseline once and with flip averaging).

Command:  python experiments/lift3d.py --workdir /tmp/lift3d_limited_cpu \\
              --config experiments/configs/lift3d_limited_cpu.py --config.data.manual_dir /path/to/h36m_npz
Runtime:  an ESTIMATE of 25-45 minutes plus reading the data, from measured step and evaluation
          times on a fixture of Human3.6M's size (S1 ~246k windows, S9 + S11 ~540k test frames:
          python benchmarks/recipe_step_time.py --config experiments/configs/lift3d_limited_cpu.py)
          on the 2-core CPU machine, which was busy (load 8-16): per epoch of the three entries
          and both nets 23-37 s of training (37, 191 and 384 steps of 64 for S1 1%, 5%, 10%),
          and 10-20 min of evaluation in all (~540k test frames, four passes per entry with flip
          averaging). 40 epochs: 15-25 min of training.
Result:   not measured (no data here): WORKDIR/sweep.md and WORKDIR/sweep.png.
"""

from chiral_jax.tasks.configs import load_sibling_config


def get_config():
    c = load_sibling_config(__file__, "lift3d_limited.py")
    c.sweep = ("S1:0.01", "S1:0.05", "S1:0.1")
    c.model.width = 256
    c.train.epochs = 40
    c.num_seeds = 1
    return c
