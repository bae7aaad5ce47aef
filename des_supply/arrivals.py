"""Demand as arrival processes: the external demand of a node in a continuous-time network.

An arrival process says *when* customers come and *how many units* each asks for:

* :class:`PoissonProcess`: customers at ``rate`` per unit time, one unit each;
* :class:`CompoundPoisson`: customers at ``rate`` per unit time, a batch of ``size``
  units each (any distribution of :mod:`des_supply.distributions`);
* :class:`Renewal`: i.i.d. times between customers drawn from ``interarrival`` (any
  distribution: :class:`~des_supply.distributions.Gamma`, ``Empirical``, ...), a batch of
  ``size`` units each;
* :class:`ArrivalTrace`: recorded timestamps and sizes (from arrays or a CSV file).

``sampler(rng)`` gives an :class:`ArrivalSampler` that yields ``(gap, units)`` pairs,
the time since the previous customer and the units asked, drawn in blocks from the one
generator of the node's demand stream, so that the k-th customer is the same whatever
the policy (common random numbers).  Each process answers ``mean`` (units per unit
time), ``variance`` (of the units asked per unit time, long-run: for the renewal
process, the renewal-reward asymptotic), ``integer`` (whole units), and round-trips
through ``to_dict`` / :func:`arrival_from_dict` like the distributions.
"""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .distributions import Deterministic, Distribution, as_distribution, distribution_from_dict

if TYPE_CHECKING:
    from typing_extensions import TypeIs

__all__ = [
    "ARRIVAL_KINDS",
    "ArrivalProcess",
    "ArrivalSampler",
    "ArrivalTrace",
    "CompoundPoisson",
    "PoissonProcess",
    "Renewal",
    "arrival_from_dict",
    "is_arrival_process",
]

BLOCK = 256  # draws per block: the k-th arrival never depends on how the engine asked


def _positive(name: str, value: Any) -> float:
    if isinstance(value, (str, bytes, bool)) or not isinstance(value, (int, float, np.number)):
        raise ValueError(f"{name}(={value!r}) must be a number")
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}(={value}) must be > 0 and finite")
    return value


class ArrivalSampler:
    """The ``(gap, units)`` of successive customers of one process, drawn in blocks."""

    __slots__ = ("_draw", "_gaps", "_i", "_sizes")

    def __init__(self, draw: Any) -> None:
        self._draw = draw  # () -> (gaps, sizes) arrays of one block, or None at the end
        self._gaps: list[float] = []
        self._sizes: list[float] = []
        self._i = 0

    def next(self) -> tuple[float, float] | None:
        """The next customer's gap and units, or None when the process has ended."""
        if self._i >= len(self._gaps):
            block = self._draw()
            if block is None:
                return None
            self._gaps, self._sizes = block[0].tolist(), block[1].tolist()
            self._i = 0
            if not self._gaps:
                return None
        i = self._i
        self._i = i + 1
        return self._gaps[i], self._sizes[i]


class _Process:
    """Shared dict round trip and the answers every process gives."""

    kind: ClassVar[str] = ""

    if TYPE_CHECKING:  # what the dataclass subclasses provide
        __dataclass_fields__: ClassVar[dict[str, Any]]

        @property
        def mean(self) -> float: ...

        @property
        def variance(self) -> float: ...

    @property
    def peak_mean(self) -> float:
        return self.mean

    @property
    def std(self) -> float:
        return math.sqrt(self.variance)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind}
        for f in fields(self):
            value = getattr(self, f.name)
            if hasattr(value, "to_dict"):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out


#: Families indexed by period: drawn in blocks from period 0 they would repeat, so they
#: are refused as batch sizes or inter-arrival times (use an ArrivalTrace for recorded data).
PERIOD_FAMILIES = ("trace", "nonstationary")


def _stationary(name: str, value: Any) -> Distribution:
    dist = as_distribution(value)
    if dist.kind in PERIOD_FAMILIES:
        raise ValueError(
            f"{name} must be a stationary distribution, not {dist.kind!r} (indexed "
            "by period); record customers with an arrival_trace"
        )
    return dist


