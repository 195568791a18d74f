"""Limited-data study after the paper's Figure 4: chiral vs baseline against the amount of training data.

Human3.6M (test S9, S11) with the user's VideoPose3D npz files; training subsets on the paper's
x-axis: S1 0.1%, 1%, 5%, 10%, 50% (one contiguous run of each take, VideoPose3D's ``--subset``),
S1, S1+S5, S1+S5+S6. Batch 64, as the paper states for these runs; every other setting is the same
for the chiral net (once, at the baseline's width) and the dense baseline (once, with mirror
augmentation, and evaluated again with test-time flip averaging): 27-frame net ``3,3,3``, width
1024, 80 epochs, lr 1e-3 decayed x0.95 once per epoch (VideoPose3D's per-epoch decay, whatever the
subset's size), 3 seeds.

Command:  python experiments/lift3d.py --workdir /tmp/lift3d_limited \\
              --config experiments/configs/lift3d_limited.py --config.data.manual_dir /path/to/h36m_npz
Runtime:  not measured (no Human3.6M here); each entry is a full 80-epoch run at width 1024 and
          3 seeds: a GPU job. lift3d_limited_cpu.py is the CPU-sized variant.
Result:   not measured (no data here). WORKDIR/sweep.md (MPJPE and P-MPJPE per entry and model,
          mean ± std over seeds), WORKDIR/sweep.png (error against training frames), and each
          entry's own WORKDIR/<entry>/results.md.

The same sweep runs on the built-in synthetic set (subjects S1..S6 train, S7, S8 test) with
``--config.data.name=synthetic --config.data.manual_dir='' --config.data.subjects_test='()'``
and entries that exist there (``--config.sweep='("S1:0.1","S1","S1,S2")'``).
"""

from chiral_jax.tasks.configs import load_sibling_config


def get_config():
    c = load_sibling_config(__file__, "lift3d.py")
    c.data.name = "h36m"
    c.data.keypoints = "cpn_ft_h36m_dbb"
    c.data.subjects_test = ("S9", "S11")
    c.sweep = ("S1:0.001", "S1:0.01", "S1:0.05", "S1:0.1", "S1:0.5", "S1", "S1,S5", "S1,S5,S6")
    c.model.kind = "both"
    c.model.width = 1024
    c.model.hidden_specs = ("plain",)
    c.model.equal_params = False  # chiral once, at the baseline's width
    c.model.baseline_without_augment = False  # baseline once (with mirror augmentation)
    c.eval.flip_average = True  # ... and with flip averaging
    c.train.batch_size = 64
    c.train.epochs = 80
    c.train.lr_decay_every = "epoch"
    c.num_seeds = 3
    return c
