"""One vocabulary of config keys across the tasks, and the older spellings that keep working.

Every experiment config names the net's width ``model.width`` (an int, or per-layer widths for the
action nets), its depth ``model.num_layers``, its family ``model.architecture``, its dropout
``model.dropout`` and test-time flip averaging ``eval.flip_average``. The keys earlier configs used
(:data:`ALIASES`) are accepted everywhere a config enters: on the command line
(``--config.model.channels=256`` sets ``model.width``) and in :func:`~chiral_jax.runner.comparison.run`
(:func:`canonical_config`).
"""

from __future__ import annotations

import ml_collections

__all__ = ["ALIASES", "canonical_config", "canonical_key"]

ALIASES: dict[str, str] = {
    "model.channels": "model.width",  # lifting, IK (temporal nets)
    "model.hidden": "model.width",  # forecasting (units per recurrent layer)
    "model.widths": "model.width",  # action recognition (per-layer widths)
    "model.layers": "model.num_layers",  # forecasting, transformers
    "model.arch": "model.architecture",  # IK
    "model.dropout_rate": "model.dropout",
    "eval.test_time_augmentation": "eval.flip_average",
}
"""Older spelling -> the key it means now."""


def canonical_key(key: str) -> str:
    """The current name of a dotted config key (itself when it is not an older spelling)."""
    return ALIASES.get(key, key)


def canonical_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """A copy of ``config`` with every older spelling (:data:`ALIASES`) moved to its current key.

    An older spelling present overrides the current key's value: it can only be there because a
    caller set it (the experiment configs use the current keys), e.g. ``config.model.channels = 64``
    on a loaded config.
    """
    out = ml_collections.ConfigDict(config.to_dict())
    for old, new in ALIASES.items():
        section, old_leaf = old.split(".")
        new_leaf = new.split(".")[1]
        node = out.get(section)
        if node is None or old_leaf not in node:
            continue
        value = node[old_leaf]
        del node[old_leaf]
        node[new_leaf] = value
    return out
