"""Demand and lead-time distributions: small frozen dataclasses, sampled per period.

Every distribution draws a *block of consecutive periods* at once with
``sample(rng, start, n)`` (``start`` is the index of the first period, used by
non-stationary and trace-driven demand).  The generator is always passed in;
nothing here reads a global random state.  Each class round-trips through a
plain dict (``to_dict`` / :func:`distribution_from_dict`) so a network can live in
a JSON file; loading never executes code.

Each distribution also answers the questions other modules ask about it
(``mean``, ``variance``, ``std``, ``constant``, ``upper_bound``, ``peak_mean``,
``forecast``; see :class:`Distribution`), so callers never switch on its class.

Quantities are integers where the model says so (``integer`` is True) and
floats otherwise (e.g. the continuous normal demand of the Clark-Scarf example).
"""

from __future__ import annotations

import csv
import math
import numbers
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

__all__ = [
    "MAX_MAGNITUDE",
    "ContinuousUniform",
    "Deterministic",
    "DiscreteUniform",
    "Distribution",
    "Empirical",
    "Exponential",
    "Gamma",
    "Geometric",
    "Lognormal",
    "NegativeBinomial",
    "NonStationary",
    "Normal",
    "Poisson",
    "Shifted",
    "Trace",
    "as_distribution",
    "distribution_from_dict",
]


class Distribution(Protocol):
    """What the engine and the optimizers need from a distribution.

    Values are in the units of the quantity drawn: units per period for demand,
    periods for a lead time.  ``mean`` and ``variance`` describe one period; for
    the per-period families (:class:`Trace`, :class:`NonStationary`) that period
    is drawn uniformly from one cycle of the pattern (so ``mean`` is the average
    of the per-period means and ``variance`` adds the spread between periods).

    Example
    -------
    >>> d = Shifted(Poisson(1.5), 2)
    >>> d.mean, d.variance, d.constant, d.upper_bound
    (3.5, 1.5, None, inf)
    >>> NonStationary((10.0, 30.0)).forecast(1, 3).tolist()
    [30.0, 10.0, 30.0]
    """

    kind: ClassVar[str]

    @property
    def integer(self) -> bool:
        """True when every draw is a whole number."""
        ...

    @property
    def mean(self) -> float:
        """Expected value of one period [units, or periods for a lead time]."""
        ...

    @property
    def variance(self) -> float:
        """Variance of one period [units squared].

        Exact, except for :class:`Normal` (and the normal :class:`NonStationary`),
        which return the variance of the underlying normal before negative draws
        are set to 0 and before rounding (``std ** 2``), matching their ``mean``,
        which is also the uncensored one.
        """
        ...

    @property
    def std(self) -> float:
        """Standard deviation of one period, ``sqrt(variance)`` [units]."""
        ...

    @property
    def constant(self) -> float | None:
        """The value every draw takes, or None when draws can differ.

        Not None for :class:`Deterministic`, a :class:`Shifted` of a constant and
        degenerate parameters (``Poisson(0)``, ``Normal(m, 0)``,
        ``DiscreteUniform(a, a)``, a one-value :class:`Empirical` or
        :class:`Trace` that does not stop); equal to every value ``sample``
        returns, so a caller may use it instead of drawing.
        """
        ...

    @property
    def upper_bound(self) -> float:
        """The largest value a draw can take; ``math.inf`` when unbounded [units]."""
        ...

    @property
    def peak_mean(self) -> float:
        """The largest per-period mean over all periods [units].

        ``mean`` for stationary distributions, the largest entry of
        ``NonStationary.means`` and the largest value of a :class:`Trace` (whose
        period t is known exactly: its mean is ``values[t]``).
        """
        ...

    def forecast(self, start: int, n: int) -> np.ndarray:
        """The mean of each period ``start, ..., start + n - 1`` (float array of length n).

        The per-period mean for :class:`NonStationary`, the actual values for a
        :class:`Trace` (0 for periods after a trace with ``after="stop"``, where
        the run ends), the shift plus the base forecast for :class:`Shifted`, and
        ``mean`` repeated otherwise.
        """
        ...

    def sample(self, rng: np.random.Generator, start: int, n: int) -> np.ndarray:
        """Draw the values of periods ``start, ..., start + n - 1``."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (``{"type": kind, ...fields}``) for :func:`distribution_from_dict`."""
        ...


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ValueError(message)


#: Largest magnitude accepted for a quantity or cost anywhere in a network (distribution
#: parameters, node and edge data): 1e15 units times 1e15 per unit is 1e30 per period, so
#: costs summed over any horizon stay finite.
MAX_MAGNITUDE = 1e15


