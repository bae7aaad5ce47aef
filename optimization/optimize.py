"""The optimum (or best known policy) of a registered scenario, and the best heuristics.

``optimize(scenario, params)`` picks the exact method that fits the scenario:

=========================================  ===============================================
single-stage, lost sales                   relative value iteration (Zipkin 2008) + the
                                           heuristics evaluated exactly on its Markov chain
single-stage, backlog, no fixed cost       newsvendor fractile over L+1 periods of demand
single-stage, backlog, fixed cost          optimal (s, S) (Zheng & Federgruen 1991)
serial                                     Clark-Scarf / Chen-Zheng echelon base-stock
inventory with recommendation              perfect-information bound over recommendation
                                           patterns (optimization.recommendation_mip), its
                                           rolling-horizon MIP policy and base stock with
                                           uniform/popularity recommendations, on the same
                                           sampled paths (objective: profit)
any other scenario                         perfect-information bound (Pyomo + HiGHS) on
                                           sampled paths, with base-stock levels searched
                                           by simulation and a rolling-horizon policy,
                                           all on those same paths
=========================================  ===============================================

Every entry but a bound carries an engine policy, so :func:`verify` can check
each promised cost against a simulation of the very same model: long-run
averages for the exact methods, and for bounded scenarios the mean over the
sampled paths (``Benchmark.periods`` periods from the initial state, the seed
in ``details``), which a simulation with that horizon and seed reproduces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from scipy import stats

__all__ = ["Benchmark", "OptimizeResult", "optimize", "verify", "OptimizeError"]


class OptimizeError(ValueError):
    """No exact method for this scenario or these parameters (the message says why)."""


@dataclass(frozen=True)
class Benchmark:
    """A policy with its long-run average cost per period, as the optimizer computed it."""

    name: str
    value: float
    params: dict[str, Any]
    method: str
    policy: Any = field(default=None, repr=False)
    periods: int | None = None   # None: long-run average; else mean over runs of this length

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "params": self.params,
                "method": self.method, "periods": self.periods}


@dataclass(frozen=True)
class OptimizeResult:
    scenario: str
    params: dict[str, Any]
    objective: str
    optimal: Benchmark
    policies: list[Benchmark]
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "params": self.params, "objective": self.objective,
                "optimal": self.optimal.to_dict(),
                "policies": [p.to_dict() for p in self.policies], "details": self.details}


def _single_stage(p: dict[str, Any], progress: bool) -> tuple[Benchmark, list[Benchmark], dict]:
    L, h, b, K = p["lead_time"], p["holding"], p["penalty"], p["fixed_cost"]
    demand, mean = p["demand"], p["demand_mean"]
    if p["shortage"] == "lost":
        from .lost_sales import heuristics, solve_lost_sales

        if demand not in ("poisson", "geometric"):
            raise OptimizeError(f"the exact lost-sales DP supports demand=poisson|geometric, "
                                f"not {demand!r}")
        sol = solve_lost_sales(L, h, b, demand, mean, K, progress=progress)
        optimal = Benchmark("optimal", sol.average_cost, {}, "relative value iteration "
                            "(Zipkin 2008), lookup table", sol.policy)
        heur = heuristics(L, h, b, demand, mean, K, progress=progress)
        policies = [Benchmark(name, r.value, dict(r.params), "exact Markov-chain evaluation",
                              r.policy) for name, r in heur.items()]
        details = {"iterations": sol.iterations, "span": sol.span, "states": sol.states,
                   "boundary_mass": sol.boundary_mass, "solve_seconds": sol.solve_seconds}
        return optimal, policies, details
    if demand not in ("poisson", "normal", "normal_continuous"):
        raise OptimizeError(f"the backlog optimum supports demand=poisson|normal|"
                            f"normal_continuous, not {demand!r}")
    from .newsvendor import base_stock_backlog

    std = p["demand_std"] if p["demand_std"] is not None else float(np.sqrt(mean))
    if demand == "normal" and K == 0:
        raise OptimizeError("rounded normal demand has no closed form here; use "
                            "demand=normal_continuous or poisson")
    kind = "poisson" if demand == "poisson" else "normal"
    bs = base_stock_backlog(L, h, b, mean, kind, None if kind == "poisson" else std)
    # a base-stock policy orders whenever there was demand last period
    p_order = 1.0 - float(stats.poisson(mean).pmf(0)) if kind == "poisson" else 1.0
    base = Benchmark("best-base-stock", bs.expected_cost + K * p_order,
                     {"level": bs.base_stock_level}, "newsvendor fractile over L+1 periods",
                     bs.policy())
    if K == 0:
        return (Benchmark("optimal", base.value, base.params, base.method, base.policy),
                [base], {"critical_ratio": bs.critical_ratio})
    if kind != "poisson":
        raise OptimizeError("the exact (s, S) optimum needs discrete demand (demand=poisson)")
    from .ss_policy import optimal_ss

    ss = optimal_ss(h, b, K, stats.poisson(mean), lead_time=L)
    best = Benchmark("optimal", ss.expected_cost, {"s": ss.reorder_point,
                     "S": ss.order_up_to_level}, "optimal (s,S), Zheng & Federgruen (1991)",
                     ss.policy())
    return best, [Benchmark("ss", best.value, best.params, best.method, best.policy), base], {}


def _serial(p: dict[str, Any], progress: bool) -> tuple[Benchmark, list[Benchmark], dict]:
    from .serial import serial_base_stock

    demand = p["demand"]
    if demand not in ("poisson", "normal_continuous"):
        raise OptimizeError(f"the Clark-Scarf optimum supports demand=poisson|normal_continuous, "
                            f"not {demand!r}")
    res = serial_base_stock(p["holding"], p["lead_times"], p["stockout_cost"], p["demand_mean"],
                            "poisson" if demand == "poisson" else "normal",
                            None if demand == "poisson" else p["demand_std"],
                            order_timing="order-after-demand")
    names = [f"stage{i}" for i in range(1, len(p["holding"]) + 1)]
    levels = dict(zip(names, res.echelon_levels))
    method = "Clark-Scarf / Chen-Zheng recursion"
    optimal = Benchmark("optimal", res.expected_cost, {"level": levels}, method,
                        res.policy(names))
    # The textbook installation-level equivalent is not listed: in the engine, nodes that
    # decide together see the state before this period's orders, so an upstream stage sees a
    # downstream order one review later and local levels are no longer equivalent.
    return optimal, [
        Benchmark("echelon-base-stock", res.expected_cost, {"level": levels}, method,
                  res.policy(names)),
    ], {"grid_step": res.grid_step}


def _bounded(scenario: str, p: dict[str, Any], progress: bool, *, periods: int = 52,
             replications: int = 3, seed: int = 0) -> tuple[Benchmark, list[Benchmark], dict]:
    """Perfect-information bound and simulated heuristics on the same sampled paths."""
    import scenarios
    from des_supply.evaluate import simulate

    from .network_mip import RollingHorizonPolicy, longest_lead_path, perfect_information_bound
    from .search import search_base_stock

    net = scenarios.make(scenario, **p).network
    bounds = [perfect_information_bound(net, periods, seed, replication=k)
              for k in range(replications)]
    value = float(np.mean([b.per_period_bound for b in bounds]))
    terminations = sorted({b.termination for b in bounds})
    optimal = Benchmark("perfect-information-bound", value, {},
                        f"perfect-information MIP bound (Pyomo + HiGHS) on {replications} "
                        f"sampled paths of {periods} periods: a lower bound no policy can beat",
                        None, periods)

    def on_paths(policy: Any) -> float:
        return simulate(net, policy, periods=periods, replications=replications, seed=seed).mean

    policies = []
    for echelon in (False, True):
        found = search_base_stock(net, echelon=echelon, progress=progress)
        name = "echelon-base-stock" if echelon else "base-stock"
        policies.append(Benchmark(f"best-{name}", on_paths(found.policy),
                                  {"level": found.levels},
                                  "levels searched by simulation (common random numbers)",
                                  found.policy, periods))
    window = longest_lead_path(net) + 4
    mpc = RollingHorizonPolicy(net, window, safety_stock="auto")
    policies.append(Benchmark("rolling-horizon", on_paths(mpc), {"horizon": window},
                              "MPC re-solving the network MIP on mean forecasts", mpc, periods))
    return optimal, policies, {"periods": periods, "replications": replications, "seed": seed,
                               "bound_terminations": terminations}


def _is_recommendation(scenario: str, params: dict[str, Any]) -> bool:
    """True when the scenario's market is a recommendation market (inventory + recommendation)."""
    import scenarios
    from des_supply.recommendation import RecommendationMarket

    return isinstance(scenarios.make_market(scenario, **params), RecommendationMarket)


