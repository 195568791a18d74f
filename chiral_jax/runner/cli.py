"""The command line every experiment script shares, and the one error path of every command.

Flags: ``--workdir`` (required), ``--config`` (an ``ml_collections`` config file; any key
overridable as ``--config.KEY=VALUE``), ``--multihost``, ``--verbose`` and ``--help`` (the script's
flags and every key of its config with its default and meaning; exit status 0).

User mistakes (an unknown config key, with the nearest valid ones; a value of the wrong type; a
missing config file; a missing or empty data folder; an unknown flag) print at most
:data:`MAX_LINES` lines on stderr naming the flag or key, what was expected and what came, and exit
with status :data:`USAGE_EXIT` (2); ``--verbose`` adds the traceback. A programming error raises as
usual. :func:`report_user_errors` gives the other commands (``predict3d.py``, ``demo.py``,
``python -m chiral_jax.data``) the same path.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import difflib
import inspect
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import ml_collections

__all__ = [
    "MAX_LINES",
    "USAGE_EXIT",
    "ArgumentParser",
    "CommandLine",
    "UsageError",
    "error_lines",
    "exit_usage",
    "experiment_help",
    "flag_error_message",
    "flags_help",
    "nearest_keys",
    "parse_command_line",
    "parse_flags",
    "report_user_errors",
    "run_experiment",
    "user_error_message",
]

USAGE_EXIT = 2
MAX_LINES = 3
_PACKAGE = Path(__file__).resolve().parents[1]  # chiral_jax/
_OVERRIDE = re.compile(r"^--?(?:no)?config\.([^=\s]+)(?:=(.*))?$", re.DOTALL)
_CONFIG = re.compile(r"^--?config(?:=(.*))?$", re.DOTALL)
_OWN_FLAGS = {
    "workdir": "DIR: where checkpoints, logs and results go (required)",
    "config": "FILE: the experiment's config file (default: {default})",
    "config.KEY=VALUE": "set one key of the config (the keys are listed below)",
    "multihost": "call jax.distributed.initialize() first",
    "verbose": "show the traceback of a usage error",
    "help": "this text; --helpfull also lists the absl / JAX flags",
}


class UsageError(Exception):
    """A user mistake; its message names the flag or key, what was expected and what came."""


def error_lines(message: str, prog: str, max_lines: int = MAX_LINES) -> list[str]:
    """``message`` as at most ``max_lines`` lines, the first ``"PROG: error: ..."`` (blank lines and
    runs of spaces dropped; lines past the limit joined onto the last one)."""
    lines = [" ".join(line.split()) for line in str(message).splitlines() if line.strip()]
    lines = lines or ["(no message)"]
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], " ".join(lines[max_lines - 1 :])]
    lines[0] = f"{prog}: error: {lines[0]}"
    return lines


def exit_usage(
    prog: str, message: str, *, verbose: bool = False, error: BaseException | None = None
) -> NoReturn:
    """Prints ``message`` (:func:`error_lines`; after the traceback of ``error`` when ``verbose``)
    on stderr and exits with status 2."""
    if verbose and error is not None:
        traceback.print_exception(error)
    sys.stdout.flush()
    print("\n".join(error_lines(message, prog)), file=sys.stderr, flush=True)
    raise SystemExit(USAGE_EXIT)


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors take the one error path: ``PROG: error: ...`` and a pointer
    to ``--help`` on stderr, exit status 2 (argparse's own prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        exit_usage(self.prog, f"{message}\nsee {self.prog} --help")


# ---------------------------------------------------------------------------------- user or bug?


def _raised_in(error: BaseException, folders: Sequence[Path]) -> bool:
    """Whether the innermost frame of ``error``'s traceback is in one of ``folders``."""
    tb = error.__traceback__
    if tb is None:
        return True
    while tb.tb_next is not None:
        tb = tb.tb_next
    path = Path(tb.tb_frame.f_code.co_filename).resolve()
    return any(path.is_relative_to(f) for f in folders)


def _message(error: BaseException) -> str:
    if isinstance(error, KeyError) and len(error.args) == 1:
        return str(error.args[0])  # str(KeyError) adds quotes
    return str(error)


