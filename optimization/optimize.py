"""The optimum (or a bound) of any problem, and the best heuristics, chosen from its structure.

``optimize(problem)`` reads :attr:`~des_supply.problem.Problem.kind` and the network's
own data (costs, shortage rules, lead times, demand laws) -- never a name -- and runs:

================================================  =========================================
recommendation market                             perfect-information bound over
                                                  recommendation patterns, MIP rolling
                                                  horizon and base stock + fixed recommenders
                                                  (:mod:`optimization.recommendation_optimize`)
pricing market                                    pricing DP where the state is finite, and
                                                  tuned pricing heuristics
                                                  (:func:`optimization.pricing_dp.optimize_pricing`)
single stage, lost sales                          relative value iteration (Zipkin 2008) + the
                                                  heuristics evaluated exactly
single stage, backlog, no fixed cost              newsvendor fractile over L+1 periods
single stage, backlog, fixed cost                 optimal (s, S) (Zheng & Federgruen 1991)
one node choosing between two suppliers           dual-sourcing DP (relative value iteration
(multi-sourcing)                                  on net inventory and pipeline) where it fits
                                                  the memory limit, and single index, dual
                                                  index, capped dual index, tailored
                                                  base-surge searched by simulation
                                                  (:mod:`optimization.dual_sourcing`)
serial, backlog                                   Clark-Scarf / Chen-Zheng echelon base stock
anything else, or an assumption above fails       perfect-information bound (Pyomo + HiGHS) on
                                                  sampled paths, base-stock and echelon
                                                  base-stock levels searched by simulation,
                                                  and a rolling-horizon MIP policy, all on
                                                  those same paths
================================================  =========================================

The exact methods assume: a single supplier with unlimited stock per stage; a constant
(deterministic) lead time; review every period; no order or storage capacity; no
revenue (``price = 0``, objective cost); ``order_timing="order-before-demand"`` for the
single stage (both timings for the serial system); Poisson or geometric demand for lost
sales, Poisson, geometric, rounded normal or continuous normal (censored at 0 with
probability below :data:`NORMAL_CENSORING`) for backlog; no fixed order cost in a serial
system.  When one fails, the bounded method runs and ``details["exact_method_skipped"]``
says which.  Costs per unit that every unit pays once -- ``order_cost``, an edge's
``unit_cost``, its ``transit_holding_cost`` for ``L`` periods -- do not change the
optimal policy: in the long run the units bought are the units sold (backlog: the mean
demand; lost sales: the mean demand minus lost sales), so they add a constant (lost
sales: and lower the penalty per lost unit by the same amount).  The serial system's
transit holding, if not the shipping stage's holding cost, is such a constant too.
Initial inventory and pipeline do not change a long-run average.

A method whose arrays would exceed the memory limit (:mod:`optimization.memory`) refuses
with :class:`~optimization.memory.SizeLimitError` (the estimate and the parameter to lower)
instead of being replaced by another method; only the lost-sales DP's own refusal leads to
the bounded method, as before.

Every entry but a bound carries an engine policy, and its name is the name of a policy
family a user can run with the entry's ``params``.  :func:`verify` checks each promised
value against a simulation of the very same problem: long-run averages over a long run,
and entries measured on sampled paths (``Benchmark.periods`` periods from the initial
state, the seed in ``details``) on exactly those paths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from scipy import stats

from des_supply.arrivals import ArrivalProcess
from des_supply.distributions import Distribution, Geometric, Normal, Poisson
from des_supply.network import Network
from des_supply.problem import Problem, as_problem

from .memory import SizeLimitError, check_memory

__all__ = [
    "NORMAL_CENSORING",
    "Benchmark",
    "OptimizeError",
    "OptimizeResult",
    "best_capped_base_stock",
    "optimize",
    "verify",
]

#: Largest probability that normal demand is below 0 (the engine censors it there, the closed
#: forms do not) for which the closed forms are used.
NORMAL_CENSORING = 1e-4


class OptimizeError(ValueError):
    """No method applies to this problem (the message says why)."""


class _NotExact(Exception):
    """An assumption of the exact method does not hold (the message says which)."""


@dataclass(frozen=True)
class Benchmark:
    """A policy with its value per period (cost or profit), as the optimizer computed it.

    ``name`` and ``params`` name a runnable policy family and its parameters (a bound has
    no policy).  ``periods`` is None for a long-run average, else the value is the mean
    over the optimizer's sampled paths of that many periods.
    """

    name: str
    value: float
    params: dict[str, Any]
    method: str
    policy: Any = field(default=None, repr=False)
    periods: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "params": self.params,
            "method": self.method,
            "periods": self.periods,
        }


@dataclass(frozen=True)
class OptimizeResult:
    """The optimum (or a bound) of ``problem`` and the heuristics beside it."""

    problem: Problem = field(repr=False, compare=False)
    objective: str
    optimal: Benchmark
    policies: list[Benchmark]
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "problem": self.problem.describe(),
            "objective": self.objective,
            "optimal": self.optimal.to_dict(),
            "policies": [p.to_dict() for p in self.policies],
            "details": self.details,
        }


# -- reading the network ------------------------------------------------------------------------
@dataclass(frozen=True)
class _Demand:
    """A demand law in the form the exact methods take."""

    label: str  # "poisson" | "geometric" | "normal" (rounded) | "normal_continuous"
    mean: float  # the engine's mean demand per period
    std: float | None = None  # normal only
    rv: Any = None  # frozen scipy law or pmf array (discrete laws)


def _demand(dist: Distribution | ArrivalProcess | None, network: Network, who: str) -> _Demand:
    if dist is None:
        raise _NotExact(f"{who} has no external demand")
    if isinstance(dist, Poisson):
        return _Demand("poisson", float(dist.mean), rv=stats.poisson(float(dist.mean)))
    if isinstance(dist, Geometric):  # P(k) = (1 - q) q^k on 0, 1, ..., q = m / (1 + m)
        return _Demand("geometric", float(dist.mean), rv=stats.nbinom(1, 1 / (1 + dist.mean)))
    if isinstance(dist, Normal):
        mu, sd = float(dist.mean), float(dist.std)
        if sd <= 0:
            raise _NotExact(
                f"{who}: normal demand with std 0 is deterministic; the exact "
                "methods need a random demand"
            )
        if dist.integer:  # rounded after censoring at 0: an exact pmf on 0, 1, ...
            _check_support(max(mu, 0) + 12 * sd, who)
            k = np.arange(int(math.ceil(max(mu, 0) + 12 * sd)) + 2)
            cdf = stats.norm.cdf(k + 0.5, mu, sd)
            pmf = np.diff(np.concatenate([[0.0], cdf]))
            pmf = pmf / pmf.sum()
            return _Demand("normal", float(pmf @ k), sd, pmf)
        below = float(stats.norm.cdf(0.0, mu, sd))
        if below > NORMAL_CENSORING:
            raise _NotExact(
                f"{who}: normal demand N({mu:g}, {sd:g}) falls below 0 with "
                f"probability {below:.2g}; the engine censors it at 0 and the closed "
                f"forms do not (they need at most {NORMAL_CENSORING:g})"
            )
        if not network.continuous:
            raise _NotExact(
                f"{who}: demand is continuous but the network rounds orders to "
                "whole units (continuous=False)"
            )
        return _Demand("normal_continuous", mu, sd)
    raise _NotExact(
        f"{who}: no exact method for {type(dist).__name__} demand "
        f"({dist.to_dict()}); they take Poisson, geometric or normal demand"
    )


#: Bytes per point of a discrete demand's support that the exact single-stage methods hold at
#: once (pmfs over L + 1 periods, levels, costs on them; estimated as a dozen float arrays).
BYTES_PER_SUPPORT_POINT = 96


def _check_support(points: float, who: str) -> None:
    """Refuse a demand whose pmf would not fit the memory limit (:mod:`optimization.memory`)."""
    check_memory(
        BYTES_PER_SUPPORT_POINT * points,
        f"the exact methods' demand pmf at {who} (about {points:,.0f} points)",
        f"lower the demand mean at {who}",
    )


def _common_checks(problem: Problem, node_name: str) -> None:
    """Assumptions every exact cost method here makes about one stocking node."""
    net = problem.network
    node = net.node(node_name)
    who = f"node {node_name!r}"
    if node.price > 0:
        raise _NotExact(
            f"{who} sells at price {node.price:g} (objective profit); the exact "
            "methods minimise cost"
        )
    if math.isfinite(node.capacity):
        raise _NotExact(
            f"{who} orders at most {node.capacity:g} per period; the exact methods "
            "assume no order capacity"
        )
    if math.isfinite(node.storage_capacity):
        raise _NotExact(
            f"{who} has storage_capacity {node.storage_capacity:g}; the exact methods "
            "assume unlimited storage"
        )
    if node.review_period != 1:
        raise _NotExact(
            f"{who} reviews every {node.review_period} periods; the exact methods "
            "assume review every period"
        )
    edge = net.suppliers(node_name)[0]
    who_e = f"edge {edge.source!r}->{edge.target!r}"
    if edge.lead_time.constant is None:
        raise _NotExact(
            f"{who_e} has a stochastic lead time ({edge.lead_time.to_dict()}); the "
            "exact methods need a deterministic lead time"
        )
    if edge.bom != 1:
        raise _NotExact(f"{who_e} has bom {edge.bom:g}; the exact methods assume bom 1")
    source = net.node(edge.source)
    if source.kind == "supply" and math.isfinite(source.capacity):
        raise _NotExact(
            f"supplier {source.name!r} ships at most {source.capacity:g} per period; "
            "the exact methods assume an unlimited supplier"
        )


def _per_unit(problem: Problem, node_name: str) -> float:
    """Cost every unit ordered by *node_name* pays once: order cost, edge unit cost, transit."""
    node = problem.network.node(node_name)
    edge = problem.network.suppliers(node_name)[0]
    return (
        node.order_cost
        + edge.unit_cost
        + edge.transit_holding_cost * float(edge.lead_time.constant or 0.0)
    )


# -- single stage -------------------------------------------------------------------------------
Found = tuple[Benchmark, list[Benchmark], dict[str, Any]]


@dataclass(frozen=True)
class _SingleStage:
    """The inputs of the exact single-stage methods, checked (:func:`_single_stage_inputs`)."""

    L: int
    h: float
    p: float
    K: float
    law: _Demand
    c: float  # cost every unit bought pays once (_per_unit)
    inputs: dict[str, Any]


def _single_stage(problem: Problem, progress: bool) -> Found:
    s = _single_stage_inputs(problem)
    if problem.network.stock_nodes[0].shortage == "lost":
        return _lost_sales(s.L, s.h, s.p, s.K, s.law, s.c, s.inputs, progress)
    return _backlog(s.L, s.h, s.p, s.K, s.law, s.c, s.inputs)


def _single_stage_inputs(problem: Problem) -> _SingleStage:
    """Lead time, costs and demand law of a single stage; :class:`_NotExact` when an
    assumption of the exact methods fails."""
    net = problem.network
    node = net.stock_nodes[0]
    _common_checks(problem, node.name)
    if net.order_timing != "order-before-demand":
        raise _NotExact(
            f"the single-stage methods assume order_timing='order-before-demand' "
            f"(receive, order, demand); this network has {net.order_timing!r}"
        )
    edge = net.suppliers(node.name)[0]
    L = int(cast(float, edge.lead_time.constant))  # deterministic: _common_checks
    h, p, K = node.holding_cost, node.shortage_cost, node.fixed_order_cost
    who = f"node {node.name!r}"
    if h <= 0:
        raise _NotExact(f"{who} has holding_cost 0; the exact methods need holding_cost > 0")
    law = _demand(node.demand, net, who)
    if law.label in ("poisson", "geometric"):  # the pmfs over L + 1 periods
        _check_support((L + 2) * (float(law.rv.isf(1e-16)) + 1), who)
    c = _per_unit(problem, node.name)
    inputs = {
        "node": node.name,
        "lead_time": L,
        "holding_cost": h,
        "shortage_cost": p,
        "fixed_order_cost": K,
        "demand": law.label,
        "demand_mean": law.mean,
        "per_unit_cost": c,
    }
    return _SingleStage(L, h, p, K, law, c, inputs)


def _lost_sales_checks(p: float, law: _Demand, c: float) -> None:
    """The lost-sales DP's own assumptions (:class:`_NotExact` when one fails)."""
    if law.label not in ("poisson", "geometric"):
        raise _NotExact(
            f"the exact lost-sales DP takes Poisson or geometric demand, not "
            f"{law.label.replace('_', ' ')}"
        )
    if p < c:
        raise _NotExact(
            f"the lost-sales penalty {p:g} is below the cost {c:g} every unit bought "
            "pays (order, unit and transit costs): never ordering is optimal and the "
            "DP is not set up for it"
        )