@dataclass(frozen=True, slots=True)
class CompoundPoisson(_Process):
    """Customers at ``rate`` per unit time [lambda], each asking for a draw of ``size`` units."""

    rate: float
    size: Distribution = field(default_factory=lambda: Deterministic(1))
    kind: ClassVar[str] = "compound_poisson"

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate", _positive("rate", self.rate))
        object.__setattr__(self, "size", _stationary("size", self.size))

    @property
    def integer(self) -> bool:
        return self.size.integer

    @property
    def mean(self) -> float:
        return self.rate * self.size.mean

    @property
    def variance(self) -> float:
        return self.rate * (self.size.variance + self.size.mean**2)  # rate x E[size^2]

    def sampler(self, rng: np.random.Generator) -> ArrivalSampler:
        scale, size = 1.0 / self.rate, self.size
        return ArrivalSampler(lambda: (rng.exponential(scale, BLOCK), size.sample(rng, 0, BLOCK)))


@dataclass(frozen=True, slots=True)
class PoissonProcess(_Process):
    """Unit demands at ``rate`` per unit time [lambda]: the textbook continuous-review demand."""

    rate: float
    kind: ClassVar[str] = "poisson_process"
    integer: ClassVar[bool] = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate", _positive("rate", self.rate))

    @property
    def mean(self) -> float:
        return self.rate

    @property
    def variance(self) -> float:
        return self.rate

    def sampler(self, rng: np.random.Generator) -> ArrivalSampler:
        scale, ones = 1.0 / self.rate, np.ones(BLOCK)
        return ArrivalSampler(lambda: (rng.exponential(scale, BLOCK), ones))


@dataclass(frozen=True, slots=True)
class Renewal(_Process):
    """Times between customers i.i.d. from ``interarrival`` [time units], ``size`` units each.

    The first customer comes one inter-arrival time after 0 (an ordinary renewal process).
    """

    interarrival: Distribution
    size: Distribution = field(default_factory=lambda: Deterministic(1))
    kind: ClassVar[str] = "renewal"

    def __post_init__(self) -> None:
        object.__setattr__(self, "interarrival", _stationary("interarrival", self.interarrival))
        object.__setattr__(self, "size", _stationary("size", self.size))
        if not self.interarrival.mean > 0:
            raise ValueError(f"interarrival mean(={self.interarrival.mean}) must be > 0")

    @property
    def integer(self) -> bool:
        return self.size.integer

    @property
    def rate(self) -> float:
        """Customers per unit time in the long run, 1 / E[interarrival]."""
        return 1.0 / self.interarrival.mean

    @property
    def mean(self) -> float:
        return self.size.mean / self.interarrival.mean

    @property
    def variance(self) -> float:
        """Long-run variance per unit time of the units asked (renewal-reward theorem)."""
        m, var_x = self.interarrival.mean, self.interarrival.variance
        mu_b, var_b = self.size.mean, self.size.variance
        return (var_b + mu_b**2 * var_x / m**2) / m

    def sampler(self, rng: np.random.Generator) -> ArrivalSampler:
        gaps, size = self.interarrival, self.size
        return ArrivalSampler(lambda: (gaps.sample(rng, 0, BLOCK), size.sample(rng, 0, BLOCK)))


