"""HumanEva-I after VideoPose3D's published recipe: Walk, Jog, Box; train Train/S1-S3, test
Validate/S1-S3; results by subject and action (the paper's Table 2 layout), P-MPJPE (protocol 2).

VideoPose3D's command for it: ``run.py -d humaneva15 -str Train/S1,Train/S2,Train/S3 -ste
Validate/S1,Validate/S2,Validate/S3 -a Walk,Jog,Box --by-subject -arc 3,3,3 -b 128 -e 1000
-lrd 0.996`` with lr 5e-4 (here: 27-frame net ``3,3,3``, width 1024, batch 128, 1,000 epochs,
lr 5e-4 decayed x0.996 once per epoch). Chiral nets at equal width and at equal parameters against
the dense baseline (mirror augmentation; also evaluated with test-time flip averaging), 3 seeds.

Needs data_3d_humaneva15.npz and data_2d_humaneva15_<keypoints>.npz in the manual dir (``gt``
here; ``--config.data.keypoints=detectron_pt_coco`` for the 2D detections of the published numbers).

Command:  python experiments/lift3d.py --workdir /tmp/lift3d_humaneva \\
              --config experiments/configs/lift3d_humaneva.py --config.data.manual_dir /path/to/humaneva_npz
Runtime:  an ESTIMATE (not run end to end): on a fixture of HumanEva-I's size (9,720 training
          windows: 75 steps of 128 per epoch) the 2-core CPU machine (busy, load ~8) took 0.56 s
          (chiral w1024), 0.83 s (chiral w1448) and 1.15 s (baseline w1024) per step, i.e.
          ~53 hours per seed for 1,000 epochs of the three nets, ~6.6 days for 3 seeds (command:
          python benchmarks/recipe_step_time.py --config experiments/configs/lift3d_humaneva.py
          --steps 8). A GPU job; lift3d_humaneva_cpu.py is the CPU-sized variant.
Result:   not measured (no data here). WORKDIR/results.md: the overall table and P-MPJPE / MPJPE
          by subject x action. Published reference (Chirality Nets, 2D detections): 30.6 mm.
"""

from chiral_jax.tasks.configs import load_sibling_config


def get_config():
    c = load_sibling_config(__file__, "lift3d.py")
    c.data.name = "humaneva"
    c.data.keypoints = "gt"
    c.data.subjects_train = ("Train/S1", "Train/S2", "Train/S3")
    c.data.subjects_test = ("Validate/S1", "Validate/S2", "Validate/S3")
    c.data.actions = ("Walk", "Jog", "Box")  # VideoPose3D's -a: "Walk" selects "Walking 1 chunk0", ...
    c.model.filter_widths = (3, 3, 3)  # 27 frames
    c.model.width = 1024
    c.train.batch_size = 128
    c.train.epochs = 1000
    c.train.lr = 5e-4
    c.train.lr_decay = 0.996
    c.train.lr_decay_every = "epoch"  # VideoPose3D's -lrd: once per epoch
    c.num_seeds = 3
    return c