def user_error_message(
    error: BaseException,
    keys: Sequence[str] = (),
    overrides: Mapping[str, str] | None = None,
    folders: Sequence[Path] = (),
) -> str | None:
    """The message to print when ``error`` is a user mistake, else None (a programming error).

    User mistakes: :class:`UsageError`; a dataset file problem
    (:class:`~chiral_jax.data.errors.DatasetFileError`, two lines); a ValueError, KeyError,
    TypeError or FileNotFoundError raised by this package's code (or in ``folders``) whose message
    names a config key of ``keys`` or a ``--flag``, i.e. a check of the user's settings. A key set
    on the command line (``overrides``: key -> value) is named as the flag that set it.
    """
    from chiral_jax.data.errors import DatasetFileError

    if isinstance(error, UsageError):
        return str(error)
    if isinstance(error, DatasetFileError):
        return error.short()
    if not isinstance(error, ValueError | KeyError | TypeError | FileNotFoundError):
        return None
    if not _raised_in(error, [_PACKAGE, *folders]):
        return None
    text = _message(error)
    named = [k for k in keys if ("." in k or "_" in k) and re.search(rf"(?<![\w]){re.escape(k)}(?!\w)", text)]
    if not named and not re.search(r"(?<![\w-])--\w", text):
        return None
    for key in named:
        if overrides and key in overrides:
            return f"--config.{key}={overrides[key]}: {text}"
    return text


@contextlib.contextmanager
def report_user_errors(
    prog: str,
    *,
    verbose: bool = False,
    keys: Sequence[str] = (),
    overrides: Mapping[str, str] | None = None,
    folders: Sequence[Path] = (),
    also: tuple[type[BaseException], ...] = (),
    also_in: Sequence[str | Path] | None = None,
) -> Iterator[None]:
    """Turns user mistakes raised inside into :func:`exit_usage` (exit status 2); anything else
    propagates. ``also``: exception types that are user mistakes for this command when raised in
    ``also_in`` (files or folders; None: anywhere), e.g. a reader's format errors."""
    try:
        yield
    except Exception as error:
        message = user_error_message(error, keys, overrides, folders)
        if message is None and isinstance(error, also):
            if also_in is None or _raised_in(error, [Path(p).resolve() for p in also_in]):
                message = _message(error)
        if message is None:
            raise
        exit_usage(prog, message, verbose=verbose, error=error)


# ---------------------------------------------------------------------------------- config keys


