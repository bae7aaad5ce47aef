"""Heuristics for the lost-sales model, each evaluated exactly on its Markov chain.

The numeric core behind :func:`optimization.lost_sales.heuristics`: it returns
order tables and parameters; :mod:`optimization.lost_sales` wraps them into
engine-runnable policies.  Heuristics (Zipkin 2008, "Old and new methods for
lost-sales inventory systems", OR 56(5), Sec. 3):

* **myopic** -- order the ``z`` that minimises the expected cost of the period in
  which it arrives, ``q(x, z) = E[c(y_L)]``, with ``y_L`` the stock on hand
  ``L`` periods ahead and ``c(y) = h E(y - D)^+ + p E(D - y)^+`` (plus ``K`` if
  ``z > 0``).
* **myopic-2** -- minimise ``q(x, z) + E[min_z' q(x_+, z')]``: the cost of the
  arrival period plus the best myopic cost of the next one.
* **best-base-stock** -- order up to ``S`` in inventory position; best integer ``S``.
* **capped-base-stock** -- ``min(r, (S - IP)^+)``; best integer ``(S, r)``
  (Xin 2021, "Understanding the performance of capped base-stock policies in
  lost-sales inventory models", OR 69(1)).
* **best-constant** -- order ``r`` every period; best integer ``r < E D``.  Its
  optimality gap vanishes as ``L`` grows (Reiman 2004; Goldberg et al. 2016,
  "Asymptotic optimality of constant-order policies for lost sales inventory
  models with large lead times", MOR 41(3)).
* **best-constant-rate** -- the same policy at a real-valued rate ``r < E D``,
  searched on a grid of step ``1/denominator`` (default 1/20).  With integer demand
  the orders stay whole units: the ``j``-th order is ``floor((j+1) r) - floor(j r)``,
  so the running total of orders tracks ``r t`` within one unit (how
  :class:`des_supply.policies.ConstantOrder` realises a fractional quantity).  At
  Poisson mean 5 a whole-unit constant order can only choose 4 (one unit lost per
  period on average); a rate such as 4.8 loses far less, which matters at large ``p``.

The searches over ``S`` and ``r`` are integer local searches (walk downhill, stop
after two non-improving steps); the cost curves are unimodal on every instance
we tried, but that is not proven.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import TypeVar

import numpy as np
from scipy import optimize

from .lost_sales_model import (
    ChainEvaluation,
    GridBlocks,
    LostSalesModel,
    StateSpace,
    Truncation,
    evaluate_orders,
    expect_next,
)

__all__ = [
    "base_stock_orders",
    "best_base_stock",
    "best_capped_base_stock",
    "best_constant",
    "best_constant_rate",
    "constant_order_bound",
    "constant_rate_pattern",
    "evaluate_constant",
    "evaluate_constant_rate",
    "evaluate_rule",
    "myopic_tables",
    "myopic_tables_blocks",
    "order_grid_costs",
    "pipeline_sums",
]

T = TypeVar("T")


def pipeline_sums(k: int, Z: int) -> np.ndarray:
    """Coordinate sums of the row-major grid ``{0..Z}^k``, flattened."""
    sums = np.zeros(1, dtype=np.int64)
    for _ in range(k):
        sums = (sums[:, None] + np.arange(Z + 1)[None, :]).ravel()
    return sums


def order_grid_costs(model: LostSalesModel, trunc: Truncation) -> np.ndarray:
    """Order costs on the grid ``[x_0, (x_1..x_{L-1}), z]`` (shape ``(S+1, R, Z+1)``):
    ``K`` if ``z > 0``, ``inf`` where the position after ordering would exceed ``S``."""
    S, Z, L = trunc.max_position, trunc.max_order, model.lead_time
    pos = (
        np.arange(S + 1)[:, None, None]
        + pipeline_sums(max(L - 1, 0), Z)[None, :, None]
        + np.arange(Z + 1)[None, None, :]
    )
    K = model.fixed_cost * (np.arange(Z + 1) > 0)
    return np.where(pos > S, np.inf, K[None, None, :])


def myopic_tables(model: LostSalesModel, trunc: Truncation) -> tuple[np.ndarray, np.ndarray]:
    """Dense order tables ``(myopic, myopic-2)`` on the truncated grid (-1 = no state)."""
    S, Z, L = trunc.max_position, trunc.max_order, model.lead_time
    M, c = model.outcomes(S + 1), model.period_cost(S + 1)
    if L == 0:
        w = np.arange(S + 1)[:, None] + np.arange(S + 1)[None, :]  # stock after ordering
        inside = w <= S
        K = model.fixed_cost * (np.arange(S + 1) > 0)
        q = np.where(inside, c[np.minimum(w, S)] + K, np.inf)
        qhat = q.min(axis=1)
        q2 = q + np.where(inside, (M @ qhat)[np.minimum(w, S)], np.inf)
        return q.argmin(axis=1), q2.argmin(axis=1)
    g = c[:, None]
    for _ in range(L):  # g(x_0, x_1, ..., x_L): expected cost when x_L arrives
        g = expect_next(g, M, Z).reshape(S + 1, -1)
    R = (Z + 1) ** (L - 1)
    q = g.reshape(S + 1, R, Z + 1) + order_grid_costs(model, trunc)
    feasible = np.isfinite(q[:, :, 0])
    qhat = np.where(feasible, q.min(axis=2), 0.0)
    nxt = expect_next(qhat, M, Z).reshape(S + 1, R, Z + 1)
    shape = (S + 1,) + (Z + 1,) * (L - 1)
    tables = []
    for obj in (q, q + nxt):
        tables.append(np.where(feasible, obj.argmin(axis=2), -1).reshape(shape))
    return tables[0], tables[1]


def myopic_tables_blocks(model: LostSalesModel, trunc: Truncation) -> tuple[np.ndarray, np.ndarray]:
    """:func:`myopic_tables` without whole-grid Q-values (``L >= 2``), for grids where those
    do not fit (L = 6 at Zipkin's penalties: 1.7 GiB per Q-value array).

    ``h(x) = E c(on hand when x_{L-1} arrives)`` lives on the state grid, and the myopic
    cost of ordering ``z`` is ``q(x, z) = E h(x_+)`` (``z`` is the last coordinate of
    ``x_+``, arriving L periods ahead), which :class:`GridBlocks` takes the expectation and
    minimum of block by block.  Myopic-2 is the same with ``h + qhat``,
    ``qhat(x) = min_z q(x, z)``.  Same tables as :func:`myopic_tables` (tests), up to the
    floating-point order of the sums.
    """
    L = model.lead_time
    if L < 2:
        raise ValueError(f"myopic_tables_blocks needs lead_time >= 2, not {L}")
    S, Z = trunc.max_position, trunc.max_order
    M, c = model.outcomes(S + 1), model.period_cost(S + 1)
    blocks = GridBlocks(model, trunc)
    h = c[:, None]
    for _ in range(L - 1):  # h(x_0, ..., x_{L-1}): expected cost when x_{L-1} arrives
        h = expect_next(h, M, Z).reshape(S + 1, -1)
    h = h.reshape(blocks.feasible.shape)
    shape = (S + 1,) + (Z + 1,) * (L - 1)
    first = blocks.argmin(h, blocks.grid(np.int64)).reshape(shape)
    qhat = blocks.bellman(h, np.zeros(S + 1), blocks.grid())  # min_z q(x, z), inf outside
    qhat[~blocks.feasible] = 0.0
    qhat += h
    second = blocks.argmin(qhat, blocks.grid(np.int64)).reshape(shape)
    return first, second


def evaluate_rule(
    model: LostSalesModel, trunc: Truncation, rule: Callable[[np.ndarray], np.ndarray]
) -> ChainEvaluation:
    """Exact cost of the rule ``orders = rule(states)`` on the truncated space."""
    space = StateSpace.build(model.lead_time, trunc)
    return evaluate_orders(model, space, rule(space.states))[0]


def base_stock_orders(states: np.ndarray, level: float, cap: float = math.inf) -> np.ndarray:
    """``min(cap, (level - IP)^+)`` for each state (rounded to whole units)."""
    return np.rint(np.minimum(cap, np.maximum(level - states.sum(axis=1), 0.0))).astype(np.int64)


def _local_min(
    f: Callable[[int], tuple[float, T]], start: int, lo: int, hi: int, patience: int = 2
) -> tuple[int, dict[int, tuple[float, T]]]:
    """Integer local search from ``start``: walk downhill both ways, stop after
    ``patience`` non-improving steps.  Returns the best point and all evaluations."""
    seen: dict[int, tuple[float, T]] = {}

    def value(k: int) -> float:
        if k not in seen:
            seen[k] = f(k)
        return seen[k][0]

    best = min(max(start, lo), hi)
    value(best)
    for step in (-1, 1):
        k, fails = best, 0
        while lo <= k + step <= hi and fails < patience:
            k += step
            if value(k) < value(best):
                best, fails = k, 0
            else:
                fails += 1
    return best, seen


def _backlog_level(model: LostSalesModel) -> int:
    """Optimal base-stock level of the same system with backlogging (a starting point)."""
    return model.quantile(model.penalty / (model.penalty + model.holding), model.lead_time + 1)


def best_base_stock(model: LostSalesModel) -> tuple[int, ChainEvaluation]:
    """Best order-up-to level ``S`` and its evaluation (space: position <= S)."""

    def f(S: int) -> tuple[float, ChainEvaluation]:
        ev = evaluate_rule(model, Truncation(S, S), lambda x: base_stock_orders(x, S))
        return ev.average_cost, ev

    start = _backlog_level(model)
    best, seen = _local_min(f, start, 0, 4 * start + 10)
    return best, seen[best][1]


def best_capped_base_stock(model: LostSalesModel) -> tuple[int, int, ChainEvaluation]:
    """Best ``(S, r)`` of the capped base-stock policy and its evaluation.

    Searches the cap ``r`` outward from ``E D + 1``; for each cap the level ``S``
    starts from the best level of the previous cap.
    """
    start_S = [_backlog_level(model)]

    def for_cap(r: int) -> tuple[float, tuple[int, ChainEvaluation]]:
        def f(S: int) -> tuple[float, ChainEvaluation]:
            trunc = Truncation(S, min(r, S))
            ev = evaluate_rule(model, trunc, lambda x: base_stock_orders(x, S, r))
            return ev.average_cost, ev

        S, seen = _local_min(f, start_S[0], 0, 4 * start_S[0] + 10)
        start_S[0] = S
        return seen[S][0], (S, seen[S][1])

    r0 = max(1, math.ceil(model.demand_mean) + 1)
    r, seen = _local_min(for_cap, r0, 1, 4 * r0 + 10)
    S, ev = seen[r][1]
    return S, r, ev


def constant_order_bound(model: LostSalesModel, r: float, eps: float = 1e-12) -> int:
    """Stock level the on-hand chain of a constant order ``r < E D`` exceeds with
    probability at most ``eps`` in steady state.

    With ``W = x_0 - r`` the chain is Lindley's recursion ``W' = (W + r - D)^+``,
    so Kingman's bound gives ``P(W > b) <= exp(-theta b)`` with ``theta > 0``
    solving ``E exp(theta (r - D)) = 1``.
    """
    if r == 0:
        return 0
    m = model.demand_mean
    if model.demand == "poisson":

        def log_mgf(t: float) -> float:  # log E exp(t (r - D))
            return t * r + m * (math.exp(-t) - 1.0)
    else:
        qq = m / (1.0 + m)

        def log_mgf(t: float) -> float:
            return t * r + math.log((1.0 - qq) / (1.0 - qq * math.exp(-t)))

    hi = 1.0
    while log_mgf(hi) <= 0:
        hi *= 2.0
    theta = optimize.brentq(log_mgf, 1e-9, hi)
    return math.ceil(r) + math.ceil(math.log(1.0 / eps) / theta)


def evaluate_constant(model: LostSalesModel, r: int) -> ChainEvaluation:
    """Exact cost of ordering ``r`` every period (``r < E D``).

    After ``L`` periods the pipeline is ``(r, ..., r)`` for good, so the chain's
    recurrent class is the on-hand chain ``x_0' = (x_0 - D)^+ + r``; it is solved
    directly on ``0..B`` with ``B`` from :func:`constant_order_bound` (the mass
    that would leave it is reported as ``clipped_mass``).
    """
    if r >= model.demand_mean:
        raise ValueError(
            f"constant order r(={r}) must be < demand_mean(={model.demand_mean}):"
            " otherwise stock grows without bound"
        )
    B = constant_order_bound(model, r)
    M = model.outcomes(B + 1)
    P = np.zeros((B + 1, B + 1))
    P[:, r:] = M[:, : B + 1 - r]  # next x_0 = a + r, a = (x_0 - D)^+
    leaving = M[:, B + 1 - r :].sum(axis=1)  # next x_0 > B: mass <= eps, folded onto B
    P[:, B] += leaving
    A = P.T - np.eye(B + 1)
    A[-1] = 1.0
    rhs = np.zeros(B + 1)
    rhs[-1] = 1.0
    pi = np.maximum(np.linalg.solve(A, rhs), 0.0)
    pi /= pi.sum()
    over, under = model.expected_parts(B + 1)
    hold = model.holding * float(pi @ over)
    lost = float(pi @ under)
    freq = float(r > 0)
    return ChainEvaluation(
        average_cost=hold + model.penalty * lost + model.fixed_cost * freq,
        holding_cost=hold,
        lost_sales=lost,
        order_frequency=freq,
        clipped_mass=float(pi @ leaving),
        states=B + 1,
        iterations=1,
        residual=float(np.abs(pi @ P - pi).sum()),
    )


def best_constant(model: LostSalesModel) -> tuple[int, ChainEvaluation]:
    """Best constant order ``r`` in ``0 .. ceil(E D) - 1`` and its evaluation."""
    results = {r: evaluate_constant(model, r) for r in range(math.ceil(model.demand_mean))}
    r = min(results, key=lambda k: results[k].average_cost)
    return r, results[r]


def constant_rate_pattern(rate: Fraction) -> list[int]:
    """Whole orders of one cycle of a constant rate ``k/n`` (lowest terms):
    ``q_j = floor((j+1) k/n) - floor(j k/n)`` for ``j = 0..n-1`` (they sum to ``k``)."""
    k, n = rate.numerator, rate.denominator
    return [((j + 1) * k) // n - (j * k) // n for j in range(n)]


def evaluate_constant_rate(model: LostSalesModel, rate: Fraction | int) -> ChainEvaluation:
    """Exact cost of ordering at the constant rate ``rate < E D`` in whole units.

    The orders repeat with the cycle of :func:`constant_rate_pattern`, so after the
    first ``L`` periods the arrivals do too, and the on-hand chain
    ``x_0' = (x_0 - D)^+ + a_{t+1}`` is periodic.  Its law at the start of a cycle
    is the stationary law of the product of one cycle's transition matrices; the
    cost is the average over the phases of the cycle (a shift of the arrivals by
    ``L`` periods leaves that average unchanged).  For an integer rate this is
    :func:`evaluate_constant`.
    """
    rate = Fraction(rate)
    if rate >= model.demand_mean:
        raise ValueError(
            f"constant rate(={float(rate)}) must be < demand_mean"
            f"(={model.demand_mean}): otherwise stock grows without bound"
        )
    if rate < 0:
        raise ValueError(f"constant rate(={float(rate)}) must be >= 0")
    if rate.denominator == 1:
        return evaluate_constant(model, int(rate))
    pattern = constant_rate_pattern(rate)
    B = constant_order_bound(model, float(rate)) + max(pattern)
    n = B + 1
    M = model.outcomes(n)

    def step(q: int) -> tuple[np.ndarray, np.ndarray]:
        P = np.zeros((n, n))
        P[:, q:] = M[:, : n - q]
        leaving = M[:, n - q :].sum(axis=1)
        P[:, B] += leaving
        return P, leaving

    steps = [step(q) for q in pattern]
    cycle = np.eye(n)
    for P, _ in steps[1:] + steps[:1]:  # phase 0 -> 1 -> ... -> n-1 -> 0
        cycle = cycle @ P
    A = cycle.T - np.eye(n)
    A[-1] = 1.0
    rhs = np.zeros(n)
    rhs[-1] = 1.0
    pi = np.maximum(np.linalg.solve(A, rhs), 0.0)
    pi /= pi.sum()
    over, under = model.expected_parts(n)
    hold = lost = clipped = residual = 0.0
    start = pi
    for j in range(len(pattern)):
        hold += float(pi @ over)
        lost += float(pi @ under)
        P, leaving = steps[(j + 1) % len(pattern)]
        clipped += float(pi @ leaving)
        pi = pi @ P
    residual = float(np.abs(pi - start).sum())
    m = len(pattern)
    hold, lost = model.holding * hold / m, lost / m
    freq = sum(q > 0 for q in pattern) / m
    return ChainEvaluation(
        average_cost=hold + model.penalty * lost + model.fixed_cost * freq,
        holding_cost=hold,
        lost_sales=lost,
        order_frequency=freq,
        clipped_mass=clipped / m,
        states=n * m,
        iterations=1,
        residual=residual,
    )


def best_constant_rate(
    model: LostSalesModel, denominator: int = 20
) -> tuple[Fraction, ChainEvaluation]:
    """Best constant rate on the grid ``k / denominator < E D`` and its evaluation.

    A local search (like the other searches here) on a coarse grid of step 1/4 from
    the best whole-unit order, then on the fine grid around the coarse optimum; rates
    close to ``E D`` are costly to evaluate (their stock wanders far), so the coarse
    pass keeps the search away from them unless they are better.
    """
    if denominator < 1:
        raise ValueError(f"denominator(={denominator}) must be >= 1")
    r0, _ = best_constant(model)
    seen: dict[Fraction, ChainEvaluation] = {}

    def search(den: int, start: Fraction, lo: Fraction, hi: Fraction) -> Fraction:
        def cost(k: int) -> tuple[float, object]:
            r = Fraction(k, den)
            if r not in seen:
                seen[r] = evaluate_constant_rate(model, r)
            return seen[r].average_cost, seen[r]

        top = math.floor(hi * den)
        if Fraction(top, den) >= model.demand_mean:
            top -= 1
        k, _ = _local_min(cost, round(start * den), math.ceil(lo * den), top)
        return Fraction(k, den)

    coarse = min(4, denominator)
    r = search(coarse, Fraction(r0), Fraction(0), Fraction(model.demand_mean))
    if denominator > coarse:
        step = Fraction(1, coarse)
        r = search(denominator, r, max(Fraction(0), r - step), r + step)
    return r, seen[r]
