"""Wagner-Whitin dynamic program for uncapacitated lot sizing.

Deterministic demand ``d_t`` over periods t = 0, ..., T-1, no backorders, no
initial stock.  An order in period t costs ``K_t`` (if positive) plus ``c_t``
per unit and arrives at once; each unit on hand at the end of period t costs
``h_t``.  Some optimal plan orders only when stock runs out ("zero-inventory
ordering"), so each order covers the demand of consecutive periods i, ..., j-1,
and the optimal cost of periods 0, ..., j-1 satisfies (Wagner & Whitin 1958;
Snyder & Shen 2nd ed., eq. (3.39) and Algorithm 3.1, here run forward)

    F(j) = min_{i < j} { F(i) + K_i + c_i sum_{t=i}^{j-1} d_t
                         + sum_{t=i}^{j-2} h_t sum_{u=t+1}^{j-1} d_u },   F(0) = 0,

with no setup charged for a block whose demand is zero.  ``F(T)`` is the
optimal cost; the plan is read back from the minimising ``i``.  O(T^2) time.

References
----------
H. M. Wagner and T. M. Whitin, Dynamic version of the economic lot size model,
*Management Science* 5(1):89-96, 1958.

Example (Snyder & Shen Example 3.9):

>>> plan = wagner_whitin([90, 120, 80, 70], fixed_cost=500, holding_cost=2)
>>> plan.total_cost, plan.orders
(1380.0, (210.0, 0.0, 150.0, 0.0))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["LotSizingPlan", "wagner_whitin"]


@dataclass(frozen=True, slots=True)
class LotSizingPlan:
    """An optimal order plan and its cost."""

    total_cost: float  # $ over the horizon [F(T)]
    orders: tuple[float, ...]  # units ordered in each period [Q_t]
    ending_inventory: tuple[float, ...]  # units on hand at the end of each period [I_t]

    @property
    def order_periods(self) -> tuple[int, ...]:
        """Periods (0-based) with a positive order."""
        return tuple(t for t, q in enumerate(self.orders) if q > 0)


def _per_period(value: float | Sequence[float], T: int, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        arr = np.full(T, float(arr))
    if arr.shape != (T,):
        raise ValueError(f"{name} must be a number or a sequence of {T} values (one per period)")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name}(={arr.tolist()}) must be finite and >= 0")
    return arr


def wagner_whitin(
    demand: Sequence[float],
    fixed_cost: float | Sequence[float],
    holding_cost: float | Sequence[float],
    unit_cost: float | Sequence[float] = 0.0,
) -> LotSizingPlan:
    """Optimal lot sizes for deterministic, time-varying demand.

    Parameters
    ----------
    demand : sequence of float
        Demand per period [d_t], >= 0, at least one period.
    fixed_cost : float or sequence
        Setup cost per order [K or K_t], >= 0.
    holding_cost : float or sequence
        Cost per unit held at the end of a period [h or h_t], >= 0.
    unit_cost : float or sequence
        Purchase cost per unit [c or c_t], >= 0 (matters only if it varies).
    """
    d = np.asarray(demand, dtype=float).ravel()
    T = d.size
    if T == 0:
        raise ValueError("demand must have at least one period")
    if not np.all(np.isfinite(d)) or np.any(d < 0):
        raise ValueError(f"demand(={d.tolist()}) must be finite and >= 0")
    K = _per_period(fixed_cost, T, "fixed_cost")
    h = _per_period(holding_cost, T, "holding_cost")
    c = _per_period(unit_cost, T, "unit_cost")

    # H[t] = h_0 + ... + h_{t-1}: holding cost of carrying one unit from period 0 to t;
    # a unit for period t ordered in period i is held in periods i, ..., t-1 (H[t] - H[i]).
    H = np.concatenate([[0.0], np.cumsum(h)])
    D = np.concatenate([[0.0], np.cumsum(d)])  # D[t] = d_0 + ... + d_{t-1}
    DH = np.concatenate([[0.0], np.cumsum(d * H[:T])])  # DH[t] = sum_{u<t} d_u H[u]
    F = np.full(T + 1, math.inf)
    F[0] = 0.0
    best = np.zeros(T + 1, dtype=int)
    for j in range(1, T + 1):
        for i in range(j):
            total = D[j] - D[i]
            setup = K[i] if total > 0 else 0.0
            carry = (DH[j] - DH[i]) - H[i] * total
            cost = F[i] + setup + c[i] * total + carry
            if cost < F[j]:
                F[j], best[j] = cost, i

    orders = np.zeros(T)
    j = T
    while j > 0:
        i = best[j]
        orders[i] = d[i:j].sum()
        j = i
    ending = np.cumsum(orders - d)
    ending[np.abs(ending) < 1e-9 * max(1.0, d.sum())] = 0.0
    return LotSizingPlan(float(F[T]), tuple(orders.tolist()), tuple(ending.tolist()))
