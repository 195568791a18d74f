"""2D -> 3D pose lifting with transformers (HybrIK-Transformer's lifter): chiral vs plain.

    python experiments/transformer_lift.py --workdir /tmp/transformer_lift \\
        [--config experiments/configs/transformer_lift.py] [--config.model.tokens=frame] ...

Same datasets, keys and outputs as ``experiments/lift3d.py`` (``WORKDIR/results.json`` in the
lifting format, ``results.md``, one folder per variant and seed), plus ``model.frames``,
``model.num_layers``, ``model.heads``, ``model.width``, ``model.tokens`` (joint | frame),
``model.ffn_layers``, ``train.warmup_steps``, ``train.keep_min`` and ``eval.average_last``.
"""

from __future__ import annotations

import os

import ml_collections

from chiral_jax import runner
from chiral_jax.tasks import transformer_lifting
from chiral_jax.tasks.cli import run_experiment


def run(config: ml_collections.ConfigDict, workdir: str) -> str:
    results = transformer_lifting.train_and_evaluate(config, workdir)
    return runner.report(transformer_lifting.TRANSFORMER_LIFTING, results)


if __name__ == "__main__":
    run_experiment(os.path.join(os.path.dirname(__file__), "configs", "transformer_lift.py"), run)
