"""Size guards: every DP and MIP estimates what it would allocate before it builds anything.

A problem whose estimate is over the memory limit is refused at once with
:class:`SizeLimitError` (a ValueError), whose message gives the estimate, the limit and
the parameter that drives the size -- instead of running until memory is exhausted.  The
lost-sales DP (:func:`optimization.lost_sales.check_memory`) set the pattern.

The limit is, in this order: the ``memory_limit`` argument of the method (bytes), the
environment variable ``DES_SUPPLY_MEMORY_LIMIT`` (bytes, or a number with a unit:
``8GiB``, ``500MiB``, ``2e9``), or :data:`DEFAULT_LIMIT` (4 GiB).  The estimates are
measured peaks (``tracemalloc``) per unit of the driving quantity, written next to each
guard.

Example:

>>> check_memory(3 * GiB, "a DP", "lower its size", limit=4 * GiB)
3221225472
>>> check_memory(5 * GiB, "a DP", "lower its size", limit=4 * GiB)
Traceback (most recent call last):
...
optimization.memory.SizeLimitError: a DP would need about 5.0 GiB, over the memory limit 4.0 GiB; lower its size, or raise the limit (DES_SUPPLY_MEMORY_LIMIT=8GiB in the environment, or memory_limit=)
"""

from __future__ import annotations

import math
import os
import re

__all__ = [
    "DEFAULT_LIMIT",
    "ENV_VAR",
    "GiB",
    "SizeLimitError",
    "check_memory",
    "format_bytes",
    "memory_limit",
    "parse_size",
]

GiB = 2**30
DEFAULT_LIMIT = 4 * GiB
ENV_VAR = "DES_SUPPLY_MEMORY_LIMIT"

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1e3,
    "kb": 1e3,
    "kib": 2**10,
    "m": 1e6,
    "mb": 1e6,
    "mib": 2**20,
    "g": 1e9,
    "gb": 1e9,
    "gib": 2**30,
    "t": 1e12,
    "tb": 1e12,
    "tib": 2**40,
}


class SizeLimitError(ValueError):
    """A problem that would need more memory than the limit (the message says how much)."""


def format_bytes(n: float) -> str:
    """``5368709120`` -> ``'5.0 GiB'``."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= 0.1 * scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


def parse_size(text: str) -> float:
    """Bytes from ``'8GiB'``, ``'500 MB'``, ``'2e9'``; ValueError naming the text otherwise."""
    match = re.fullmatch(r"\s*([0-9.eE+]+)\s*([A-Za-z]*)\s*", str(text))
    unit = match.group(2).lower() if match else None
    try:
        value = float(match.group(1)) * _UNITS[unit] if match and unit in _UNITS else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ValueError(
            f"memory size {text!r} must be a positive number of bytes, optionally "
            "with a unit (8GiB, 500MiB, 2e9)"
        )
    return value


def memory_limit(limit: float | None = None) -> float:
    """The limit in bytes: *limit* if given, else ``$DES_SUPPLY_MEMORY_LIMIT``, else 4 GiB."""
    if limit is not None:
        if not isinstance(limit, (int, float)) or not math.isfinite(limit) or limit <= 0:
            raise ValueError(f"memory_limit(={limit!r}) must be a finite number of bytes > 0")
        return float(limit)
    text = os.environ.get(ENV_VAR)
    if text is None or not text.strip():
        return float(DEFAULT_LIMIT)
    try:
        return parse_size(text)
    except ValueError as exc:
        raise ValueError(f"{ENV_VAR}: {exc}") from None


def check_memory(need: float, what: str, driver: str, limit: float | None = None) -> int:
    """Raise :class:`SizeLimitError` if *need* bytes exceed the limit; return *need*.

    *what* names the object being built ("the pricing DP (13 x 13 x 13 x 5021 states)"),
    *driver* says which parameter to lower ("lower storage_capacity of node 'retailer'").
    """
    cap = memory_limit(limit)
    if need > cap:
        raise SizeLimitError(
            f"{what} would need about {format_bytes(need)}, over the memory "
            f"limit {format_bytes(cap)}; {driver}, or raise the limit "
            f"({ENV_VAR}=8GiB in the environment, or memory_limit=)"
        )
    return int(need)
