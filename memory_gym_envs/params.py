"""Reset parameters: declaration, defaults and validation.

Every task declares its reset parameters as a ``dict[str, Param]``. A parameter is given either
as ``gym.make(id, key=value)`` (a new default for every episode of that env) or as
``env.reset(options={key: value})`` (this episode only). Bad keys and values raise ``ValueError``
naming the key and what is allowed, instead of the original's ``AssertionError``.

Parameters marked ``sampled`` take a value or a non-empty list of values; a list is sampled once
per episode (``np_random.choice``), as in the original.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, Mapping

import numpy as np

# Bounds shared by the tasks' tables, so that no legal value can overflow what it is stored in.
# Step counts (``max_steps``, ``stamina_level``): at most 10**9, hours of stepping even at 10**5
# steps/s. They live in int64 records next to counters that grow from them (``t``; the stamina
# bar's 84 * stamina), which stay far below 2**63; 10**9 also fits the int32 some consumers use.
MAX_STEPS = 10**9
# Rewards: |reward_*| <= 1e6. One step pays a sum of at most 14 of them (Searing Spotlights:
# inside/outside, death, up to 10 coins at once, exit, time limit), so |return| < 1.4e16 after
# 10**9 steps (1.4e22 after 10**15): far from float64's overflow (~1.8e308) and float32's (~3.4e38).
MAX_REWARD = 1e6


@dataclass(frozen=True)
class Param:
    """One reset parameter: its default, type and allowed range (inclusive)."""

    default: Any
    kind: type  # bool, int or float
    low: float | None = None
    high: float | None = None
    sampled: bool = False
    doc: str = ""

    def bounds(self, fmt=str) -> str:
        """The range as ``[low, high]``, ``>= low``, ``<= high``, or "" without bounds."""
        if self.low is not None and self.high is not None:
            return f"[{fmt(self.low)}, {fmt(self.high)}]"
        if self.low is not None:
            return f">= {fmt(self.low)}"
        return f"<= {fmt(self.high)}" if self.high is not None else ""

    def range_text(self) -> str:
        if self.kind is bool:
            return "a bool"
        name = "an int" if self.kind is int else "a number"
        bounds = self.bounds()
        return f"{name} in {bounds}" if bounds.startswith("[") else f"{name} {bounds}".rstrip()

    def check(self, key: str, value: Any):
        """Return the normalised value (a tuple for sampled parameters) or raise ValueError."""
        if self.sampled:
            values = tuple(value) if isinstance(value, (list, tuple, np.ndarray)) else (value,)
            if not values:
                raise ValueError(f"reset parameter '{key}' must be {self.range_text()} or a non-empty "
                                 f"list of such values, got an empty list")
            return tuple(self._check_scalar(key, v) for v in values)
        return self._check_scalar(key, value)

    def _check_scalar(self, key: str, value: Any):
        what = f"reset parameter '{key}' must be {self.range_text()}"
        if self.kind is bool:
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"{what}, got {value!r}")
            return bool(value)
        if isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{what}, got {value!r}")
        if self.kind is int:
            if not isinstance(value, Integral):
                raise ValueError(f"{what}, got {value!r}")
            value = int(value)
        else:
            try:
                number = float(value) if isinstance(value, Real) else math.nan
            except OverflowError:  # an int beyond float's range
                number = math.nan
            if not math.isfinite(number):
                raise ValueError(f"{what}, got {value!r}")
            value = number
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise ValueError(f"{what}, got {value!r}")
        return value


def check_options(options: Any) -> Mapping[str, Any]:
    """``reset(options=...)`` as a mapping; raise ValueError unless it is a mapping or None."""
    if options is None:
        return {}
    if not isinstance(options, (dict, Mapping)):  # (dict first: the ABC check alone costs ~0.3 us)
        raise ValueError(f"reset options must be a dict of reset parameters (or None), got {options!r}")
    return options


def check_seed(seed: Any) -> int | None:
    """A reset seed as an int (or None); raise ValueError unless it is None or an int >= 0."""
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f"seed must be None or an int >= 0, got {seed!r}")
    return int(seed)


def reward(default: float, doc: str) -> Param:
    """A reward parameter: a number in [-MAX_REWARD, MAX_REWARD]."""
    return Param(default, float, -MAX_REWARD, MAX_REWARD, doc=doc)


def resolve_params(table: Mapping[str, Param], env_name: str, defaults: Mapping[str, Any],
                   overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge ``overrides`` over ``defaults`` (both already or still to be validated) for ``table``."""
    merged = dict(defaults)
    for key, value in check_options(overrides).items():
        if key not in table:
            raise ValueError(f"unknown reset parameter '{key}' for {env_name}; "
                             f"valid keys: {', '.join(sorted(table))}")
        merged[key] = table[key].check(key, value)
    return merged


def default_params(table: Mapping[str, Param]) -> dict[str, Any]:
    return {key: p.check(key, p.default) for key, p in table.items()}


def pick(rng: np.random.Generator, values: tuple):
    """One episode's value of a sampled parameter: uniform over ``values`` (no draw if only one)."""
    return values[0] if len(values) == 1 else values[int(rng.integers(len(values)))]