def _finite(name: str, value: float) -> float:
    if isinstance(value, (str, bytes, bool)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}(={value!r}) must be a number")
    value = float(value)
    _check(math.isfinite(value), f"{name}(={value}) must be finite")
    _check(
        abs(value) <= MAX_MAGNITUDE,
        f"{name}(={value:g}) is above {MAX_MAGNITUDE:g} in "
        "magnitude, the largest the engine accepts (costs would not stay finite)",
    )
    return value


class _Base:
    """Shared dict round trip (every dataclass field is a plain value) and the answers
    that follow from the others: ``std``, and ``peak_mean`` / ``forecast`` for
    stationary distributions (the mean, every period)."""

    kind: ClassVar[str] = ""

    if TYPE_CHECKING:  # what the dataclass subclasses provide
        __dataclass_fields__: ClassVar[dict[str, Any]]

        @property
        def mean(self) -> float: ...

        @property
        def variance(self) -> float: ...

    @property
    def std(self) -> float:
        return math.sqrt(self.variance)

    @property
    def peak_mean(self) -> float:
        return float(self.mean)

    def forecast(self, start: int, n: int) -> np.ndarray:
        return np.full(n, float(self.mean))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind}
        for f in fields(self):
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

    @property
    def variance(self) -> float:
        return 0.0

    @property
    def constant(self) -> float:
        return float(self.value)

    @property
    def upper_bound(self) -> float:
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

    @property
    def variance(self) -> float:
        return float(self.mean)

    @property
    def constant(self) -> float | None:
        return 0.0 if self.mean == 0 else None

    @property
    def upper_bound(self) -> float:
        return 0.0 if self.mean == 0 else math.inf

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

    @property
    def variance(self) -> float:
        return float(self.mean * (1 + self.mean))

    @property
    def constant(self) -> float | None:
        return 0.0 if self.mean == 0 else None

    @property
    def upper_bound(self) -> float:
        return 0.0 if self.mean == 0 else math.inf

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

    @property
    def variance(self) -> float:
        return float(self.mean + self.mean**2 / self.size)

    @property
    def constant(self) -> float | None:
        return 0.0 if self.mean == 0 else None

    @property
    def upper_bound(self) -> float:
        return 0.0 if self.mean == 0 else math.inf

    def sample(self, rng: np.random.Generator, start: int, n: int) -> np.ndarray:
        p = self.size / (self.size + self.mean)
        return rng.negative_binomial(self.size, p, n).astype(float)