def best_capped_base_stock(problem: Problem | Network) -> Benchmark:
    """The best capped base-stock policy ``min(cap, (S - IP)^+)`` of a lost-sales single
    stage and its exact long-run cost: optimize's ``best-capped-base-stock`` entry, the
    same numbers, without the DP and the other heuristics (0.3-20 s on Zipkin's cells,
    most at L = 4, p = 39).

    Raises
    ------
    OptimizeError
        When the problem is not a lost-sales single stage without a market, or an
        assumption of the exact methods fails (the message says which).
    """
    from .lost_sales import heuristics

    problem = as_problem(problem)
    kind = problem.kind
    if (kind.shape, kind.shortage, kind.market) != ("single-stage", "lost", None) or (
        problem.network.time == "continuous"
    ):
        raise OptimizeError(
            f"the best capped base-stock policy is for a periodic lost-sales single stage "
            f"without a market, not {kind}"
        )
    try:
        s = _single_stage_inputs(problem)
        _lost_sales_checks(s.p, s.law, s.c)
        r = heuristics(
            s.L, s.h, s.p - s.c, s.law.label, s.law.mean, s.K, names=("capped-base-stock",)
        )["capped-base-stock"]
    except _NotExact as why:
        raise OptimizeError(str(why)) from None
    except (ValueError, OverflowError) as exc:  # the state space is too large
        raise OptimizeError(f"the exact chain evaluation refused: {exc}") from None
    shift = s.c * s.law.mean
    return Benchmark(
        "best-capped-base-stock",
        r.value + shift,
        dict(r.params),
        "exact Markov-chain evaluation",
        r.policy,
    )


