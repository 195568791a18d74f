"""3D motion forecasting on real CMU motion capture (free to use).

Command:  python experiments/forecast3d.py --workdir /tmp/forecast3d_cmu \\
              --config experiments/configs/forecast3d_cmu.py --config.data.manual_dir=/path/to/cmu_mocap
Runtime and result: docs/results.md ("3D motion forecasting").

The default recipe on the CMU subjects (the reader's standard split: the last subject is the test
set), read through the ``cmu_mocap`` registry entry (ASF/AMC seen by virtual cameras).
"""

import ml_collections

from chiral_jax.tasks.configs import load_sibling_config


def get_config() -> ml_collections.ConfigDict:
    c = load_sibling_config(__file__, "forecast3d.py")
    c.data.name = "cmu_mocap"
    return c
