"""The command line every experiment script shares: ``--workdir``, ``--config`` (an
``ml_collections`` config file, any key overridable as ``--config.KEY=VALUE``) and ``--multihost``."""

from __future__ import annotations

from collections.abc import Callable

import ml_collections

__all__ = ["run_experiment"]


def run_experiment(default_config: str, run: Callable[[ml_collections.ConfigDict, str], str]) -> None:
    """Parses the flags and prints ``run(config, workdir)`` (the results table).

    Args:
      default_config: the config file used when ``--config`` is not given.
      run: trains and evaluates, returns the text to print.
    """
    from absl import app, flags, logging
    from ml_collections import config_flags

    config_flag = config_flags.DEFINE_config_file("config", default_config, "Experiment configuration.")
    workdir_flag = flags.DEFINE_string(
        "workdir", None, "Where checkpoints, logs and results go.", required=True
    )
    multihost_flag = flags.DEFINE_bool("multihost", False, "Call jax.distributed.initialize() first.")

    def main(argv: list[str]) -> None:
        if len(argv) > 1:
            raise app.UsageError(f"unexpected arguments: {argv[1:]}")
        logging.set_verbosity(logging.WARNING)  # orbax logs every checkpoint step at INFO
        if multihost_flag.value:
            from chiral_jax.train import initialize_multihost

            initialize_multihost()
        print(run(config_flag.value, workdir_flag.value))

    app.run(main)
