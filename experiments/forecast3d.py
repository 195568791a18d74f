"""3D motion forecasting: chiral seq2seq forecasters against their plain baseline (MPJPE per step).

    python experiments/forecast3d.py --workdir /tmp/forecast3d [--config experiments/configs/forecast3d.py] \\
        [--config experiments/configs/forecast3d_cmu.py --config.data.manual_dir=/path/to/cmu_mocap] ...

Writes ``WORKDIR/results.json`` (``models[]`` with ``mpjpe_mm``, ``mpjpe_per_step``;
``trivial.zero_velocity``; ``summary``), ``WORKDIR/results.md`` (printed) and one folder per variant
and seed with checkpoints (resumed automatically), ``metrics.jsonl`` and learning curves.
"""

from __future__ import annotations

import os

import ml_collections

from chiral_jax import runner
from chiral_jax.tasks.cli import run_experiment
from chiral_jax.tasks.forecast3d import FORECAST3D


def run(config: ml_collections.ConfigDict, workdir: str) -> str:
    return runner.report(FORECAST3D, runner.run(FORECAST3D, config, workdir))


if __name__ == "__main__":
    run_experiment(os.path.join(os.path.dirname(__file__), "configs", "forecast3d.py"), run)