_METHODS: dict[str, Callable[[dict[str, Any], bool], tuple[Benchmark, list[Benchmark], dict]]] = {
    "single-stage": _single_stage,
    "serial": _serial,
}


def optimize(scenario: str, params: dict[str, Any] | None = None, *, progress: bool = False,
             bound_periods: int = 52, bound_replications: int = 3,
             bound_seed: int = 0) -> OptimizeResult:
    """The optimum (or a bound) and the best heuristics of *scenario* with *params*.

    Exact methods give long-run costs per period; other scenarios get the
    perfect-information bound and simulated heuristics on ``bound_replications``
    sampled paths of ``bound_periods`` periods (replications of ``bound_seed``).
    """
    import scenarios

    spec = scenarios.get(scenario)
    given = dict(params or {})
    scenarios.make(scenario, **given).network  # validates the parameters the way simulate would
    if _is_recommendation(scenario, given):  # bound, MPC and base-stock heuristics
        from .recommendation_optimize import optimize_recommendation

        return optimize_recommendation(scenario, given, progress=progress, periods=bound_periods,
                                       replications=bound_replications, seed=bound_seed)
    if spec.market is not None:  # decision-dependent demand: the pricing DP and its heuristics
        from .pricing_dp import optimize_pricing

        return optimize_pricing(scenario, given, progress=progress)
    full = {**spec.parameters, **given}
    if scenario in _METHODS:
        optimal, policies, details = _METHODS[scenario](full, progress)
    else:
        optimal, policies, details = _bounded(scenario, given, progress, periods=bound_periods,
                                              replications=bound_replications, seed=bound_seed)
    return OptimizeResult(scenario, given, "cost", optimal, policies, details)


def verify(result: OptimizeResult, *, periods: int = 20_000, warmup: int = 500,
           replications: int = 8, seed: int = 0, processes: int = 1) -> list[dict[str, Any]]:
    """Simulate every policy of *result* in the engine: promised value vs simulated mean and CI."""
    import scenarios
    from des_supply.evaluate import simulate

    net = scenarios.make(result.scenario, **result.params).network
    rows = []
    for b in [result.optimal, *result.policies]:
        if b.policy is None:
            continue
        if b.periods is None:
            res = simulate(net, b.policy, periods=periods, warmup=warmup,
                           replications=replications, seed=seed, processes=processes)
        else:  # a mean over the optimizer's own sampled paths: rerun exactly those
            d = result.details
            res = simulate(net, b.policy, periods=b.periods, replications=d["replications"],
                           seed=d["seed"])
        lo, hi = res.ci95
        rows.append({"name": b.name, "promised": b.value, "simulated": res.mean, "ci95": [lo, hi],
                     "inside": bool(lo <= b.value <= hi)})
    return rows