def _lost_sales(
    L: int,
    h: float,
    p: float,
    K: float,
    law: _Demand,
    c: float,
    inputs: dict[str, Any],
    progress: bool,
) -> Found:
    from .lost_sales import heuristics, solve_lost_sales

    _lost_sales_checks(p, law, c)
    # units bought = units sold = mean demand - lost: c per unit is c x mean - c x lost
    try:
        sol = solve_lost_sales(L, h, p - c, law.label, law.mean, K, progress=progress)
        heur = heuristics(L, h, p - c, law.label, law.mean, K, progress=progress)
    except (ValueError, OverflowError) as exc:  # the state space is too large (or its count)
        raise _NotExact(f"the exact lost-sales DP refused: {exc}") from None
    shift = c * law.mean
    method = "relative value iteration (Zipkin 2008), lookup table"
    optimal = Benchmark("optimal", sol.average_cost + shift, {}, method, sol.policy)
    names = {"capped-base-stock": "best-capped-base-stock"}  # the searched one
    policies = [
        Benchmark(
            names.get(name, name),
            r.value + shift,
            dict(r.params),
            "exact Markov-chain evaluation",
            r.policy,
        )
        for name, r in heur.items()
    ]
    details = {
        "inputs": inputs,
        "iterations": sol.iterations,
        "span": sol.span,
        "states": sol.states,
        "boundary_mass": sol.boundary_mass,
        "solve_seconds": sol.solve_seconds,
    }
    return optimal, policies, details


