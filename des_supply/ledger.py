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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

__all__ = ["COST_FIELDS", "FIELDS", "Ledger", "total_cost"]

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
    initial_on_hand: np.ndarray  # per node, before period 0
    initial_pipeline: np.ndarray  # per node, units scheduled before period 0

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
        data = {f: np.ascontiguousarray(table[:, :, i]) for i, f in enumerate(FIELDS)}
        return cls(nodes, data, objective, initial_on_hand, initial_pipeline)

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

    def conservation_residual(self) -> np.ndarray:
        """Per period and node: on hand - (previous on hand + received - shipped - sales).

        Zero up to rounding when every unit is accounted for.
        """
        on_hand = self.data["on_hand"]
        previous = np.vstack([self.initial_on_hand[None, :], on_hand[:-1]])
        flow = self.data["received"] - self.data["shipped"] - self.data["sales"]
        return on_hand - (previous + flow)
