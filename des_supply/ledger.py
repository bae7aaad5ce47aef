"""The ledger of a run: per period and node, units and money, as numpy arrays.

Fields (shape ``(periods, nodes)``; units are in each node's own item):

========================  ===================================================================
``on_hand``               units on hand at the end of the period
``backlog``               units owed (to external customers and downstream nodes) at period end
``lost``                  units of demand or downstream orders lost this period
``in_transit``            units in transit to the node (or waiting for assembly) at period end
``ordered``               units ordered this period
``received``              units added to stock this period (arrivals; assembled units)
``shipped``               units shipped to downstream nodes this period
``demand``                external demand this period
``sales``                 units delivered to external customers this period (incl. backlog)
``served``                external demand of this period met from stock at once
``holding_cost``          holding cost on ``on_hand``
``shortage_cost``         backlog penalty on ``backlog`` or lost-sales penalty on ``lost``
``fixed_cost``            fixed ordering cost
``variable_cost``         per-unit ordering cost plus per-unit cost of units shipped in
``transit_cost``          holding cost on units in transit or waiting for assembly
``revenue``               price times ``sales``
``order_cut``             units of this period's orders not placed: cut by the order
                          ``capacity`` or the ``storage_capacity`` (after rounding to whole
                          units)
``capacity_short``        units requested of the node this period (new orders of downstream
                          nodes) that its stock could have covered but its shipping capacity
                          (a supply node's ``capacity``, a stocking node's
                          ``shipping_capacity``) did not; they were backlogged or lost by its
                          shortage rule (and show in ``backlog`` or ``lost`` too)
========================  ===================================================================
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

__all__ = ["COST_FIELDS", "FIELDS", "Ledger", "LedgerSummary", "total_cost"]

FIELDS = (
    "on_hand",
    "backlog",
    "lost",
    "in_transit",
    "ordered",
    "received",
    "shipped",
    "demand",
    "sales",
    "served",
    "holding_cost",
    "shortage_cost",
    "fixed_cost",
    "variable_cost",
    "transit_cost",
    "revenue",
    "order_cut",
    "capacity_short",
)
#: Periods a ledger is summarised by at a time (:meth:`LedgerSummary.of_ledger`).
OF_LEDGER_CHUNK = 4096
COST_FIELDS = ("holding_cost", "shortage_cost", "fixed_cost", "variable_cost", "transit_cost")


def total_cost(data: Mapping[str, np.ndarray]) -> np.ndarray:
    """The sum of the :data:`COST_FIELDS` arrays of *data* (elementwise, in that order)."""
    return cast(np.ndarray, sum(data[f] for f in COST_FIELDS))  # arrays: COST_FIELDS is not empty


@dataclass(frozen=True)
class Ledger:
    """Per-period, per-node records of one run; ``data[field]`` has shape (periods, nodes)."""

    nodes: tuple[str, ...]
    data: dict[str, np.ndarray]
    objective: str  # "cost" or "profit"
    initial_on_hand: np.ndarray  # per node, before the first period (on hand at the end
    # of period start - 1 for a window)
    initial_pipeline: np.ndarray  # per node, units scheduled before period 0
    start: int = 0  # the run's period of the first row (a window of a longer run)

    @classmethod
    def from_rows(
        cls,
        nodes: tuple[str, ...],
        rows: Any,
        objective: str,
        initial_on_hand: np.ndarray,
        initial_pipeline: np.ndarray,
    ) -> Ledger:
        """Build from flat floats: one row of FIELDS per (period, node), period-major."""
        n = len(nodes)
        table = np.array(rows, dtype=float).reshape(-1, n, len(FIELDS))
        return cls(nodes, _columns(table), objective, initial_on_hand, initial_pipeline)

    def __getitem__(self, field: str) -> np.ndarray:
        try:
            return self.data[field]
        except KeyError:
            raise KeyError(f"no ledger field {field!r} (fields: {', '.join(FIELDS)})") from None

    @property
    def periods(self) -> int:
        return self.data["on_hand"].shape[0]

    def column(self, field: str, node: str) -> np.ndarray:
        """One node's series of *field*."""
        return self[field][:, self.nodes.index(node)]

    def cost(self) -> np.ndarray:
        """Total cost per period (summed over nodes)."""
        return total_cost(self.data).sum(axis=1)

    def profit(self) -> np.ndarray:
        return self.data["revenue"].sum(axis=1) - self.cost()

    def objective_series(self) -> np.ndarray:
        """Per-period cost or profit, whichever the run's objective is."""
        return self.cost() if self.objective == "cost" else self.profit()

    def to_dataframe(self) -> Any:
        """A long pandas DataFrame (period, node, fields...); needs pandas."""
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - exercised only without pandas
            raise ImportError("Ledger.to_dataframe needs pandas: pip install pandas") from None
        periods, n = self.data["on_hand"].shape
        frame = {"period": np.repeat(np.arange(periods), n), "node": np.tile(self.nodes, periods)}
        frame.update({f: self.data[f].ravel() for f in FIELDS})
        return pd.DataFrame(frame)

    def window(self, start: int, stop: int) -> Ledger:
        """The rows of the run's periods start..stop-1 (those there are) as a ledger of their
        own (``start`` set; ``initial_on_hand`` the on hand before them)."""
        lo, hi = max(start - self.start, 0), max(stop - self.start, 0)
        if not 0 <= start < stop:
            raise ValueError(f"window ({start}, {stop}) must have 0 <= start < stop")
        before = self.initial_on_hand if lo == 0 else self.data["on_hand"][lo - 1]
        return Ledger(
            self.nodes,
            {f: np.ascontiguousarray(v[lo:hi]) for f, v in self.data.items()},
            self.objective,
            np.array(before, dtype=float),
            self.initial_pipeline,
            start=self.start + lo,
        )

    def conservation_residual(self) -> np.ndarray:
        """Per period and node: on hand - (previous on hand + received - shipped - sales).

        Zero up to rounding when every unit is accounted for.
        """
        on_hand = self.data["on_hand"]
        previous = np.vstack([self.initial_on_hand[None, :], on_hand[:-1]])
        flow = self.data["received"] - self.data["shipped"] - self.data["sales"]
        return on_hand - (previous + flow)