def _continuous_review(problem: Problem, progress: bool = False) -> OptimizeResult:
    """Continuous time, by what the network is:

    * single stage, unit Poisson demand, backorders: the exact (r, Q) (deterministic lead
      time, Hadley-Whitin cost) or (S-1, S) optimum (Palm);
    * one warehouse and N retailers (constant lead times, unit Poisson demand, backorders):
      the best installation base-stock levels under the exact Graves/Axsaeter cost, with
      METRIC's choice beside them (evaluated exactly);
    * anything else: installation (and, beyond one stage, echelon) base-stock levels
      searched by simulation on the continuous engine; ``details["method"]`` says which and
      ``details["exact_method_skipped"]`` why no exact method applied.
    """
    from .continuous_review import (
        ContinuousReviewError,
        RQResult,
        continuous_review_optimum,
        owmr_optimum,
    )

    details: dict[str, Any] = {"time": "continuous", "value_per": "unit time"}
    try:
        if problem.kind.shape == "single-stage":
            best = continuous_review_optimum(problem)
        else:
            owmr = owmr_optimum(problem)
    except ContinuousReviewError as exc:
        return _continuous_searched(problem, str(exc), details, progress)
    if problem.kind.shape != "single-stage":
        exact = {owmr.warehouse: owmr.warehouse_level, **dict(zip(owmr.retailers, owmr.levels))}
        metric = {
            owmr.warehouse: owmr.metric_warehouse_level,
            **dict(zip(owmr.retailers, owmr.metric_levels)),
        }
        optimal = Benchmark(
            "base-stock",
            owmr.cost,
            {"level": {k: float(v) for k, v in exact.items()}},
            "best installation (S-1, S) levels under the exact Graves/Axsaeter evaluation "
            f"(every warehouse level 0..{owmr.levels_searched - 1}, retailers' newsvendor "
            "levels for each)",
            owmr.policy(),
        )
        metric_row = Benchmark(
            "base-stock-metric",
            owmr.metric_choice_cost,
            {"level": {k: float(v) for k, v in metric.items()}},
            "METRIC's choice of levels (its own estimate "
            f"{owmr.metric_estimate:.4f}), valued by the exact evaluation",
            owmr.policy(metric=True),
        )
        details.update(
            method="exact one-warehouse-N-retailer evaluation (Graves 1985; Axsaeter 1990)",
            metric_estimate=owmr.metric_estimate,
            metric_gap_pct=100 * (owmr.metric_choice_cost - owmr.cost) / owmr.cost
            if owmr.cost
            else 0.0,
        )
        return OptimizeResult(problem, "cost", optimal, [metric_row], details)
    if isinstance(best, RQResult):
        optimal = Benchmark(
            "rq",
            best.cost,
            {"r": best.r, "Q": best.Q},
            "exact (r, Q) optimum: g(r, Q) of Hadley-Whitin, Federgruen-Zheng search",
            best.policy(),
        )
    else:
        optimal = Benchmark(
            "base-stock",
            best.cost,
            {"level": best.level},
            "exact (S-1, S) optimum (Palm's theorem)",
            best.policy(),
        )
    details["method"] = optimal.method
    policies = []
    if isinstance(best, RQResult):  # the best (S-1, S) beside it: an order per demand
        policies.append(_continuous_base_stock(problem))
    return OptimizeResult(problem, "cost", optimal, policies, details)


