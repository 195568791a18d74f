"""2D -> 3D pose lifting: chiral VideoPose3D nets against their dense baseline.

    python experiments/lift3d.py --workdir /tmp/lift3d [--config experiments/configs/lift3d.py] \
        [--config.model.kind=chiral] [--config.train.epochs=20] ...

Writes ``WORKDIR/results.json``, ``WORKDIR/results.md`` and one folder per variant and seed with
checkpoints (resumed automatically), ``metrics.jsonl`` and learning curves.
"""

from __future__ import annotations

import os

from absl import app, flags, logging
from ml_collections import config_flags

from chiral_jax.tasks import lifting

_CONFIG = config_flags.DEFINE_config_file(
    "config", os.path.join(os.path.dirname(__file__), "configs", "lift3d.py"), "Experiment configuration."
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Where checkpoints, logs and results go.", required=True)
_MULTIHOST = flags.DEFINE_bool("multihost", False, "Call jax.distributed.initialize() first.")


def main(argv: list[str]) -> None:
    del argv
    logging.set_verbosity(logging.WARNING)  # orbax logs every checkpoint step at INFO
    if _MULTIHOST.value:
        from chiral_jax.train import initialize_multihost

        initialize_multihost()
    config = _CONFIG.value
    if config.get("sweep"):
        lifting.run_sweep(config, _WORKDIR.value)
        with open(os.path.join(_WORKDIR.value, "sweep.md")) as f:
            print(f.read())
        return
    results = lifting.train_and_evaluate(config, _WORKDIR.value)
    print(lifting.results_table(results))


if __name__ == "__main__":
    app.run(main)
