"""Skeleton action recognition: the mirror-invariant chiral net against its plain baseline.

    python experiments/action.py --workdir /tmp/action [--config experiments/configs/action.py] \\
        [--config.data.name=nw_ucla --config.data.manual_dir=/data/NW-UCLA] [--config.num_seeds=1] ...

Writes ``WORKDIR/results.json`` (``models``: one record per variant and seed with ``name``, ``kind``,
``matched``, ``augment``, ``seed``, ``params``, ``top1``, ``top5``, ``per_class``, ``train_seconds``,
``eval_clips_per_second``, baselines also ``tta``; ``summary``), ``WORKDIR/results.md`` and one
folder per variant and seed with checkpoints (resumed automatically), ``metrics.jsonl`` and
learning curves.
"""

from __future__ import annotations

import os

import ml_collections

from chiral_jax.tasks import action
from chiral_jax.tasks.cli import run_experiment


def run(config: ml_collections.ConfigDict, workdir: str) -> str:
    return action.results_table(action.train_and_evaluate(config, workdir))


if __name__ == "__main__":
    run_experiment(os.path.join(os.path.dirname(__file__), "configs", "action.py"), run)