def _continuous_base_stock(problem: Problem) -> Benchmark:
    """The best (S-1, S) level of a single-stage problem :func:`continuous_review_optimum`
    covers (Palm), its cost including a fixed cost per order (one order per demand)."""
    from .continuous_review import optimal_base_stock

    node = problem.network.stock_nodes[0]
    (edge,) = problem.network.suppliers(node.name)
    rate = float(getattr(node.demand, "rate", 0.0))
    best = optimal_base_stock(
        rate=rate,
        mean_lead_time=edge.lead_time.mean,
        holding=node.holding_cost,
        penalty=node.shortage_cost,
    )
    return Benchmark(
        "base-stock",
        best.cost + node.fixed_order_cost * rate,
        {"level": best.level},
        "best (S-1, S) level (Palm's theorem; an order, and its fixed cost, per demand)",
        best.policy(),
    )


#: Simulation settings of the continuous-time base-stock search [time units].
CONTINUOUS_SEARCH = {"periods": 1_000, "warmup": 100, "replications": 4, "seed": 12345}


def _continuous_searched(
    problem: Problem, skipped: str, details: dict[str, Any], progress: bool
) -> OptimizeResult:
    """Base-stock levels searched by CRN simulation on the continuous engine (no exact
    method applies): the best family is the reference, the other listed beside it."""
    from .search import search_base_stock

    families = ["base-stock"] + (
        ["echelon-base-stock"] if problem.kind.shape not in ("single-stage", "parallel") else []
    )
    sign = 1.0 if problem.objective == "cost" else -1.0
    found = []
    for family in families:
        res = search_base_stock(
            problem,
            echelon=family == "echelon-base-stock",
            progress=progress,
            **CONTINUOUS_SEARCH,  # type: ignore[arg-type]
        )
        found.append(
            Benchmark(
                f"best-{family}",
                float(res.value),
                {"level": dict(res.levels)},
                "levels searched by simulation on the continuous engine (common random "
                f"numbers; {CONTINUOUS_SEARCH['replications']} runs of "
                f"{CONTINUOUS_SEARCH['periods']} time units)",
                res.policy,
            )
        )
    found.sort(key=lambda b: sign * b.value)
    details.update(
        method="base-stock levels searched by simulation (no exact method applies)",
        exact_method_skipped=skipped,
        search=dict(CONTINUOUS_SEARCH),
    )
    return OptimizeResult(problem, problem.objective, found[0], found[1:], details)


