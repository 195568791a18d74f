"""Lifting to 3D joints and twists, then twist-swing inverse kinematics (HybrIK's recipe).

    python experiments/ik_cmu.py --workdir /tmp/ik_cmu [--config experiments/configs/ik_cmu.py] \\
        [--config.data.name=cmu_mocap --config.data.manual_dir=/path/to/cmu_mocap] ...

Writes ``WORKDIR/results.json`` (``models[]`` with mpjpe_mm, mpjpe_after_ik_mm,
bone_length_error_mm, rotation_error_deg, twist_error_deg; ``summary``; ``oracle_ik``),
``WORKDIR/results.md`` and one folder per variant and seed (checkpoints, metrics, curves).
"""

from __future__ import annotations

import os

import ml_collections

from chiral_jax import runner
from chiral_jax.tasks import ik
from chiral_jax.tasks.cli import run_experiment


def run(config: ml_collections.ConfigDict, workdir: str) -> str:
    return runner.report(ik.IK, ik.train_and_evaluate(config, workdir))


if __name__ == "__main__":
    run_experiment(os.path.join(os.path.dirname(__file__), "configs", "ik_cmu.py"), run)