def _flatten(config: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in config.items():
        key = f"{prefix}{k}"
        out[key] = v
        if isinstance(v, ml_collections.ConfigDict):
            out.update(_flatten(v, key + "."))
    return out


def nearest_keys(key: str, keys: Sequence[str], n: int = 3) -> list[str]:
    """Up to ``n`` keys of ``keys`` closest to the unknown ``key`` (by the similarity of the whole
    key and of its last part; only those nearly as close as the closest)."""
    name = key.rpartition(".")[2]

    def score(k: str) -> float:
        whole = difflib.SequenceMatcher(None, key, k).ratio()
        part = difflib.SequenceMatcher(None, name, k.rpartition(".")[2]).ratio()
        same_section = k.rpartition(".")[0] == key.rpartition(".")[0]
        return max(whole, part if same_section or part == 1.0 else 0.9 * part)

    scored = sorted(((score(k), k) for k in keys), reverse=True)
    if not scored or scored[0][0] < 0.6:
        return []
    best = scored[0][0]
    return [k for s, k in scored[:n] if s >= max(0.6, best - 0.1)]


def _load_config(spec: str, flag: str) -> ml_collections.ConfigDict:
    """``get_config(*args)`` of ``PATH[:ARG]``; a missing or unreadable file is a UsageError."""
    from chiral_jax.runner.configs import load_config_file

    path, *args = spec.split(":", 1)
    expected = "a config file (a .py defining get_config()), e.g. experiments/configs/lift3d.py"
    if not path:
        raise UsageError(f"{flag}: an empty path; expected {expected}")
    if not os.path.isfile(path):
        what = "a folder" if os.path.isdir(path) else "no such file"
        raise UsageError(f"{flag} {path}: {what} ({os.path.abspath(path)}); expected {expected}")
    try:
        return load_config_file(path, *args)
    except SyntaxError as err:
        raise UsageError(f"{flag} {path}: line {err.lineno}: {err.msg}; expected {expected}") from err
    except AttributeError as err:
        if "get_config" not in str(err):
            raise
        raise UsageError(f"{flag} {path}: no get_config() in the file; expected {expected}") from err


def _config_from_argv(argv: Sequence[str], default: str) -> tuple[str, str]:
    """``(config spec, how it was given)`` from ``--config=X`` / ``--config X``, else the default."""
    for i, arg in enumerate(argv):
        m = _CONFIG.match(arg)
        if m:
            if m.group(1) is not None:
                return m.group(1), "--config"
            if i + 1 < len(argv):
                return argv[i + 1], "--config"
            raise UsageError("--config: no file given; expected --config PATH (a config file)")
    return default, "the default config"


def _overrides(argv: Sequence[str]) -> dict[str, str]:
    """``{key: value}`` of the ``--config.KEY=VALUE`` (or ``--config.KEY VALUE``) flags."""
    out: dict[str, str] = {}
    for i, arg in enumerate(argv):
        m = _OVERRIDE.match(arg)
        if not m:
            continue
        value = m.group(2)
        if value is None:
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            value = "True" if nxt is None or nxt.startswith("-") else nxt
            value = "False" if arg.lstrip("-").startswith("no") else value
        out[m.group(1)] = value
    return out


def _canonical_argv(argv: Sequence[str], config: ml_collections.ConfigDict) -> list[str]:
    """``argv`` with each ``--config.KEY`` of an older spelling (:data:`chiral_jax.runner.ALIASES`,
    e.g. ``model.channels``) renamed to its current key, where the config has that key instead."""
    from chiral_jax.runner.vocabulary import ALIASES

    keys = _flatten(config)
    out = []
    for arg in argv:
        m = _OVERRIDE.match(arg)
        old = m.group(1) if m else None
        if old in ALIASES and old not in keys and ALIASES[old] in keys:
            arg = arg.replace(f"config.{old}", f"config.{ALIASES[old]}", 1)
        out.append(arg)
    return out


def _check_keys(config: ml_collections.ConfigDict, overrides: Mapping[str, str], config_file: str) -> None:
    keys = _flatten(config)
    for key, value in overrides.items():
        if "[" in key or key in keys:
            continue
        parent = key.rpartition(".")[0]
        if parent in keys and not isinstance(keys[parent], ml_collections.ConfigDict):
            raise UsageError(
                f"--config.{key}={value}: {parent} is a value ({keys[parent]!r}), not a section; "
                f"expected --config.{parent}=VALUE"
            )
        near = nearest_keys(key, [k for k, v in keys.items() if not isinstance(v, ml_collections.ConfigDict)])
        hint = f"; nearest: {', '.join(near)}" if near else ""
        raise UsageError(
            f"--config.{key}={value}: unknown config key {key!r} in {config_file}{hint}\n"
            "expected a key of the config (--help lists them with their defaults)"
        )


def _check_types(
    defaults: Mapping[str, Any], config: ml_collections.ConfigDict, overrides: Mapping[str, str]
) -> None:
    """A tuple key set to elements of another type than its default's (config_flags reads
    ``--config.model.filter_widths=abc`` as ``("abc",)``) is a UsageError."""
    values = _flatten(config)
    for key, text in overrides.items():
        default, new = defaults.get(key), values.get(key)
        if not isinstance(default, tuple) or not default:
            continue
        kinds = {type(x) for x in default}
        kind = kinds.pop() if len(kinds) == 1 else None
        if kind is None:
            continue
        ok = isinstance(new, tuple) and all(
            type(x) is kind or (kind is float and type(x) is int) for x in new
        )
        if not ok:
            raise UsageError(
                f"--config.{key}={text}: expected {_type_name(default)} ({kind.__name__} elements; "
                f"e.g. --config.{key}='{default!r}'), got {new!r}"
            )


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, tuple | list):
        return f"a tuple like {tuple(value)!r}" if value else "a tuple, e.g. '(1, 2)'"
    return {int: "an integer", float: "a number", str: "a string"}.get(type(value), type(value).__name__)