def _backlog(
    L: int, h: float, p: float, K: float, law: _Demand, c: float, inputs: dict[str, Any]
) -> Found:
    from ._pmf import as_pmf, convolve_power
    from .newsvendor import base_stock_backlog, newsvendor

    if p <= 0:
        raise _NotExact(
            f"node {inputs['node']!r} has shortage_cost 0: backlog costs nothing "
            "and the fractile is not defined"
        )
    shift = c * law.mean  # every unit demanded is bought once
    if law.label == "normal_continuous":
        if K > 0:
            raise _NotExact(
                "the exact (s, S) optimum needs discrete demand; this demand is continuous normal"
            )
        assert law.std is not None  # a normal law has its std
        bs = base_stock_backlog(L, h, p, law.mean, "normal", law.std)
        p_order = float(stats.norm.sf(0.0, law.mean, law.std))
    elif law.label == "poisson":
        bs = base_stock_backlog(L, h, p, law.mean, "poisson")
        p_order = 1.0 - float(law.rv.pmf(0))
    else:
        pmf = as_pmf(law.rv)
        bs = newsvendor(h, p, convolve_power(pmf, L + 1))
        p_order = 1.0 - float(pmf[0])
    # a base-stock policy orders whenever there was demand last period
    base = Benchmark(
        "best-base-stock",
        bs.expected_cost + K * p_order + shift,
        {"level": bs.base_stock_level},
        "newsvendor fractile over L+1 periods",
        bs.policy(),
    )
    details = {"inputs": inputs, "critical_ratio": bs.critical_ratio}
    if K == 0:
        return (
            Benchmark("optimal", base.value, base.params, base.method, base.policy),
            [base],
            details,
        )
    from .ss_policy import optimal_ss

    ss = optimal_ss(h, p, K, law.rv, lead_time=L)
    method = "optimal (s,S), Zheng & Federgruen (1991)"
    params = {"s": ss.reorder_point, "S": ss.order_up_to_level}
    best = Benchmark("optimal", ss.expected_cost + shift, params, method, ss.policy())
    return best, [Benchmark("ss", best.value, params, method, ss.policy()), base], details


# -- serial -------------------------------------------------------------------------------------
def _chain(net: Network) -> list[str]:
    """Stocking nodes of a serial network, from the one facing demand up to the first."""
    stock = {n.name for n in net.stock_nodes}
    end = next(n.name for n in net.stock_nodes if not net.customers(n.name))
    names = [end]
    while (up := net.suppliers(names[-1])[0].source) in stock:
        names.append(up)
    return names


