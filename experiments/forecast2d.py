"""2D pose forecasting: chiral seq2seq LSTMs against their plain baseline (PCK@0.05 per step).

    python experiments/forecast2d.py --workdir /tmp/forecast2d [--config experiments/configs/forecast2d.py] \\
        [--config.data.name=penn_action --config.data.manual_dir=/data/Penn_Action] [--config.num_seeds=1] ...

Writes ``WORKDIR/results.json`` (``models``, ``trivial``, ``summary``), ``WORKDIR/results.md`` and one
folder per variant and seed with checkpoints (resumed automatically), ``metrics.jsonl`` and
learning curves.
"""

from __future__ import annotations

import os

import ml_collections

from chiral_jax.tasks import forecasting
from chiral_jax.tasks.cli import run_experiment


def run(config: ml_collections.ConfigDict, workdir: str) -> str:
    return forecasting.results_table(forecasting.train_and_evaluate(config, workdir))


if __name__ == "__main__":
    run_experiment(os.path.join(os.path.dirname(__file__), "configs", "forecast2d.py"), run)
