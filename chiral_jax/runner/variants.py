"""The comparison every task runs: one :class:`Variant` type, the variant grid and the exact
equal-parameter matcher.

A grid (:func:`comparison_grid`) holds, for ``model.kind`` ``both``: the chiral net at the
configured width (``matched="width"``) and, with ``model.equal_params``, at the width whose
parameter count is closest to the baseline's (``matched="params"``, :func:`match_params`); the
baseline with mirror augmentation (``train.augment``) and without it (when ``train.augment`` is off,
or ``model.baseline_without_augment`` asks for both).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["KINDS", "Variant", "comparison_grid", "kinds_of", "match_params", "variant_name"]

Width = int | tuple[int, ...]

KINDS = {"both": ("chiral", "baseline"), "chiral": ("chiral",), "baseline": ("baseline",)}
"""``model.kind`` -> the kinds of net it trains."""


@dataclasses.dataclass(frozen=True)
class Variant:
    """One trained configuration of a task.

    Attributes:
      name: run folder and table row, ``<kind>[_<hidden>_<activation>]_<aug|noaug>_w<width>``-like
        (see :func:`comparison_grid`).
      kind: ``"chiral"`` or ``"baseline"``.
      width: the net's width: an int, or a tuple of per-layer widths.
      hidden: the chiral hidden spec, ``"plain"`` (negation-free) or ``"negated"``; ``"dense"`` for
        a baseline.
      activation: the hidden activation.
      augment: mirror augmentation while training.
      matched: ``"width"`` (the configured width) or ``"params"`` (the baseline's parameter count).
      architecture: the net family when a task has several (e.g. ``"temporal"``, ``"transformer"``).
    """

    name: str
    kind: str
    width: Any = None
    hidden: str = "plain"
    activation: str = "relu"
    augment: bool = False
    matched: str = "width"
    architecture: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("chiral", "baseline"):
            raise ValueError(f"Variant.kind must be chiral or baseline, got {self.kind!r}")
        if isinstance(self.width, list):  # read back from JSON: keep the variant hashable
            object.__setattr__(self, "width", tuple(self.width))

    @property
    def channels(self) -> Any:
        """The width (the name lifting's records and ``model.json`` files use)."""
        return self.width

    @property
    def widths(self) -> tuple[int, ...]:
        """The width as a tuple (one entry for an int width)."""
        return tuple(self.width) if isinstance(self.width, tuple) else (self.width,)

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Variant:
        """A variant from :meth:`describe`'s or an older record (``channels`` / ``widths`` for
        ``width``, ``arch`` for ``architecture``); unknown keys are ignored."""
        d = dict(record)
        for old in ("channels", "widths"):
            if old in d and d.get("width") is None:
                d["width"] = d[old]
        if "arch" in d and not d.get("architecture"):
            d["architecture"] = d["arch"]
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def describe(self) -> dict[str, Any]:
        """The variant's fields for ``results.json`` (a tuple width as a list)."""
        d = dataclasses.asdict(self)
        if isinstance(self.width, tuple):
            d["width"] = list(self.width)
        if self.kind == "baseline":
            d["hidden"] = "dense"
        return d


def kinds_of(kind: str) -> tuple[str, ...]:
    """The kinds of net ``model.kind`` (``chiral`` | ``baseline`` | ``both``) trains."""
    if kind not in KINDS:
        raise ValueError(f"model.kind must be chiral, baseline or both, got {kind!r}")
    return KINDS[kind]


def _scaled(width: Width, scale: float, multiple: int) -> Width:
    def one(w: int) -> int:
        return max(multiple, multiple * round(w * scale / multiple))

    return tuple(one(w) for w in width) if isinstance(width, tuple) else one(width)


def match_params(params: Callable[[Width], int], target: int, width: Width, *, multiple: int = 1) -> Width:
    """The width with the parameter count closest to ``target`` (ties: the smaller).

    ``width`` (an int or a tuple, scaled together) times a factor ``s``, each entry rounded to a
    ``multiple`` (e.g. 2 for even/odd halves, ``2 * heads`` for attention); ``params(width)``
    must grow with ``s``. Bisection on ``s`` finds the two neighbouring widths around ``target``
    exactly; the closer one is returned.
    """
    counts: dict[Width, int] = {}

    def count(w: Width) -> int:  # bisection revisits widths: build each net's shape once
        if w not in counts:
            counts[w] = params(w)
        return counts[w]

    lo, hi = 0.0, 1.0  # at 0 every width is its smallest, ``multiple``
    while count(_scaled(width, hi, multiple)) < target:
        hi *= 2
        if hi > 1024:
            raise ValueError(f"match_params: no width up to x1024 of {width} reaches {target:,} parameters")
    for _ in range(60):
        mid = (lo + hi) / 2
        if count(_scaled(width, mid, multiple)) < target:
            lo = mid
        else:
            hi = mid
    below, above = _scaled(width, lo, multiple), _scaled(width, hi, multiple)
    return min((below, above), key=lambda w: abs(count(w) - target))


def comparison_grid(
    kind: str,
    width: Width,
    *,
    augment: bool,
    equal_params: bool,
    params: Callable[[str, Width], int] | None = None,
    multiple: int = 1,
    baseline_without_augment: bool = False,
    chiral_options: Sequence[dict[str, Any]] = ({},),
    baseline_options: dict[str, Any] | None = None,
    **common: Any,
) -> list[Variant]:
    """The variants of ``model.kind``: chiral first (per entry of ``chiral_options``, e.g. hidden
    spec and activation: at ``width``, then at the baseline's parameter count when
    ``equal_params``), then the baselines (without augmentation when ``augment`` is off or
    ``baseline_without_augment``; with it when ``augment``).

    ``params(kind, width)``: the parameter count of a net (needed for ``equal_params``);
    ``multiple``: chiral widths are multiples of it; ``baseline_options``: fields of the baselines
    (e.g. their activation); ``common``: fields every variant gets (e.g. ``architecture``). Names
    follow :func:`variant_name` (the hidden spec and activation appear in chiral names when
    ``chiral_options`` sets them).
    """
    out: list[Variant] = []
    kinds = kinds_of(kind)
    if "chiral" in kinds:
        matched_width = None
        if equal_params:
            if params is None:
                raise ValueError("comparison_grid: equal_params needs params(kind, width)")
            target = params("baseline", width)
            matched_width = match_params(lambda w: params("chiral", w), target, width, multiple=multiple)
        for options in chiral_options:
            for matched, w in (("width", width), ("params", matched_width)):
                if w is None:
                    continue
                v = Variant("", "chiral", w, matched=matched, **{**common, **options})
                name = variant_name(v, detailed="hidden" in options)
                if any(u.name == name for u in out):  # the matched width names like the configured one
                    name += "_params"
                out.append(dataclasses.replace(v, name=name))
    if "baseline" in kinds:
        augments = ((False,) if not augment or baseline_without_augment else ()) + (
            (True,) if augment else ()
        )
        for aug in augments:
            v = Variant(
                "", "baseline", width, hidden="dense", augment=aug, **{**common, **(baseline_options or {})}
            )
            out.append(dataclasses.replace(v, name=variant_name(v)))
    return out


def variant_name(v: Variant, *, detailed: bool = False) -> str:
    """The one naming pattern: ``[<architecture>_]chiral[_<hidden>_<activation>]_w<width>`` and
    ``[<architecture>_]baseline_<aug|noaug>_w<width>`` (a tuple width: its last, widest entry;
    the architecture prefix only for ``"transformer"``), e.g. ``chiral_plain_relu_w128``,
    ``baseline_aug_w128``, ``transformer_chiral_w88``."""
    prefix = f"{v.architecture}_" if v.architecture == "transformer" else ""
    if v.kind == "chiral":
        detail = f"_{v.hidden}_{v.activation}" if detailed else ""
        return f"{prefix}chiral{detail}_w{v.widths[-1]}"
    return f"{prefix}baseline_{'aug' if v.augment else 'noaug'}_w{v.widths[-1]}"