def _serial(problem: Problem, progress: bool) -> Found:
    from .serial import serial_base_stock

    net = problem.network
    names = _chain(net)
    if problem.kind.shortage != "backlog":
        raise _NotExact("Clark-Scarf needs backlog at every stage; some stage loses sales")
    for name in names:
        _common_checks(problem, name)
        if net.node(name).fixed_order_cost > 0:
            raise _NotExact(f"node {name!r} has a fixed order cost; Clark-Scarf has none")
    for name in names[1:]:
        if net.node(name).shortage_cost > 0:
            raise _NotExact(
                f"node {name!r} charges a backlog cost to its customer stage; "
                "Clark-Scarf charges shortage only at the stage facing demand"
            )
    end = net.node(names[0])
    law = _demand(end.demand, net, f"node {end.name!r}")
    if law.label not in ("poisson", "normal_continuous"):
        raise _NotExact(
            f"Clark-Scarf here takes Poisson or continuous normal demand, not {law.label}"
        )
    local = [net.node(n).holding_cost for n in names]
    # deterministic lead times (_common_checks)
    leads = [cast(float, net.suppliers(n)[0].lead_time.constant) for n in names]
    try:
        res = serial_base_stock(
            local,
            leads,
            end.shortage_cost,
            law.mean,
            "poisson" if law.label == "poisson" else "normal",
            law.std if law.label != "poisson" else None,
            order_timing=net.order_timing,
        )
    except SizeLimitError:  # too large: refused with the estimate, not replaced
        raise
    except ValueError as exc:  # e.g. holding costs that rise upstream
        raise _NotExact(f"Clark-Scarf refused: {exc}") from None
    # Every unit crosses every edge once and spends L periods on it: per-unit costs and transit
    # holding other than the shipping stage's local holding cost are constants.
    shift = 0.0
    for j, name in enumerate(names):
        model_transit = local[j + 1] if j + 1 < len(names) else 0.0
        shift += law.mean * (_per_unit(problem, name) - model_transit * leads[j])
    levels = dict(zip(names, res.echelon_levels))
    method = "Clark-Scarf / Chen-Zheng recursion"
    value = res.expected_cost + shift
    optimal = Benchmark("optimal", value, {"level": levels}, method, res.policy(names))
    # The installation-level equivalent is not listed: in the engine, nodes that decide
    # together see the state before this period's orders, so an upstream stage sees a
    # downstream order one review later and local levels are no longer equivalent.
    details = {
        "inputs": {
            "stages": names,
            "holding_costs": local,
            "lead_times": leads,
            "stockout_cost": end.shortage_cost,
            "demand": law.label,
            "demand_mean": law.mean,
            "demand_std": law.std,
            "order_timing": net.order_timing,
            "constant_costs": shift,
        },
        "grid_step": res.grid_step,
    }
    return (
        optimal,
        [Benchmark("echelon-base-stock", value, {"level": levels}, method, res.policy(names))],
        details,
    )


# -- everything else: bound + searched heuristics on the same sampled paths ----------------------
def _bounded(
    problem: Problem, progress: bool, *, periods: int, replications: int, seed: int
) -> Found:
    """Perfect-information bound and simulated heuristics on the same sampled paths."""
    from des_supply.evaluate import simulate

    from .network_mip import RollingHorizonPolicy, longest_lead_path, perfect_information_bound
    from .search import search_base_stock

    net = problem.network
    details: dict[str, Any] = {"periods": periods, "replications": replications, "seed": seed}

    def on_paths(policy: Any) -> float:
        return simulate(problem, policy, periods=periods, replications=replications, seed=seed).mean

    policies = []
    for echelon in (False, True):
        found = search_base_stock(problem, echelon=echelon, progress=progress)
        name = "echelon-base-stock" if echelon else "base-stock"
        policies.append(
            Benchmark(
                f"best-{name}",
                on_paths(found.policy),
                {"level": found.levels},
                "levels searched by simulation (common random numbers)",
                found.policy,
                periods,
            )
        )
    window = longest_lead_path(net) + 4
    try:
        mpc = RollingHorizonPolicy(net, window, safety_stock="auto")
        policies.append(
            Benchmark(
                "rolling-horizon",
                on_paths(mpc),
                {"horizon": window, "safety_stock": "auto"},
                "MPC re-solving the network MIP on mean forecasts",
                mpc,
                periods,
            )
        )
    except RuntimeError as exc:  # no solver
        details["rolling_horizon_skipped"] = str(exc)
    if problem.objective != "cost":
        top = max(policies, key=lambda b: b.value)
        details["bound_skipped"] = (
            "the network MIP does not model revenue (some node sells at "
            "a price), so it gives no bound on profit"
        )
        optimal = Benchmark(
            top.name,
            top.value,
            top.params,
            f"no bound ({details['bound_skipped']}): best heuristic on the sampled paths",
            top.policy,
            periods,
        )
        return optimal, policies, details
    try:
        bounds = [
            perfect_information_bound(net, periods, seed, replication=k)
            for k in range(replications)
        ]
    except RuntimeError as exc:
        raise OptimizeError(
            f"no exact method applies and the bound needs a MIP solver: {exc}"
        ) from None
    value = float(np.mean([b.per_period_bound for b in bounds]))
    details["bound_terminations"] = sorted({b.termination for b in bounds})
    optimal = Benchmark(
        "perfect-information-bound",
        value,
        {},
        f"perfect-information MIP bound (Pyomo + HiGHS) on {replications} "
        f"sampled paths of {periods} periods: a lower bound no policy can beat",
        None,
        periods,
    )
    return optimal, policies, details


