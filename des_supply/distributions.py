"""Demand and lead-time distributions: small frozen dataclasses, sampled per period.

Every distribution draws a *block of consecutive periods* at once with
``sample(rng, start, n)`` (``start`` is the index of the first period, used by
non-stationary and trace-driven demand).  The generator is always passed in;
nothing here reads a global random state.  Each class round-trips through a
plain dict (``to_dict`` / :func:`distribution_from_dict`) so a network can live in
a JSON file; loading never executes code.

Quantities are integers where the model says so (``integer`` is True) and
floats otherwise (e.g. the continuous normal demand of the Clark-Scarf example).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, Protocol, Sequence

import numpy as np

__all__ = [
    "Distribution",
    "Deterministic",
    "Poisson",
    "Geometric",
    "NegativeBinomial",
    "Normal",
    "DiscreteUniform",
    "Empirical",
    "Trace",
    "NonStationary",
    "Shifted",
    "distribution_from_dict",
    "as_distribution",
]


class Distribution(Protocol):
    """What the engine needs from a distribution."""

    kind: ClassVar[str]

    @property
    def integer(self) -> bool: ...

    @property
    def mean(self) -> float: ...

    def sample(self, rng: np.random.Generator, start: int, n: int) -> np.ndarray:
        """Draw the values of periods ``start, ..., start + n - 1``."""
        ...

    def to_dict(self) -> dict[str, Any]: ...


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ValueError(message)


def _finite(name: str, value: float) -> float:
    value = float(value)
    _check(math.isfinite(value), f"{name}(={value}) must be finite")
    return value


class _Base:
    """Shared dict round trip: every dataclass field is a plain value."""

    kind: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, np.generic):
                value = value.item()
            if isinstance(value, _Base):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out


@dataclass(frozen=True, slots=True)
class Deterministic(_Base):
    """The same value every period [d]."""

    value: float
    kind: ClassVar[str] = "deterministic"

    def __post_init__(self) -> None:
        _check(_finite("value", self.value) >= 0, f"value(={self.value}) must be >= 0")

    @property
    def integer(self) -> bool:
        return float(self.value).is_integer()

    @property
    def mean(self) -> float:
        return float(self.value)

    def sample(self, rng: np.random.Generator, start: int, n: int) -> np.ndarray:
        return np.full(n, float(self.value))


@dataclass(frozen=True, slots=True)
class Poisson(_Base):
    """Poisson with the given mean [lambda]."""

    mean: float
    kind: ClassVar[str] = "poisson"
    integer: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _check(_finite("mean", self.mean) >= 0, f"mean(={self.mean}) must be >= 0")

    def sample(self, rng: np.random.Generator, start: int, n: int) -> np.ndarray:
        return rng.poisson(self.mean, n).astype(float)


@dataclass(frozen=True, slots=True)
class Geometric(_Base):
    """Geometric on {0, 1, 2, ...} with the given mean: P(k) = (1-q) q^k, q = m/(1+m)."""

    mean: float
    kind: ClassVar[str] = "geometric"
    integer: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _check(_finite("mean", self.mean) >= 0, f"mean(={self.mean}) must be >= 0")

    def sample(self, rng: np.random.Generator, start: int, n: int) -> np.ndarray:
        # numpy counts trials up to the first success (support 1, 2, ...); shift to 0, 1, ...
        return (rng.geometric(1.0 / (1.0 + self.mean), n) - 1).astype(float)


@dataclass(frozen=True, slots=True)
class NegativeBinomial(_Base):
    """Negative binomial by mean and size r: variance = mean + mean**2 / r."""

    mean: float
    size: float
    kind: ClassVar[str] = "negative_binomial"
    integer: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _check(_finite("mean", self.mean) >= 0, f"mean(={self.mean}) must be >= 0")
        _check(_finite("size", self.size) > 0, f"size(={self.size}) must be > 0")

    def sample(self, rng: np.random.Generator, start: int, n: int) -> np.ndarray:
        p = self.size / (self.size + self.mean)
        return rng.negative_binomial(self.size, p, n).astype(float)


@dataclass(frozen=True, slots=True)
class Normal(_Base):
    """Normal(mean, std) with negative draws set to 0; rounded to integers if ``integer``.

    With ``integer=False`` it is the continuous demand of the Clark-Scarf model.
    The mass below 0 is moved to 0 (censoring), which changes the mean only
    when ``mean`` is within about three ``std`` of 0.
    """

    mean: float
    std: float
    integer: bool = False
    kind: ClassVar[str] = "normal"

    def __post_init__(self) -> None:
        _finite("mean", self.mean)
        _check(_finite("std", self.std) >= 0, f"std(={self.std}) must be >= 0")

    def sample(self, rng: np.random.Generator, start: int, n: int) -> np.ndarray:
        x = np.maximum(rng.normal(self.mean, self.std, n), 0.0)
        return np.rint(x) if self.integer else x


@dataclass(frozen=True, slots=True)
class DiscreteUniform(_Base):
    """Uniform on the integers low, low+1, ..., high (both included)."""

    low: int
    high: int
    kind: ClassVar[str] = "uniform"

    def __post_init__(self) -> None:
        for name in ("low", "high"):
            v = getattr(self, name)
            _check(float(v).is_integer(), f"{name}(={v}) must be an integer")
            object.__setattr__(self, name, int(v))
        _check(0 <= self.low <= self.high, f"need 0 <= low(={self.low}) <= high(={self.high})")

    integer: ClassVar[bool] = True

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    def sample(self, rng: np.random.Generator, start: int, n: int) -> np.ndarray:
        return rng.integers(self.low, self.high, n, endpoint=True).astype(float)


@dataclass(frozen=True, slots=True)
class Empirical(_Base):
    """A discrete distribution on ``values`` with ``probabilities`` (default: equal)."""

    values: tuple[float, ...]
    probabilities: tuple[float, ...] = ()
    kind: ClassVar[str] = "empirical"

    def __post_init__(self) -> None:
        values = tuple(_finite("value", v) for v in self.values)
        _check(len(values) > 0, "values must not be empty")
        _check(min(values) >= 0, f"values must be >= 0 (got {min(values)})")
        probs = tuple(float(p) for p in self.probabilities) or (1 / len(values),) * len(values)
        _check(len(probs) == len(values),
               f"probabilities has {len(probs)} entries, values has {len(values)}")
        _check(min(probs) >= 0 and abs(sum(probs) - 1) < 1e-9,
               f"probabilities must be >= 0 and sum to 1 (sum={sum(probs)})")
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "probabilities", probs)

    @property
    def integer(self) -> bool:
        return all(v.is_integer() for v in self.values)

    @property
    def mean(self) -> float:
        return float(np.dot(self.values, self.probabilities))

    def sample(self, rng: np.random.Generator, start: int, n: int) -> np.ndarray:
        cdf = np.cumsum(self.probabilities)
        idx = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right")
        return np.asarray(self.values)[np.minimum(idx, len(self.values) - 1)]


@dataclass(frozen=True, slots=True)
class Trace(_Base):
    """Trace-driven demand: period t takes ``values[t]``.

    After the last value the trace repeats (``after="cycle"``), keeps its last
    value (``"hold"``), or ends the run with an error naming the period
    (``"stop"``).  Use :meth:`from_csv` to load a column of real data.
    """

    values: tuple[float, ...]
    after: str = "cycle"
    kind: ClassVar[str] = "trace"

    def __post_init__(self) -> None:
        values = tuple(_finite("value", v) for v in self.values)
        _check(len(values) > 0, "trace must not be empty")
        _check(min(values) >= 0, f"trace values must be >= 0 (got {min(values)})")
        _check(self.after in ("cycle", "hold", "stop"),
               f"after(={self.after!r}) must be 'cycle', 'hold' or 'stop'")
        object.__setattr__(self, "values", values)

    @property
    def integer(self) -> bool:
        return all(v.is_integer() for v in self.values)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    def sample(self, rng: np.random.Generator, start: int, n: int) -> np.ndarray:
        idx = np.arange(start, start + n)
        values, m = np.asarray(self.values), len(self.values)
        if self.after == "cycle":
            return values[idx % m]
        out = values[np.minimum(idx, m - 1)]
        if self.after == "stop":  # blocks look ahead of the run: NaN marks missing periods
            out = np.where(idx < m, out, np.nan)
        return out

    @classmethod
    def from_csv(cls, path: str | Path, column: str | int = 0, after: str = "cycle") -> "Trace":
        """Read one column (by header name or 0-based index) of a CSV file."""
        try:
            with open(path, newline="") as fh:
                rows = [r for r in csv.reader(fh) if r]
        except OSError as exc:
            raise ValueError(f"cannot read {path}: {exc.strerror}") from None
        if not rows:
            raise ValueError(f"{path}: empty CSV file")
        header, body = rows[0], rows[1:]
        if isinstance(column, str) and not column.isdigit():
            if column not in header:
                raise ValueError(f"{path}: no column {column!r} (columns: {', '.join(header)})")
            j = header.index(column)
        else:
            j = int(column)
            try:
                float(header[j])
                body = rows  # no header row
            except (ValueError, IndexError):
                pass
        try:
            values = [float(r[j]) for r in body]
        except (ValueError, IndexError) as exc:
            raise ValueError(f"{path}: column {column!r} is not numeric: {exc}") from None
        return cls(tuple(values), after)


@dataclass(frozen=True, slots=True)
class NonStationary(_Base):
    """A mean per period (e.g. seasonal), repeated cyclically.

    ``family`` is ``"poisson"`` or ``"normal"``; for the normal, the standard
    deviation of period t is ``cv * means[t]`` (rounded if ``integer``).
    """

    means: tuple[float, ...]
    family: str = "poisson"
    cv: float = 0.0
    integer: bool = True
    kind: ClassVar[str] = "nonstationary"

    def __post_init__(self) -> None:
        means = tuple(_finite("mean", m) for m in self.means)
        _check(len(means) > 0, "means must not be empty")
        _check(min(means) >= 0, f"means must be >= 0 (got {min(means)})")
        _check(self.family in ("poisson", "normal"),
               f"family(={self.family!r}) must be 'poisson' or 'normal'")
        _check(self.cv >= 0, f"cv(={self.cv}) must be >= 0")
        object.__setattr__(self, "means", means)
        if self.family == "poisson":
            object.__setattr__(self, "integer", True)

    @property
    def mean(self) -> float:
        return float(np.mean(self.means))

    def mean_at(self, t: int) -> float:
        return self.means[t % len(self.means)]

    def sample(self, rng: np.random.Generator, start: int, n: int) -> np.ndarray:
        m = np.asarray(self.means)[np.arange(start, start + n) % len(self.means)]
        if self.family == "poisson":
            return rng.poisson(m).astype(float)
        x = np.maximum(rng.normal(m, self.cv * m), 0.0)
        return np.rint(x) if self.integer else x


@dataclass(frozen=True, slots=True)
class Shifted(_Base):
    """``shift + base``: e.g. a lead time of 2 plus a Poisson delay."""

    base: Distribution
    shift: float
    kind: ClassVar[str] = "shifted"

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", as_distribution(self.base))
        _check(_finite("shift", self.shift) >= 0, f"shift(={self.shift}) must be >= 0")

    @property
    def integer(self) -> bool:
        return self.base.integer and float(self.shift).is_integer()

    @property
    def mean(self) -> float:
        return self.base.mean + self.shift

    def sample(self, rng: np.random.Generator, start: int, n: int) -> np.ndarray:
        return self.base.sample(rng, start, n) + self.shift


_KINDS: dict[str, type] = {
    c.kind: c
    for c in (Deterministic, Poisson, Geometric, NegativeBinomial, Normal, DiscreteUniform,
              Empirical, Trace, NonStationary, Shifted)
}


def distribution_from_dict(data: dict[str, Any]) -> Distribution:
    """Rebuild a distribution from :meth:`to_dict` output (no code is executed)."""
    if not isinstance(data, dict) or "type" not in data:
        raise ValueError(f"a distribution must be a dict with a 'type' key, got {data!r}")
    kind = data["type"]
    if kind not in _KINDS:
        raise ValueError(f"unknown distribution type {kind!r} (known: {', '.join(sorted(_KINDS))})")
    kwargs = {k: v for k, v in data.items() if k != "type"}
    try:
        if kind == "shifted":
            kwargs["base"] = distribution_from_dict(kwargs["base"])
        for key in ("values", "probabilities", "means"):
            if key in kwargs:
                if not isinstance(kwargs[key], (list, tuple)):
                    raise ValueError(f"{key} must be a list of numbers")
                kwargs[key] = tuple(kwargs[key])
        return _KINDS[kind](**kwargs)
    except (TypeError, KeyError) as exc:
        raise ValueError(f"bad parameters for distribution {kind!r}: {exc}") from None


def as_distribution(value: Distribution | float | int | dict[str, Any]) -> Distribution:
    """Accept a distribution, a plain number (deterministic) or a dict."""
    if isinstance(value, dict):
        return distribution_from_dict(value)
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return Deterministic(float(value))
    if hasattr(value, "sample") and hasattr(value, "to_dict"):
        return value
    raise ValueError(f"not a distribution: {value!r}")
