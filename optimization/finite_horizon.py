"""Finite-horizon dynamic program for a single-stage backlog model.

Periods t = 0, ..., n-1 with independent, non-stationary integer demand ``D_t``.
At the start of period t, with inventory position ``x``, order up to ``y >= x``
at cost ``K 1{y > x} + c (y - x)``; the order arrives ``L`` periods later, and
the holding/backorder cost it settles is that of the end of period t + L.  The
Bellman equation (Snyder & Shen 2nd ed., Ch. 4, finite-horizon model; Scarf
1960 for the (s, S) structure) is

    v_t(x) = min_{y >= x} { K 1{y > x} + c (y - x) + G_t(y) + gamma E[v_{t+1}(y - D_t)] },
    G_t(y) = gamma^L E[h (y - D_t - ... - D_{t+L})^+ + p (D_t + ... + D_{t+L} - y)^+],
    v_T(x) = gamma^L E[h_T (x - D_T - ... - D_{n-1})^+ + p_T (D_T + ... + D_{n-1} - x)^+],

for the ``T = n - L`` decision periods; costs of period u are discounted by
``gamma^u`` and the terminal cost by ``gamma^n``.  This is the engine's
``order_timing="order-before-demand"`` with ``obs.t`` the period index.  With
``L = 0`` it is the textbook model with terminal cost ``h_T x^+ + p_T x^-``;
with ``L > 0`` it is the usual reduction of the backlog model to the inventory
position: the costs of periods 0, ..., L-1 are fixed by the initial pipeline
and are not included, no orders are placed in the last L periods (they could
not arrive), and the terminal cost is charged on the inventory level at the
end of period n-1.

Writing ``W_t(y) = c y + G_t(y) + gamma E[v_{t+1}(y - D_t)]``, the optimal
policy is (s_t, S_t): ``S_t`` minimises ``W_t`` and one orders up to ``S_t``
exactly when ``x <= s_t``, the largest ``x < S_t`` with ``W_t(x) > K + W_t(S_t)``
(ties: do not order).  With ``K = 0``, ``s_t = S_t - 1`` (base-stock levels).

The program runs on the integers reachable from ``initial_inventory``: the
lowest is ``initial_inventory - (sum of the largest demands)`` and the highest
order-up-to level considered is ``max(initial_inventory, 0) +`` (sum of the
largest demands); unbounded demand is cut at upper tail 1e-16.  No
extrapolation is used, so the result is exact on every reachable state.  A
reorder point below the reachable states is reported as the lowest reachable
state minus one (the policy never orders from it anyway).

Example (stationary Poisson(5) demand, h=1, p=9, K=0: early levels equal the
newsvendor level F^{-1}(0.9) = 8):

>>> r = finite_horizon([5.0] * 6, holding=1.0, penalty=9.0, initial_inventory=0)
>>> r.base_stock_levels[:3]
(8, 8, 8)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real
from typing import TYPE_CHECKING, Any

import numpy as np

from ._pmf import as_pmf, convolve_all, newsvendor_cost, poisson_pmf
from .memory import check_memory

if TYPE_CHECKING:
    from des_supply.sim import Observation

__all__ = ["FiniteHorizonResult", "TimeVaryingSS", "finite_horizon"]


@dataclass(frozen=True, slots=True)
class TimeVaryingSS:
    """(s_t, S_t) policy indexed by the period ``obs.t`` (0-based).

    At period t every deciding node with inventory position ``<= s[t]`` orders
    up to ``S[t]``; after the last period the last pair is kept.
    """

    s: tuple[float, ...]  # [s_t] reorder points
    S: tuple[float, ...]  # [S_t] order-up-to levels

    def __post_init__(self) -> None:
        s, S = tuple(float(v) for v in self.s), tuple(float(v) for v in self.S)
        if not S or len(s) != len(S):
            raise ValueError(
                f"s and S must be non-empty and of equal length (got {len(s)} and {len(S)})"
            )
        for t, (lo, hi) in enumerate(zip(s, S, strict=True)):
            if math.isnan(lo) or not math.isfinite(hi) or lo >= hi:
                raise ValueError(f"period {t}: need s < S (got s={lo}, S={hi})")
        object.__setattr__(self, "s", s)
        object.__setattr__(self, "S", S)

    def act(self, obs: Observation) -> dict[str, float]:
        if obs.t < 0:
            raise ValueError(f"obs.t(={obs.t}) must be >= 0")
        t = min(int(obs.t), len(self.S) - 1)
        orders = {}
        for node in obs.deciding:
            ip = obs.inventory_position(node)
            orders[node] = self.S[t] - ip if ip <= self.s[t] else 0.0
        return orders


@dataclass(frozen=True, slots=True)
class FiniteHorizonResult:
    """Optimal time-dependent (s_t, S_t) policy and its expected cost."""

    reorder_points: tuple[int, ...]  # [s_t], one per decision period
    order_up_to_levels: tuple[int, ...]  # [S_t]
    expected_cost: float  # [v_0(x_0)] $ over the horizon
    initial_inventory: int  # [x_0] units

    @property
    def base_stock_levels(self) -> tuple[int, ...]:
        """``S_t``; the whole policy when the fixed cost is 0 (then ``s_t = S_t - 1``)."""
        return self.order_up_to_levels

    def policy(self) -> TimeVaryingSS:
        """Engine policy: period t orders up to ``S_t`` when the position is ``<= s_t``."""
        return TimeVaryingSS(self.reorder_points, self.order_up_to_levels)


#: Peak bytes per inventory position of the backward induction (v, W, the levels, their
#: running minimum and the convolution: about a dozen float arrays, estimated).
BYTES_PER_POINT = 96


def _check_size(points: float, what: str, memory_limit: float | None) -> None:
    check_memory(
        BYTES_PER_POINT * points,
        f"the finite-horizon DP ({what}: about {points:,.0f} inventory positions)",
        "lower the demand means or the number of periods, or start nearer 0 (initial_inventory)",
        memory_limit,
    )


def _period_pmfs(demand: Sequence[Any], memory_limit: float | None) -> list[np.ndarray]:
    if isinstance(demand, (str, bytes)) or not isinstance(demand, Sequence) or len(demand) == 0:
        raise ValueError("demand must be a non-empty sequence with one entry per period")
    means = [float(d) for d in demand if isinstance(d, Real)]
    # Poisson supports (mean + ~9 sd for a 1e-16 tail), checked before their pmfs exist
    _check_size(
        sum(m + 10 * math.sqrt(max(m, 0.0)) + 10 for m in means if math.isfinite(m)),
        "the Poisson demands' supports",
        memory_limit,
    )
    out = []
    for t, d in enumerate(demand):
        out.append(poisson_pmf(float(d)) if isinstance(d, Real) else as_pmf(d, f"demand[{t}]"))
    return out


def _check(name: str, value: float, positive: bool = False, upper: float = math.inf) -> float:
    v = float(value)
    if not math.isfinite(v) or v < 0 or (positive and v == 0) or v > upper:
        bound = "> 0" if positive else ">= 0"
        raise ValueError(
            f"{name}(={value}) must be a finite number {bound}"
            + (f" and <= {upper}" if math.isfinite(upper) else "")
        )
    return v


def finite_horizon(
    demand: Sequence[Any],
    holding: float,
    penalty: float,
    *,
    fixed_cost: float = 0.0,
    unit_cost: float = 0.0,
    terminal_holding: float = 0.0,
    terminal_penalty: float = 0.0,
    discount: float = 1.0,
    lead_time: int = 0,
    initial_inventory: int = 0,
    memory_limit: float | None = None,
) -> FiniteHorizonResult:
    """Optimal (s_t, S_t) policy of the finite-horizon backlog model by backward induction.

    Parameters
    ----------
    demand : sequence
        One entry per period: a Poisson mean (a number), or a discrete
        distribution (frozen scipy distribution, mapping ``{value: prob}`` or
        sequence of probabilities of 0, 1, ...).  ``n = len(demand)`` periods.
    holding, penalty : float
        Holding [h] >= 0 and backorder [p] > 0 cost per unit per period.
    fixed_cost, unit_cost : float
        Fixed [K] and per-unit [c] ordering cost, >= 0.
    terminal_holding, terminal_penalty : float
        Cost per unit on hand [h_T] / backordered [p_T] at the end of the horizon, >= 0.
    discount : float
        Discount factor per period [gamma], in (0, 1].
    lead_time : int
        Periods from ordering to arrival [L] >= 0; there are ``n - L >= 1`` decision periods.
    initial_inventory : int
        Inventory position at the start of period 0 [x_0].
    memory_limit : float, optional
        Bytes; a larger program raises :class:`~optimization.memory.SizeLimitError`
        before allocating (default: see :mod:`optimization.memory`).
    """
    f = _period_pmfs(demand, memory_limit)
    h = _check("holding", holding)
    p = _check("penalty", penalty, positive=True)
    K = _check("fixed_cost", fixed_cost)
    c = _check("unit_cost", unit_cost)
    hT = _check("terminal_holding", terminal_holding)
    pT = _check("terminal_penalty", terminal_penalty)
    gamma = _check("discount", discount, positive=True, upper=1.0)
    if int(lead_time) != lead_time or lead_time < 0:
        raise ValueError(f"lead_time(={lead_time}) must be an integer >= 0")
    if int(initial_inventory) != initial_inventory:
        raise ValueError(f"initial_inventory(={initial_inventory}) must be an integer")
    L, x0, n = int(lead_time), int(initial_inventory), len(f)
    T = n - L
    if T < 1:
        raise ValueError(f"lead_time(={L}) leaves no decision period in {n} periods of demand")

    dmax = [pmf.size - 1 for pmf in f]
    z_lo = x0 - sum(dmax[:T])  # lowest reachable inventory position
    z_hi = max(x0, 0) + sum(dmax) + 1  # highest order-up-to level considered
    _check_size(z_hi - z_lo + 1, "the reachable inventory positions", memory_limit)

    # v_T on [z_lo, z_hi]
    pmf_rest = convolve_all(f[T:])
    lo = z_lo
    v = gamma**L * newsvendor_cost(pmf_rest, hT, pT, np.arange(lo, z_hi + 1))

    s_out, S_out = [0] * T, [0] * T
    for t in range(T - 1, -1, -1):
        # E[v_{t+1}(y - D_t)] for y in [lo + dmax_t, z_hi]
        ev = np.convolve(v, f[t], mode="valid")
        lo += dmax[t]
        y = np.arange(lo, z_hi + 1)
        lead_pmf = convolve_all(f[t : t + L + 1])
        W = c * y + gamma**L * newsvendor_cost(lead_pmf, h, p, y) + gamma * ev
        i_S = int(np.argmin(W))
        tol = 1e-9 * max(1.0, float(np.abs(W[i_S])))
        better = np.nonzero(W[:i_S] > K + W[i_S] + tol)[0]
        S_out[t] = int(y[i_S])
        s_out[t] = int(y[better[-1]]) if better.size else int(lo - 1)
        best_above = np.minimum.accumulate(W[::-1])[::-1]  # min_{y' >= y} W(y')
        v = np.minimum(W, K + best_above) - c * y
    assert lo == x0
    return FiniteHorizonResult(tuple(s_out), tuple(S_out), float(v[0]), x0)
