"""NW-UCLA (cross-view) sized for 2 CPU cores: one seed of every variant in at most 30 minutes.

Command:  python experiments/action.py --workdir /tmp/action_ucla \
              --config experiments/configs/action_nw_ucla.py \
              --config.data.name=nw_ucla --config.data.manual_dir=/path/to/NW-UCLA --config.num_seeds=1
Runtime:  measured: 26 min 15 s wall for the four variants (TFDS build already done) on the 2-core
          x86_64 machine, nothing else running (load average 2.1-2.4, its own two threads;
          2026-12-08; train 302 / 537 / 332 / 343 s per variant).
Result:   test top-1 (%), 464 view-3 clips, 1 seed: chiral 85.8, chiral at the baseline's
          parameters 89.7, baseline 78.2 (85.1 with flip averaging), baseline with mirror
          augmentation 88.8 (89.0 with flip averaging); the issue's 90 is not reached
          (docs/actions.md).

CTR-GCN's packaging (all_sqe/*.json), views 1-2 train (1,020 sequences), view 3 tests (464); every
sequence centred on its first frame's spine joint, scaled by its largest coordinate and resampled
to 52 frames (docs/actions.md). The nets are the graph nets (one feature vector per joint, the
Kinect tree's partitions and a learned mirror-tied adjacency; widths 32 x 3, 64 x 3, stride 2 in the
first and fourth blocks). The recipe, tuned on view 1 -> view 2 only
(``--config.data.protocol=validation``; the table in docs/actions.md): training rotates each clip
about the vertical axis (y in this packaging) uniformly in +-0.5 rad and scales it in [0.8, 1.2]
(no in-plane rotation or translation); AdamW 1e-3 with 2 warm-up epochs and cosine decay, weight
decay 1e-4, batch 32, 40 epochs; dropout 0.2 (0.5 underfitted). Variants: chiral at equal width and at the
baseline's parameters, the baseline without and with mirror augmentation (each also with test-time
flip averaging).
"""

from chiral_jax.tasks.configs import load_sibling_config


def get_config():
    c = load_sibling_config(__file__, "action.py")
    c.data.name = "nw_ucla"
    c.data.frames = 52
    c.data.train_window = 0  # whole (resampled) sequences
    # The view change is the point of the protocol: rotate about the vertical axis (y in CTR-GCN's
    # packaging), scale all three coordinates; no in-plane rotation or translation.
    c.data.augment.update(
        rotation_deg=0.0, scale=(0.8, 1.2), translation=0.0, coords=3, vertical_rotation=0.5, vertical_axis=1
    )
    # Graph nets (one feature vector per joint, docs/actions.md), narrow and strided for 2 cores.
    c.model.architecture = "graph"
    c.model.width = (32, 32, 32, 64, 64, 64)
    c.model.strides = (2, 1, 1, 2, 1, 1)
    c.model.dropout = 0.2
    c.train.batch_size = 32
    c.train.epochs = 40
    c.train.optimizer = "adamw"
    c.train.schedule = "cosine"
    c.train.warmup_epochs = 2.0
    c.train.lr = 1e-3
    c.train.weight_decay = 1e-4
    return c
