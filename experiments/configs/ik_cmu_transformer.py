"""Lifting to joints + twists with transformer lifters (plain and chiral, twist tokens), then IK.

Every key of ``ik_cmu.py`` (data, train; the temporal-conv keys of ``model`` are unused) with
``model.arch = "transformer"`` and the transformer lifting config's keys: ``model.frames``
(window, odd; the centre frame is lifted), ``model.layers``, ``model.heads``, ``model.width``,
``model.ffn_layers``, ``model.tokens`` (joint | frame), ``train.warmup_steps``, ``train.keep_min``,
``eval.average_last``. ``train.lr`` is the peak learning rate.

Command:  python experiments/ik_cmu.py --workdir /tmp/ik_cmu_transformer \
              --config experiments/configs/ik_cmu_transformer.py
          (real CMU data: --config.data.name=cmu_mocap --config.data.manual_dir=/path/to/cmu_mocap)
Runtime:  not measured. One capped attempt (``--config.num_seeds=1 --config.train.epochs=3``, an
          8-minute limit, the 2-core CPU machine shared by six engineers, load average 5-7) did not
          finish: the chiral run trained in 160 s and was evaluated, the plain run was cut off.
Result:   not measured for the table. The chiral run of that attempt (width 32, 17,987 parameters,
          3 epochs, far from converged): MPJPE 212.3 mm, after IK 210.3 mm, bone length 88.5 mm,
          rotation 44.7 deg, twist 1.2 deg (synthetic test subjects, one camera).
"""

import ml_collections

from chiral_jax.tasks.configs import load_sibling_config


def get_config():
    c = load_sibling_config(__file__, "ik_cmu.py")
    c.model.arch = "transformer"
    # A quarter of ik_cmu.py's synthetic frames (one camera per subject instead of four) for CPU.
    c.data.synthetic = ml_collections.ConfigDict({"seed": 0, "num_cameras": 1})
    # Small sizes for CPU (as transformer_lift.py): a 3-frame window of joint tokens, a small net.
    c.model.frames = 3
    c.model.layers = 2
    c.model.heads = 4
    c.model.width = 32
    c.model.tokens = "joint"  # joint | frame
    c.model.ffn_layers = 2
    c.model.dropout = 0.1
    c.model.equal_params = False  # one chiral variant at model.width
    c.train.epochs = 5  # ~50 s per epoch per variant on the busy 2-core box
    c.train.batch_size = 64
    c.train.lr = 1e-3  # peak of the warmup + inverse-square-root schedule
    c.train.warmup_steps = 100
    c.train.keep_min = 0.2  # keep 20%..100% of the source tokens per batch
    c.train.checkpoint_every_seconds = 0  # every epoch saved: the last few are averaged
    c.eval = ml_collections.ConfigDict()  # ik_cmu.py has no eval keys
    c.eval.average_last = 3
    c.eval.chunk = 16
    c.eval.batch_size = 16
    return c
