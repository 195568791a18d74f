"""2D -> 3D pose lifting: chiral VideoPose3D nets against their dense baseline.

    python experiments/lift3d.py --workdir /tmp/lift3d [--config experiments/configs/lift3d.py] \\
        [--config.model.kind=chiral] [--config.train.epochs=20] ...

Writes ``WORKDIR/results.json``, ``WORKDIR/results.md`` and one folder per variant and seed with
checkpoints (resumed automatically), ``metrics.jsonl`` and learning curves. A config with a
``sweep`` runs the limited-data study (``WORKDIR/sweep.md``).
"""

from __future__ import annotations

import os

import ml_collections

from chiral_jax.tasks import lifting
from chiral_jax.tasks.cli import run_experiment


def run(config: ml_collections.ConfigDict, workdir: str) -> str:
    if config.get("sweep"):
        return lifting.sweep_table(lifting.run_sweep(config, workdir))
    return lifting.results_table(lifting.train_and_evaluate(config, workdir))


if __name__ == "__main__":
    run_experiment(os.path.join(os.path.dirname(__file__), "configs", "lift3d.py"), run)