def flag_error_message(
    error: Exception,
    config: ml_collections.ConfigDict | None = None,
    known: Mapping[str, str] | None = None,
) -> str:
    """A one- or two-line message for an absl / config_flags parsing error: the flag, what was
    expected (its type and default, or the script's flags: ``known``, name -> help) and what came."""
    text = " ".join(str(error).split())
    m = re.match(r"flag --config\.([\w.]+)=(.*?): (.*)$", text)
    if m and config is not None:
        key, value, why = m.groups()
        flat = _flatten(config)
        if key in flat:
            default = flat[key]
            return (
                f"--config.{key}={value}: expected {_type_name(default)} (default {default!r}), "
                f"got {value!r} ({why})"
            )
    known = _OWN_FLAGS if known is None else known
    m = re.search(r"Flag --(\w+) must have a value other than None", text)
    if m:
        meaning = known.get(m.group(1), "").split(": ", 1)[-1].removesuffix(" (required)").rstrip(".")
        return f"--{m.group(1)} is required: {meaning}" if meaning else f"--{m.group(1)} is required"
    m = re.match(r"Unknown command line flag '([^']+)'", text)
    if m:
        names = [k.split("=")[0] for k in known]
        near = difflib.get_close_matches(m.group(1), names, n=2, cutoff=0.6)
        hint = f"; did you mean {', '.join('--' + n for n in near)}?" if near else ""
        listed = ", ".join("--" + n for n in names[:12]) + (", ..." if len(names) > 12 else "")
        return f"--{m.group(1)}: unknown flag{hint}\nexpected one of {listed} (see --help)"
    m = re.match(r"flag --(\w+)=(.*?): (.*)$", text)
    if m:
        return f"--{m.group(1)}={m.group(2)}: {m.group(3)}"
    return text


def parse_flags(argv: Sequence[str], holders: Sequence[Any], flag_values: Any = None) -> list[str]:
    """``flag_values(argv)`` (default the global absl FLAGS) with a UsageError per mistake (an
    unknown flag, a bad or missing value, unexpected arguments); ``holders``: the script's own
    flags (absl FlagHolders), named in the messages."""
    from absl import flags

    fv = flags.FLAGS if flag_values is None else flag_values
    try:
        rest = fv(list(argv))
    except flags.Error as err:
        known = {h.name: fv[h.name].help for h in holders}
        raise UsageError(flag_error_message(err, known=known)) from err
    if len(rest) > 1:
        raise UsageError(f"unexpected arguments {rest[1:]}; expected flags only (see --help)")
    return rest


def flags_help(holders: Sequence[Any], flag_values: Any = None) -> str:
    """``  --name  help (default: value)`` per absl FlagHolder, for a script's ``--help``."""
    from absl import flags

    fv = flags.FLAGS if flag_values is None else flag_values
    rows = []
    for h in holders:
        default = "" if h.default is None else f" (default: {h.default})"
        rows.append((f"--{h.name}", f"{fv[h.name].help}{default}"))
    width = max(len(n) for n, _ in rows)
    return "\n".join(f"  {n:<{width}}  {t}" for n, t in rows)


# ---------------------------------------------------------------------------------- help


def experiment_help(prog: str, description: str, default_config: str, argv: Sequence[str] = ()) -> str:
    """``--help``: the script's docstring, its flags and every key of its config (the ``--config``
    on the command line, else the default) with default and meaning."""
    from chiral_jax.runner.config_help import format_config_help

    spec, _ = _config_from_argv(argv, default_config)
    config = _load_config(spec, "--config")
    rel = os.path.relpath(default_config)
    shown = spec.split(":", 1)[0]
    flags = "\n".join(f"  --{name:<18} {text.format(default=rel)}" for name, text in _OWN_FLAGS.items())
    return (
        f"{(description or prog).strip()}\n\n"
        f"usage: {prog} --workdir DIR [--config FILE] [--config.KEY=VALUE ...] [--verbose]\n\n"
        f"flags:\n{flags}\n\n"
        f"config keys of {os.path.relpath(shown)} (--config.KEY=VALUE; tuples as '(1, 2)'):\n"
        f"{format_config_help(config, shown.split(':')[0])}\n"
    )


def _help_asked(argv: Sequence[str]) -> bool:
    return any(a in ("-h", "-?", "--help", "-help", "--helpshort", "--helpfull") for a in argv)


# ---------------------------------------------------------------------------------- parsing


