"""Loading ``ml_collections`` config files by path (experiment configs build on one another)."""

from __future__ import annotations

import importlib.util
import os
from typing import Any

__all__ = ["load_config_file", "load_sibling_config"]


def load_config_file(path: str, *args: Any) -> Any:
    """``get_config(*args)`` of the config file at ``path``."""
    path = os.path.abspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"config file not found: {path}")
    name = "config_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(*args)


def load_sibling_config(config_file: str, name: str) -> Any:
    """The config of ``name`` in the folder of ``config_file`` (pass a config file's ``__file__``)."""
    return load_config_file(os.path.join(os.path.dirname(os.path.abspath(config_file)), name))