@dataclass(frozen=True, slots=True)
class Normal(_Base):
    """Normal(mean, std) with negative draws set to 0; rounded to integers if ``integer``.

    With ``integer=False`` it is the continuous demand of the Clark-Scarf model.
    The mass below 0 is moved to 0 (censoring), which changes the mean only
    when ``mean`` is within about three ``std`` of 0.  ``mean``, ``std`` and
    ``variance`` (``std ** 2``) are those of the normal before censoring and
    rounding (rounding adds about 1/12 to the variance of the draws).
    """

    mean: float
    std: float = field()  # required: without field() the dataclass would take _Base.std as default
    integer: bool = False
    kind: ClassVar[str] = "normal"

    def __post_init__(self) -> None:
        _finite("mean", self.mean)
        _check(_finite("std", self.std) >= 0, f"std(={self.std}) must be >= 0")

    @property
    def variance(self) -> float:
        return float(self.std) ** 2

    @property
    def constant(self) -> float | None:
        if self.std > 0:
            return None
        x = max(float(self.mean), 0.0)
        return float(np.rint(x)) if self.integer else x

    @property
    def upper_bound(self) -> float:
        c = self.constant
        return math.inf if c is None else c

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

    @property
    def variance(self) -> float:
        return ((self.high - self.low + 1) ** 2 - 1) / 12

    @property
    def constant(self) -> float | None:
        return float(self.low) if self.low == self.high else None

    @property
    def upper_bound(self) -> float:
        return float(self.high)

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
        _check(
            len(probs) == len(values),
            f"probabilities has {len(probs)} entries, values has {len(values)}",
        )
        _check(
            min(probs) >= 0 and abs(sum(probs) - 1) < 1e-9,
            f"probabilities must be >= 0 and sum to 1 (sum={sum(probs)})",
        )
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "probabilities", probs)

    @property
    def integer(self) -> bool:
        return all(v.is_integer() for v in self.values)

    @property
    def mean(self) -> float:
        return float(np.dot(self.values, self.probabilities))

    @property
    def variance(self) -> float:
        dev = np.asarray(self.values) - self.mean
        return float(np.dot(dev * dev, self.probabilities))

    @property
    def _support(self) -> list[float]:
        """The values drawn with positive probability."""
        return [v for v, p in zip(self.values, self.probabilities) if p > 0]

    @property
    def constant(self) -> float | None:
        support = set(self._support)
        return support.pop() if len(support) == 1 else None

    @property
    def upper_bound(self) -> float:
        return max(self._support)

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

    Period t is known exactly, so its mean is its value: ``forecast`` returns the
    values themselves and ``peak_mean`` the largest.  ``mean`` and ``variance``
    are those of one value drawn uniformly from the trace.
    """

    values: tuple[float, ...]
    after: str = "cycle"
    kind: ClassVar[str] = "trace"

    def __post_init__(self) -> None:
        values = tuple(_finite("value", v) for v in self.values)
        _check(len(values) > 0, "trace must not be empty")
        _check(min(values) >= 0, f"trace values must be >= 0 (got {min(values)})")
        _check(
            self.after in ("cycle", "hold", "stop"),
            f"after(={self.after!r}) must be 'cycle', 'hold' or 'stop'",
        )
        object.__setattr__(self, "values", values)

    @property
    def integer(self) -> bool:
        return all(v.is_integer() for v in self.values)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def variance(self) -> float:
        return float(np.var(self.values))

    @property
    def constant(self) -> float | None:
        """The value when all values are equal and the trace does not stop (a stopping
        trace ends the run after its last value, which a constant would not)."""
        if self.after == "stop" or len(set(self.values)) > 1:
            return None
        return self.values[0]

    @property
    def upper_bound(self) -> float:
        return max(self.values)

    @property
    def peak_mean(self) -> float:
        return max(self.values)

    def forecast(self, start: int, n: int) -> np.ndarray:
        return np.nan_to_num(self._at(start, n))

    def sample(self, rng: np.random.Generator, start: int, n: int) -> np.ndarray:
        return self._at(start, n)

    def _at(self, start: int, n: int) -> np.ndarray:
        """The values of periods ``start .. start+n-1`` (NaN after a stopping trace)."""
        idx = np.arange(start, start + n)
        values, m = np.asarray(self.values), len(self.values)
        if self.after == "cycle":
            return values[idx % m]
        out = values[np.minimum(idx, m - 1)]
        if self.after == "stop":  # blocks look ahead of the run: NaN marks missing periods
            out = np.where(idx < m, out, np.nan)
        return out

    @classmethod
    def from_csv(cls, path: str | Path, column: str | int = 0, after: str = "cycle") -> Trace:
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
    ``mean`` and ``variance`` are those of a period drawn uniformly from one
    cycle: ``variance`` = mean of the per-period variances (``means[t]`` or
    ``(cv * means[t]) ** 2``, the latter before censoring and rounding) + the
    variance of ``means``.
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
        _check(
            self.family in ("poisson", "normal"),
            f"family(={self.family!r}) must be 'poisson' or 'normal'",
        )
        _check(self.cv >= 0, f"cv(={self.cv}) must be >= 0")
        object.__setattr__(self, "means", means)
        if self.family == "poisson":
            object.__setattr__(self, "integer", True)

    @property
    def mean(self) -> float:
        return float(np.mean(self.means))

    @property
    def variance(self) -> float:
        means = np.asarray(self.means)
        within = means if self.family == "poisson" else (self.cv * means) ** 2
        return float(np.mean(within) + np.var(means))

    def _fixed_values(self) -> np.ndarray | None:
        """The value of each period of the cycle when draws are not random, else None."""
        means = np.asarray(self.means)
        if self.family == "poisson":
            return means if not means.any() else None
        if self.cv > 0 and means.any():
            return None
        return np.rint(means) if self.integer else means

    @property
    def constant(self) -> float | None:
        fixed = self._fixed_values()
        if fixed is None or len(set(fixed.tolist())) > 1:
            return None
        return float(fixed[0])

    @property
    def upper_bound(self) -> float:
        fixed = self._fixed_values()
        return math.inf if fixed is None else float(fixed.max())

    @property
    def peak_mean(self) -> float:
        return max(self.means)

    def mean_at(self, t: int) -> float:
        """The mean of period *t* [units]."""
        return self.means[t % len(self.means)]

    def forecast(self, start: int, n: int) -> np.ndarray:
        return np.asarray(self.means, dtype=float)[np.arange(start, start + n) % len(self.means)]

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

    @property
    def variance(self) -> float:
        return self.base.variance

    @property
    def constant(self) -> float | None:
        c = self.base.constant
        return None if c is None else c + self.shift

    @property
    def upper_bound(self) -> float:
        return self.base.upper_bound + self.shift

    @property
    def peak_mean(self) -> float:
        return self.base.peak_mean + self.shift

    def forecast(self, start: int, n: int) -> np.ndarray:
        return self.base.forecast(start, n) + self.shift

    def sample(self, rng: np.random.Generator, start: int, n: int) -> np.ndarray:
        return self.base.sample(rng, start, n) + self.shift


# -- continuous families (lead times and inter-arrival times in continuous time) -------------------
class _Continuous(_Base):
    """Shared answers of the continuous families: real draws, unbounded unless said."""

    integer: ClassVar[bool] = False

    @property
    def constant(self) -> float | None:
        return float(self.mean) if self.variance == 0 else None

    @property
    def upper_bound(self) -> float:
        c = self.constant
        return math.inf if c is None else c


@dataclass(frozen=True, slots=True)
class Exponential(_Continuous):
    """Exponential with the given mean [1/rate]: memoryless lead or inter-arrival times."""

    mean: float
    kind: ClassVar[str] = "exponential"

    def __post_init__(self) -> None:
        _check(_finite("mean", self.mean) >= 0, f"mean(={self.mean}) must be >= 0")

    @property
    def variance(self) -> float:
        return float(self.mean) ** 2

    def sample(self, rng: np.random.Generator, start: int, n: int) -> np.ndarray:
        return rng.exponential(self.mean, n) if self.mean > 0 else np.zeros(n)


@dataclass(frozen=True, slots=True)
class Gamma(_Continuous):
    """Gamma by mean and shape k (scale = mean / k; variance = mean**2 / k).

    Shape 1 is the exponential; a large shape approaches the constant ``mean``.
    """

    mean: float
    shape: float
    kind: ClassVar[str] = "gamma"

    def __post_init__(self) -> None:
        _check(_finite("mean", self.mean) >= 0, f"mean(={self.mean}) must be >= 0")
        _check(_finite("shape", self.shape) > 0, f"shape(={self.shape}) must be > 0")

    @property
    def variance(self) -> float:
        return float(self.mean) ** 2 / float(self.shape)

    def sample(self, rng: np.random.Generator, start: int, n: int) -> np.ndarray:
        if self.mean == 0:
            return np.zeros(n)
        return rng.gamma(self.shape, self.mean / self.shape, n)


@dataclass(frozen=True, slots=True)
class Lognormal(_Continuous):
    """Lognormal given by its own mean and standard deviation (not those of its log)."""

    mean: float
    std: float = field()  # required (see Normal.std)
    kind: ClassVar[str] = "lognormal"

    def __post_init__(self) -> None:
        _check(_finite("mean", self.mean) > 0, f"mean(={self.mean}) must be > 0")
        _check(_finite("std", self.std) >= 0, f"std(={self.std}) must be >= 0")

    @property
    def variance(self) -> float:
        return float(self.std) ** 2

    def sample(self, rng: np.random.Generator, start: int, n: int) -> np.ndarray:
        sigma2 = math.log1p((self.std / self.mean) ** 2)
        return rng.lognormal(math.log(self.mean) - sigma2 / 2, math.sqrt(sigma2), n)


@dataclass(frozen=True, slots=True)
class ContinuousUniform(_Continuous):
    """Uniform on the real interval [low, high]."""

    low: float
    high: float
    kind: ClassVar[str] = "continuous_uniform"

    def __post_init__(self) -> None:
        low, high = _finite("low", self.low), _finite("high", self.high)
        _check(0 <= low <= high, f"need 0 <= low(={low}) <= high(={high})")

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    @property
    def variance(self) -> float:
        return (self.high - self.low) ** 2 / 12

    @property
    def upper_bound(self) -> float:
        return float(self.high)

    def sample(self, rng: np.random.Generator, start: int, n: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, n)


_KINDS: dict[str, type] = {
    c.kind: c
    for c in (
        Deterministic,
        Poisson,
        Geometric,
        NegativeBinomial,
        Normal,
        DiscreteUniform,
        Empirical,
        Trace,
        NonStationary,
        Shifted,
        Exponential,
        Gamma,
        Lognormal,
        ContinuousUniform,
    )
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
    if not isinstance(value, bool) and hasattr(value, "sample") and hasattr(value, "to_dict"):
        return value
    raise ValueError(f"not a distribution: {value!r}")
