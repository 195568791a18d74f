"""The full comparison on real CMU motion capture (subjects 02 train / 03 test, 4 virtual cameras).

Command:  python experiments/lift3d.py --workdir /tmp/lift3d_cmu --config experiments/configs/lift3d_cmu.py \
              --config.data.manual_dir ../shared/data/cmu_mocap
Runtime:  ~20 min on the 2-core CPU machine (18 runs of 12 epochs).
Result:   README "Lifting results" (CMU mocap), copied from WORKDIR/results.md.
"""

import importlib.util
import os


def _load(name):
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
    spec = importlib.util.spec_from_file_location(name[:-3] + "_config", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config()


def get_config():
    c = _load("lift3d_compare.py")
    c.data.name = "cmu_mocap"
    c.data.manual_dir = "../shared/data/cmu_mocap"
    return c