def optimize(
    problem: Problem | Network,
    *,
    progress: bool = False,
    bound_periods: int = 52,
    bound_replications: int = 3,
    bound_seed: int = 0,
) -> OptimizeResult:
    """The optimum (or a bound) and the best heuristics of *problem*.

    Parameters
    ----------
    problem : Problem or Network
        What to optimize (a Network is a problem without a market).
    progress : bool
        Show progress bars.
    bound_periods, bound_replications, bound_seed : int
        Sampled paths of the bounded methods: ``bound_replications`` replications of
        ``bound_seed``, ``bound_periods`` periods each (as ``simulate`` draws them).

    Exact methods give long-run values per period; the others a perfect-information bound
    and the heuristics' mean on the sampled paths.  The method is chosen from
    ``problem.kind`` and the network's data (module docstring); when an exact method's
    assumption fails, ``details["exact_method_skipped"]`` says which.

    Raises
    ------
    OptimizeError
        When no method applies (the message says why).
    """
    problem = as_problem(problem)
    if problem.network.time == "continuous":
        return _continuous_review(problem, progress)
    kind = problem.kind
    if kind.market == "recommendation":
        from .recommendation_optimize import optimize_recommendation

        return optimize_recommendation(
            problem,
            progress=progress,
            periods=bound_periods,
            replications=bound_replications,
            seed=bound_seed,
        )
    if kind.market == "pricing":
        from .pricing_dp import optimize_pricing

        return optimize_pricing(problem, progress=progress)
    if kind.market == "collaborative":
        from .collaborative import optimize_collaborative

        return optimize_collaborative(problem, progress=progress)
    if kind.market is not None:
        raise OptimizeError(
            f"no method for a {kind.market!r} market: optimize knows pricing, "
            "recommendation and collaborative markets"
        )
    if kind.shape == "multi-sourcing":
        from .dual_sourcing import optimize_dual_sourcing

        return optimize_dual_sourcing(problem, progress=progress, seed=bound_seed)
    exact = {"single-stage": _single_stage, "serial": _serial}.get(kind.shape)
    skipped = f"no exact method for a {kind.shape} network"
    if exact is not None:
        try:
            optimal, policies, details = exact(problem, progress)
            return OptimizeResult(problem, problem.objective, optimal, policies, details)
        except _NotExact as why:
            skipped = str(why)
    optimal, policies, details = _bounded(
        problem, progress, periods=bound_periods, replications=bound_replications, seed=bound_seed
    )
    return OptimizeResult(
        problem, problem.objective, optimal, policies, {"exact_method_skipped": skipped, **details}
    )


def verify(
    result: OptimizeResult,
    *,
    periods: int = 20_000,
    warmup: int = 500,
    replications: int = 8,
    seed: int = 0,
    processes: int = 1,
    executor: Any = None,
) -> list[dict[str, Any]]:
    """Simulate every benchmark that carries a policy, on ``result.problem`` (with its market).

    Long-run values are checked over *replications* runs of *periods* periods (after
    *warmup*); values measured on the optimizer's sampled paths (``Benchmark.periods``) are
    rerun on exactly those paths (``details["replications"]`` replications of
    ``details["seed"]``).  Returns one row per benchmark: name, promised value, simulated
    mean, its 95% CI and whether the promise is inside it.  *executor*
    (:mod:`des_supply.executors`) runs the replications; the numbers do not depend on it.
    """
    from des_supply.evaluate import simulate

    rows = []
    for b in [result.optimal, *result.policies]:
        if b.policy is None:
            continue
        if b.periods is None:
            res = simulate(
                result.problem,
                b.policy,
                periods=periods,
                warmup=warmup,
                replications=replications,
                seed=seed,
                processes=processes,
                executor=executor,
            )
        else:
            d = result.details
            res = simulate(
                result.problem,
                b.policy,
                periods=b.periods,
                replications=d["replications"],
                seed=d["seed"],
                processes=processes,
                executor=executor,
            )
        lo, hi = res.ci95
        rows.append(
            {
                "name": b.name,
                "promised": b.value,
                "simulated": res.mean,
                "ci95": [lo, hi],
                "inside": bool(lo <= b.value <= hi),
                "periods": b.periods or periods,
            }
        )
    return rows