def _columns(table: np.ndarray) -> dict[str, np.ndarray]:
    """Field arrays (periods, nodes) of a table (periods, nodes, FIELDS): one transposed copy,
    each field a C-contiguous slice of it."""
    fields = np.ascontiguousarray(table.transpose(2, 0, 1))
    return {f: fields[i] for i, f in enumerate(FIELDS)}


def objective_per_period(data: dict[str, np.ndarray], objective: str) -> np.ndarray:
    """Cost (or profit) per period summed over nodes, as :meth:`Ledger.objective_series`."""
    cost = total_cost(data).sum(axis=1)
    return cost if objective == "cost" else data["revenue"].sum(axis=1) - cost


def _running_sum(total: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``total + rows[0] + rows[1] + ...`` added one row after the other (so a sum built chunk
    by chunk is the sum built at once, bit for bit)."""
    if not len(rows):
        return total
    return np.add.accumulate(np.concatenate([total[None], rows]), axis=0)[-1]


@dataclass
class LedgerSummary:
    """Running summaries of a ledger after warm-up: what :func:`des_supply.evaluate.simulate`
    reports, kept as the run goes, so that memory does not grow with the horizon.

    Per node: the sum of every field (``sums[k]`` for ``FIELDS[k]``), of the cost fields
    (``node_cost``) and the periods with no stock-out (``in_stock``: served >= demand),
    over the periods from ``warmup`` on, added in period order.  ``series`` holds the
    objective (cost or profit) of each of those periods, 8 bytes a period: the mean and the
    batch means of a single replication are taken over it as over a full ledger's.  With a
    ``window=(start, stop)`` the rows of periods start..stop-1 are kept in full as well
    (:meth:`window_ledger`).  Summaries of a full ledger (:meth:`of_ledger`) equal those kept
    during the run bit for bit.
    """

    nodes: tuple[str, ...]
    objective: str
    warmup: int = 0
    window: tuple[int, int] | None = None
    initial_on_hand: np.ndarray = field(default_factory=lambda: np.zeros(0))
    initial_pipeline: np.ndarray = field(default_factory=lambda: np.zeros(0))
    periods: int = 0  # periods added so far, warm-up included
    sums: np.ndarray = field(init=False)
    node_cost: np.ndarray = field(init=False)
    in_stock: np.ndarray = field(init=False)
    series: array = field(init=False)
    _window_rows: list[np.ndarray] = field(init=False, repr=False)
    _window_on_hand: np.ndarray | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.warmup < 0:
            raise ValueError(f"warmup(={self.warmup}) must be >= 0")
        if self.window is not None:
            start, stop = self.window
            if not 0 <= start < stop:
                raise ValueError(
                    f"window(={self.window}) must be (start, stop) with 0 <= start < stop"
                )
        n = len(self.nodes)
        self.sums = np.zeros((len(FIELDS), n))
        self.node_cost = np.zeros(n)
        self.in_stock = np.zeros(n, dtype=np.int64)
        self.series = array("d")
        self._window_rows = []
        self._window_on_hand = None
        if self.window is not None and self.window[0] == 0:
            self._window_on_hand = np.asarray(self.initial_on_hand, dtype=float)

    @classmethod
    def of_ledger(
        cls, ledger: Ledger, warmup: int = 0, window: tuple[int, int] | None = None
    ) -> LedgerSummary:
        """The summary of a whole ledger (as if its rows had been added during the run)."""
        out = cls(
            ledger.nodes,
            ledger.objective,
            warmup,
            window,
            ledger.initial_on_hand,
            ledger.initial_pipeline,
        )
        for lo in range(0, ledger.periods, OF_LEDGER_CHUNK):  # bounded temporaries
            out.add(np.stack([ledger.data[f][lo : lo + OF_LEDGER_CHUNK] for f in FIELDS], axis=2))
        return out

    def add(self, table: np.ndarray) -> None:
        """Add the rows of the next periods: *table* has shape (periods, nodes, FIELDS)."""
        first = self.periods
        self.periods += len(table)
        if self.window is not None:
            self._keep_window(first, table)
        skip = max(0, self.warmup - first)
        if skip >= len(table):
            return
        table = table[skip:]
        data = _columns(table)
        # an overflow gives inf, as with Python floats (evaluate refuses the run, naming why)
        with np.errstate(over="ignore", invalid="ignore"):
            self.series.extend(objective_per_period(data, self.objective).tolist())
            self.sums = _running_sum(self.sums, np.ascontiguousarray(table.transpose(0, 2, 1)))
            self.node_cost = _running_sum(self.node_cost, total_cost(data))
        stocked = data["served"] >= data["demand"] - 1e-9
        self.in_stock = self.in_stock + stocked.sum(axis=0)

    def _keep_window(self, first: int, table: np.ndarray) -> None:
        start, stop = self.window  # type: ignore[misc]
        if first <= start - 1 < first + len(table):
            self._window_on_hand = table[start - 1 - first, :, FIELDS.index("on_hand")].copy()
        lo, hi = max(start, first), min(stop, first + len(table))
        if lo < hi:
            self._window_rows.append(table[lo - first : hi - first].copy())

    @property
    def counted(self) -> int:
        """Periods summed (after warm-up)."""
        return len(self.series)

    def field_sum(self, name: str) -> np.ndarray:
        """Per node: the sum of ledger field *name* over the periods counted."""
        try:
            return self.sums[FIELDS.index(name)]
        except ValueError:
            raise KeyError(f"no ledger field {name!r} (fields: {', '.join(FIELDS)})") from None

    def window_ledger(self) -> Ledger | None:
        """The rows of the window's periods as a :class:`Ledger` (``start`` says where it
        begins; ``initial_on_hand`` is the on hand before it); None without a window."""
        if self.window is None:
            return None
        n = len(self.nodes)
        rows = self._window_rows or [np.zeros((0, n, len(FIELDS)))]
        on_hand = self._window_on_hand
        return Ledger(
            self.nodes,
            _columns(np.concatenate(rows)),
            self.objective,
            np.zeros(n) if on_hand is None else on_hand,
            np.asarray(self.initial_pipeline, dtype=float),
            start=self.window[0],
        )