@dataclass(frozen=True, slots=True)
class ArrivalTrace(_Process):
    """Recorded customers: ``times`` (non-decreasing, >= 0) and ``sizes`` (default 1 each).

    The trace ends after its last customer (no more demand at that node).  ``mean`` is the
    units asked per unit time up to the last timestamp.
    """

    times: tuple[float, ...]
    sizes: tuple[float, ...] = ()
    kind: ClassVar[str] = "arrival_trace"

    def __post_init__(self) -> None:
        times = tuple(float(t) for t in self.times)
        sizes = tuple(float(q) for q in self.sizes) or (1.0,) * len(times)
        if not times:
            raise ValueError("an arrival trace needs at least one timestamp")
        if len(sizes) != len(times):
            raise ValueError(f"sizes has {len(sizes)} entries, times has {len(times)}")
        if (
            not all(math.isfinite(t) for t in times)
            or times[0] < 0
            or any(b < a for a, b in itertools.pairwise(times))
        ):
            raise ValueError("times must be finite, >= 0 and non-decreasing")
        if not all(math.isfinite(q) and q >= 0 for q in sizes):
            raise ValueError("sizes must be finite and >= 0")
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "sizes", sizes)

    @property
    def integer(self) -> bool:
        return all(q.is_integer() for q in self.sizes)

    @property
    def mean(self) -> float:
        return sum(self.sizes) / self.times[-1] if self.times[-1] > 0 else math.inf

    @property
    def variance(self) -> float:
        return float(np.var(self.sizes)) * len(self.sizes) / max(self.times[-1], 1e-300)

    def sampler(self, rng: np.random.Generator) -> ArrivalSampler:
        gaps = np.diff(np.asarray(self.times), prepend=0.0)
        blocks: Iterator[tuple[np.ndarray, np.ndarray]] = iter([(gaps, np.asarray(self.sizes))])
        return ArrivalSampler(lambda: next(blocks, None))

    @classmethod
    def from_csv(
        cls, path: str | Path, time: str | int = 0, size: str | int | None = None
    ) -> ArrivalTrace:
        """Read a timestamp column and optionally a size column (by header name or index)."""
        try:
            with open(path, newline="") as fh:
                rows = [r for r in csv.reader(fh) if r]
        except OSError as exc:
            raise ValueError(f"cannot read {path}: {exc.strerror}") from None
        if not rows:
            raise ValueError(f"{path}: empty CSV file")
        header = rows[0]

        def index(column: str | int) -> int:
            if isinstance(column, str) and not column.isdigit():
                if column not in header:
                    raise ValueError(f"{path}: no column {column!r} (columns: {', '.join(header)})")
                return header.index(column)
            return int(column)

        cols = [index(time)] + ([] if size is None else [index(size)])
        try:
            float(header[cols[0]])
            body = rows  # no header row
        except (ValueError, IndexError):
            body = rows[1:]
        try:
            table = [[float(r[j]) for j in cols] for r in body]
        except (ValueError, IndexError) as exc:
            raise ValueError(f"{path}: a column is not numeric: {exc}") from None
        times = tuple(r[0] for r in table)
        return cls(times, tuple(r[1] for r in table) if size is not None else ())


ArrivalProcess = PoissonProcess | CompoundPoisson | Renewal | ArrivalTrace
#: Arrival-process classes by their ``type`` key.
ARRIVAL_KINDS: dict[str, type] = {
    c.kind: c for c in (PoissonProcess, CompoundPoisson, Renewal, ArrivalTrace)
}


def is_arrival_process(value: object) -> TypeIs[ArrivalProcess]:
    return isinstance(value, tuple(ARRIVAL_KINDS.values()))


def arrival_from_dict(data: dict[str, Any]) -> ArrivalProcess:
    """Rebuild an arrival process from :meth:`to_dict` output (no code is executed)."""
    if not isinstance(data, dict) or data.get("type") not in ARRIVAL_KINDS:
        raise ValueError(
            f"an arrival process must be a dict with 'type' one of "
            f"{', '.join(ARRIVAL_KINDS)}, got {data!r}"
        )
    kind = data["type"]
    kwargs = {k: v for k, v in data.items() if k != "type"}
    try:
        for key in ("size", "interarrival"):
            if isinstance(kwargs.get(key), dict):
                kwargs[key] = distribution_from_dict(kwargs[key])
        for key in ("times", "sizes"):
            if key in kwargs:
                if not isinstance(kwargs[key], (list, tuple)):
                    raise ValueError(f"{key} must be a list of numbers")
                kwargs[key] = tuple(kwargs[key])
        return ARRIVAL_KINDS[kind](**kwargs)
    except TypeError as exc:
        raise ValueError(f"bad parameters for arrival process {kind!r}: {exc}") from None
