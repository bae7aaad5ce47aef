"""Exact optimal (s, S) policy for discrete demand with a fixed ordering cost.

Periodic review, i.i.d. integer demand, backlogging, fixed cost ``K`` per order,
holding ``h`` and backorder ``p`` per unit per period, lead time ``L``.  At the
start of each period, if the inventory position is at or below ``s`` an order
raises it to ``S`` (the engine's :class:`~des_supply.policies.SS`, with
``order_timing="order-before-demand"``).

The long-run cost per period of (s, S) follows from renewal theory
(Zheng & Federgruen 1991; Snyder & Shen 2nd ed., Ch. 4, eqs. (4.71)-(4.75)):

    c(s, S) = [K + sum_{j=0}^{S-s-1} m(j) G(S - j)] / M(S - s),

where ``G(y) = E[h (y - D^{L+1})^+ + p (D^{L+1} - y)^+]`` is the expected
holding/backorder cost charged L periods after the inventory position was
``y`` (``D^{L+1}`` is the demand of ``L + 1`` periods), ``m(j)`` is the expected
number of periods in a cycle whose inventory position after ordering is
``S - j``, given by the renewal equation
``m(0) = 1 / (1 - f(0))``, ``m(j) = sum_{l=1}^{j} f(l) m(j - l) / (1 - f(0))``,
and ``M(n) = sum_{j<n} m(j)`` is the expected cycle length.

:func:`optimal_ss` is the Zheng-Federgruen algorithm (Snyder & Shen Algorithm
4.2): start from the newsvendor minimiser ``y*`` of ``G``, lower ``s``
until ``c(s, y*) <= G(s)``, then raise ``S`` while ``G(S) <= c*``, updating ``s``
whenever ``S`` improves.  It returns the optimal pair (ties go to the first one
found) and its exact cost.

References
----------
Y.-S. Zheng and A. Federgruen, Finding optimal (s, S) policies is about as simple
as evaluating a single policy, *Operations Research* 39(4):654-665, 1991.

Example (Snyder & Shen Example 4.7: h=1, p=4, K=5, Poisson(6) demand):

>>> from scipy.stats import poisson
>>> r = optimal_ss(1.0, 4.0, 5.0, poisson(6))
>>> r.reorder_point, r.order_up_to_level, round(r.expected_cost, 6)
(4, 10, 8.034112)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ._pmf import as_pmf, convolve_power, newsvendor_cost
from .memory import check_memory

if TYPE_CHECKING:
    from des_supply.policies import SS

__all__ = ["SSResult", "optimal_ss", "ss_cost"]


@dataclass(frozen=True, slots=True)
class SSResult:
    """Optimal (s, S) pair and its long-run expected cost per period."""

    reorder_point: int  # [s*] order when inventory position <= s*
    order_up_to_level: int  # [S*]
    expected_cost: float  # [c(s*, S*)] $ per period

    def policy(self) -> SS:
        """Engine policy :class:`~des_supply.policies.SS` with these parameters."""
        # imported here so that the optimizers run without the engine
        from des_supply.policies import SS

        return SS(self.reorder_point, self.order_up_to_level)


class _Model:
    """G(.) and the renewal quantities m(.), M(.) of one instance."""

    def __init__(
        self,
        holding: float,
        penalty: float,
        fixed_cost: float,
        demand: Any,
        lead_time: int,
        memory_limit: float | None = None,
    ) -> None:
        for name, value in (("holding", holding), ("penalty", penalty)):
            if not math.isfinite(float(value)) or float(value) <= 0:
                raise ValueError(f"{name}(={value}) must be a finite number > 0")
        if not math.isfinite(float(fixed_cost)) or float(fixed_cost) < 0:
            raise ValueError(f"fixed_cost(={fixed_cost}) must be a finite number >= 0")
        if int(lead_time) != lead_time or lead_time < 0:
            raise ValueError(f"lead_time(={lead_time}) must be an integer >= 0")
        self.h, self.p, self.K = float(holding), float(penalty), float(fixed_cost)
        check_support(demand, int(lead_time), memory_limit)
        self.f = as_pmf(demand)
        if self.f[0] >= 1.0 - 1e-12:
            raise ValueError("demand: P(D = 0) must be < 1, or the inventory position never drops")
        self.f_lead = convolve_power(self.f, int(lead_time) + 1)
        self.m = np.array([1.0 / (1.0 - self.f[0])])

    def G(self, y: Any) -> Any:
        out = newsvendor_cost(self.f_lead, self.h, self.p, np.asarray(y, dtype=float))
        return float(out) if np.ndim(out) == 0 else out

    def _grow(self, n: int) -> None:
        """Extend m(.) to length >= n by the renewal equation."""
        m, f = list(self.m), self.f
        for j in range(len(m), n):
            l_max = min(j, f.size - 1)
            acc = (
                float(np.dot(f[1 : l_max + 1], np.asarray(m[j - l_max : j][::-1])))
                if l_max
                else 0.0
            )
            m.append(acc / (1.0 - f[0]))
        self.m = np.asarray(m)

    def c(self, s: int, S: int) -> float:
        n = int(S) - int(s)
        if n < 1:
            raise ValueError(f"(s, S) = ({s}, {S}): need S > s")
        if self.m.size < n:
            self._grow(max(n, 2 * self.m.size))
        m = self.m[:n]
        return float((self.K + np.dot(m, self.G(S - np.arange(n)))) / m.sum())


#: Peak bytes per point of the demand's support over L + 1 periods (the pmfs, the levels
#: scanned, G on them, the renewal quantities m and M; a dozen float arrays, estimated).
BYTES_PER_POINT = 96


def check_support(demand: Any, lead_time: int, memory_limit: float | None = None) -> None:
    """Refuse a demand whose support over ``lead_time + 1`` periods would need arrays over
    the memory limit, before any pmf exists (a scipy law's support is read from its
    ``isf``; other forms are already arrays)."""
    if not hasattr(demand, "isf"):
        return
    top = float(demand.isf(1e-16))
    if not math.isfinite(top):
        top = float(demand.mean() + 60 * demand.std() + 60)
    points = (lead_time + 2) * (top + 1)
    check_memory(
        BYTES_PER_POINT * points,
        f"the (s, S) optimization (demand support of about "
        f"{points:,.0f} points over the lead time)",
        "lower the demand mean",
        memory_limit,
    )


def ss_cost(
    s: int,
    S: int,
    holding: float,
    penalty: float,
    fixed_cost: float,
    demand: Any,
    lead_time: int = 0,
) -> float:
    """Exact long-run expected cost per period ``c(s, S)`` of an (s, S) policy.

    Parameters are as in :func:`optimal_ss`; ``s < S`` are integers.
    """
    if int(s) != s or int(S) != S:
        raise ValueError(f"(s, S) = ({s}, {S}) must be integers")
    return _Model(holding, penalty, fixed_cost, demand, lead_time).c(int(s), int(S))


def optimal_ss(
    holding: float,
    penalty: float,
    fixed_cost: float,
    demand: Any,
    lead_time: int = 0,
    *,
    memory_limit: float | None = None,
) -> SSResult:
    """Optimal (s*, S*) by the Zheng-Federgruen (1991) algorithm.

    Parameters
    ----------
    holding : float
        Holding cost per unit per period [h], > 0.
    penalty : float
        Backorder cost per unit per period [p], > 0.
    fixed_cost : float
        Fixed cost per order [K], >= 0.
    demand : frozen scipy discrete distribution, mapping or sequence
        Demand per period on the integers >= 0, e.g. ``scipy.stats.poisson(6)``.
    lead_time : int
        Periods from ordering to arrival [L] (the relevant demand spans L + 1 periods).
    memory_limit : float, optional
        Bytes; a larger problem raises :class:`~optimization.memory.SizeLimitError`
        before allocating (default: see :mod:`optimization.memory`).
    """
    model = _Model(holding, penalty, fixed_cost, demand, lead_time, memory_limit)
    G, c = model.G, model.c
    # y*: smallest minimiser of the convex G, searched around the mean lead-time demand.
    ys = np.arange(model.f_lead.size + 1)
    y_star = int(ys[np.argmin(G(ys))])

    # Step 0: the best s for S = y*.
    S0, s = y_star, y_star - 1
    while c(s, S0) > G(s):
        s -= 1
    c0 = c(s, S0)

    # Step 1: raise S while it can still improve (G(S) <= c* bounds S*).
    S = S0 + 1
    while G(S) <= c0:
        if c(s, S) < c0:
            S0 = S
            while c(s, S0) <= G(s + 1):
                s += 1
            c0 = c(s, S0)
        S += 1
    return SSResult(int(s), int(S0), float(c0))