@dataclasses.dataclass
class CommandLine:
    """What :func:`parse_command_line` read: the config (overrides applied), the flags, and the
    overrides as given (key -> value text)."""

    config: ml_collections.ConfigDict
    workdir: str
    multihost: bool
    verbose: bool
    overrides: dict[str, str]
    config_file: str


def _flag_given(argv: Sequence[str], name: str) -> bool:
    return any(a in (f"--{name}", f"-{name}", f"--{name}=true", f"--{name}=True") for a in argv)


def parse_command_line(argv: Sequence[str], default_config: str, flag_values: Any = None) -> CommandLine:
    """Parses an experiment script's ``argv`` (``argv[0]``: the program); raises :class:`UsageError`
    for a user mistake. ``flag_values``: the absl FlagValues to define the flags in (default the
    global ``absl.flags.FLAGS``; a fresh one per call for tests)."""
    from absl import flags
    from ml_collections import config_flags

    argv = list(argv)
    fv = flags.FLAGS if flag_values is None else flag_values
    spec, given = _config_from_argv(argv[1:], default_config)
    config = _load_config(spec, "--config" if given == "--config" else f"the default config ({spec})")
    argv = _canonical_argv(argv, config)
    overrides = _overrides(argv[1:])
    _check_keys(config, overrides, os.path.relpath(spec.split(":", 1)[0]))

    config_flag = config_flags.DEFINE_config_file(
        "config", default_config, "Experiment configuration.", flag_values=fv, sys_argv=argv
    )
    workdir = flags.DEFINE_string("workdir", None, _OWN_FLAGS["workdir"], flag_values=fv, required=True)
    multihost = flags.DEFINE_bool("multihost", False, _OWN_FLAGS["multihost"], flag_values=fv)
    verbose = flags.DEFINE_bool("verbose", False, _OWN_FLAGS["verbose"], flag_values=fv)
    try:
        rest = fv(argv)
    except flags.Error as err:
        raise UsageError(flag_error_message(err, config)) from err
    except (ValueError, TypeError, KeyError, AttributeError) as err:  # config_flags applying a value
        raise UsageError(flag_error_message(err, config)) from err
    if len(rest) > 1:
        raise UsageError(
            f"unexpected arguments {rest[1:]}; expected flags only (--workdir DIR, --config.KEY=VALUE, ...)"
        )
    _check_types(_flatten(config), config_flag.value, overrides)
    return CommandLine(
        config=config_flag.value,
        workdir=workdir.value,
        multihost=multihost.value,
        verbose=verbose.value,
        overrides=overrides,
        config_file=spec,
    )


def run_experiment(
    default_config: str,
    run: Callable[[ml_collections.ConfigDict, str], str],
    argv: Sequence[str] | None = None,
    flag_values: Any = None,
) -> None:
    """Parses the flags and prints ``run(config, workdir)`` (the results table).

    Args:
      default_config: the config file used when ``--config`` is not given.
      run: trains and evaluates, returns the text to print (its module's docstring is the help's
        description).
      argv: the command line (default ``sys.argv``).
      flag_values: the absl FlagValues the flags go to (default the global ``absl.flags.FLAGS``).
    """
    argv = list(sys.argv if argv is None else argv)
    prog = os.path.basename(argv[0]) if argv else "experiment"
    verbose = _flag_given(argv, "verbose")
    module = inspect.getmodule(run)
    folders = [Path(module.__file__).resolve().parent] if module and getattr(module, "__file__", None) else []
    with report_user_errors(prog, verbose=verbose):
        if _help_asked(argv[1:]):
            print(experiment_help(prog, (module.__doc__ if module else "") or "", default_config, argv[1:]))
            if "--helpfull" in argv[1:]:
                from absl import flags

                print(f"absl / JAX flags:\n{flags.FLAGS.get_help()}")
            raise SystemExit(0)
        cl = parse_command_line(argv, default_config, flag_values)

    from absl import logging

    logging.use_absl_handler()  # as absl.app.run would
    logging.set_verbosity(logging.WARNING)  # orbax logs every checkpoint step at INFO
    keys = list(_flatten(cl.config))
    with report_user_errors(prog, verbose=cl.verbose, keys=keys, overrides=cl.overrides, folders=folders):
        if cl.multihost:
            from chiral_jax.train import initialize_multihost

            initialize_multihost()
        text = run(cl.config, cl.workdir)
    print(text)
