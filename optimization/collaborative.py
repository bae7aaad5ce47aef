"""Optimize a collaborative problem (:mod:`des_supply.collaborative`): an upper bound and
the searched reference policy, on common random numbers.

**The bound.**  Each purchase opportunity of a segment picks one item (the softmax
probabilities sum to 1) and buys it with probability ``pi_i(p_i)``; each unit sold had to
be made or bought at no less than the item's cheapest unit cost ``c_i`` (edge unit cost
plus ``c_order``).  So in the long run no policy earns more per period than

    sum_j c[j] * max_i max_p pi_i(p) (p - c_i)

(capacities, lead times, holding, penalties and uncertainty all ignored; the initial
stock, free in a finite run, vanishes in the long-run average).  It is loose, but valid
whatever the policy, and needs no solver: ``max_p`` is a one-dimensional search on each
side of the list price, where the Section V logit jumps (the price rank regressor).

**The reference policy.**  :class:`~des_supply.collaborative_policies.CollaborativeBaseStock`
with one price factor and one level multiplier for all items: item i's level is
``ceil(k * E[d_i] * (L_i + 1))`` with ``E[d_i]`` its expected demand at those prices under
the margin-optimal recommendation and ``L_i`` the mean lead time of its cheapest supplier;
(factor, k) searched on a grid by simulation on common random numbers; the same levels
with uniform recommendations beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast

from scipy.optimize import minimize_scalar
from tqdm.auto import tqdm

from des_supply.collaborative import CollaborativeMarket
from des_supply.collaborative_policies import (
    CollaborativeBaseStock,
    cheapest_unit_cost,
    supplier_costs,
)
from des_supply.evaluate import simulate
from des_supply.problem import Problem

__all__ = ["LEVEL_MULTIPLIERS", "PRICE_FACTORS", "demand_bound", "optimize_collaborative"]

PRICE_FACTORS = (0.9, 1.0, 1.1, 1.2)
LEVEL_MULTIPLIERS = (1.0, 1.25, 1.5, 2.0)


def _market(problem: Problem) -> CollaborativeMarket:
    market = problem.market
    if not isinstance(market, CollaborativeMarket):
        raise ValueError(f"problem {problem.name!r} has no collaborative market")
    return market


def demand_bound(problem: Problem) -> tuple[float, dict[str, float]]:
    """The upper bound of the module docstring, and each item's best price for it."""
    market = _market(problem)
    response = market.prices
    costs = [cheapest_unit_cost(problem.network, i) for i in market.nodes]
    best: dict[str, float] = {}
    value = -math.inf
    for k, item in enumerate(market.nodes):
        list_price = float(response.list_prices[k])

        def margin(p: float, k: int = k) -> float:
            prices = response.list_prices.copy()
            prices[k] = p
            return float(response.probability(prices)[k] * (p - costs[k]))

        # the rank regressor jumps at the list price: the supremum may be its left limit
        # (undercutting the competitor by a hair), not attained
        candidates = [list_price, list_price * (1 - 1e-12)]
        for low, high in ((1e-9, list_price), (list_price, 20.0 * max(list_price, costs[k]))):
            found = minimize_scalar(
                lambda p: -margin(p), bounds=(low, high), method="bounded", options={"xatol": 1e-9}
            )
            candidates.append(float(found.x))
        p_best = max(candidates, key=margin)
        best[item] = p_best
        value = max(value, margin(p_best))
    return float(market.model.capacity.sum() * max(value, 0.0)), best


def levels_for(problem: Problem, price_factor: float, multiplier: float) -> dict[str, float]:
    """Item levels ``ceil(multiplier * E[d_i] * (L_i + 1))`` at *price_factor* x list prices
    under the margin-optimal recommendation (module docstring)."""
    market = _market(problem)
    probe = CollaborativeBaseStock(0.0, price_factor)
    alpha = probe.recommendation(problem)
    demand = market.expected_demand(alpha, price_factor * market.prices.list_prices)
    net = problem.network
    out = {}
    for item, d in zip(market.nodes, demand):
        _, cheapest, _ = supplier_costs(net, item)[0]
        lead = next(e for e in net.suppliers(item) if e.source == cheapest).lead_time.mean
        out[item] = float(max(1, math.ceil(multiplier * d * (lead + 1))))
    return out


def optimize_collaborative(
    problem: Problem,
    *,
    progress: bool = False,
    periods: int = 300,
    replications: int = 4,
    seed: int = 12345,
    price_factors: Sequence[float] = PRICE_FACTORS,
    multipliers: Sequence[float] = LEVEL_MULTIPLIERS,
) -> Any:
    """The bound and the searched reference policies (an ``OptimizeResult``)."""
    from .optimize import Benchmark, OptimizeResult

    _market(problem)
    bound, prices = demand_bound(problem)
    optimal = Benchmark(
        "demand-bound",
        bound,
        {"prices": prices},
        "upper bound: every purchase opportunity earns at most the best expected margin "
        "of any item (capacities, lead times, holding and uncertainty ignored)",
        None,
        None,
    )

    def value(policy: CollaborativeBaseStock) -> float:
        res = simulate(problem, policy, periods=periods, replications=replications, seed=seed)
        return float(res.mean)

    grid = [(f, k) for f in price_factors for k in multipliers]
    bar = tqdm(total=len(grid) + 1, desc="collaborative search", disable=not progress)
    scored = []
    for f, k in grid:
        levels = levels_for(problem, f, k)
        scored.append((value(CollaborativeBaseStock(levels, f)), f, k, levels))
        bar.update()
    best_value, f, k, levels = max(scored, key=lambda s: s[0])
    uniform = CollaborativeBaseStock(levels, f, "uniform")
    uniform_value = value(uniform)
    bar.update()
    bar.close()
    where = f"{replications} replications of {periods} periods, seed {seed}"
    policies = [
        Benchmark(
            "best-collab-base-stock",
            best_value,
            {"level": levels, "price_factor": f},
            f"price factor and level multiplier searched on common random numbers ({where}; "
            f"factor {f:g}, multiplier {k:g}), margin-optimal static recommendation",
            CollaborativeBaseStock(levels, f),
            periods,
        ),
        Benchmark(
            "collab-base-stock-uniform",
            uniform_value,
            {"level": levels, "price_factor": f, "uniform": 1},
            "the same levels and prices with uniform recommendation (no targeting)",
            uniform,
            periods,
        ),
    ]
    details = {
        "exact_method_skipped": "no exact method for collaborative problems: an analytic "
        "upper bound and searched heuristics",
        "search": [{"price_factor": f, "multiplier": k, "value": v} for v, f, k, _ in scored],
        "periods": periods,
        "replications": replications,
        "seed": seed,
    }
    return OptimizeResult(problem, problem.objective, optimal, policies, cast(Any, details))
