"""3D motion forecasting on real CMU motion capture (free to use).

Command:  python experiments/forecast3d.py --workdir /tmp/forecast3d_cmu \\
              --config experiments/configs/forecast3d_cmu.py --config.data.manual_dir=/path/to/cmu_mocap
Runtime:  2 min 57 s at a load average of 2-4 on the 2-core CPU machine, the TFDS build included.
Result:   test MPJPE (mm), 2 seeds: chiral 67.9 +- 0.7 (width 64) / 66.5 +- 0.0 (96), baseline with
          mirror augmentation 66.4 +- 0.4 (65.0 +- 0.4 with flip averaging), zero velocity 66.6:
          the nets do not beat copying the last pose here (docs/results.md).

The default recipe on the CMU subjects (the reader's standard split: the last subject is the test
set), read through the ``cmu_mocap`` registry entry (ASF/AMC seen by virtual cameras).
"""

import ml_collections

from chiral_jax.tasks.configs import load_sibling_config


def get_config() -> ml_collections.ConfigDict:
    c = load_sibling_config(__file__, "forecast3d.py")
    c.data.name = "cmu_mocap"
    return c
